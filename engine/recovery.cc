// StoreImpl::Open / Recover: rebuilding the index from the segments.
//
// Every record of every segment in the MANIFEST is read and verified. Sorted
// (compacted) segments are already in key order, one record per key: they are
// not copied, a cursor walks each one in place. Log segments yield (key view,
// sequence, location) items, sorted by key. A k-way merge of the cursors and
// the sorted log items yields each key's newest record (highest sequence; for
// equal sequences the higher location, i.e. the later entry of a batch or the
// newer segment); tombstones drop the key. The result, key views into the
// mapped segments and locations, is bulk-loaded into the index in one go: no
// key is copied and no record is inserted one at a time.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <vector>

#include <spdlog/spdlog.h>

#include "engine/log/reader.h"
#include "engine/store_impl.h"

namespace alexfs {
namespace {

// A log entry. Its type and value length are read back through the key view
// (the entry header precedes the key in the mapping).
struct Item {
  std::string_view key;
  uint64_t sequence;
  uint64_t location;
  // Big-endian bytes [L, L+8) of the key (zero padded), L the length of the
  // prefix all log keys share: most comparisons of the sort end here instead of
  // in a memcmp over a long common prefix (file paths).
  uint64_t chunk = 0;
};

// Allocator for the big temporary arrays of recovery: blocks of 4 MiB and
// more are mapped with transparent huge pages requested, so filling tens of
// millions of items takes a page fault per 2 MiB rather than per 4 KiB.
template <typename T>
struct BigAllocator {
  using value_type = T;
  static constexpr size_t kBig = size_t{4} << 20;
  static constexpr size_t kHuge = size_t{2} << 20;
  BigAllocator() = default;
  template <typename U>
  BigAllocator(const BigAllocator<U>&) {}
  static size_t MappedBytes(size_t n) { return (n * sizeof(T) + kHuge - 1) / kHuge * kHuge; }
  T* allocate(size_t n) {
    if (n * sizeof(T) < kBig) return static_cast<T*>(::operator new(n * sizeof(T)));
    void* p = ::mmap(nullptr, MappedBytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    (void)::madvise(p, MappedBytes(n), MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kBig) {
      ::operator delete(p);
    } else {
      ::munmap(p, MappedBytes(n));
    }
  }
  template <typename U>
  bool operator==(const BigAllocator<U>&) const { return true; }
};

using Items = std::vector<Item, BigAllocator<Item>>;

void SetChunks(Items* items) {
  if (items->empty()) return;
  std::string_view first = items->front().key;
  size_t common = first.size();
  for (const Item& it : *items) {
    size_t n = std::min(common, it.key.size());
    size_t i = 0;
    while (i < n && first[i] == it.key[i]) ++i;
    common = i;
    if (common == 0) break;
  }
  for (Item& it : *items) {
    uint64_t c = 0;
    for (size_t i = 0; i < 8; ++i) {
      size_t at = common + i;
      c = (c << 8) | (at < it.key.size() ? static_cast<uint8_t>(it.key[at]) : 0);
    }
    it.chunk = c;
  }
}

// NewestFirst's order, using the chunks first. REQUIRES: SetChunks on both.
bool NewestFirstByChunk(const Item& a, const Item& b) {
  if (a.chunk != b.chunk) return a.chunk < b.chunk;
  int c = a.key.compare(b.key);
  if (c != 0) return c < 0;
  if (a.sequence != b.sequence) return a.sequence > b.sequence;
  return a.location > b.location;
}

// Sorts items into NewestFirstByChunk order: a stable LSD radix sort on the
// chunks (16-bit digits; digits every chunk shares are skipped), then a
// comparison sort inside each run of equal chunks (keys the chunk does not
// tell apart, and versions of one key, which the stable passes left oldest
// first). REQUIRES: SetChunks.
void SortNewestFirst(Items* items) {
  const size_t n = items->size();
  if (n < 4096) {
    std::sort(items->begin(), items->end(), NewestFirstByChunk);
    return;
  }
  uint64_t differ = 0;
  const uint64_t c0 = items->front().chunk;
  for (const Item& it : *items) differ |= it.chunk ^ c0;
  Items tmp(n);
  std::vector<size_t> count(size_t{1} << 16);
  for (int shift = 0; shift < 64; shift += 16) {
    if (((differ >> shift) & 0xffff) == 0) continue;
    std::fill(count.begin(), count.end(), 0);
    for (const Item& it : *items) ++count[(it.chunk >> shift) & 0xffff];
    size_t sum = 0;
    for (size_t& c : count) {
      const size_t k = c;
      c = sum;
      sum += k;
    }
    for (const Item& it : *items) tmp[count[(it.chunk >> shift) & 0xffff]++] = it;
    items->swap(tmp);
  }
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && (*items)[j].chunk == (*items)[i].chunk) ++j;
    if (j - i > 1) std::sort(items->begin() + static_cast<std::ptrdiff_t>(i), items->begin() + static_cast<std::ptrdiff_t>(j), NewestFirstByChunk);
    i = j;
  }
}

// The entry whose key `key` views (a view into a mapped, verified record).
bool IsTombstone(std::string_view key) {
  return static_cast<log::RecordType>(key.data()[-static_cast<std::ptrdiff_t>(log::kEntryHeaderSize)]) ==
         log::RecordType::kDelete;
}
log::Entry EntryOf(std::string_view key) {
  return log::EntryAtUnchecked(key.data() - log::kEntryHeaderSize);
}
uint64_t EntrySize(std::string_view key) {
  return log::kEntryHeaderSize + key.size() + log::DecodeFixed32(key.data() - 4);
}

// One input of the merge: a verified sorted segment walked in place, or the
// sorted log items. head() is the current entry.
class Source {
 public:
  // A sorted segment: records data[0, end) (end: the footer's offset).
  struct Run {
    const char* data;
    uint64_t end;
    uint32_t id;
    std::string_view first, last;  // its smallest and largest key
  };
  Source(const char* data, uint64_t end, uint32_t id) : data_(data), end_(end), id_(id) { Load(); }
  // Sorted segments whose key ranges follow one another (each run's first
  // key above the previous run's last), walked as one.
  explicit Source(std::vector<Run> chain) : chain_(std::move(chain)) {
    data_ = chain_[0].data;
    end_ = chain_[0].end;
    id_ = chain_[0].id;
    Load();
  }
  Source(const Item* first, const Item* last) : item_(first), item_end_(last) { Load(); }

