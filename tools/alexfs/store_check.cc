#include "tools/alexfs/store_check.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>

#include <spdlog/spdlog.h>

#include "engine/compression.h"
#include "engine/dictionary.h"
#include "engine/log/reader.h"
#include "engine/log/record.h"
#include "engine/log/segment.h"
#include "engine/manifest.h"
#include "engine/store.h"
#include "engine/sync_point.h"
#include "engine/write_batch.h"
#include "tools/alexfs/progress.h"

namespace alexfs::tools {

// One segment file, mapped read-only through the Env.
struct StoreCheck::Segment {
  uint32_t id = 0;
  log::SegmentKind kind = log::SegmentKind::kLog;
  std::string name;
  std::unique_ptr<File> file;  // null if it could not be opened
  char* base = nullptr;
  uint64_t size = 0;

  ~Segment() {
    if (base != nullptr) file->Unmap(base, size);
  }
};

// A put or delete that verified: views into a mapped segment.
struct StoreCheck::Salvaged {
  std::string_view key;
  std::string_view value;
  uint64_t sequence;
  uint64_t order;  // position in the scan: for entries of one record, and equal sequences
  bool is_delete;
  bool is_encoded;  // the value is stored compressed (engine/compression.h)
};

namespace {

// Removes the files of scratch directory `dir` through env, then the
// directory itself (which the Env does not model).
void RemoveScratch(Env* env, const std::string& dir) {
  if (!env->IsDirectory(dir)) return;
  std::vector<std::string> names;
  if (env->ListDir(dir, &names).ok()) {
    for (const std::string& n : names) (void)env->Remove(dir + "/" + n);
  }
  (void)::rmdir(dir.c_str());
}

}  // namespace

StoreCheck::StoreCheck(Env* env, std::string dir, uint64_t segment_bytes)
    : env_(env), dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

StoreCheck::~StoreCheck() = default;

Status StoreCheck::Run(bool show_progress) {
  if (!env_->IsDirectory(dir_)) return Status::NotFound(dir_ + ": no such directory");
  Status s = lock_.Acquire(env_, dir_ + "/LOCK");
  if (!s.ok()) return s;
  // The segments: those the MANIFEST names, or, if it is damaged or missing,
  // every NNNNNN.log.
  std::vector<std::string> names;
  s = env_->ListDir(dir_, &names);
  if (!s.ok()) return s;
  std::vector<uint32_t> on_disk;
  for (const std::string& n : names) {
    uint32_t id;
    if (log::ParseSegmentName(n, &id)) on_disk.push_back(id);
  }
  std::sort(on_disk.begin(), on_disk.end());
  for (uint32_t id : on_disk) next_file_ = std::max(next_file_, id + 1);

  Manifest manifest;
  s = ReadWholeFile(env_, dir_ + "/MANIFEST", &old_manifest_);
  if (s.ok()) s = Manifest::Decode(dir_ + "/MANIFEST", old_manifest_, &manifest);
  std::vector<std::pair<uint32_t, log::SegmentKind>> listed;
  if (s.ok()) {
    next_file_ = std::max(next_file_, manifest.next_file);
    for (const auto& [id, kind] : manifest.segments) {
      listed.push_back({id, kind});
      next_file_ = std::max(next_file_, id + 1);
    }
  } else {
    if (!s.IsNotFound()) {
      damage_.push_back("MANIFEST: " + s.message());
    } else if (!on_disk.empty()) {
      damage_.push_back("MANIFEST: missing, but the directory holds segments");
    }
    for (uint32_t id : on_disk) listed.push_back({id, log::SegmentKind::kLog});
  }
  uint32_t newest_log = 0;
  for (const auto& [id, kind] : listed) {
    if (kind == log::SegmentKind::kLog) newest_log = std::max(newest_log, id);
  }
  // The newest segment's tail may be torn only past its sync point, as in recovery.
  const SyncPoint sync_point = ReadSyncPoint(env_, dir_);
  const uint64_t torn_tail_from = sync_point.segment == newest_log ? sync_point.offset : 0;
  uint64_t total_bytes = 0;
  for (const auto& [id, kind] : listed) {
    auto seg = std::make_unique<Segment>();
    seg->id = id;
    seg->kind = kind;
    seg->name = log::SegmentFileName(id);
    const std::string path = dir_ + "/" + seg->name;
    uint64_t allocated = 0;
    Status o = env_->OpenFile(path, OpenMode::kRead, &seg->file);
    if (o.ok()) o = seg->file->GetSize(&seg->size, &allocated);
    if (o.ok() && seg->size > 0) o = seg->file->Map(seg->size, /*writable=*/false, &seg->base);
    if (!o.ok()) {
      damage_.push_back(seg->name + ": " + o.message());
      seg->size = 0;
      seg->base = nullptr;
    }
    total_bytes += seg->size;
    segments_.push_back(std::move(seg));
  }
  std::optional<Progress> shown;
  if (show_progress) shown.emplace("check", total_bytes, "bytes");
  Progress* progress = shown ? &*shown : nullptr;
  for (auto& seg : segments_) {
    if (seg->base == nullptr) continue;
    if (seg->kind == log::SegmentKind::kSorted) {
      ScanSorted(seg.get(), progress);
    } else {
      ScanLog(seg.get(), seg->id == newest_log ? torn_tail_from : log::kNoTornTail, progress);
    }
  }
  if (progress != nullptr) progress->Finish();
  return Status::OK();
}

void StoreCheck::ScanLog(Segment* seg, uint64_t torn_tail_from, Progress* progress) {
  auto collect = [&](const log::DecodedRecord& rec, uint64_t) {
    log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t) {
      entries_.push_back(Salvaged{e.key, e.value, rec.sequence, entries_.size(),
                                  e.type == log::RecordType::kDelete,
                                  e.type == log::RecordType::kPutEncoded});
    });
  };
  uint64_t pos = 0;
  while (pos < seg->size) {
    log::ScanResult r;
    Status s = log::ScanLogSegment(seg->name, seg->base, pos, seg->size, torn_tail_from, collect, &r);
    records_ += r.records;
    if (s.ok()) {
      if (r.torn_bytes > 0) {
        notes_.push_back(seg->name + " offset " + std::to_string(r.valid_end) + ": torn tail of " +
                         std::to_string(r.torn_bytes) +
                         " bytes, never acknowledged as durable; opening the store truncates it");
      }
      break;
    }
    // Damage at r.valid_end: resynchronise on the next record that verifies.
    const uint64_t bad = r.valid_end;
    const uint64_t next = log::FindNextRecord(seg->base, bad + 1, seg->size, 0);
    damage_.push_back(s.message() + "; " + std::to_string(next - bad) + " bytes unreadable" +
                      (next < seg->size ? " up to the next good record at " + std::to_string(next)
                                        : std::string(" to the end of the file")));
    if (progress != nullptr) progress->Add(next - pos);
    pos = next;
  }
  if (progress != nullptr && pos < seg->size) progress->Add(seg->size - pos);
}

