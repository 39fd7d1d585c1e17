// Invalidator: tells the kernel, from a thread of its own, that directories
// changed, so it drops its cached listings (and, in fleet mode, that inodes
// and names changed on another mount, so it drops their attributes, pages and
// entries) (cache_readdir keeps them across
// opens). The kernel's own bookkeeping misses some changes that land while a
// multi-page listing is being cached: without this, 0.1-0.3% of listings of a
// 300-name directory under concurrent create/rename/unlink showed a name
// already gone (tests/fs/listing_under_change_test.cc).
//
// fuse_lowlevel_notify_inval_inode must never run inside a handler: the kernel
// may hold the directory's lock while it waits for that handler's reply, and
// the notification can wait for the same lock. Handlers only queue the inode
// (DirectoryChanged never blocks on the kernel); the thread sends the
// notifications.
//
// Thread-safety: DirectoryChanged may be called from any thread, also before
// Start and after Stop (then it does nothing).
#pragma once

#include <fuse_lowlevel.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <thread>
#include <unordered_set>

namespace alexfs::fs {

class Invalidator {
 public:
  Invalidator() = default;
  ~Invalidator() { Stop(); }
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Starts the thread; notifications go to `session`, which must outlive Stop().
  void Start(fuse_session* session);
  // Sends what is queued, then ends the thread. Idempotent.
  void Stop();

  // Queues directory `ino` for invalidation (a directory queued twice before
  // the thread runs is invalidated once).
  void DirectoryChanged(fuse_ino_t ino);
  // Queues inode `ino`: its attributes and cached pages are dropped.
  void InodeChanged(fuse_ino_t ino) { DirectoryChanged(ino); }
  // Queues the name `name` in directory `parent`: the kernel's entry (or
  // negative entry) for it is dropped.
  void EntryChanged(fuse_ino_t parent, std::string name);

 private:
  void Run();

  fuse_session* session_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<fuse_ino_t> queued_;  // guarded by mu_
  std::set<std::pair<fuse_ino_t, std::string>> queued_entries_;  // guarded by mu_
  bool running_ = false;                   // guarded by mu_
};

}  // namespace alexfs::fs
