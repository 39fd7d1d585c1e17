// StoreIterator: Store::NewIterator().
//
// Epoch guards belong to a thread and must be short, so the iterator never keeps
// one between calls. Each refill enters a guard, seeks the index to just past
// the last key returned, and copies the entry addresses of the next batch out
// (growing batches: 32, 128, 512, 1024), pinning the segments they live in; the
// entries then stay valid without a guard. Entries are decoded from the log
// kChunk at a time as the scan reaches them, so a short scan does not read
// every entry of its batch. Each key is seen as it was at the moment its batch
// was read. The engine's reserved keys (the tail of the key order) end the
// scan. An encoded value is decoded into a buffer of the iterator when value()
// asks; one that does not decode reads as empty and sets status().
//
// Mapped reads: every read of the log -- the index's key compares during a
// refill, and the decoding of a chunk, which touches every page of each
// entry's key and value -- runs under GuardMappedRead (engine/mapped_read.h),
// one guard per refill and one per chunk. Keys and values are views into the
// log, readable when handed out (as a Get's pinned value is). A page gone
// under the mapping (a segment truncated, a disk error) ends the scan before
// the unreadable entry with an EIO status() instead of killing the process.
#include <memory>
#include <string>
#include <vector>

#include "engine/mapped_read.h"
#include "engine/store_impl.h"

namespace alexfs {

class StoreIterator final : public Iterator {
 public:
  explicit StoreIterator(const StoreImpl* store) : store_(store) {}

  void Seek(std::string_view target) override {
    batch_size_ = kFirstBatch;
    Fill(target, /*exclusive=*/false);
  }
  // Checks the entry's chunk first: an unreadable entry ends the scan here.
  bool Valid() const override {
    if (pos_ < entries_.size() && pos_ >= checked_.size()) Check();
    return pos_ < entries_.size();
  }
  void Next() override {
    if (pos_ >= entries_.size()) return;
    ++pos_;
    if (pos_ == entries_.size() && !exhausted_) {
      batch_size_ = std::min(batch_size_ * 4, kMaxBatch);
      const std::string last(key_of_last_);
      Fill(last, /*exclusive=*/true);
    }
  }
  std::string_view key() const override { return Checked().key; }
  std::string_view value() const override {
    const log::Entry& e = Checked();
    if (e.type != log::RecordType::kPutEncoded) return e.value;
    if (decoded_pos_ != pos_) {
      std::string_view v;
      Status s = store_->EntryValue(e, &decoded_, &v);
      if (!s.ok()) {
        status_ = s;
        decoded_.clear();
      }
      decoded_pos_ = pos_;
    }
    return decoded_;
  }
  Status status() const override { return status_; }

 private:
  static constexpr size_t kFirstBatch = 32;
  static constexpr size_t kMaxBatch = 1024;
  // Entries read from the log per guard: a short scan reads at most this many
  // entries past its last one.
  static constexpr size_t kChunk = 16;

  // The current entry, its chunk checked first.
  const log::Entry& Checked() const {
    if (pos_ >= checked_.size()) Check();
    static const log::Entry kUnreadable{log::RecordType::kPut, {}, {}};
    return pos_ < checked_.size() ? checked_[pos_] : kUnreadable;
  }

  // Decodes the chunk from pos_ under one guard, touching every page of each
  // entry (header, key and value), so the views handed out were readable when
  // handed out, as a Get's pinned value is. checked_ has room for the whole
  // batch: nothing allocates inside the guard. On a fault the batch, and the
  // scan, end before the unreadable entry.
  void Check() const {
    const size_t end = std::min(entries_.size(), pos_ + kChunk);
    const bool readable = GuardMappedRead([&] {
      while (checked_.size() < end) {
        const log::Entry e = log::EntryAtUnchecked(entries_[checked_.size()]);
        TouchMappedPages(e.key);
        TouchMappedPages(e.value);
        checked_.push_back(e);
      }
    });
    if (!readable) {
      status_ = store_->MappedReadError(key_of_last_);
      entries_.resize(checked_.size());  // if that is pos_, Valid() turns false
      exhausted_ = true;
    }
  }

  void Fill(std::string_view from, bool exclusive) {
    std::vector<const char*> entries;
    entries.reserve(batch_size_);
    std::vector<std::shared_ptr<const log::Segment>> pins;
    bool exhausted = true;
    std::string last;
    bool readable;
    {
      EpochManager::Guard guard = store_->epochs_->Enter();
      // The index's key compares read the log: a SIGBUS may abandon the walk
      // at any of them. The vectors grow between those reads, never during
      // one, and live outside the guarded function.
      readable = GuardMappedRead([&] {
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
        exhausted = !it.Valid() || log::IsReservedKey(it.key());
        // Where the next batch starts (read now, under the guard).
        if (!entries.empty()) last.assign(log::EntryAtUnchecked(entries.back()).key);
      });
    }
    if (!readable) {
      status_ = store_->MappedReadError(from);
      entries.clear();
      pins.clear();
      exhausted = true;
    }
    entries_.swap(entries);
    pins_.swap(pins);
    key_of_last_.swap(last);
    exhausted_ = exhausted;
    pos_ = 0;
    checked_.clear();
    checked_.reserve(entries_.size());
    decoded_pos_ = SIZE_MAX;
  }

  const StoreImpl* const store_;
  // The batch: entries in the log, pinned by pins_. Check() may cut it short
  // at an unreadable entry.
  mutable std::vector<const char*> entries_;
  std::vector<std::shared_ptr<const log::Segment>> pins_;
  std::string key_of_last_;  // the batch's last key: where the next one starts
  size_t pos_ = 0;
  mutable bool exhausted_ = true;
  size_t batch_size_ = kFirstBatch;
  // The decoded entries_[i] read so far (a prefix of the batch).
  mutable std::vector<log::Entry> checked_;
  // The decoded value of entries_[decoded_pos_], if that entry is encoded.
  mutable std::string decoded_;
  mutable size_t decoded_pos_ = SIZE_MAX;
  mutable Status status_;
};

std::unique_ptr<Iterator> StoreImpl::NewIterator() const {
  return std::make_unique<StoreIterator>(this);
}

}  // namespace alexfs
