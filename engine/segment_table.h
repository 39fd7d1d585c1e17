// SegmentTable: segment id -> Segment, read lock-free by Get, iterators and
// the index's key reader.
//
// A table is immutable once published. The store replaces it whole (copy,
// change, publish with a release store) and retires the old one through the
// EpochManager, so a reader that loaded the pointer inside an epoch guard may
// use it until the guard ends.
//
// Thread-safety: immutable; any number of readers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/log/segment.h"

namespace alexfs {

class SegmentTable {
 public:
  SegmentTable() = default;

  // The segment, or nullptr if `id` is not in the table.
  const std::shared_ptr<log::Segment>& Find(uint32_t id) const {
    static const std::shared_ptr<log::Segment> kNone;
    if (id < first_id_ || id - first_id_ >= by_id_.size()) return kNone;
    return by_id_[id - first_id_];
  }

  // Returns a copy with `seg` added / the ids removed.
  std::unique_ptr<SegmentTable> With(std::shared_ptr<log::Segment> seg) const;
  std::unique_ptr<SegmentTable> Without(const std::vector<uint32_t>& ids) const;

  // Every segment, ascending id.
  std::vector<std::shared_ptr<log::Segment>> All() const;

 private:
  uint32_t first_id_ = 0;
  std::vector<std::shared_ptr<log::Segment>> by_id_;  // index id - first_id_; holes are null
};

}  // namespace alexfs
