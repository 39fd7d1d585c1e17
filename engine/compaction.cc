// StoreImpl::Compact: online compaction.
//
//  1. Seal the active segment (manual runs; idle runs if it holds enough
//     garbage) so its garbage can be reclaimed. On a full disk the seal may
//     fail; the sealed segments are compacted all the same.
//  2. Pick sealed segments: manual runs take every log segment and every sorted
//     segment holding garbage (dead entries or tombstones; its record headers
//     and footer are not garbage); background runs take segments whose dead
//     fraction reaches compaction_garbage_ratio, idle runs those reaching
//     idle_compaction_ratio, runs for space (a write lacked it) those a tenth
//     dead. Most dead first, and only as many as free space allows:
//     the outputs (about the inputs' live bytes, plus one segment being
//     written) must fit before the inputs go. What does not fit is left to
//     the next round, which runs once this one has freed its inputs; so
//     compaction works on a full disk as long as the reserve holds one
//     segment's worth.
//  3. Scan the inputs once (verifying every record): their newest sequence
//     number, and the tombstones still needed (newer than the oldest record of
//     a segment that stays, which they must keep shadowing).
//  4. One ordered walk over the index collects the entries it still points to
//     in the inputs, in key order, with the needed tombstones of absent keys.
//  5. Write them key-sorted into new sorted segments (large sequential writes,
//     footer, fdatasync), add those to the segment table (not yet to the
//     MANIFEST).
//  6. Under index_mu_, a chunk at a time, compare-and-swap the entries from
//     their old to their new locations (AlexIndex::CompareAndSwapSorted): a key
//     written meanwhile keeps its newer location.
//  7. Sync the log (the writes that made input entries dead must be durable
//     before the inputs go), then publish the new set with one MANIFEST write. A crash before it leaves the
//     old set (the new files are unlisted and deleted at Open); after it, the
//     new set. The old segments leave the table and are unlinked once the last
//     reader (epoch guard or pinned value) lets go.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/crc32c.h"
#include "engine/log/reader.h"
#include "engine/mapped_read.h"
#include "engine/store_impl.h"

namespace alexfs {
namespace {

// A live entry (or a tombstone still needed) to copy: its entry is read at
// old_location in an input, which the inputs' mappings keep valid.
struct Candidate {
  uint64_t old_location;
  uint64_t new_location;
};

// A needed tombstone found by the input scan.
struct Tombstone {
  std::string_view key;
  uint64_t location;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Writes one sorted segment through its own file descriptor in large
// sequential pwrites from one reused buffer: each record is encoded straight
// into the buffer (no per-record allocation), its CRC computed while the bytes
// are in cache, and the segment CRC the footer needs extended over it. Values
// too large for the buffer are written from where they lie.
class SortedWriter {
 public:
  static constexpr size_t kBufferBytes = size_t{4} << 20;

  SortedWriter() : buf_(new char[kBufferBytes]) {}
  ~SortedWriter() { Close(); }
  SortedWriter(const SortedWriter&) = delete;
  SortedWriter& operator=(const SortedWriter&) = delete;

  // Starts writing `seg` from offset 0 (through its file, engine/env.h).
  void Open(log::Segment* seg) {
    seg_ = seg;
    used_ = 0;
    offset_ = 0;
    crc_ = 0;
    count_ = 0;
  }

  static uint64_t RecordSize(const log::Entry& e) { return log::kRecordHeaderSize + e.size(); }

