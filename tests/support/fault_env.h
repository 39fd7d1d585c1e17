// FaultEnv: an Env (engine/env.h) for tests that simulates power cuts and
// failing syncs. Test-only: never part of the installed engine.
//
// It forwards every operation to a base Env (the real files stay usable by
// the running store) and keeps a model of what a power cut would leave:
//  * per file, the bytes the page cache holds (every WriteAt, Allocate and
//    Truncate) and the bytes known durable (copied at each DataSync/Sync);
//  * per directory, the names as they are now and as they were at the last
//    SyncDir of that directory (creations, renames such as the MANIFEST swap,
//    and removals are durable only once a SyncDir covers them).
// SimulatePowerCut(seed) freezes the crash image at that instant: every name
// of each directory's durable namespace, with its durable bytes; of each
// page (4 KiB) written since the file's last sync, chosen at random, the
// page is kept as written, zero-filled (its unsynced bytes read as zeros) or
// dropped (the durable bytes stay); a file grows past its durable size only
// as far as kept or zero-filled pages reach. Nothing done after the cut
// reaches the image (syncs after it count for nothing), even though the
// running code goes on seeing its writes. Once the code under test has let
// go of its files (store closed, filesystem unmounted),
// MaterializeCrashImage() replaces the real files of every directory seen
// with the image, and the model starts afresh from them.
//
// Syncs are not passed on to the base Env (the model decides what is
// durable; real fsyncs would only slow the tests down).
//
// Mapped appends: AllowsMappedWrites() is false, so the store maps segments
// read-only and sends every append through File::WriteAt, where this Env
// sees it. Map() refuses writable mappings.
//
// Built with ALEXFS_TEST_DROP_SYNCS, syncs are not recorded (nothing is ever
// durable here either), matching the POSIX Env of that build.
//
// Only regular files directly inside a directory are modelled (not
// subdirectories); a directory is read into the model, as durable, the first
// time a path inside it is used.
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/env.h"

namespace alexfs::testing {

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // Freezes the crash image (see above). Later calls do nothing until
  // MaterializeCrashImage().
  void SimulatePowerCut(uint64_t seed);
  bool power_cut() const { return cut_.load(); }
  // Writes the crash image over the real files. REQUIRES: power_cut(); no
  // file of the modelled directories is open any more.
  Status MaterializeCrashImage();

  // What the last cut did.
  struct CutStats {
    uint64_t files = 0;          // files in the image
    uint64_t pages_kept = 0;     // unsynced pages kept as written
    uint64_t pages_zeroed = 0;   // unsynced pages zero-filled
    uint64_t pages_dropped = 0;  // unsynced pages lost
    uint64_t names_undone = 0;   // entries created/renamed/removed without a directory fsync, undone
  };
  CutStats last_cut() const;

  // While non-zero, DataSync/Sync of files fail with this errno (no sync).
  void FailSyncs(int err) { sync_errno_.store(err); }
  // Every DataSync/Sync of a file first sleeps this long (a slow disk).
  void DelaySyncs(std::chrono::milliseconds d) { sync_delay_ms_.store(d.count()); }
  // While false, File::Allocate reports NotSupported (a filesystem without
  // fallocate).
  void SetFallocateSupported(bool yes) { fallocate_supported_.store(yes); }
  // File syncs that reached the model (DataSync + Sync) so far.
  uint64_t syncs() const { return syncs_.load(); }

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override;
  bool IsDirectory(const std::string& path) override { return base_->IsDirectory(path); }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return base_->ListDir(dir, names);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  Status LockFile(const std::string& path, std::unique_ptr<File>* lock) override {
    return base_->LockFile(path, lock);
  }
  bool AllowsMappedWrites() const override { return false; }
  Status FreeSpace(const std::string& dir, uint64_t* bytes) override {
    return base_->FreeSpace(dir, bytes);
  }

 private:
  class FaultFile;
  friend class FaultFile;

  struct Inode {
    std::string cached;             // what the page cache holds
    std::string durable;            // what survives a power cut
    std::set<uint64_t> dirty;       // pages written since the last sync
    void MarkDirty(uint64_t from, uint64_t to);
  };
  using Names = std::map<std::string, std::shared_ptr<Inode>>;
  struct Dir {
    Names now;      // as the directory is now
    Names durable;  // as of its last SyncDir
  };

  // The modelled directory holding `path`, read in on first use; *name gets
  // the last component. REQUIRES: mu_ held.
  Dir* DirOf(const std::string& path, std::string* name);
  // DirOf without a name, taking mu_: reads the directory in before the base
  // Env changes it.
  void ReadInDirOf(const std::string& path);
  // The crash image of one file. REQUIRES: mu_ held.
  static std::string CrashContent(const Inode& inode, std::mt19937_64* rng, CutStats* stats);
  Status BeforeSync();
  void AfterSync(Inode* inode);

  Env* const base_;
  std::atomic<bool> cut_{false};
  std::atomic<int> sync_errno_{0};
  std::atomic<int64_t> sync_delay_ms_{0};
  std::atomic<bool> fallocate_supported_{true};
  std::atomic<uint64_t> syncs_{0};

  mutable std::mutex mu_;
  std::map<std::string, Dir> dirs_;                             // by path; protected by mu_
  std::map<std::string, std::map<std::string, std::string>> image_;  // dir -> name -> bytes
  CutStats last_cut_;                                          // protected by mu_
};

}  // namespace alexfs::testing
