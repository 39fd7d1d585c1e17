#include "fs/inode_table.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "fs/value_format.h"

namespace alexfs::fs {

InodeTable::InodeTable(uint64_t generation) : generation_(generation) {
  // The root is always known and never forgotten.
  auto root = std::make_shared<Inode>(FUSE_ROOT_ID, /*directory=*/true);
  root->key_ = RootKey();
  root->nlookup_ = 1;
  by_key_[root->key_] = root.get();
  by_ino_[FUSE_ROOT_ID] = std::move(root);
}

std::shared_ptr<Inode> InodeTable::Get(fuse_ino_t ino) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? nullptr : it->second;
}

std::shared_ptr<Inode> InodeTable::Find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  return by_ino_.at(it->second->ino);
}

std::string InodeTable::KeyOf(const Inode& inode) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inode.key_;
}

std::shared_ptr<Inode> InodeTable::LookupOrInsert(const std::string& key, bool is_dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    it->second->nlookup_++;
    return by_ino_.at(it->second->ino);
  }
  auto inode = std::make_shared<Inode>(next_ino_++, is_dir);
  inode->key_ = key;
  inode->nlookup_ = 1;
  by_key_[inode->key_] = inode.get();
  by_ino_[inode->ino] = inode;
  return inode;
}

void InodeTable::Forget(fuse_ino_t ino, uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) {
    spdlog::critical("forget of unknown inode {}: lookup accounting is broken", ino);
    std::abort();
  }
  Inode& inode = *it->second;
  if (inode.nlookup_ < n) {
    spdlog::critical("forget of {} lookups of inode {} that has {}: lookup accounting is broken",
                     n, ino, inode.nlookup_);
    std::abort();
  }
  inode.nlookup_ -= n;
  MaybeErase(inode);
}

void InodeTable::Opened(Inode& inode) {
  std::lock_guard<std::mutex> lock(mutex_);
  inode.open_count_++;
}

uint32_t InodeTable::Released(Inode& inode) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (inode.open_count_ > 0) inode.open_count_--;
  uint32_t left = inode.open_count_;
  MaybeErase(inode);
  return left;
}

uint32_t InodeTable::OpenCount(const Inode& inode) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inode.open_count_;
}

void InodeTable::MaybeErase(Inode& inode) {
  // A dirty inode stays until committed (SetDirty(false) comes back here), so
  // a later lookup of its key finds its buffer rather than the stale store value.
  if (inode.ino == FUSE_ROOT_ID || inode.nlookup_ > 0 || inode.open_count_ > 0 || inode.dirty_) {
    return;
  }
  if (!inode.key_.empty()) {
    auto k = by_key_.find(inode.key_);
    if (k != by_key_.end() && k->second == &inode) by_key_.erase(k);
  }
  by_ino_.erase(inode.ino);  // may destroy `inode`
}

void InodeTable::Rekey(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(from);
  if (it == by_key_.end()) return;
  Inode* inode = it->second;
  by_key_.erase(it);
  inode->key_ = to;
  by_key_[inode->key_] = inode;
}

size_t InodeTable::RekeyPrefix(const std::string& from_prefix, const std::string& to_prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Inode*> moved;
  auto it = by_key_.lower_bound(from_prefix);
  while (it != by_key_.end() && it->first.compare(0, from_prefix.size(), from_prefix) == 0) {
    moved.push_back(it->second);
    it = by_key_.erase(it);
  }
  for (Inode* inode : moved) {
    inode->key_ = to_prefix + inode->key_.substr(from_prefix.size());
    by_key_[inode->key_] = inode;
  }
  return moved.size();
}

void InodeTable::Orphan(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  Inode* inode = it->second;
  by_key_.erase(it);
  inode->key_.clear();
  dirty_.erase(inode->ino);
  inode->dirty_ = false;
  MaybeErase(*inode);
}

std::vector<std::shared_ptr<Inode>> InodeTable::Under(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Inode>> out;
  for (auto it = by_key_.lower_bound(prefix);
       it != by_key_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(by_ino_.at(it->second->ino));
  }
  return out;
}

void InodeTable::SetDirty(Inode& inode, bool dirty) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dirty == inode.dirty_) return;
  if (dirty && inode.key_.empty()) return;  // orphans are never committed
  auto self = by_ino_.find(inode.ino);
  if (self == by_ino_.end()) return;
  inode.dirty_ = dirty;
  if (dirty) {
    dirty_[inode.ino] = self->second;
  } else {
    dirty_.erase(inode.ino);
    MaybeErase(inode);
  }
}

std::vector<std::shared_ptr<Inode>> InodeTable::Dirty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Inode>> out;
  out.reserve(dirty_.size());
  for (const auto& [ino, inode] : dirty_) out.push_back(inode);
  return out;
}

size_t InodeTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_ino_.size();
}

}  // namespace alexfs::fs
