#include "fs/inode_table.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fs/value_format.h"

namespace alexfs::fs {

static_assert(sizeof(Inode) <= 72, "one per cached inode: keep it small");

// ---------------------------------------------------------------------------
// Inode

Inode* Inode::Create(fuse_ino_t number, bool directory, std::string_view key) {
  const uint16_t capacity = static_cast<uint16_t>(std::min<size_t>(key.size(), UINT16_MAX));
  void* memory = ::operator new(sizeof(Inode) + capacity);
  Inode* inode = new (memory) Inode(number, directory, capacity);
  inode->SetKey(key);
  return inode;
}

void Inode::Destroy(Inode* inode) {
  inode->~Inode();
  ::operator delete(static_cast<void*>(inode));
}

Inode::Inode(fuse_ino_t number, bool directory, uint16_t inline_capacity)
    : ino(number),
      is_dir(directory),
      cookies(directory ? new DirCookies : nullptr),
      key_data_(inline_key()),
      inline_capacity_(inline_capacity) {}

Inode::~Inode() {
  if (key_data_ != inline_key()) delete[] key_data_;
}

void Inode::SetKey(std::string_view key) {
  char* old = key_data_ != inline_key() ? key_data_ : nullptr;
  if (key.size() <= inline_capacity_) {
    key_data_ = inline_key();
  } else {
    key_data_ = new char[key.size()];
  }
  if (!key.empty()) std::memcpy(key_data_, key.data(), key.size());
  key_size_ = static_cast<uint32_t>(key.size());
  delete[] old;
}

// ---------------------------------------------------------------------------
// InodeNumbers

Inode* InodeNumbers::Find(fuse_ino_t ino) const {
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(ino);; i = (i + 1) & mask) {
    Inode* p = slots_[i];
    if (p == nullptr) return nullptr;
    if (p->ino == ino) return p;
  }
}

void InodeNumbers::Insert(Inode* inode) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
  const size_t mask = slots_.size() - 1;
  size_t i = Home(inode->ino);
  while (slots_[i] != nullptr) i = (i + 1) & mask;
  slots_[i] = inode;
  ++size_;
}

void InodeNumbers::Erase(fuse_ino_t ino) {
  if (slots_.empty()) return;
  const size_t mask = slots_.size() - 1;
  size_t i = Home(ino);
  while (slots_[i] != nullptr && slots_[i]->ino != ino) i = (i + 1) & mask;
  if (slots_[i] == nullptr) return;
  // Backward-shift deletion: move later members of the probe run into the
  // hole when the hole lies on their way from their home slot.
  for (size_t j = (i + 1) & mask; slots_[j] != nullptr; j = (j + 1) & mask) {
    size_t home = Home(slots_[j]->ino);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = nullptr;
  --size_;
}

void InodeNumbers::Grow() {
  std::vector<Inode*> old = std::move(slots_);
  size_t n = old.empty() ? 16 : old.size() * 2;
  slots_.assign(n, nullptr);
  shift_ = 64 - std::countr_zero(n);
  size_ = 0;
  for (Inode* p : old) {
    if (p != nullptr) Insert(p);
  }
}

// ---------------------------------------------------------------------------
// InodeTable

InodeTable::InodeTable(uint64_t generation) : generation_(generation) {
  // The root is always known and never forgotten.
  std::lock_guard<std::mutex> lock(mutex_);
  Inode* root = Inode::Create(FUSE_ROOT_ID, /*directory=*/true, RootKey());
  root->nlookup_ = 1;
  Add(root);
}

InodeTable::~InodeTable() {
  std::lock_guard<std::mutex> lock(mutex_);
  dirty_.clear();
  by_key_.clear();
  std::vector<Inode*> all;
  by_ino_.ForEach([&](Inode* p) { all.push_back(p); });
  by_ino_ = InodeNumbers();
  for (Inode* p : all) {
    // The table's ref; handlers may still hold theirs.
    if (p->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Inode::Destroy(p);
  }
}

void InodeTable::Add(Inode* inode) {
  inode->refs_.fetch_add(1, std::memory_order_relaxed);
  by_ino_.Insert(inode);
  IndexKey(inode);
}

void InodeTable::IndexKey(Inode* inode) {
  auto [it, inserted] = by_key_.insert(inode);
  if (!inserted) {
    // Another inode had this key (callers orphan a rename's target first):
    // the key now names this one; the other stays reachable by number.
    by_key_.erase(it);
    by_key_.insert(inode);
  }
}

InodeRef InodeTable::Get(fuse_ino_t ino) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return InodeRef(by_ino_.Find(ino));
}

InodeRef InodeTable::Find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(std::string_view(key));
  return it == by_key_.end() ? nullptr : InodeRef(*it);
}

