// Who owns a store directory right now: the AlexFS mount serving it (the
// kernel's mount table) and the process holding its LOCK (the pid written in
// DATA_DIR/LOCK). After an unmount the mount is gone at once but the daemon
// still commits and exits before it releases the LOCK; the helpers here let the
// commands wait for that instead of failing with "LOCK is held by pid N".
//
// LockHolder probes the LOCK with a brief flock(LOCK_SH|LOCK_NB), so a daemon
// that starts on the same store at that very instant can see it held.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace alexfs::tools {

// The data directory of the AlexFS mount at `path`, or "" if it is not one.
std::string DataDirOfMount(const std::string& path);

// The mountpoint where the store in `data_dir` is mounted, or "" if none.
std::string MountpointOfDataDir(const std::string& data_dir);

// 0 if nobody holds DATA_DIR/LOCK (or there is no LOCK), else the holder's pid
// as written in the LOCK (-1 if it cannot be read).
pid_t LockHolder(const std::string& data_dir);

// Waits until DATA_DIR/LOCK is free or `limit` has passed; true if it is free.
// Prints "alexfs COMMAND: waiting ..." on stderr, naming the holder, once the
// wait has lasted `quiet` (so quick waits say nothing).
bool WaitForLockRelease(const std::string& data_dir, const char* command,
                        std::chrono::milliseconds limit, std::chrono::milliseconds quiet);

// For commands about to open the store: if a daemon holds the LOCK but the
// store is no longer mounted (it is committing after an unmount), waits up to
// kExitingDaemonWait for it to exit. Returns at once if the LOCK is free or the
// store is still mounted; either way the caller's open then reports the holder
// if there still is one.
inline constexpr std::chrono::seconds kExitingDaemonWait{10};
void WaitForExitingDaemon(const std::string& data_dir, const char* command);

// True once process `pid` has exited (gone, or a zombie not yet reaped).
bool ProcessExited(pid_t pid);

}  // namespace alexfs::tools
