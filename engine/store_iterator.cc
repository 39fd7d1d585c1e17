// StoreIterator: Store::NewIterator().
//
// Epoch guards belong to a thread and must be short, so the iterator never keeps
// one between calls. Each refill enters a guard, seeks the index to just past
// the last key returned, and copies the entry addresses of the next batch out
// (growing batches: 32, 128, 512, 1024), pinning the segments they live in; the
// entries then stay valid without a guard. Only the index is read while
// filling: an entry's key and value are decoded from the log when key() or
// value() asks, so a short scan does not pay a log read for every entry of the
// batch. Each key is seen as it was at the moment its batch was read. The
// engine's reserved keys (the tail of the key order) end the scan. An encoded
// value is decoded into a buffer of the iterator when value() asks; one that
// does not decode reads as empty and sets status().
#include <memory>
#include <string>
#include <vector>

#include "engine/store_impl.h"

namespace alexfs {

class StoreIterator final : public Iterator {
 public:
  explicit StoreIterator(const StoreImpl* store) : store_(store) {}

  void Seek(std::string_view target) override {
    batch_size_ = kFirstBatch;
    Fill(target, /*exclusive=*/false);
  }
  bool Valid() const override { return pos_ < entries_.size(); }
  void Next() override {
    if (!Valid()) return;
    ++pos_;
    if (pos_ == entries_.size() && !exhausted_) {
      batch_size_ = std::min(batch_size_ * 4, kMaxBatch);
      std::string last = resume_key_;
      Fill(last, /*exclusive=*/true);
    }
  }
  std::string_view key() const override { return log::EntryAtUnchecked(entries_[pos_]).key; }
  std::string_view value() const override {
    const log::Entry e = log::EntryAtUnchecked(entries_[pos_]);
    if (e.type != log::RecordType::kPutEncoded) return e.value;
    if (decoded_pos_ != pos_ || decoded_for_ != entries_[pos_]) {
      std::string_view v;
      Status s = store_->EntryValue(e, &decoded_, &v);
      if (!s.ok()) {
        status_ = s;
        decoded_.clear();
      }
      decoded_pos_ = pos_;
      decoded_for_ = entries_[pos_];
    }
    return decoded_;
  }
  Status status() const override { return status_; }

 private:
  static constexpr size_t kFirstBatch = 32;
  static constexpr size_t kMaxBatch = 1024;

  void Fill(std::string_view from, bool exclusive) {
    std::vector<const char*> entries;
    entries.reserve(batch_size_);
    std::vector<std::shared_ptr<const log::Segment>> pins;
    {
      EpochManager::Guard guard = store_->epochs_->Enter();
      index::AlexIndex::Iterator it = store_->index_->LowerBound(from);
      if (exclusive && it.Valid() && it.key() == from) it.Next();
      const log::Segment* last_seg = nullptr;
      while (it.Valid() && entries.size() < batch_size_) {
        if (log::IsReservedKey(it.key())) break;
        const uint64_t loc = it.location();
        const auto& seg = store_->SegmentOf(loc);
        if (seg.get() != last_seg) {
          last_seg = seg.get();
          bool have = false;
          for (const auto& p : pins) have |= p.get() == last_seg;
          if (!have) pins.push_back(seg);
        }
        entries.push_back(seg->base() + log::LocationOffset(loc));
        it.Next();
      }
      exhausted_ = !it.Valid() || log::IsReservedKey(it.key());
    }
    entries_.swap(entries);
    pins_.swap(pins);
    pos_ = 0;
    if (!entries_.empty()) resume_key_.assign(log::EntryAtUnchecked(entries_.back()).key);
  }

  const StoreImpl* const store_;
  std::vector<const char*> entries_;  // entries in the log, pinned by pins_
  std::vector<std::shared_ptr<const log::Segment>> pins_;
  size_t pos_ = 0;
  bool exhausted_ = true;
  size_t batch_size_ = kFirstBatch;
  std::string resume_key_;  // the last key in entries_ (where the next Fill starts)
  // The decoded value of entries_[decoded_pos_], if that entry is encoded.
  mutable std::string decoded_;
  mutable size_t decoded_pos_ = SIZE_MAX;
  mutable const char* decoded_for_ = nullptr;
  mutable Status status_;
};

std::unique_ptr<Iterator> StoreImpl::NewIterator() const {
  return std::make_unique<StoreIterator>(this);
}

}  // namespace alexfs
