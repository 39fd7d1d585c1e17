// RequestCounts: how many requests of each kind the kernel sent the daemon.
//
// One sharded counter per kind (engine/stats_counters.h), bumped once per request
// before its handler runs: a relaxed add on a stripe of the calling thread, so
// the session's worker threads do not share a cache line. Exported as
// alexfs_fs_requests_total{op="..."} (tools/alexfs/prometheus.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "engine/stats_counters.h"

namespace alexfs::fs {

enum class Request : uint8_t {
  kInit, kStatFs, kLookup, kForget, kGetAttr, kSetAttr, kReadLink,
  kMkNod, kMkDir, kUnlink, kRmDir, kSymlink, kRename, kLink, kOpen, kCreate,
  kRead, kWrite, kFlush, kRelease, kFsync, kOpenDir, kReadDir, kReadDirPlus,
  kReleaseDir, kFsyncDir, kLseek, kSetXattr, kGetXattr, kListXattr, kRemoveXattr,
  kFallocate,
  kCount  // not a request: the number of kinds
};
inline constexpr size_t kRequestKinds = static_cast<size_t>(Request::kCount);

// The FUSE operation's name (fuse_lowlevel_ops member), e.g. "readdirplus".
const char* RequestName(Request r);

// Totals per kind at one moment, indexed by static_cast<size_t>(Request).
using RequestTotals = std::array<uint64_t, kRequestKinds>;

class RequestCounts {
 public:
  void Add(Request r) { counts_[static_cast<size_t>(r)].Add(1); }
  RequestTotals Totals() const {
    RequestTotals t{};
    for (size_t i = 0; i < kRequestKinds; ++i) t[i] = counts_[i].Load();
    return t;
  }

 private:
  std::array<ShardedCounter, kRequestKinds> counts_{};
};

}  // namespace alexfs::fs
