#include "engine/segment_table.h"

#include <algorithm>

namespace alexfs {

std::unique_ptr<SegmentTable> SegmentTable::With(std::shared_ptr<log::Segment> seg) const {
  std::vector<std::shared_ptr<log::Segment>> all = All();
  all.push_back(std::move(seg));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
  auto t = std::make_unique<SegmentTable>();
  if (all.empty()) return t;
  t->first_id_ = all.front()->id();
  t->by_id_.resize(all.back()->id() - t->first_id_ + 1);
  for (auto& s : all) t->by_id_[s->id() - t->first_id_] = s;
  return t;
}

std::unique_ptr<SegmentTable> SegmentTable::Without(const std::vector<uint32_t>& ids) const {
  std::vector<std::shared_ptr<log::Segment>> all = All();
  std::erase_if(all, [&](const auto& s) {
    return std::find(ids.begin(), ids.end(), s->id()) != ids.end();
  });
  auto t = std::make_unique<SegmentTable>();
  if (all.empty()) return t;
  t->first_id_ = all.front()->id();
  t->by_id_.resize(all.back()->id() - t->first_id_ + 1);
  for (auto& s : all) t->by_id_[s->id() - t->first_id_] = s;
  return t;
}

std::vector<std::shared_ptr<log::Segment>> SegmentTable::All() const {
  std::vector<std::shared_ptr<log::Segment>> all;
  for (const auto& s : by_id_) {
    if (s) all.push_back(s);
  }
  return all;
}

}  // namespace alexfs
