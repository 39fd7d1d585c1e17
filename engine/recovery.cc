// StoreImpl::Open / Recover: rebuilding the index from the segments.
//
// Every record of every segment in the MANIFEST is read and verified. Sorted
// (compacted) segments yield runs already in key order; log segments are
// collected and sorted. The runs are merged, the newest record of each key
// (highest sequence; within a batch, the later entry) wins, tombstones drop the
// key, and the result is bulk-loaded into the index in one go.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "engine/log/reader.h"
#include "engine/store_impl.h"

namespace alexfs {
namespace {

struct Item {
  std::string_view key;
  uint64_t sequence;
  uint64_t location;
  bool tombstone;
  // Big-endian bytes [L, L+8) of the key (zero padded), L the length of the
  // prefix all log keys share: most comparisons of the sort end here instead of
  // in a memcmp over a long common prefix (file paths).
  uint64_t chunk = 0;
};

void SetChunks(std::vector<Item>* items) {
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

// Key ascending; for equal keys the newest first.
bool NewestFirst(const Item& a, const Item& b) {
  int c = a.key.compare(b.key);
  if (c != 0) return c < 0;
  if (a.sequence != b.sequence) return a.sequence > b.sequence;
  return a.location > b.location;
}

// Parses "NNNNNN.log"; false for other names.
bool ParseSegmentName(const std::string& name, uint32_t* id) {
  if (name.size() < 10 || name.substr(name.size() - 4) != ".log") return false;
  uint64_t v = 0;
  for (size_t i = 0; i + 4 < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  *id = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Status StoreImpl::Open() {
  Status s = Recover();
  if (!s.ok()) {
    lock_.Release();
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    return s;
  }
  if (options_.commit_interval.count() > 0 || options_.compaction_garbage_ratio > 0) {
    bg_thread_ = std::thread([this] { BackgroundThread(); });
  }
  return Status::OK();
}

Status StoreImpl::Recover() {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    if (!options_.create_if_missing) return Status::NotFound(dir_ + ": no such store");
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status::FromErrno(ec.value(), "create directory " + dir_);
  }
  Status s = lock_.Acquire(dir_ + "/LOCK");
  if (!s.ok()) return s;

  // Which files form the store.
  std::vector<uint32_t> on_disk;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      uint32_t id;
      if (ParseSegmentName(e->d_name, &id)) on_disk.push_back(id);
    }
    ::closedir(d);
  } else {
    return Status::FromErrno(errno, "list " + dir_);
  }
  Manifest m;
  s = ReadManifest(dir_, &m);
  if (s.IsNotFound()) {
    if (!on_disk.empty()) {
      return Status::Corruption(dir_ + "/MANIFEST is missing but the directory holds segments");
    }
    s = WriteManifest(dir_, m);
  }
  if (!s.ok()) return s;
  for (uint32_t id : on_disk) {
    if (m.segments.count(id) == 0) {
      // Created by a roll or a compaction that never got published.
      std::string path = dir_ + "/" + log::SegmentFileName(id);
      spdlog::info("alexfs: deleting unpublished segment {}", path);
      ::unlink(path.c_str());
    }
  }
  ::unlink((dir_ + "/MANIFEST.tmp").c_str());

  uint32_t newest_log = 0;
  for (const auto& [id, kind] : m.segments) {
    if (kind == log::SegmentKind::kLog) newest_log = id;
  }

  // Read every segment.
  auto table = std::make_unique<SegmentTable>();
  std::vector<std::vector<Item>> runs;
  std::vector<Item> log_items;
  uint64_t max_seq = 0;
  uint64_t torn_total = 0;
  std::shared_ptr<log::Segment> newest;
  uint64_t newest_end = 0;
  for (const auto& [id, kind] : m.segments) {
    const bool is_newest = id == newest_log && kind == log::SegmentKind::kLog;
    std::shared_ptr<log::Segment> seg;
    s = log::Segment::OpenExisting(dir_, id, kind, is_newest ? options_.segment_bytes : 0, &seg);
    if (!s.ok()) return s;
    std::vector<Item>* out = kind == log::SegmentKind::kSorted ? &runs.emplace_back() : &log_items;
    log::Segment* raw = seg.get();
    const uint32_t seg_id = id;  // lambdas cannot capture structured bindings (C++20)
    auto on_record = [&](const log::DecodedRecord& rec, uint64_t offset) {
      max_seq = std::max(max_seq, rec.sequence);
      raw->NoteSequence(rec.sequence);
      log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t entry_offset) {
        out->push_back(Item{e.key, rec.sequence, log::PackLocation(seg_id, offset + entry_offset),
                            e.type == log::RecordType::kDelete, 0});
      });
    };
    log::ScanResult r;
    const uint64_t size = seg->file_size_at_open();
    out->reserve(out->size() + std::min<uint64_t>(size, 64 << 20) / 64);
    if (kind == log::SegmentKind::kSorted) {
      s = log::ScanSortedSegment(seg->name(), seg->base(), size, on_record, &r);
    } else {
      s = log::ScanLogSegment(seg->name(), seg->base(), size, is_newest, on_record, &r);
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
        s = seg->TruncateAndReserve(r.valid_end, seg->capacity());
        if (!s.ok()) return s;
      }
      newest = seg;
      newest_end = r.valid_end;
    } else if (kind == log::SegmentKind::kLog && size > r.valid_end) {
      // Zeros after the data (a seal whose truncate did not happen): harmless.
    }
    seg->data_bytes.store(r.valid_end, std::memory_order_relaxed);
    counters_->log_bytes.fetch_add(r.valid_end, std::memory_order_relaxed);
    table = table->With(std::move(seg));
  }
  PublishTable(std::move(table));

  // Merge: runs are key-sorted (one record per key); the log items get sorted.
  SetChunks(&log_items);
  std::sort(log_items.begin(), log_items.end(), NewestFirstByChunk);
  std::vector<Item> merged = std::move(log_items);
  for (auto& run : runs) {
    if (!std::is_sorted(run.begin(), run.end(), NewestFirst)) {
      std::sort(run.begin(), run.end(), NewestFirst);
    }
    std::vector<Item> next;
    next.reserve(merged.size() + run.size());
    std::merge(merged.begin(), merged.end(), run.begin(), run.end(), std::back_inserter(next),
               NewestFirst);
    merged.swap(next);
  }
  std::vector<std::pair<std::string_view, uint64_t>> live;
  live.reserve(merged.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    if (i > 0 && merged[i].key == merged[i - 1].key) continue;  // an older version
    if (!merged[i].tombstone) live.emplace_back(merged[i].key, merged[i].location);
  }
  merged.clear();
  merged.shrink_to_fit();
  {
    std::lock_guard<std::mutex> il(index_mu_);
    EpochManager::Guard guard = epochs_->Enter();
    index_->BulkLoad(live);
    for (const auto& [key, loc] : live) MarkLive(loc);
  }

  manifest_ = std::move(m);
  next_sequence_ = max_seq + 1;
  counters_->recovered_torn_bytes.store(torn_total, std::memory_order_relaxed);
  if (newest != nullptr) {
    active_ = std::move(newest);
    active_end_ = newest_end;
    active_id_.store(active_->id(), std::memory_order_relaxed);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("alexfs: opened store {}: {} keys, {} segments, recovery {} ({:.1f} ms)", dir_,
               live.size(), manifest_.segments.size(),
               torn_total > 0 ? "truncated a torn tail of " + std::to_string(torn_total) + " bytes"
                              : std::string("clean"),
               ms);
  return Status::OK();
}

}  // namespace alexfs