void StoreCheck::ScanSorted(Segment* seg, Progress* progress) {
  log::ScanResult r;
  std::vector<Salvaged> found;
  auto collect = [&](const log::DecodedRecord& rec, uint64_t) {
    found.push_back(Salvaged{rec.entry.key, rec.entry.value, rec.sequence, 0,
                             rec.type == log::RecordType::kDelete,
                             rec.type == log::RecordType::kPutEncoded});
  };
  Status s = log::ScanSortedSegment(seg->name, seg->base, seg->size, collect, &r);
  if (!s.ok()) {
    // Salvage what verifies record by record (every record carries its CRC).
    damage_.push_back(s.message());
    found.clear();
    r.records = 0;
    uint64_t pos = 0;
    while (pos < seg->size) {
      log::DecodedRecord rec;
      if (log::DecodeRecord(seg->base + pos, seg->size - pos, true, &rec) == log::DecodeResult::kOk) {
        if (log::IsPut(rec.type) || rec.type == log::RecordType::kDelete) {
          collect(rec, pos);
          ++r.records;
        }
        pos += rec.size;
      } else {
        pos = log::FindNextRecord(seg->base, pos + 1, seg->size, 0);
      }
    }
  }
  records_ += r.records;
  for (Salvaged& e : found) {
    e.order = entries_.size();
    entries_.push_back(e);
  }
  if (progress != nullptr) progress->Add(seg->size);
}

