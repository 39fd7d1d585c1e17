// Offline check and repair of a store directory (`alexfs check [--repair]`).
//
// StoreCheck reads the segments the MANIFEST names (every NNNNNN.log if the
// MANIFEST is damaged) through an Env, with the engine's own reader
// (engine/log/reader.h) and the store's sync point (engine/sync_point.h): a
// segment is read exactly as recovery reads it, so what check calls a torn
// tail is what opening the store truncates, and what it calls damage is what
// makes opening fail. Past each damaged range it resynchronises on the next
// record that verifies (log::FindNextRecord) and reads on, keeping every
// record that verifies for Repair().
//
// Repair() replaces the segment set with one holding every verified record
// (the newest write of each key wins, tombstones included, as in recovery),
// atomically:
//  1. the records are written as a fresh store in DATA_DIR/.repair (synced and
//     closed);
//  2. its segments are renamed into DATA_DIR under ids no file there uses, and
//     DATA_DIR is fsynced: they are files the old MANIFEST does not name, which
//     an Open would delete;
//  3. the old MANIFEST is copied into DATA_DIR/damaged-<time>/ (synced);
//  4. a MANIFEST naming only the new segments is published (WriteManifest:
//     temp file, fsync, rename, directory fsync): the commit point;
//  5. the old segments are moved into damaged-<time>/ and .repair is removed.
// A crash before the MANIFEST rename of step 4 is durable leaves the old
// store; after it, the repaired one (old segments not yet moved are then
// unpublished files, which the next Open deletes).
//
// Run() takes DATA_DIR/LOCK (engine/file_lock.h) before it reads anything and
// holds it until ReleaseLock() or destruction, so no daemon or tool opens the
// store from before the check until after the repaired set is published.
//
// Thread-safety: not thread-safe; one check at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/env.h"
#include "engine/file_lock.h"
#include "engine/log/segment.h"
#include "engine/status.h"

namespace alexfs::tools {

class Progress;

class StoreCheck {
 public:
  // `segment_bytes`: segment size of the repaired store (StoreOptions).
  StoreCheck(Env* env, std::string dir, uint64_t segment_bytes = 0);
  ~StoreCheck();
  StoreCheck(const StoreCheck&) = delete;
  StoreCheck& operator=(const StoreCheck&) = delete;

  // Takes the LOCK, then reads and verifies every segment. Not OK only if
  // the check could not start (no such directory; the LOCK is held, kBusy
  // naming the holder's pid); damage is reported through damage().
  // show_progress: progress lines on stderr (tools/alexfs/progress.h).
  Status Run(bool show_progress);

  size_t segments() const { return segments_.size(); }
  uint64_t records() const { return records_; }
  // One line per damaged range ("NNNNNN.log offset N: why; ..."), or per
  // unreadable file; empty if the store opens as it is.
  const std::vector<std::string>& damage() const { return damage_; }
  // Things that are not damage (a torn tail, which opening truncates).
  const std::vector<std::string>& notes() const { return notes_; }

  // Publishes the repaired segment set (see the file comment); *keys gets the
  // number of live keys salvaged, *aside the directory holding the damaged
  // files. REQUIRES: Run() returned OK; ReleaseLock() not called.
  Status Repair(uint64_t* keys, std::string* aside);

  // Lets go of DATA_DIR/LOCK (e.g. to open the store afterwards).
  void ReleaseLock() { lock_.Release(); }

 private:
  struct Segment;
  struct Salvaged;
  void ScanLog(Segment* seg, uint64_t torn_tail_from, Progress* progress);
  void ScanSorted(Segment* seg, Progress* progress);
  Status WriteRepairedStore(const std::string& fresh, uint64_t* keys);

  Env* const env_;
  const std::string dir_;
  const uint64_t segment_bytes_;
  FileLock lock_;
  std::vector<std::unique_ptr<Segment>> segments_;
  std::vector<Salvaged> entries_;
  std::string old_manifest_;  // its text, "" if there is none
  uint32_t next_file_ = 1;    // above every segment id seen
  uint64_t records_ = 0;
  std::vector<std::string> damage_, notes_;
};

}  // namespace alexfs::tools
