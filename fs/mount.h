// Mounting: the FUSE session's life from mount to unmount.
//
// Serve() mounts the filesystem, reports through `on_ready` once the kernel has
// the mount (so `alexfs mount` can return only when the mount is live), serves
// requests on a multithreaded loop until the filesystem is unmounted or the
// process gets SIGTERM/SIGINT/SIGHUP, then commits everything and unmounts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/env.h"
#include "engine/stats.h"
#include "engine/status.h"
#include "engine/store.h"
#include "fs/change_target.h"
#include "fs/request_counts.h"

namespace alexfs::fs {

struct MountConfig {
  std::string data_dir;
  std::string mountpoint;
  // -o options, one per element, already split at commas. AlexFS's own options
  // are consumed by Serve(); the rest go to libfuse (allow_other,
  // default_permissions, ro, ...).
  std::vector<std::string> options;
  bool debug = false;  // libfuse's request trace on stderr

  // Called once when the session ends (signal or unmount), before the final
  // commit: systemd's STOPPING=1.
  std::function<void()> on_stopping;
  // Called every stats_period while mounted and once more after the final
  // commit, from a thread of its own: the daemon's metrics export (the store's
  // figures and the FUSE requests received, per kind).
  std::function<void(const StoreStats&, const RequestTotals&)> on_stats;
  std::chrono::milliseconds stats_period{10000};
  // The store's Env (engine/env.h); nullptr: the POSIX one. Tests serve a
  // mount in-process over a fault-injection Env.
  Env* env = nullptr;
  // Called once the mount is live with a function that fills in the current
  // figures (callable from any thread), and once more with an empty function
  // before the store closes, after which it must no longer be called: the
  // daemon's live stats (tools/alexfs/stats_socket.h).
  using StatsProbe = std::function<void(StoreStats*, RequestTotals*)>;
  std::function<void(StatsProbe)> on_stats_probe;
  // Where changes go (fs/change_target.h). Unset: the store itself. Set (fleet
  // mode): called once the store is open, before the filesystem starts; the
  // target it makes lives until after the final commit.
  std::function<Status(Store*, std::unique_ptr<ChangeTarget>*)> open_target;
};

// Checks that `mountpoint` can take a mount: it exists, is a directory, is not
// already a live mount, and is empty unless `allow_nonempty`. A dead FUSE mount
// left by a killed daemon (ENOTCONN) is detached, with a warning.
Status PrepareMountpoint(const std::string& mountpoint, bool allow_nonempty);

// Mounts and serves; returns after unmount. `on_ready` is called exactly once:
// with OK when the mount is live, or with the error that prevented it (then
// Serve returns that error too).
// The store's compression when the mount gives no compression= option: zstd
// level 3 or none (0); README "Compression" says why.
inline constexpr int kDefaultCompressionLevel = 0;

Status Serve(const MountConfig& config, const std::function<void(const Status&)>& on_ready);

// One line of /proc/self/mountinfo, octal escapes decoded.
struct MountEntry {
  std::string mount_point;
  std::string fstype;  // e.g. "fuse.alexfs"
  std::string source;  // e.g. "alexfs:/var/lib/alexfs/default"
};
std::vector<MountEntry> ReadMountTable();

// True if `path` is a mount point in /proc/self/mountinfo.
bool IsMountPoint(const std::string& path);

// Runs `fusermount3 ARGS...` (no shell: each argument passed as it is) and
// waits for it. Its exit status (128 + signal if killed), or -1 with errno set
// if it could not start. With `quiet` its stderr goes to /dev/null.
int RunFusermount(const std::vector<std::string>& args, bool quiet);

}  // namespace alexfs::fs
