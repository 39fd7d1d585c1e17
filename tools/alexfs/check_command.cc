// `alexfs check DATA_DIR [--repair]`: verifies every record of every segment.
//
// check reads the segment files directly (not through Store::Open, which
// refuses a damaged store) while holding the store's LOCK, so it refuses a
// store a daemon has open. Every record's CRC is verified; where one fails,
// the scan resynchronises on the next offset where a record verifies, and the
// damaged byte range is reported by file and offset. A torn tail of the newest
// log segment is not damage (it was never acknowledged; opening the store
// truncates it) and is reported as a note.
//
// --repair salvages every record that verifies: it rebuilds the store's
// contents from them (the newest write of each key wins, tombstones included,
// as in recovery) into a fresh store beside the old one, then moves the old
// MANIFEST and segments into DATA_DIR/damaged-<time>/ and the new ones in.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "engine/compression.h"
#include "engine/dictionary.h"
#include "engine/file_lock.h"
#include "engine/log/record.h"
#include "engine/log/segment.h"
#include "engine/manifest.h"
#include "engine/store.h"
#include "tools/alexfs/commands.h"
#include "tools/alexfs/key_rules.h"
#include "tools/alexfs/orphan_blocks.h"
#include "tools/alexfs/progress.h"
#include "tools/alexfs/store_owner.h"

namespace alexfs::tools {
namespace {

namespace stdfs = std::filesystem;

// A read-only mapping of one whole file.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(const_cast<char*>(data_), size_);
  }
  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "opening " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::FromErrno(errno, "stat of " + path);
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return Status::FromErrno(errno, "mapping " + path);
      }
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return Status::OK();
  }
  const char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

// One put or delete that verified, for --repair.
struct Salvaged {
  std::string_view key;
  std::string_view value;
  uint64_t sequence;
  uint64_t order;  // position in the scan, to order entries of one record
  bool is_delete;
  bool is_encoded;  // value is compressed (engine/compression.h)
};

struct SegmentReport {
  std::string name;
  uint64_t records = 0;
  uint64_t data_bytes = 0;
  std::vector<std::string> damage;  // one line per damaged range
  std::string note;                 // e.g. a torn tail
};