  bool valid() const { return valid_; }
  std::string_view key() const { return key_; }
  uint64_t sequence() const { return seq_; }
  uint64_t location() const { return loc_; }
  void Next() {
    if (data_ != nullptr) {
      pos_ += log::kPrefixSize + log::DecodeFixed32(data_ + pos_ + 4);
    } else {
      ++item_;
    }
    Load();
  }
  // Key ascending; for equal keys the newest first.
  bool Before(const Source& o) const {
    const int c = key_.compare(o.key_);
    if (c != 0) return c < 0;
    if (seq_ != o.seq_) return seq_ > o.seq_;
    return loc_ > o.loc_;
  }

 private:
  void Load() {
    if (data_ != nullptr) {
      while (pos_ >= end_ && next_run_ + 1 < chain_.size()) {
        const Run& r = chain_[++next_run_];
        data_ = r.data;
        end_ = r.end;
        id_ = r.id;
        pos_ = 0;
      }
      valid_ = pos_ < end_;
      if (!valid_) return;
      // Verified by ScanSortedSegment: single-entry kPut/kDelete records.
      const char* r = data_ + pos_;
      seq_ = log::DecodeFixed64(r + 8);
      const char* e = r + log::kRecordHeaderSize;
      key_ = std::string_view(e + log::kEntryHeaderSize, log::DecodeFixed32(e + 1));
      loc_ = log::PackLocation(id_, pos_ + log::kRecordHeaderSize);
    } else {
      valid_ = item_ != item_end_;
      if (!valid_) return;
      key_ = item_->key;
      seq_ = item_->sequence;
      loc_ = item_->location;
    }
  }