std::string InodeTable::KeyOf(const Inode& inode) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::string(inode.key());
}

InodeRef InodeTable::LookupOrInsert(const std::string& key, bool is_dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(std::string_view(key));
  if (it != by_key_.end()) {
    (*it)->nlookup_++;
    return InodeRef(*it);
  }
  Inode* inode = Inode::Create(next_ino_++, is_dir, key);
  inode->nlookup_ = 1;
  Add(inode);
  return InodeRef(inode);
}

void InodeTable::Forget(fuse_ino_t ino, uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  Inode* inode = by_ino_.Find(ino);
  if (inode == nullptr) {
    spdlog::critical("forget of unknown inode {}: lookup accounting is broken", ino);
    std::abort();
  }
  if (inode->nlookup_ < n) {
    spdlog::critical("forget of {} lookups of inode {} that has {}: lookup accounting is broken",
                     n, ino, inode->nlookup_);
    std::abort();
  }
  inode->nlookup_ -= n;
  MaybeErase(*inode);
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
  if (inode.key_size_ != 0) {
    auto k = by_key_.find(&inode);
    if (k != by_key_.end() && *k == &inode) by_key_.erase(k);
  }
  if (by_ino_.Find(inode.ino) != &inode) return;  // already gone
  by_ino_.Erase(inode.ino);
  // The table's ref; may destroy `inode`.
  if (inode.refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Inode::Destroy(&inode);
}

void InodeTable::Rekey(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(std::string_view(from));
  if (it == by_key_.end()) return;
  Inode* inode = *it;
  by_key_.erase(it);
  inode->SetKey(to);
  IndexKey(inode);
}

size_t InodeTable::RekeyPrefix(const std::string& from_prefix, const std::string& to_prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Inode*> moved;
  auto it = by_key_.lower_bound(std::string_view(from_prefix));
  while (it != by_key_.end() && (*it)->key().starts_with(from_prefix)) {
    moved.push_back(*it);
    it = by_key_.erase(it);
  }
  std::string key;
  for (Inode* inode : moved) {
    key = to_prefix;
    key.append(inode->key().substr(from_prefix.size()));
    inode->SetKey(key);
    IndexKey(inode);
  }
  return moved.size();
}

void InodeTable::Orphan(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(std::string_view(key));
  if (it == by_key_.end()) return;
  Inode* inode = *it;
  by_key_.erase(it);
  inode->SetKey({});
  dirty_.erase(inode->ino);
  inode->dirty_ = false;
  MaybeErase(*inode);
}

std::vector<InodeRef> InodeTable::Under(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<InodeRef> out;
  for (auto it = by_key_.lower_bound(std::string_view(prefix));
       it != by_key_.end() && (*it)->key().starts_with(prefix); ++it) {
    out.emplace_back(*it);
  }
  return out;
}

void InodeTable::SetDirty(Inode& inode, bool dirty) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dirty == inode.dirty_) return;
  if (dirty && inode.key_size_ == 0) return;  // orphans are never committed
  if (by_ino_.Find(inode.ino) != &inode) return;
  inode.dirty_ = dirty;
  if (dirty) {
    dirty_[inode.ino] = InodeRef(&inode);
  } else {
    dirty_.erase(inode.ino);
    MaybeErase(inode);
  }
}

std::vector<InodeRef> InodeTable::Dirty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<InodeRef> out;
  out.reserve(dirty_.size());
  for (const auto& [ino, inode] : dirty_) out.push_back(inode);
  return out;
}

size_t InodeTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_ino_.size();
}

}  // namespace alexfs::fs
