// SYNCPOINT: how far the newest log segment is known to be on disk.
//
// A 16-byte file in the store directory, rewritten in place (one pwrite, then
// fdatasync) only after an fdatasync of the log covered what it names:
//
//   fixed32 segment id | fixed64 offset | fixed32 masked crc32c of the 12 bytes before
//
// Every byte of segment `id` before `offset` was durable when it was written,
// so recovery (and `alexfs check`) treat bad bytes there as damage that
// refuses to open, naming file and offset, and only bad bytes from `offset`
// on as a torn tail (engine/log/reader.h). It is a lower bound: the store
// writes it at Open, at Close and at most once a second after a log sync
// (SyncPointWriter), so it costs one small write and sync a second at most.
// A SYNCPOINT that is missing, torn (its CRC fails) or names another segment
// than the newest log segment says nothing: the whole tail of the newest
// segment may then be torn, as without one.
//
// Thread-safety: SyncPointWriter is thread-safe; ReadSyncPoint is pure I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "engine/env.h"
#include "engine/status.h"

namespace alexfs {

struct SyncPoint {
  uint32_t segment = 0;  // 0: none
  uint64_t offset = 0;
};

// The sync point recorded in dir/SYNCPOINT; {0, 0} (and OK) if there is none
// or it does not verify (logged).
SyncPoint ReadSyncPoint(Env* env, const std::string& dir);

// Records sync points in dir/SYNCPOINT.
class SyncPointWriter {
 public:
  // Opens (creates, with a directory fsync) dir/SYNCPOINT.
  Status Open(Env* env, const std::string& dir);
  // Records `p` durably if it is past the last one recorded and, unless
  // `now`, a second has passed since then. REQUIRES: every byte of the
  // segment before p.offset is durable. Failures are logged: a missing sync
  // point only makes recovery more lenient.
  void Record(const SyncPoint& p, bool now);

 private:
  std::mutex mu_;
  std::unique_ptr<File> file_;  // protected by mu_
  SyncPoint last_;              // protected by mu_
  uint64_t last_nanos_ = 0;     // protected by mu_
};

}  // namespace alexfs
