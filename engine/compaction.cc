// StoreImpl::Compact: online compaction.
//
//  1. Seal the active segment (manual runs) so its garbage can be reclaimed.
//  2. Pick sealed segments: manual runs take every log segment and every sorted
//     segment holding garbage; background runs take segments whose dead
//     fraction reaches compaction_garbage_ratio.
//  3. Collect the entries the index still points to, and the tombstones still
//     needed (the key is absent and a segment that stays holds records older
//     than the tombstone, which it must keep shadowing).
//  4. Write them key-sorted into new sorted segments (footer, fdatasync), add
//     those to the segment table (not yet to the MANIFEST).
//  5. Under index_mu_, CompareAndSwap each entry from its old to its new
//     location: a key written meanwhile keeps its newer location.
//  6. Publish the new set with one MANIFEST write. A crash before it leaves the
//     old set (the new files are unlisted and deleted at Open); after it, the
//     new set. The old segments leave the table and are unlinked once the last
//     reader (epoch guard or pinned value) lets go.
#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/log/reader.h"
#include "engine/store_impl.h"

namespace alexfs {
namespace {

struct Candidate {
  std::string_view key;
  std::string_view value;
  uint64_t sequence;
  uint64_t old_location;
  uint64_t new_location;
  bool tombstone;
};

struct Output {
  std::shared_ptr<log::Segment> segment;
};

}  // namespace

Status StoreImpl::Compact() { return CompactImpl(/*background=*/false); }

Status StoreImpl::CompactImpl(bool background) {
  std::lock_guard<std::mutex> cl(compaction_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::InvalidArgument("store " + dir_ + " is closed");
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (!background) {
    Writer w;
    w.roll = true;
    Status s = Enqueue(&w);
    if (!s.ok()) return s;
  }

  // 2. Inputs, and the oldest record any remaining segment holds.
  std::vector<std::shared_ptr<log::Segment>> inputs;
  uint64_t min_remaining_seq = UINT64_MAX;
  {
    std::lock_guard<std::mutex> tl(table_mu_);
    const SegmentTable* table = table_.load(std::memory_order_acquire);
    const uint32_t active = active_id_.load(std::memory_order_relaxed);
    for (const auto& [id, kind] : manifest_.segments) {
      const auto& seg = table->Find(id);
      const uint64_t data = seg->data_bytes.load(std::memory_order_relaxed);
      const uint64_t live = std::min(data, seg->live_bytes.load(std::memory_order_relaxed));
      bool take = false;
      if (id != active && data > 0) {
        if (background) {
          take = static_cast<double>(data - live) >=
                 options_.compaction_garbage_ratio * static_cast<double>(data);
        } else {
          take = kind == log::SegmentKind::kLog || live < data;
        }
      }
      if (take) {
        inputs.push_back(seg);
      } else {
        min_remaining_seq = std::min(min_remaining_seq, seg->min_sequence.load());
      }
    }
  }
  if (inputs.empty()) {
    if (background) {
      // Nothing worth it yet: ask again after more garbage accumulates.
      const uint64_t lb = counters_->log_bytes.load(std::memory_order_relaxed);
      const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
      next_compaction_dead_.store((lb > live ? lb - live : 0) + options_.compaction_min_garbage_bytes);
    }
    return Status::OK();
  }

  // 3. Candidates.
  std::vector<Candidate> cands;
  uint64_t input_bytes = 0;
  for (const auto& seg : inputs) {
    const uint64_t size = seg->data_bytes.load(std::memory_order_relaxed);
    input_bytes += size;
    const uint32_t id = seg->id();
    auto on_record = [&](const log::DecodedRecord& rec, uint64_t offset) {
      log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
        const uint64_t loc = log::PackLocation(id, offset + entry_offset);
        EpochManager::Guard guard = epochs_->Enter();
        uint64_t cur = 0;
        const bool present = index_->Find(e.key, &cur);
        if (e.type == log::RecordType::kPut) {
          if (present && cur == loc) cands.push_back({e.key, e.value, rec.sequence, loc, 0, false});
        } else if (!present && min_remaining_seq < rec.sequence) {
          cands.push_back({e.key, {}, rec.sequence, loc, 0, true});
        }
      });
    };
    log::ScanResult r;
    Status s = seg->kind() == log::SegmentKind::kSorted
                   ? log::ScanSortedSegment(seg->name(), seg->base(), size, on_record, &r)
                   : log::ScanLogSegment(seg->name(), seg->base(), size, false, on_record, &r);
    if (!s.ok()) {
      spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
      return s;
    }
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    int c = a.key.compare(b.key);
    return c != 0 ? c < 0 : a.sequence > b.sequence;
  });

  // 4. Write the sorted segments.
  std::vector<std::shared_ptr<log::Segment>> outputs;
  auto discard_outputs = [&] {
    std::vector<uint32_t> ids;
    for (auto& o : outputs) {
      o->MarkObsolete();
      ids.push_back(o->id());
    }
    std::lock_guard<std::mutex> tl(table_mu_);
    if (!ids.empty()) RemoveSegmentsLater(std::move(ids));
  };
  log::RecordEncoder enc;
  size_t first = 0;  // first candidate in the output being built
  for (size_t i = 0; i <= cands.size(); ++i) {
    const bool done = i == cands.size();
    uint64_t next_size = 0;
    if (!done) {
      next_size = log::kMinRecordSize + cands[i].key.size() + cands[i].value.size();
    }
    if (!enc.empty() && (done || enc.size() + next_size + log::kFooterRecordSize >
                                     options_.segment_bytes)) {
      // Finish the output holding cands[first, i).
      enc.AddFooter(i - first, enc.ExtendCrc(0));
      std::shared_ptr<log::Segment> seg;
      Status s;
      {
        std::lock_guard<std::mutex> tl(table_mu_);
        const uint32_t id = manifest_.next_file++;
        s = log::Segment::Create(dir_, id, log::SegmentKind::kSorted, enc.size(), &seg);
      }
      if (s.ok()) s = seg->Append(enc, 0);
      if (s.ok()) s = seg->Sync();
      if (!s.ok()) {
        if (seg) seg->MarkObsolete();
        discard_outputs();
        spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
        return s;
      }
      seg->data_bytes.store(enc.size(), std::memory_order_relaxed);
      for (size_t j = first; j < i; ++j) {
        cands[j].new_location = log::PackLocation(seg->id(), log::LocationOffset(cands[j].new_location));
        seg->NoteSequence(cands[j].sequence);
      }
      {
        std::lock_guard<std::mutex> tl(table_mu_);
        PublishTable(table_.load(std::memory_order_relaxed)->With(seg));
      }
      outputs.push_back(std::move(seg));
      enc.Clear();
      first = i;
    }
    if (done) break;
    const Candidate& c = cands[i];
    const uint64_t off = enc.AddEntry(c.tombstone ? log::RecordType::kDelete : log::RecordType::kPut,
                                      c.sequence, c.key, c.value);
    cands[i].new_location = off;  // the segment id is filled in when the output is done
  }

  // 5. Swap index entries that still point at the old places.
  std::vector<size_t> swapped;
  uint64_t output_bytes = 0;
  for (const auto& o : outputs) output_bytes += o->data_bytes.load(std::memory_order_relaxed);
  constexpr size_t kSwapChunk = 512;  // let commits in between chunks
  for (size_t i = 0; i < cands.size();) {
    std::lock_guard<std::mutex> il(index_mu_);
    EpochManager::Guard guard = epochs_->Enter();
    for (size_t end = std::min(cands.size(), i + kSwapChunk); i < end; ++i) {
      const Candidate& c = cands[i];
      if (c.tombstone) continue;
      if (index_->CompareAndSwap(c.key, c.old_location, c.new_location)) {
        MarkLive(c.new_location);
        MarkDead(c.old_location);
        swapped.push_back(i);
      }
    }
  }

  // 6. Publish.
  Status s;
  {
    std::lock_guard<std::mutex> tl(table_mu_);
    Manifest m = manifest_;
    for (const auto& in : inputs) m.segments.erase(in->id());
    for (const auto& o : outputs) m.segments[o->id()] = log::SegmentKind::kSorted;
    s = WriteManifest(dir_, m);
    if (s.ok()) {
      manifest_ = std::move(m);
      std::vector<uint32_t> ids;
      for (const auto& in : inputs) {
        ids.push_back(in->id());
        in->MarkObsolete();
        counters_->log_bytes.fetch_sub(in->data_bytes.load(std::memory_order_relaxed),
                                       std::memory_order_relaxed);
      }
      for (const auto& o : outputs) {
        counters_->log_bytes.fetch_add(o->data_bytes.load(std::memory_order_relaxed),
                                       std::memory_order_relaxed);
      }
      RemoveSegmentsLater(std::move(ids));
    }
  }
  if (!s.ok()) {
    // Undo the swaps so nothing points into the unpublished outputs.
    {
      std::lock_guard<std::mutex> il(index_mu_);
      EpochManager::Guard guard = epochs_->Enter();
      for (size_t i : swapped) {
        const Candidate& c = cands[i];
        if (index_->CompareAndSwap(c.key, c.new_location, c.old_location)) {
          MarkLive(c.old_location);
          MarkDead(c.new_location);
        }
      }
    }
    discard_outputs();
    spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
    return s;
  }
  inputs.clear();
  outputs.clear();
  // Give readers a moment to leave their epochs, then drop the old segments
  // from the table (their files go when the last pin does). If a reader is
  // slow, the next roll or compaction drops them.
  for (int i = 0; i < 50; ++i) {
    epochs_->ReclaimNow();
    {
      std::lock_guard<std::mutex> tl(table_mu_);
      PruneTable();
      if (pending_removals_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  epochs_->ReclaimNow();  // frees the table that still held them

  const uint64_t reclaimed = input_bytes > output_bytes ? input_bytes - output_bytes : 0;
  counters_->compactions.fetch_add(1, std::memory_order_relaxed);
  counters_->compaction_bytes_reclaimed.fetch_add(reclaimed, std::memory_order_relaxed);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  counters_->compaction_latency.Record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
  spdlog::debug("alexfs: compacted {}: {} entries kept, {} bytes reclaimed", dir_, swapped.size(),
                reclaimed);
  return Status::OK();
}

}  // namespace alexfs