bool AllZero(const char* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

const char* DecodeResultName(log::DecodeResult r) {
  switch (r) {
    case log::DecodeResult::kOk: return "ok";
    case log::DecodeResult::kEndOfData: return "end of data";
    case log::DecodeResult::kTruncated: return "record runs past the end of the file";
    case log::DecodeResult::kBadChecksum: return "checksum mismatch";
    case log::DecodeResult::kMalformed: return "malformed record";
  }
  return "?";
}

// Walks one segment, verifying every record; adds verified entries to *out.
SegmentReport ScanSegment(const std::string& name, const MappedFile& file, bool newest_log,
                          std::vector<Salvaged>* out, uint64_t* order, Progress* progress) {
  SegmentReport report;
  report.name = name;
  const char* data = file.data();
  uint64_t size = file.size(), offset = 0;
  while (offset < size) {
    log::DecodedRecord rec;
    log::DecodeResult r = log::DecodeRecord(data + offset, size - offset, true, &rec);
    if (r == log::DecodeResult::kOk) {
      ++report.records;
      if (rec.type != log::RecordType::kFooter) {
        log::ForEachEntry(rec, [&](const log::Entry& e, uint64_t) {
          out->push_back(Salvaged{e.key, e.value, rec.sequence, (*order)++,
                                  e.type == log::RecordType::kDelete,
                                  e.type == log::RecordType::kPutEncoded});
        });
      }
      offset += rec.size;
      report.data_bytes = offset;
      progress->Add(rec.size);
      continue;
    }
    if (r == log::DecodeResult::kEndOfData && AllZero(data + offset, size - offset)) break;
    // Bad bytes: find the next offset where a record verifies.
    uint64_t next = offset + 1;
    for (; next + log::kMinRecordSize <= size; ++next) {
      log::DecodedRecord probe;
      if (log::DecodeRecord(data + next, size - next, true, &probe) == log::DecodeResult::kOk) break;
    }
    if (next + log::kMinRecordSize > size) next = size;
    if (next == size && newest_log) {
      report.note = name + " offset " + std::to_string(offset) + ": torn tail of " +
                    std::to_string(size - offset) + " bytes (" + DecodeResultName(r) +
                    "); never acknowledged, opening the store truncates it";
      break;
    }
    report.damage.push_back(name + " offset " + std::to_string(offset) + ": " +
                            DecodeResultName(r) + "; " + std::to_string(next - offset) +
                            " bytes unreadable" +
                            (next < size ? " up to the next good record at " + std::to_string(next)
                                         : " to the end of the file"));
    progress->Add(next - offset);
    offset = next;
  }
  return report;
}

Status Repair(const std::string& dir, std::vector<Salvaged>& entries,
              const std::vector<std::string>& old_files, uint64_t* keys_out) {
  // The newest write of each key wins: sort by key, newest first.
  std::sort(entries.begin(), entries.end(), [](const Salvaged& a, const Salvaged& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.sequence != b.sequence) return a.sequence > b.sequence;
    return a.order > b.order;
  });
  std::string fresh = dir + "/.repair";
  std::error_code ec;
  stdfs::remove_all(fresh, ec);
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.compaction_garbage_ratio = 0;
  Status s = Store::Open(fresh, options, &store);
  if (!s.ok()) return s;
  // The dictionaries salvaged (engine keys, the tail of the order): compressed
  // values are written back decoded, and the dictionaries are not copied.
  DictionarySet dicts;
  for (size_t i = 0; i < entries.size(); ++i) {
    uint32_t id;
    if ((i > 0 && entries[i].key == entries[i - 1].key) || entries[i].is_delete ||
        !ParseDictionaryKey(entries[i].key, &id)) {
      continue;
    }
    std::shared_ptr<const Dictionary> d;
    if (Dictionary::Create(id, std::string(entries[i].value), 3, &d).ok()) dicts.Add(std::move(d));
  }
  WriteBatch batch;
  uint64_t keys = 0;
  std::string decoded;
  for (size_t i = 0; i < entries.size() && s.ok(); ++i) {
    if (i > 0 && entries[i].key == entries[i - 1].key) continue;
    if (entries[i].is_delete || log::IsReservedKey(entries[i].key)) continue;
    if (entries[i].is_encoded) {
      EncodedHeader h;
      std::shared_ptr<const Dictionary> d;
      if (ParseEncodedHeader(entries[i].value, &h) && h.codec == Codec::kZstdDictionary) d = dicts.Find(h.dict_id);
      Status ds = DecodeValue(entries[i].value, d.get(), &decoded);
      if (!ds.ok()) {
        spdlog::error("alexfs check: key '{}' dropped: {}", entries[i].key, ds.ToString());
        continue;
      }
      batch.Put(entries[i].key, decoded);
    } else {
      batch.Put(entries[i].key, entries[i].value);
    }
    ++keys;
    if (batch.count() >= 1000 || batch.payload_bytes() > (4u << 20)) {
      s = store->Write(batch, Durability::kBuffered);
      batch.Clear();
    }
  }
  if (s.ok() && !batch.empty()) s = store->Write(batch, Durability::kBuffered);
  if (s.ok()) s = store->Sync();
  if (s.ok()) s = store->Close();
  store.reset();
  if (!s.ok()) return s;

  // Swap: old files aside, new files in.
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string aside = dir + "/damaged-" + stamp;
  stdfs::create_directories(aside, ec);
  if (ec) return Status::FromErrno(ec.value(), "creating " + aside);
  for (const std::string& f : old_files) {
    stdfs::rename(dir + "/" + f, aside + "/" + f, ec);
    if (ec) return Status::FromErrno(ec.value(), "moving " + f + " to " + aside);
  }
  for (const auto& e : stdfs::directory_iterator(fresh)) {
    std::string f = e.path().filename();
    if (f == "LOCK" || f == "LOG") continue;
    stdfs::rename(e.path(), dir + "/" + f, ec);
    if (ec) return Status::FromErrno(ec.value(), "moving the repaired " + f + " into " + dir);
  }
  stdfs::remove_all(fresh, ec);
  s = Env::Default()->SyncDir(dir);
  std::fprintf(stderr, "check: the damaged files are kept in %s\n", aside.c_str());
  *keys_out = keys;
  return s;
}

// The orphaned-block part of check (tools/alexfs/orphan_blocks.h): 0 if there
// are none (or --repair deleted them), else 1.
int ReportOrphanBlocks(const std::string& dir, bool repair) {
  OrphanBlockReport r;
  Status s = CheckOrphanBlocks(dir, repair, &r);
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check: looking for orphaned blocks: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%llu files in blocks, %llu blocks, %llu orphaned (%llu bytes)%s\n",
              static_cast<unsigned long long>(r.files_in_blocks),
              static_cast<unsigned long long>(r.blocks), static_cast<unsigned long long>(r.orphaned),
              static_cast<unsigned long long>(r.orphaned_bytes), r.repaired ? ", deleted" : "");
  if (r.orphaned == 0 || r.repaired) return 0;
  std::printf("run `alexfs check --repair %s` to delete the orphaned blocks\n", dir.c_str());
  return 1;
}

