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
#include <functional>
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

  // 3. Candidates. One ordered walk over the index picks the live entries:
  // those whose location lies in an input. It reads only the index, never the
  // log, and yields them in key order (no sort, no per-entry descent). Then
  // one sequential pass over the inputs (verifying every record) fills in
  // their keys, values and sequence numbers by location.
  uint32_t min_id = UINT32_MAX, max_id = 0;
  uint64_t input_bytes = 0;
  for (const auto& seg : inputs) {
    min_id = std::min(min_id, seg->id());
    max_id = std::max(max_id, seg->id());
    input_bytes += seg->data_bytes.load(std::memory_order_relaxed);
  }
  std::vector<log::Segment*> input_by_id(max_id - min_id + 1, nullptr);
  for (const auto& seg : inputs) input_by_id[seg->id() - min_id] = seg.get();
  auto input_of = [&](uint64_t loc) -> log::Segment* {
    const uint32_t id = log::LocationSegment(loc);
    return id >= min_id && id <= max_id ? input_by_id[id - min_id] : nullptr;
  };
  // Calls fn(segment, decoded record, offset) for every record of every
  // input, in location order, verifying them.
  using InputRecordFn =
      std::function<void(const log::Segment&, const log::DecodedRecord&, uint64_t)>;
  auto scan_inputs = [&](const InputRecordFn& fn) -> Status {
    for (const auto& seg : inputs) {
      const uint64_t size = seg->data_bytes.load(std::memory_order_relaxed);
      const log::Segment& sref = *seg;
      auto on_record = [&](const log::DecodedRecord& rec, uint64_t offset) { fn(sref, rec, offset); };
      log::ScanResult r;
      Status s = seg->kind() == log::SegmentKind::kSorted
                     ? log::ScanSortedSegment(seg->name(), seg->base(), size, on_record, &r)
                     : log::ScanLogSegment(seg->name(), seg->base(), size, false, on_record, &r);
      if (!s.ok()) {
        spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
        return s;
      }
    }
    return Status::OK();
  };

  // Tombstones are kept only where a remaining segment holds older records
  // they must go on shadowing; newest per key, key order.
  std::vector<Candidate> tombstones;
  if (min_remaining_seq != UINT64_MAX) {
    Status s = scan_inputs([&](const log::Segment& seg, const log::DecodedRecord& rec,
                               uint64_t offset) {
      if (rec.type == log::RecordType::kPut || rec.sequence <= min_remaining_seq) return;
      log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
        if (e.type != log::RecordType::kDelete) return;
        tombstones.push_back({e.key, {}, rec.sequence,
                              log::PackLocation(seg.id(), offset + entry_offset), 0, true});
      });
    });
    if (!s.ok()) return s;
    std::sort(tombstones.begin(), tombstones.end(), [](const Candidate& a, const Candidate& b) {
      int c = a.key.compare(b.key);
      return c != 0 ? c < 0 : a.sequence > b.sequence;
    });
    tombstones.erase(
        std::unique(tombstones.begin(), tombstones.end(),
                    [](const Candidate& a, const Candidate& b) { return a.key == b.key; }),
        tombstones.end());
  }

  std::vector<Candidate> cands;
  size_t next_tomb = 0;
  // Tombstones with keys below `key` are absent from the index: still needed.
  auto emit_tombstones_below = [&](std::string_view key) {
    while (next_tomb < tombstones.size() && tombstones[next_tomb].key < key) {
      cands.push_back(tombstones[next_tomb++]);
    }
    if (next_tomb < tombstones.size() && tombstones[next_tomb].key == key) ++next_tomb;
  };
  {
    constexpr size_t kWalkChunk = 4096;  // keys per epoch guard
    std::string resume;
    bool first = true;
    bool end = false;
    while (!end) {
      EpochManager::Guard guard = epochs_->Enter();
      index::AlexIndex::Iterator it = first ? index_->Begin() : index_->LowerBound(resume);
      if (!first && it.Valid() && it.key() == resume) it.Next();
      first = false;
      for (size_t n = 0; it.Valid(); ++n, it.Next()) {
        if (n + 1 == kWalkChunk) {
          resume.assign(it.key());  // resume after this key
          if (next_tomb < tombstones.size()) emit_tombstones_below(resume);
          if (input_of(it.location()) != nullptr) {
            cands.push_back({{}, {}, 0, it.location(), 0, false});
          }
          it.Next();
          break;
        }
        if (next_tomb < tombstones.size()) emit_tombstones_below(it.key());
        if (input_of(it.location()) != nullptr) {
          cands.push_back({{}, {}, 0, it.location(), 0, false});
        }
      }
      end = !it.Valid();
    }
    while (next_tomb < tombstones.size()) cands.push_back(tombstones[next_tomb++]);
  }
  tombstones.clear();
  tombstones.shrink_to_fit();
  {
    // Fill in the live entries in location order.
    std::vector<uint32_t> by_loc;
    by_loc.reserve(cands.size());
    for (uint32_t i = 0; i < cands.size(); ++i) {
      if (!cands[i].tombstone) by_loc.push_back(i);
    }
    std::sort(by_loc.begin(), by_loc.end(), [&](uint32_t a, uint32_t b) {
      return cands[a].old_location < cands[b].old_location;
    });
    size_t next = 0;
    Status s = scan_inputs([&](const log::Segment& seg, const log::DecodedRecord& rec,
                               uint64_t offset) {
      if (next == by_loc.size()) return;
      const uint32_t id = seg.id();
      if (cands[by_loc[next]].old_location >= log::PackLocation(id, offset + rec.size)) return;
      log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
        const uint64_t loc = log::PackLocation(id, offset + entry_offset);
        while (next < by_loc.size() && cands[by_loc[next]].old_location < loc) ++next;
        if (next < by_loc.size() && cands[by_loc[next]].old_location == loc) {
          Candidate& c = cands[by_loc[next++]];
          c.key = e.key;
          c.value = e.value;
          c.sequence = rec.sequence;
        }
      });
    });
    if (!s.ok()) return s;
    // A location that is no entry start cannot come from the index; drop any
    // such candidate rather than write garbage.
    std::erase_if(cands, [](const Candidate& c) { return c.key.empty(); });
  }

  // 4. Write the sorted segments, each sized up front and written in pieces
  // (no whole-segment buffer).
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
  auto record_size = [](const Candidate& c) {
    return log::kMinRecordSize + c.key.size() + c.value.size();
  };
  constexpr uint64_t kWriteChunk = uint64_t{4} << 20;
  log::RecordEncoder enc;
  for (size_t first = 0; first < cands.size();) {
    // cands[first, last) go into this output.
    size_t last = first;
    uint64_t bytes = 0;
    while (last < cands.size() &&
           (last == first ||
            bytes + record_size(cands[last]) + log::kFooterRecordSize <= options_.segment_bytes)) {
      bytes += record_size(cands[last++]);
    }
    std::shared_ptr<log::Segment> seg;
    Status s;
    {
      std::lock_guard<std::mutex> tl(table_mu_);
      const uint32_t id = manifest_.next_file++;
      s = log::Segment::Create(dir_, id, log::SegmentKind::kSorted, bytes + log::kFooterRecordSize,
                               &seg);
    }
    uint64_t written = 0;
    uint32_t crc = 0;
    enc.Clear();
    for (size_t j = first; s.ok() && j <= last; ++j) {
      if (j == last || enc.size() >= kWriteChunk) {
        if (j == last) {
          crc = enc.ExtendCrc(crc);
          enc.AddFooter(last - first, crc);
        } else {
          crc = enc.ExtendCrc(crc);
        }
        s = seg->Append(enc, written);
        written += enc.size();
        enc.Clear();
        if (j == last) break;
      }
      Candidate& c = cands[j];
      const uint64_t off = enc.AddEntry(c.tombstone ? log::RecordType::kDelete : log::RecordType::kPut,
                                        c.sequence, c.key, c.value);
      c.new_location = log::PackLocation(seg->id(), written + off);
      seg->NoteSequence(c.sequence);
    }
    if (s.ok()) s = seg->Sync();
    if (!s.ok()) {
      if (seg) seg->MarkObsolete();
      discard_outputs();
      spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
      return s;
    }
    seg->data_bytes.store(written, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> tl(table_mu_);
      PublishTable(table_.load(std::memory_order_relaxed)->With(seg));
    }
    outputs.push_back(std::move(seg));
    first = last;
  }

  // 5. Swap index entries that still point at the old places. An entry keeps
  // its size when it moves, so only the segments' live bytes change.
  std::vector<size_t> swapped;
  uint64_t output_bytes = 0;
  for (const auto& o : outputs) output_bytes += o->data_bytes.load(std::memory_order_relaxed);
  auto output_of = [&](uint64_t loc) -> log::Segment* {
    const uint32_t id = log::LocationSegment(loc);
    for (const auto& o : outputs) {
      if (o->id() == id) return o.get();
    }
    return nullptr;
  };
  constexpr size_t kSwapChunk = 512;  // let commits in between chunks
  for (size_t i = 0; i < cands.size();) {
    std::lock_guard<std::mutex> il(index_mu_);
    EpochManager::Guard guard = epochs_->Enter();
    log::Segment* out = nullptr;
    for (size_t end = std::min(cands.size(), i + kSwapChunk); i < end; ++i) {
      const Candidate& c = cands[i];
      if (c.tombstone) continue;
      if (index_->CompareAndSwap(c.key, c.old_location, c.new_location)) {
        const uint64_t n = log::kEntryHeaderSize + c.key.size() + c.value.size();
        if (out == nullptr || out->id() != log::LocationSegment(c.new_location)) {
          out = output_of(c.new_location);
        }
        out->live_bytes.fetch_add(n, std::memory_order_relaxed);
        input_of(c.old_location)->live_bytes.fetch_sub(n, std::memory_order_relaxed);
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
  // from the table and free the table that still held them (their files go
  // when the last pin does). If a reader is slow, the background thread keeps
  // retrying (ReclaimLoop), and so does the next roll or compaction.
  ReclaimPending(std::chrono::milliseconds(200));

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
