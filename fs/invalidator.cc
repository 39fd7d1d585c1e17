#include "fs/invalidator.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace alexfs::fs {

void Invalidator::Start(fuse_session* session) {
  std::lock_guard<std::mutex> l(mu_);
  if (running_) return;
  session_ = session;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Invalidator::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    running_ = false;
  }
  cv_.notify_all();
  thread_.join();
}

void Invalidator::DirectoryChanged(fuse_ino_t ino) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    queued_.insert(ino);
  }
  cv_.notify_one();
}

void Invalidator::EntryChanged(fuse_ino_t parent, std::string name) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    queued_entries_.emplace(parent, std::move(name));
  }
  cv_.notify_one();
}

void Invalidator::Run() {
  std::vector<fuse_ino_t> batch;
  std::vector<std::pair<fuse_ino_t, std::string>> entries;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return !queued_.empty() || !queued_entries_.empty() || !running_; });
    if (queued_.empty() && queued_entries_.empty()) return;  // stopped, nothing left
    batch.assign(queued_.begin(), queued_.end());
    queued_.clear();
    entries.assign(queued_entries_.begin(), queued_entries_.end());
    queued_entries_.clear();
    l.unlock();
    for (const auto& [parent, name] : entries) {
      int rc = fuse_lowlevel_notify_inval_entry(session_, parent, name.data(), name.size());
      if (rc != 0 && rc != -ENOENT) {
        spdlog::debug("invalidating entry {} in inode {}: {}", name, parent, std::strerror(-rc));
      }
    }
    for (fuse_ino_t ino : batch) {
      // offset 0, len 0: attributes and all cached pages (the listing).
      int rc = fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0);
      // ENOENT: the kernel no longer knows the inode (nothing cached).
      if (rc != 0 && rc != -ENOENT) {
        spdlog::debug("invalidating inode {}: {}", ino, std::strerror(-rc));
      }
    }
    l.lock();
  }
}

}  // namespace alexfs::fs