  // Appends a single-entry record; *entry_offset receives its entry's offset.
  Status Add(const log::Entry& e, uint64_t sequence, uint64_t* entry_offset) {
    const uint64_t size = RecordSize(e);
    *entry_offset = offset_ + used_ + log::kRecordHeaderSize;
    ++count_;
    if (size <= kBufferBytes) {
      if (used_ + size > kBufferBytes) {
        Status s = Flush();
        if (!s.ok()) return s;
      }
      char* r = buf_.get() + used_;
      EncodeHeader(r, e, sequence);
      std::memcpy(r + log::kMinRecordSize, e.key.data(), e.key.size());
      std::memcpy(r + log::kMinRecordSize + e.key.size(), e.value.data(), e.value.size());
      const uint32_t crc = crc32c::Extend(0, r + 4, size - 4);
      log::EncodeFixed32(r, crc32c::Mask(crc));
      crc_ = crc32c::Extend(crc_, r, size);
      used_ += size;
      return Status::OK();
    }
    // A huge value: header and key from the buffer, the value in place.
    Status s = Flush();
    if (!s.ok()) return s;
    char* r = buf_.get();
    EncodeHeader(r, e, sequence);
    std::memcpy(r + log::kMinRecordSize, e.key.data(), e.key.size());
    const size_t head = log::kMinRecordSize + e.key.size();
    uint32_t crc = crc32c::Extend(0, r + 4, head - 4);
    crc = crc32c::Extend(crc, e.value.data(), e.value.size());
    log::EncodeFixed32(r, crc32c::Mask(crc));
    crc_ = crc32c::Extend(crc_, r, head);
    crc_ = crc32c::Extend(crc_, e.value.data(), e.value.size());
    used_ = head;
    s = Flush();
    if (!s.ok()) return s;
    return WriteAll(e.value.data(), e.value.size());
  }

  // Bytes written or buffered.
  uint64_t size() const { return offset_ + used_; }

  // Appends the footer and writes everything out (no sync). *data_bytes: the
  // segment's final size.
  Status Finish(uint64_t* data_bytes) {
    if (used_ + log::kFooterRecordSize > kBufferBytes) {
      Status s = Flush();
      if (!s.ok()) return s;
    }
    char v[log::kFooterValueSize];
    log::EncodeFixed64(v, count_);
    log::EncodeFixed32(v + 8, crc32c::Mask(crc_));
    char* r = buf_.get() + used_;
    log::Entry footer{log::RecordType::kFooter, std::string_view(), std::string_view(v, sizeof(v))};
    EncodeHeader(r, footer, 0);
    std::memcpy(r + log::kMinRecordSize, v, sizeof(v));
    log::EncodeFixed32(r, crc32c::Mask(crc32c::Extend(0, r + 4, log::kFooterRecordSize - 4)));
    used_ += log::kFooterRecordSize;
    Status s = Flush();
    *data_bytes = offset_;
    Close();
    return s;
  }

  void Close() { seg_ = nullptr; }

 private:
  static void EncodeHeader(char* r, const log::Entry& e, uint64_t sequence) {
    log::EncodeFixed32(r + 4, static_cast<uint32_t>(log::kRecordHeaderSize - log::kPrefixSize + e.size()));
    log::EncodeFixed64(r + 8, sequence);
    log::EncodeEntryHeader(r + log::kRecordHeaderSize, e.type, static_cast<uint32_t>(e.key.size()),
                           static_cast<uint32_t>(e.value.size()));
  }

  Status Flush() {
    const uint64_t from = offset_;
    Status s = WriteAll(buf_.get(), used_);
    used_ = 0;
    // Start writeback now, so the disk works while the next piece is
    // gathered and the final fdatasync finds little left to do. A hint only.
    if (s.ok() && offset_ > from) {
      seg_->StartWriteback(from, offset_ - from);
    }
    return s;
  }

  Status WriteAll(const char* p, size_t n) {
    Status s = seg_->WriteAt(offset_, p, n);
    if (s.ok()) offset_ += n;
    return s;
  }

