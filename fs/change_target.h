// ChangeTarget: where the filesystem's changes go, and how changes made
// elsewhere come back in.
//
// Every change the filesystem makes is one WriteBatch passed to
// Filesystem::Apply, which hands it to the mount's ChangeTarget. By default
// that is the local store (LocalTarget: Store::Write, Store::Sync). Fleet mode
// (fleet/) gives the filesystem a target that commits each batch as one etcd
// transaction and applies what other mounts changed to the same store; fs/
// never depends on fleet/, it only calls this interface.
//
// Contract of Commit: when it returns OK, the store holds the batch (a reader
// in this process sees it: read-your-writes). When it returns Conflict(), the
// batch was not applied because something it writes changed since this mount
// read it; the store has since caught up, so the filesystem re-runs the whole
// operation on fresh data (Filesystem bounds the retries).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/store.h"
#include "engine/write_batch.h"

namespace alexfs::fs {

// What the filesystem offers a target that changes the store behind its back
// (implemented by Filesystem).
class RemoteChangeSink {
 public:
  virtual ~RemoteChangeSink() = default;
  // Runs `fn` with the namespace locked exclusively: no operation is between
  // its reads and its commit while `fn` changes the store.
  virtual void Exclusive(const std::function<void()>& fn) = 0;
  // Tells the kernel to forget what it cached of these store keys (entries,
  // attributes, pages, listings of their directories). Any thread, any locks.
  virtual void KeysChanged(const std::vector<std::string>& keys) = 0;
};

class ChangeTarget {
 public:
  virtual ~ChangeTarget() = default;
  // Called by Filesystem::Start before anything is committed; `sink` lives
  // until Stop().
  virtual void Start(RemoteChangeSink* sink) { (void)sink; }
  // Called after the filesystem's last commit (Filesystem::Shutdown).
  virtual void Stop() {}
  // Applies `batch` atomically (see the top of this file).
  virtual Status Commit(const WriteBatch& batch, Durability durability) = 0;
  // Makes every committed batch durable (fsync).
  virtual Status Sync() = 0;
};

// A commit lost a race (see Commit). errno EAGAIN if it ever reaches a caller.
inline Status Conflict(std::string msg) {
  return Status::WithErrno(Status::Code::kBusy, EAGAIN, "conflict: " + std::move(msg));
}
inline bool IsConflict(const Status& s) {
  return s.code() == Status::Code::kBusy && s.errno_value() == EAGAIN;
}

// The single-node target: the store itself.
class LocalTarget final : public ChangeTarget {
 public:
  explicit LocalTarget(Store* store) : store_(store) {}
  Status Commit(const WriteBatch& batch, Durability durability) override {
    return store_->Write(batch, durability);
  }
  Status Sync() override { return store_->Sync(); }

 private:
  Store* const store_;
};

}  // namespace alexfs::fs