Status StoreCheck::WriteRepairedStore(const std::string& fresh, uint64_t* keys) {
  // The newest write of each key wins: sort by key, newest first.
  std::sort(entries_.begin(), entries_.end(), [](const Salvaged& a, const Salvaged& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.sequence != b.sequence) return a.sequence > b.sequence;
    return a.order > b.order;
  });
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.compaction_garbage_ratio = 0;
  options.env = env_;
  if (segment_bytes_ > 0) options.segment_bytes = segment_bytes_;
  Status s = Store::Open(fresh, options, &store);
  if (!s.ok()) return s;
  // The dictionaries salvaged (engine keys): compressed values are written
  // back decoded, and the dictionaries themselves are not copied.
  DictionarySet dicts;
  for (size_t i = 0; i < entries_.size(); ++i) {
    uint32_t id;
    if ((i > 0 && entries_[i].key == entries_[i - 1].key) || entries_[i].is_delete ||
        !ParseDictionaryKey(entries_[i].key, &id)) {
      continue;
    }
    std::shared_ptr<const Dictionary> d;
    if (Dictionary::Create(id, std::string(entries_[i].value), 3, &d).ok()) dicts.Add(std::move(d));
  }
  WriteBatch batch;
  *keys = 0;
  std::string decoded;
  for (size_t i = 0; i < entries_.size() && s.ok(); ++i) {
    if (i > 0 && entries_[i].key == entries_[i - 1].key) continue;
    if (entries_[i].is_delete || log::IsReservedKey(entries_[i].key)) continue;
    if (entries_[i].is_encoded) {
      EncodedHeader h;
      std::shared_ptr<const Dictionary> d;
      if (ParseEncodedHeader(entries_[i].value, &h) && h.codec == Codec::kZstdDictionary) {
        d = dicts.Find(h.dict_id);
      }
      Status ds = DecodeValue(entries_[i].value, d.get(), &decoded);
      if (!ds.ok()) {
        spdlog::error("alexfs check: key '{}' dropped: {}", entries_[i].key, ds.ToString());
        continue;
      }
      batch.Put(entries_[i].key, decoded);
    } else {
      batch.Put(entries_[i].key, entries_[i].value);
    }
    ++*keys;
    if (batch.count() >= 1000 || batch.payload_bytes() > (4u << 20)) {
      s = store->Write(batch, Durability::kBuffered);
      batch.Clear();
    }
  }
  if (s.ok() && !batch.empty()) s = store->Write(batch, Durability::kBuffered);
  Status c = store->Close();  // syncs
  return s.ok() ? c : s;
}

Status StoreCheck::Repair(uint64_t* keys, std::string* aside) {
  if (!lock_.held()) return Status::InvalidArgument("repair of " + dir_ + " without its LOCK");
  // 1. The repaired store, beside the old one.
  const std::string fresh = dir_ + "/.repair";
  RemoveScratch(env_, fresh);  // left by a repair that crashed
  Status s = WriteRepairedStore(fresh, keys);
  Manifest repaired;
  if (s.ok()) s = ReadManifest(env_, fresh, &repaired);
  if (!s.ok()) {
    return Status::WithErrno(s.code(), s.errno_value(), "writing the repaired store in " + fresh + ": " + s.message());
  }

  // 2. Its segments into DATA_DIR under unused ids: unpublished until step 4.
  Manifest published;
  published.next_file = next_file_;
  for (const auto& [id, kind] : repaired.segments) {
    const uint32_t new_id = published.next_file++;
    s = env_->Rename(fresh + "/" + log::SegmentFileName(id), dir_ + "/" + log::SegmentFileName(new_id));
    if (!s.ok()) return s;
    published.segments[new_id] = kind;
  }

  // 3. Where the damaged files go.
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  *aside = dir_ + "/damaged-" + stamp;
  s = env_->CreateDirs(*aside);
  if (s.ok()) s = env_->SyncDir(dir_);  // the new segments and the directory
  if (s.ok() && !old_manifest_.empty()) {
    std::unique_ptr<File> f;
    s = env_->OpenFile(*aside + "/MANIFEST", OpenMode::kCreate, &f);
    if (s.ok()) s = WriteFileAt(f.get(), 0, old_manifest_.data(), old_manifest_.size());
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = env_->SyncDir(*aside);
  }
  if (!s.ok()) return s;

  // 4. The commit point.
  s = WriteManifest(env_, dir_, published);
  if (!s.ok()) return s;

  // 5. The old segments aside (unpublished now), the scratch directory away.
  for (const auto& seg : segments_) {
    if (seg->file == nullptr) continue;
    s = env_->Rename(dir_ + "/" + seg->name, *aside + "/" + seg->name);
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  s = env_->SyncDir(*aside);
  if (s.ok()) s = env_->SyncDir(dir_);
  RemoveScratch(env_, fresh);
  return s;
}

}  // namespace alexfs::tools