  std::unique_ptr<char[]> buf_;
  log::Segment* seg_ = nullptr;
  size_t used_ = 0;      // bytes in buf_
  uint64_t offset_ = 0;  // file offset of buf_[0]
  uint32_t crc_ = 0;     // unmasked crc32c of every byte added so far
  uint64_t count_ = 0;   // records added
};

}  // namespace

Status StoreImpl::Compact() { return CompactImpl(CompactMode::kManual); }

Status StoreImpl::CompactImpl(CompactMode mode) {
  std::lock_guard<std::mutex> cl(compaction_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::InvalidArgument("store " + dir_ + " is closed");
  }
  bool roll = mode == CompactMode::kManual;
  if (mode == CompactMode::kIdle) {
    EpochManager::Guard guard = epochs_->Enter();
    const auto& seg = table_.load(std::memory_order_acquire)->Find(active_id_.load(std::memory_order_relaxed));
    if (seg) {
      const uint64_t data = seg->data_bytes.load(std::memory_order_relaxed);
      const uint64_t live = std::min(data, seg->live_bytes.load(std::memory_order_relaxed));
      roll = data > 0 && static_cast<double>(data - live) >=
                             options_.idle_compaction_ratio * static_cast<double>(data);
    }
  }
  if (roll) {
    Writer w;
    w.roll = true;
    Status s = Enqueue(&w);
    if (s.IsNoSpace()) {
      spdlog::warn("alexfs: compaction of {} goes on without sealing the active segment: {}", dir_,
                   s.ToString());
    } else if (!s.ok()) {
      return s;
    }
  }
  Status s;
  for (bool more = true; s.ok() && more;) s = CompactRound(mode, &more);
  // The garbage left is the baseline a shortage of space must beat to ask
  // for the next compaction (AskCompactionForSpace).
  const uint64_t lb = counters_->log_bytes.load(std::memory_order_relaxed);
  const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
  space_compaction_dead_.store(lb > live ? lb - live : 0, std::memory_order_relaxed);
  return s;
}

Status StoreImpl::CompactRound(CompactMode mode, bool* more) {
  *more = false;
  const auto t0 = std::chrono::steady_clock::now();

  // 2. Inputs, and the oldest record any remaining segment holds.
  std::vector<std::shared_ptr<log::Segment>> inputs;
  uint64_t min_remaining_seq = UINT64_MAX;
  bool tight = false;  // free space is short: output segments get exact sizes
  bool sorted_a_log = false;  // an input is a log segment
  {
    // Candidates with their live bytes; the most dead (by fraction) first.
    struct Eligible {
      std::shared_ptr<log::Segment> seg;
      uint64_t live, data;
    };
    std::vector<Eligible> eligible;
    std::lock_guard<std::mutex> tl(table_mu_);
    const SegmentTable* table = table_.load(std::memory_order_acquire);
    const uint32_t active = active_id_.load(std::memory_order_relaxed);
    // For space: segments a tenth dead or more (rewriting a segment for less
    // costs more than it gives back).
    constexpr double kSpaceRatio = 0.1;
    const double ratio = mode == CompactMode::kBackground ? options_.compaction_garbage_ratio
                         : mode == CompactMode::kIdle     ? options_.idle_compaction_ratio
                                                          : kSpaceRatio;
    for (const auto& [id, kind] : manifest_.segments) {
      const auto& seg = table->Find(id);
      const uint64_t data = seg->data_bytes.load(std::memory_order_relaxed);
      // A sorted segment's record headers and footer are no garbage: its
      // footer says how many records it holds.
      uint64_t overhead = 0;
      if (kind == log::SegmentKind::kSorted && data >= log::kFooterRecordSize) {
        const char* footer = seg->base() + data - log::kFooterRecordSize;
        overhead = log::DecodeFixed64(footer + log::kMinRecordSize) * log::kRecordHeaderSize +
                   log::kFooterRecordSize;
      }
      const uint64_t live = std::min(data, seg->live_bytes.load(std::memory_order_relaxed) + overhead);
      bool take = false;
      if (id != active && data > 0) {
        if (mode == CompactMode::kManual) {
          // Every log segment; a sorted one only if it holds garbage (a
          // repeated Compact() does not rewrite a compacted store).
          take = kind == log::SegmentKind::kLog || live < data;
        } else {
          take = live < data && static_cast<double>(data - live) >= ratio * static_cast<double>(data);
        }
      }
      if (take) {
        eligible.push_back({seg, live, data});
      } else {
        min_remaining_seq = std::min(min_remaining_seq, seg->min_sequence.load());
      }
    }
    std::stable_sort(eligible.begin(), eligible.end(), [](const Eligible& a, const Eligible& b) {
      // (data - live) / data, compared without division.
      return static_cast<double>(a.data - a.live) * static_cast<double>(b.data) >
             static_cast<double>(b.data - b.live) * static_cast<double>(a.data);
    });
    // Space: the outputs (live bytes and their record headers: a quarter
    // more, generously) must fit. Output segments are allocated at the
    // segment size, then cut to their data; when that could matter (tight)
    // each is allocated at what is left to write instead.
    uint64_t free = UINT64_MAX;
    if (!FreeBytes(&free)) free = UINT64_MAX;
    if (free != UINT64_MAX) free = free > kManifestRoomBytes ? free - kManifestRoomBytes : 0;
    uint64_t need = 0;
    uint64_t skipped_need = 0;
    for (auto& e : eligible) {
      const uint64_t n = e.live + e.live / 4;
      if (free != UINT64_MAX && need + n > free) {
        min_remaining_seq = std::min(min_remaining_seq, e.seg->min_sequence.load());
        // A segment without garbage (a manual run takes those to sort them)
        // gives no space back: leaving it is no failure.
        if (e.live < e.data) skipped_need = skipped_need == 0 ? n : std::min(skipped_need, n);
        continue;
      }
      need += n;
      sorted_a_log |= e.seg->kind() == log::SegmentKind::kLog;
      inputs.push_back(std::move(e.seg));
    }
    if (skipped_need > 0) {
      if (inputs.empty()) {
        return Status::NoSpace(dir_ + ": compaction needs about " + std::to_string(skipped_need) +
                               " bytes free, " + std::to_string(free) + " are");
      }
      *more = true;  // the next round, once these inputs are gone
    }
    tight = free != UINT64_MAX && need + segment_bytes_ > free;
  }
  if (inputs.empty()) {
    if (mode == CompactMode::kBackground) {
      // Nothing worth it yet: ask again after more garbage accumulates.
      const uint64_t lb = counters_->log_bytes.load(std::memory_order_relaxed);
      const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
      next_compaction_dead_.store((lb > live ? lb - live : 0) + min_garbage_bytes_);
    }
    return Status::OK();
  }

  // 3. Scan the inputs once, front to back, verifying every record (nothing
  // damaged is copied into a segment with a fresh checksum). The scan also
  // finds the newest sequence number of the inputs and the tombstones still
  // needed: those newer than the oldest record of a segment that stays, which
  // they must go on shadowing.
  auto phase = std::chrono::steady_clock::now();
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
  // REQUIRES: loc lies in an input.
  auto input_entry = [&](uint64_t loc) {
    return log::EntryAtUnchecked(input_of(loc)->base() + log::LocationOffset(loc));
  };
  uint64_t max_seq = 0;
  std::vector<Tombstone> tombstones;
  for (const auto& seg : inputs) {
    const uint64_t size = seg->data_bytes.load(std::memory_order_relaxed);
    const uint32_t id = seg->id();
    auto on_record = [&](const log::DecodedRecord& rec, uint64_t offset) {
      max_seq = std::max(max_seq, rec.sequence);
      if (rec.type == log::RecordType::kPut || rec.sequence <= min_remaining_seq) return;
      if (rec.type == log::RecordType::kDelete) {
        tombstones.push_back({rec.entry.key, log::PackLocation(id, offset + log::kRecordHeaderSize)});
        return;
      }
      log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
        if (e.type == log::RecordType::kDelete) {
          tombstones.push_back({e.key, log::PackLocation(id, offset + entry_offset)});
        }
      });
    };
    log::ScanResult r;
    Status s;
    // Every page of the input is read here first: one that is gone (the file
    // truncated, a disk error) fails this compaction with EIO, not the
    // process (engine/mapped_read.h). The callback object is made out here,
    // so nothing the guarded call owns is abandoned (`tombstones` grows
    // between reads).
    const log::RecordCallback callback = on_record;
    if (!GuardMappedRead([&] {
          s = seg->kind() == log::SegmentKind::kSorted
                  ? log::ScanSortedSegment(seg->name(), seg->base(), size, callback, &r)
                  : log::ScanLogSegment(seg->name(), seg->base(), 0, size, log::kNoTornTail, callback, &r);
        })) {
      s = MappedPageError("reading " + seg->name());
    }
    if (!s.ok()) {
      spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
      return s;
    }
  }
  // Newest per key, key order. (Any of a key's tombstones would do: the
  // output holds each record with the sequence number out_seq, below.)
  std::stable_sort(tombstones.begin(), tombstones.end(),
                   [](const Tombstone& a, const Tombstone& b) { return a.key < b.key; });
  tombstones.erase(std::unique(tombstones.begin(), tombstones.end(),
                               [](const Tombstone& a, const Tombstone& b) { return a.key == b.key; }),
                   tombstones.end());
  const double scan_s = Seconds(phase);