int RunCheck(const std::string& dir, bool repair) {
  FileLock lock;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    std::fprintf(stderr, "alexfs check: data directory %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  Status s = lock.Acquire(Env::Default(), dir + "/LOCK");
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check: %s\n", s.message().c_str());
    return 1;
  }
  // The segments: those the MANIFEST names, or, if it is damaged, every NNNNNN.log.
  Manifest manifest;
  std::vector<std::string> problems;
  s = ReadManifest(Env::Default(), dir, &manifest);
  std::vector<std::pair<uint32_t, log::SegmentKind>> segments;
  if (s.ok()) {
    for (auto& [id, kind] : manifest.segments) segments.push_back({id, kind});
  } else if (!s.IsNotFound()) {
    problems.push_back("MANIFEST: " + s.message());
    std::regex log_name("^([0-9]{6,})\\.log$");
    for (const auto& e : stdfs::directory_iterator(dir)) {
      std::smatch m;
      std::string f = e.path().filename();
      if (std::regex_match(f, m, log_name)) {
        segments.push_back({static_cast<uint32_t>(std::stoul(m[1])), log::SegmentKind::kLog});
      }
    }
    std::sort(segments.begin(), segments.end());
  }
  uint32_t newest_log = 0;
  for (auto& [id, kind] : segments) {
    if (kind == log::SegmentKind::kLog) newest_log = std::max(newest_log, id);
  }
  uint64_t total_bytes = 0;
  std::vector<std::unique_ptr<MappedFile>> files;
  for (auto& [id, kind] : segments) {
    auto f = std::make_unique<MappedFile>();
    Status o = f->Open(dir + "/" + log::SegmentFileName(id));
    if (!o.ok()) problems.push_back(o.message());
    total_bytes += f->size();
    files.push_back(std::move(f));
  }
  Progress progress("check", total_bytes, "bytes");
  std::vector<Salvaged> entries;
  uint64_t order = 0, records = 0;
  std::vector<std::string> notes;
  std::vector<std::string> old_files = {};
  if (stdfs::exists(dir + "/MANIFEST")) old_files.push_back("MANIFEST");
  for (size_t i = 0; i < segments.size(); ++i) {
    auto [id, kind] = segments[i];
    std::string name = log::SegmentFileName(id);
    if (files[i]->data() == nullptr && files[i]->size() > 0) continue;
    if (stdfs::exists(dir + "/" + name)) old_files.push_back(name);
    SegmentReport r = ScanSegment(name, *files[i], kind == log::SegmentKind::kLog && id == newest_log,
                                  &entries, &order, &progress);
    records += r.records;
    for (std::string& d : r.damage) problems.push_back(std::move(d));
    if (!r.note.empty()) notes.push_back(std::move(r.note));
  }
  progress.Finish();
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  std::printf("%s: %zu segments, %llu records verified, %zu damaged ranges\n", dir.c_str(),
              segments.size(), static_cast<unsigned long long>(records), problems.size());
  for (const std::string& p : problems) std::printf("damage: %s\n", p.c_str());
  if (problems.empty()) {
    lock.Release();  // the block check opens the store itself
    return ReportOrphanBlocks(dir, repair);
  }
  if (!repair) {
    std::printf("run `alexfs check --repair %s` to salvage every record that verifies\n", dir.c_str());
    return 1;
  }
  lock.Release();  // the repair opens stores of its own
  uint64_t keys = 0;
  s = Repair(dir, entries, old_files, &keys);
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check --repair: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("repaired: %llu keys salvaged from %llu verified records; the damaged ranges "
              "above were dropped\n",
              static_cast<unsigned long long>(keys), static_cast<unsigned long long>(records));
  return 0;
}

}  // namespace

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  auto repair = std::make_shared<bool>(false);
  CLI::App* check = app.add_subcommand(
      "check", "Verify every record of a store (offline); exit 1 and report each damaged range by "
               "file and offset");
  check->add_option("DATA_DIR", *dir, "The store's directory")->required();
  check->add_flag("--repair", *repair,
                  "Salvage every record that verifies into a repaired store; the damaged files "
                  "are kept in DATA_DIR/damaged-<time>/");
  check->callback([=] {
    WaitForExitingDaemon(*dir, "check");
    *exit_code = RunCheck(*dir, *repair);
  });
}

}  // namespace alexfs::tools