  std::vector<Run> chain_;
  size_t next_run_ = 0;  // index in chain_ of the run being walked
  const char* data_ = nullptr;
  uint64_t pos_ = 0, end_ = 0;
  uint32_t id_ = 0;
  const Item* item_ = nullptr;
  const Item* item_end_ = nullptr;
  bool valid_ = false;
  std::string_view key_;
  uint64_t seq_ = 0, loc_ = 0;
};

}  // namespace

Status StoreImpl::Open() {
  Status s = Recover();
  if (!s.ok()) {
    lock_.Release();
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    return s;
  }
  // The first quiet period after Open checks for garbage too.
  idle_checked_seq_ = UINT64_MAX;
  if (options_.commit_interval.count() > 0 || options_.compaction_garbage_ratio > 0 ||
      (options_.compression_level > 0 && options_.compression_dictionary_bytes > 0)) {
    bg_thread_ = std::thread([this] { BackgroundThread(); });
  }
  return Status::OK();
}

Status StoreImpl::Recover() {
  const auto t0 = std::chrono::steady_clock::now();
  if (!env_->IsDirectory(dir_)) {
    if (!options_.create_if_missing) return Status::NotFound(dir_ + ": no such store");
    Status s = env_->CreateDirs(dir_);
    if (!s.ok()) return s;
  }
  // Sizes that follow the filesystem: a segment of at most 1/16 of the free
  // space (so a data dir of a few MiB holds several), a reserve of two.
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  segment_bytes_ = std::max<uint64_t>(options_.segment_bytes, 4096);
  if (uint64_t free = 0; FreeBytes(&free)) {
    segment_bytes_ = std::min(segment_bytes_, std::max(kMiB, free / 16 / kMiB * kMiB));
  }
  reserve_bytes_ = options_.reserve_bytes > 0 ? options_.reserve_bytes : 2 * segment_bytes_;
  min_garbage_bytes_ = std::min(options_.compaction_min_garbage_bytes, 2 * segment_bytes_);
  Status s = lock_.Acquire(env_, dir_ + "/LOCK");
  if (!s.ok()) return s;

  // Which files form the store.
  std::vector<uint32_t> on_disk;
  {
    std::vector<std::string> names;
    s = env_->ListDir(dir_, &names);
    if (!s.ok()) return s;
    for (const std::string& name : names) {
      uint32_t id;
      if (log::ParseSegmentName(name, &id)) on_disk.push_back(id);
    }
  }
  Manifest m;
  s = ReadManifest(env_, dir_, &m);
  if (s.IsNotFound()) {
    if (!on_disk.empty()) {
      return Status::Corruption(dir_ + "/MANIFEST is missing but the directory holds segments");
    }
    s = WriteManifest(env_, dir_, m);
  }
  if (!s.ok()) return s;
  bool removed = false;
  for (uint32_t id : on_disk) {
    if (m.segments.count(id) == 0) {
      // Created by a roll or a compaction that never got published.
      std::string path = dir_ + "/" + log::SegmentFileName(id);
      spdlog::info("alexfs: deleting unpublished segment {}", path);
      removed |= env_->Remove(path).ok();
    }
  }
  removed |= env_->Remove(dir_ + "/MANIFEST.tmp").ok();
  // Make the removals durable before ids of removed files are reused.
  if (removed) {
    s = env_->SyncDir(dir_);
    if (!s.ok()) return s;
  }

  uint32_t newest_log = 0;
  for (const auto& [id, kind] : m.segments) {
    if (kind == log::SegmentKind::kLog) newest_log = id;
  }
  // How far the newest segment is known durable: its tail may be torn only
  // from there on (engine/sync_point.h).
  const SyncPoint sync_point = ReadSyncPoint(env_, dir_);
  const uint64_t torn_tail_from = sync_point.segment == newest_log ? sync_point.offset : 0;

  // Read every segment.
  auto table = std::make_unique<SegmentTable>();
  std::vector<Source::Run> sorted_runs;
  Items log_items;
  uint64_t max_seq = 0;
  uint64_t torn_total = 0;
  uint64_t entries = 0;
  std::shared_ptr<log::Segment> newest;
  uint64_t newest_end = 0;
  const uint32_t first_id = m.segments.empty() ? 0 : m.segments.begin()->first;
  const uint32_t last_id = m.segments.empty() ? 0 : m.segments.rbegin()->first;
  std::vector<log::Segment*> by_id(m.segments.empty() ? 0 : last_id - first_id + 1, nullptr);
  std::vector<std::shared_ptr<log::Segment>> keep;  // until the table holds them
  const auto scan_t0 = std::chrono::steady_clock::now();
  {
    // Room for the log entries up front (one allocation, no copying as it
    // grows; what is not used is never touched).
    uint64_t log_bytes = 0;
    for (const auto& [id, kind] : m.segments) {
      if (kind != log::SegmentKind::kLog) continue;
      std::unique_ptr<File> f;
      uint64_t size = 0, allocated = 0;
      if (env_->OpenFile(dir_ + "/" + log::SegmentFileName(id), OpenMode::kRead, &f).ok() &&
          f->GetSize(&size, &allocated).ok()) {
        log_bytes += size;
      }
    }
    log_items.reserve(log_bytes / 48);
  }
  for (const auto& [id, kind] : m.segments) {
    const bool is_newest = id == newest_log && kind == log::SegmentKind::kLog;
    std::shared_ptr<log::Segment> seg;
    s = log::Segment::OpenExisting(env_, dir_, id, kind, is_newest ? segment_bytes_ : 0, &seg);
    if (!s.ok()) return s;
    log::Segment* raw = seg.get();
    by_id[id - first_id] = raw;
    const uint32_t seg_id = id;  // lambdas cannot capture structured bindings (C++20)
    const uint64_t size = seg->file_size_at_open();
    if (size > 0) {
      // Map the whole file in one call instead of a page fault per few pages
      // (a hint: the scan faults in whatever this does not).
      (void)::madvise(const_cast<char*>(seg->base()), size, MADV_POPULATE_READ);
    }
    log::ScanResult r;
    bool ascending = true;
    if (kind == log::SegmentKind::kSorted) {
      uint64_t seg_min_seq = UINT64_MAX;
      std::string_view prev, first_key;
      auto on_record = [&](const log::DecodedRecord& rec, uint64_t) {
        max_seq = std::max(max_seq, rec.sequence);
        seg_min_seq = std::min(seg_min_seq, rec.sequence);
        if (!prev.empty() && prev.compare(rec.entry.key) >= 0) ascending = false;
        if (prev.empty()) first_key = rec.entry.key;
        prev = rec.entry.key;
      };
      s = log::ScanSortedSegment(seg->name(), seg->base(), size, on_record, &r);
      if (s.ok() && seg_min_seq != UINT64_MAX) raw->NoteSequence(seg_min_seq);
      if (s.ok()) {
        entries += r.records;
        if (ascending) {
          if (r.records > 0) {
            sorted_runs.push_back({seg->base(), size - log::kFooterRecordSize, seg_id, first_key, prev});
          }
        } else {
          // Not in key order (never written so by compaction): merge its
          // entries as if they were logged.
          spdlog::warn("alexfs: {}: sorted segment out of key order; sorting it", seg->path());
          for (Source c(seg->base(), size - log::kFooterRecordSize, seg_id); c.valid(); c.Next()) {
            log_items.push_back(Item{c.key(), c.sequence(), c.location(), 0});
          }
        }
      }
    } else {
      auto on_record = [&](const log::DecodedRecord& rec, uint64_t offset) {
        max_seq = std::max(max_seq, rec.sequence);
        raw->NoteSequence(rec.sequence);
        if (rec.type != log::RecordType::kBatch) {
          log_items.push_back(
              Item{rec.entry.key, rec.sequence, log::PackLocation(seg_id, offset + log::kRecordHeaderSize), 0});
          return;
        }
        log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
          log_items.push_back(Item{e.key, rec.sequence, log::PackLocation(seg_id, offset + entry_offset), 0});
        });
      };
      s = log::ScanLogSegment(seg->name(), seg->base(), 0, size,
                              is_newest ? torn_tail_from : log::kNoTornTail, on_record, &r);
    }
    if (!s.ok()) {
      spdlog::error("alexfs: cannot open store {}: {}", dir_, s.ToString());
      return s;
    }
    if (is_newest) {
      if (r.torn_bytes > 0) {
        spdlog::warn("alexfs: {}: torn tail at offset {} truncated, {} bytes dropped", seg->path(),
                     r.valid_end, r.torn_bytes);
        torn_total += r.torn_bytes;
      }
      if (r.torn_bytes > 0 || size < seg->capacity()) {
        s = seg->TruncateAndReserve(r.valid_end, seg->capacity());  // syncs
        if (s.IsNoSpace()) {
          // A full disk opens all the same: the segment stays at its data
          // (whatever a failed fallocate kept goes), appends extend it with
          // pwrite, and the first that does not fit starts the next segment,
          // taking the reserve or failing with kNoSpace like any write.
          spdlog::warn("alexfs: {}: active segment not preallocated: {}", seg->path(), s.ToString());
          s = seg->Truncate(r.valid_end);
          if (s.ok()) s = seg->Sync();
        }
      } else {
        s = seg->Sync();  // what an earlier process left in the page cache
      }
      if (!s.ok()) return s;
      newest = seg;
      newest_end = r.valid_end;
    } else if (kind == log::SegmentKind::kLog && size > r.valid_end) {
      // Zeros after the data (a seal whose truncate did not happen): harmless.
    }
    seg->data_bytes.store(r.valid_end, std::memory_order_relaxed);
    counters_->log_bytes.fetch_add(r.valid_end, std::memory_order_relaxed);
    keep.push_back(std::move(seg));
  }
  for (auto& seg : keep) table = table->With(std::move(seg));
  keep.clear();
  PublishTable(std::move(table));
  const double scan_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - scan_t0).count();

  // Merge: log items sorted by key (newest first per key), then a k-way merge
  // with the sorted segments' cursors. The first entry of each key is its
  // newest: the key is live unless that entry is a tombstone.
  const auto merge_t0 = std::chrono::steady_clock::now();
  entries += log_items.size();
  SetChunks(&log_items);
  SortNewestFirst(&log_items);
  std::vector<Source> sources;
  {
    // The segments one compaction wrote cover ascending, disjoint key ranges:
    // chain such runs into one source, so the merge compares across sources
    // only where ranges overlap (usually: the log, or a later compaction's
    // segments).
    std::sort(sorted_runs.begin(), sorted_runs.end(),
              [](const Source::Run& a, const Source::Run& b) { return a.first < b.first; });
    std::vector<std::vector<Source::Run>> chains;
    for (const Source::Run& r : sorted_runs) {
      bool placed = false;
      for (auto& c : chains) {
        if (c.back().last < r.first) {
          c.push_back(r);
          placed = true;
          break;
        }
      }
      if (!placed) chains.push_back({r});
    }
    sources.reserve(chains.size() + 1);
    for (auto& c : chains) sources.emplace_back(std::move(c));
  }
  if (!log_items.empty()) sources.emplace_back(log_items.data(), log_items.data() + log_items.size());
  std::erase_if(sources, [](const Source& c) { return !c.valid(); });
  std::vector<std::pair<std::string_view, uint64_t>> live;
  live.reserve(entries);
  if (live.capacity() * sizeof(live[0]) >= (size_t{8} << 20)) {
    // Ask for huge pages where the block allows (a hint, like BigAllocator).
    const uintptr_t huge = uintptr_t{2} << 20;
    const uintptr_t from = (reinterpret_cast<uintptr_t>(live.data()) + huge - 1) & ~(huge - 1);
    const uintptr_t to = (reinterpret_cast<uintptr_t>(live.data() + live.capacity())) & ~(huge - 1);
    if (to > from) (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
  }
  std::vector<uint64_t> live_bytes(by_id.size(), 0);
  std::string_view prev;
  bool have_prev = false;
  auto take = [&](const Source& c) {
    if (have_prev && c.key() == prev) return;  // an older version
    prev = c.key();
    have_prev = true;
    if (IsTombstone(c.key())) return;
    live.emplace_back(c.key(), c.location());
    live_bytes[log::LocationSegment(c.location()) - first_id] += EntrySize(c.key());
    NoteEncoding(EntryOf(c.key()), +1);
  };
  if (sources.size() == 1 && sorted_runs.empty()) {
    // Only the log: neighbours with different chunks differ without a memcmp.
    for (size_t i = 0; i < log_items.size(); ++i) {
      const Item& it = log_items[i];
      if (i > 0 && it.chunk == log_items[i - 1].chunk && it.key == log_items[i - 1].key) continue;
      if (IsTombstone(it.key)) continue;
      live.emplace_back(it.key, it.location);
      live_bytes[log::LocationSegment(it.location) - first_id] += EntrySize(it.key);
      NoteEncoding(EntryOf(it.key), +1);
    }
  } else if (sources.size() == 1) {
    for (Source& c = sources.front(); c.valid(); c.Next()) take(c);
  } else if (!sources.empty()) {
    // Min-heap of the sources by head.
    std::vector<Source*> heap;
    for (Source& c : sources) heap.push_back(&c);
    auto after = [](const Source* a, const Source* b) { return b->Before(*a); };
    std::make_heap(heap.begin(), heap.end(), after);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), after);
      Source* c = heap.back();
      take(*c);
      c->Next();
      if (c->valid()) {
        std::push_heap(heap.begin(), heap.end(), after);
      } else {
        heap.pop_back();
      }
    }
  }
  log_items.clear();
  log_items.shrink_to_fit();
  const double merge_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - merge_t0).count();
  const auto load_t0 = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> il(index_mu_);
    EpochManager::Guard guard = epochs_->Enter();
    index_->BulkLoad(live);
    uint64_t total = 0;
    for (size_t i = 0; i < by_id.size(); ++i) {
      if (by_id[i] != nullptr && live_bytes[i] > 0) {
        by_id[i]->live_bytes.fetch_add(live_bytes[i], std::memory_order_relaxed);
        total += live_bytes[i];
      }
    }
    counters_->live_bytes.fetch_add(total, std::memory_order_relaxed);
  }
  s = LoadDictionaries();
  if (!s.ok()) {
    spdlog::error("alexfs: cannot open store {}: {}", dir_, s.ToString());
    return s;
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_t0).count();

  // Everything recovered is durable now: the new sync point.
  s = sync_point_.Open(env_, dir_);
  if (!s.ok()) spdlog::warn("alexfs: no sync point for {}: {}", dir_, s.ToString());
  if (newest != nullptr) sync_point_.Record(SyncPoint{newest->id(), newest_end}, /*now=*/true);

  manifest_ = std::move(m);
  next_sequence_ = max_seq + 1;
  counters_->recovered_torn_bytes.store(torn_total, std::memory_order_relaxed);
  if (newest != nullptr) {
    active_ = std::move(newest);
    active_end_ = newest_end;
    NoteActiveSpare();
    active_id_.store(active_->id(), std::memory_order_relaxed);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info(
      "alexfs: opened store {}: {} keys, {} segments, recovery {} ({:.1f} ms: scan {:.1f}, merge {:.1f}, "
      "index {:.1f})",
      dir_, live.size(), manifest_.segments.size(),
      torn_total > 0 ? "truncated a torn tail of " + std::to_string(torn_total) + " bytes" : std::string("clean"),
      ms, scan_ms, merge_ms, load_ms);
  return Status::OK();
}

}  // namespace alexfs