  // Every output record carries out_seq, the newest sequence number of the
  // inputs: newer than every record of its key that stays in another segment
  // (the copied record is its key's newest), older than every write after the
  // inputs were chosen (a write racing this compaction wins at recovery).
  // This spares compaction looking up each entry's own record (entries of a
  // batch share a record header), which would take a sort by location.
  const uint64_t out_seq = max_seq;

  // 4. Candidates: one ordered walk over the index picks the live entries,
  // those whose location lies in an input. It reads only the index (keys only
  // to place tombstones), and yields them in key order.
  phase = std::chrono::steady_clock::now();
  std::vector<Candidate> cands;
  cands.reserve(index_->size() + tombstones.size() + 16);
  size_t next_tomb = 0;
  // Tombstones with keys below `key` are absent from the index: still needed.
  auto emit_tombstones_below = [&](std::string_view key) {
    while (next_tomb < tombstones.size() && tombstones[next_tomb].key < key) {
      cands.push_back({tombstones[next_tomb++].location, 0});
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
        const bool last = n + 1 == kWalkChunk;
        if (last) resume.assign(it.key());  // resume after this key
        if (next_tomb < tombstones.size()) emit_tombstones_below(last ? std::string_view(resume) : it.key());
        const uint64_t loc = it.location();
        if (input_of(loc) != nullptr) cands.push_back({loc, 0});
        if (last) {
          it.Next();
          break;
        }
      }
      end = !it.Valid();
    }
    while (next_tomb < tombstones.size()) cands.push_back({tombstones[next_tomb++].location, 0});
  }
  tombstones.clear();
  tombstones.shrink_to_fit();
  const double walk_s = Seconds(phase);

  // 4b. With compression on: retrain the dictionary on the values being
  // moved; step 5 re-encodes them with it (entries change size).
  std::shared_ptr<const Dictionary> recode;
  if (options_.compression_level > 0 && options_.compression_dictionary_bytes > 0) {
    Status s = TrainForCompaction(
        cands.size(), [&](size_t i) { return input_entry(cands[i].old_location); }, &recode);
    if (!s.ok()) {
      spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
      return s;
    }
  }

  // 5. Write the sorted segments: entries gathered from the inputs in key
  // order (prefetched a few ahead: they lie scattered over the inputs), each
  // segment written in large sequential pieces, truncated to its data and
  // fdatasync'd, then added to the segment table (not yet to the MANIFEST).
  phase = std::chrono::steady_clock::now();
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
  auto fail = [&](const std::shared_ptr<log::Segment>& partial, const Status& s) {
    if (partial) partial->MarkObsolete();
    discard_outputs();
    spdlog::error("alexfs: compaction of {}: {}", dir_, s.ToString());
    return s;
  };
  {
    SortedWriter w;
    constexpr size_t kPrefetchAhead = 16;
    auto prefetch = [&](size_t j) {
      if (j < cands.size()) {
        const char* p = input_of(cands[j].old_location)->base() + log::LocationOffset(cands[j].old_location);
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
      }
    };
    for (size_t j = 0; j < kPrefetchAhead; ++j) prefetch(j);
    std::shared_ptr<log::Segment> seg;
    uint64_t capacity = 0;
    // Bytes of records still to write, counted only when space is tight.
    uint64_t remaining = UINT64_MAX;
    if (tight) {
      remaining = 0;
      for (const Candidate& c : cands) remaining += SortedWriter::RecordSize(input_entry(c.old_location));
    }
    auto finish = [&]() -> Status {
      uint64_t bytes = 0;
      Status s = w.Finish(&bytes);
      if (s.ok()) s = seg->Truncate(bytes);
      if (s.ok()) s = seg->Sync();
      if (!s.ok()) return s;
      seg->data_bytes.store(bytes, std::memory_order_relaxed);
      seg->NoteSequence(out_seq);
      {
        std::lock_guard<std::mutex> tl(table_mu_);
        PublishTable(table_.load(std::memory_order_relaxed)->With(seg));
      }
      outputs.push_back(std::move(seg));
      seg = nullptr;
      return Status::OK();
    };
    std::string logical, encoded;
    for (size_t j = 0; j < cands.size(); ++j) {
      prefetch(j + kPrefetchAhead);
      log::Entry e = input_entry(cands[j].old_location);
      Status s;
      if (recode != nullptr) {
        s = RecodeEntry(input_entry(cands[j].old_location), *recode, &logical, &encoded, &e);
        if (!s.ok()) return fail(seg, s);
      }
      const uint64_t rsize = SortedWriter::RecordSize(e);
      if (seg && w.size() + rsize + log::kFooterRecordSize > capacity) s = finish();
      if (s.ok() && !seg) {
        const uint64_t want = remaining == UINT64_MAX
                                  ? segment_bytes_
                                  : std::min(segment_bytes_, remaining + log::kFooterRecordSize);
        capacity = std::max<uint64_t>(want, rsize + log::kFooterRecordSize);
        {
          std::lock_guard<std::mutex> tl(table_mu_);
          const uint32_t id = manifest_.next_file++;
          s = log::Segment::Create(env_, dir_, id, log::SegmentKind::kSorted, capacity, &seg);
        }
        if (s.ok()) w.Open(seg.get());
      }
      uint64_t off = 0;
      if (s.ok()) s = w.Add(e, out_seq, &off);
      if (!s.ok()) return fail(seg, s);
      if (remaining != UINT64_MAX) remaining -= rsize;
      cands[j].new_location = log::PackLocation(seg->id(), off);
    }
    if (seg) {
      Status s = finish();
      if (!s.ok()) return fail(seg, s);
    }
  }
  uint64_t output_bytes = 0;
  for (const auto& o : outputs) output_bytes += o->data_bytes.load(std::memory_order_relaxed);
  const double write_s = Seconds(phase);

  // 6. Swap index entries that still point at the old places, a chunk of
  // requests per hold of index_mu_ (commits get in between chunks) with one
  // batched compare-and-swap along the index's leaves. Only the segments'
  // live bytes change (and, for re-encoded entries, the dictionary
  // references); they are settled before index_mu_ is released (writers mark
  // bytes dead under it).
  phase = std::chrono::steady_clock::now();
  std::unique_ptr<bool[]> swapped(new bool[cands.size()]());
  size_t swapped_count = 0;
  {
    constexpr size_t kSwapChunk = 4096;
    std::vector<index::AlexIndex::SwapRequest> reqs;
    std::vector<size_t> req_cand;  // cands index of each request
    std::vector<uint64_t> req_bytes, req_old_bytes;
    reqs.reserve(kSwapChunk);
    req_cand.reserve(kSwapChunk);
    req_bytes.reserve(kSwapChunk);
    std::vector<int64_t> input_delta(input_by_id.size(), 0);
    std::vector<int64_t> output_delta(outputs.size(), 0);
    int64_t live_delta = 0;  // re-encoded entries change size
    const uint32_t first_out = outputs.empty() ? 0 : outputs.front()->id();
    auto output_index = [&](uint64_t loc) -> size_t {
      const uint32_t id = log::LocationSegment(loc);
      size_t k = std::min<size_t>(id - first_out, outputs.size() - 1);
      while (outputs[k]->id() > id) --k;  // ids ascend, with gaps for rolls
      return k;
    };
    for (size_t i = 0; i < cands.size();) {
      reqs.clear();
      req_cand.clear();
      req_bytes.clear();
      req_old_bytes.clear();
      for (; i < cands.size() && reqs.size() < kSwapChunk; ++i) {
        const uint64_t nl = cands[i].new_location;
        const log::Entry e = log::EntryAtUnchecked(outputs[output_index(nl)]->base() + log::LocationOffset(nl));
        if (!log::IsPut(e.type)) continue;  // a tombstone
        reqs.push_back({e.key, cands[i].old_location, nl});
        req_cand.push_back(i);
        req_bytes.push_back(e.size());
        req_old_bytes.push_back(input_entry(cands[i].old_location).size());
      }
      if (reqs.empty()) continue;
      bool ok[kSwapChunk];
      std::lock_guard<std::mutex> il(index_mu_);
      EpochManager::Guard guard = epochs_->Enter();
      swapped_count += index_->CompareAndSwapSorted(reqs.data(), reqs.size(), ok);
      for (size_t r = 0; r < reqs.size(); ++r) {
        if (!ok[r]) continue;
        swapped[req_cand[r]] = true;
        output_delta[output_index(reqs[r].desired)] += static_cast<int64_t>(req_bytes[r]);
        input_delta[log::LocationSegment(reqs[r].expected) - min_id] -= static_cast<int64_t>(req_old_bytes[r]);
        live_delta += static_cast<int64_t>(req_bytes[r]) - static_cast<int64_t>(req_old_bytes[r]);
        if (recode != nullptr) {
          NoteEncoding(input_entry(reqs[r].expected), -1);
          NoteEncoding(log::EntryAtUnchecked(outputs[output_index(reqs[r].desired)]->base() +
                                             log::LocationOffset(reqs[r].desired)),
                       +1);
        }
      }
      counters_->live_bytes.fetch_add(static_cast<uint64_t>(live_delta), std::memory_order_relaxed);
      live_delta = 0;
      for (size_t k = 0; k < output_delta.size(); ++k) {
        if (output_delta[k] != 0) {
          outputs[k]->live_bytes.fetch_add(static_cast<uint64_t>(output_delta[k]), std::memory_order_relaxed);
          output_delta[k] = 0;
        }
      }
      for (size_t k = 0; k < input_delta.size(); ++k) {
        if (input_delta[k] != 0) {
          input_by_id[k]->live_bytes.fetch_sub(static_cast<uint64_t>(-input_delta[k]), std::memory_order_relaxed);
          input_delta[k] = 0;
        }
      }
    }
  }
  const double swap_s = Seconds(phase);

  // 7. Publish. First make durable every record appended so far: the writes
  // that made input entries dead (overwrites, deletes) may still be unsynced,
  // and once the inputs are gone a power cut that lost those writes would
  // lose the older versions too instead of bringing them back.
  Status s = SyncThrough(kSyncAllAppended);
  if (s.ok()) {
    std::lock_guard<std::mutex> tl(table_mu_);
    Manifest m = manifest_;
    for (const auto& in : inputs) m.segments.erase(in->id());
    for (const auto& o : outputs) m.segments[o->id()] = log::SegmentKind::kSorted;
    s = WriteManifest(env_, dir_, m);
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
      for (size_t i = 0; i < cands.size(); ++i) {
        if (!swapped[i]) continue;
        const Candidate& c = cands[i];
        const uint64_t nl = c.new_location;
        const log::Segment* out = nullptr;
        for (const auto& o : outputs) {
          if (o->id() == log::LocationSegment(nl)) out = o.get();
        }
        const std::string_view key = log::EntryAtUnchecked(out->base() + log::LocationOffset(nl)).key;
        if (index_->CompareAndSwap(key, c.new_location, c.old_location)) {
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

  // Re-encoding may have freed the last use of older dictionaries.
  Status ds = DropUnusedDictionaries();
  if (!ds.ok()) spdlog::warn("alexfs: compaction of {}: dropping dictionaries: {}", dir_, ds.ToString());

  const uint64_t reclaimed = input_bytes > output_bytes ? input_bytes - output_bytes : 0;
  // Each further round must sort a log segment or give space back, or it
  // would pick the same inputs again (a sorted segment whose garbage is
  // smaller than its rewrite's rounding) while what was skipped still waits.
  if (*more && reclaimed == 0 && !sorted_a_log) *more = false;
  counters_->compactions.fetch_add(1, std::memory_order_relaxed);
  if (mode == CompactMode::kIdle) counters_->idle_compactions.fetch_add(1, std::memory_order_relaxed);
  counters_->compaction_bytes_reclaimed.fetch_add(reclaimed, std::memory_order_relaxed);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  counters_->compaction_latency.Record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
  spdlog::info(
      "alexfs: compacted {}: {} entries kept, {} bytes reclaimed in {:.3f} s (scan {:.3f}, walk {:.3f}, "
      "write {:.3f}, swap {:.3f})",
      dir_, swapped_count, reclaimed, Seconds(t0), scan_s, walk_s, write_s, swap_s);
  return Status::OK();
}

}  // namespace alexfs
