// InodeTable: the inode numbers the kernel knows, and what each one names.
//
// An inode is identified by the store key that holds its attributes and bytes
// (its "key"): "a/b" for a file, "a/b/" for a directory, the body key
// "\0link\0<id>" for a hard-linked file (so all its names share one inode), and
// RootKey() for the root (inode FUSE_ROOT_ID). Renames re-key inodes
// (Rekey, RekeyPrefix: a renamed directory takes everything below it along), so
// an inode keeps its number while the kernel holds it.
//
// Lookup counts follow the low-level API's forget protocol: every
// fuse_reply_entry / fuse_reply_create (including each readdirplus entry) adds
// one; Forget subtracts. An inode leaves the table when its lookup count and its
// open count are both zero; its number is never reused in this mount, and every
// number carries the mount's generation, so (ino, generation) is unique across
// remounts too.
//
// An inode unlinked (or replaced by rename) while open becomes an orphan: its
// key is cleared, it is reachable only by number, its data lives in its file
// buffer until the last close, and it is never committed.
//
// Thread safety: all methods are thread-safe. mutex_ is a leaf lock: callers may
// hold Filesystem::namespace_mutex_ and an Inode::mutex when calling in, never
// the other way round.
//
// Memory: one of these per inode the kernel holds, so a million cached files
// must stay small (measured by `alexfs-bench fs --inodes 1000000`; README):
// an Inode is one allocation with its key inline (~72 bytes + the key), held
// by an intrusive count (InodeRef) instead of a shared_ptr's control block, with
// a 4-byte InodeMutex; the table indexes it twice: by number in an
// open-addressing array of pointers (InodeNumbers, 8 bytes a slot), and by key
// in a std::set of pointers ordered by key (one 48-byte node), which a
// directory rename needs to find what is below it.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/store.h"
#include "fs/dir_cookies.h"
#include "fs/file_buffer.h"
#include "fs/inode_mutex.h"
#include "fs/stored_block.h"

namespace alexfs::fs {

// What an orphan keeps of its last stored state (see Inode::orphan).
struct OrphanPins {
  // The last stored value of an orphan that was not open when its name went
  // (replaced by rename, or unlinked): a kernel that resolved the path just
  // before may still open and read it, and must see the old bytes. Zero-copy;
  // released when the kernel forgets the inode (normally at once).
  PinnedValue value;
  // The stored blocks of an orphan whose data is in blocks (block index ->
  // pinned bytes, or a copy merged with its slices), taken before the batch
  // that deleted them: its reads and partial writes use these instead of the
  // store.
  std::map<uint64_t, StoredBlock> blocks;
  bool blocks_pinned = false;  // `blocks` is set
};

class InodeRef;

// One per inode the kernel holds, so kept small (72 bytes + the key, in one
// allocation): what only some inodes need (a buffer, an orphan's pins, a
// directory's cookies) hangs off a pointer. Made by InodeTable only, held by
// InodeRef.
struct Inode {
  const fuse_ino_t ino;

  // Guards buffer. Readers of the inode's bytes take it shared, writers
  // exclusive. Lock order: Filesystem::namespace_mutex_, then this, then
  // InodeTable's mutex.
  InodeMutex mutex;
  const bool is_dir;
  // The inode's not yet committed state (files only). Present means dirty.
  std::unique_ptr<FileBuffer> buffer;  // GUARDED_BY(mutex)
  // An orphan's pins (OrphanPins); null until it has any. Released with the inode.
  std::unique_ptr<OrphanPins> orphan;  // GUARDED_BY(mutex)
  OrphanPins& Orphan() {
    if (!orphan) orphan = std::make_unique<OrphanPins>();
    return *orphan;
  }
  // The orphan's pinned value; empty if none.
  std::string_view OrphanValue() const { return orphan ? orphan->value.value() : std::string_view(); }
  bool BlocksPinned() const { return orphan && orphan->blocks_pinned; }

  // Readdir offset cookies (directories only, else null); has its own leaf lock.
  const std::unique_ptr<DirCookies> cookies;

  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

 private:
  friend class InodeTable;
  friend class InodeRef;
  friend struct InodeKeyLess;

  // One allocation: the Inode, then `inline_capacity` bytes for its key.
  static Inode* Create(fuse_ino_t number, bool directory, std::string_view key);
  static void Destroy(Inode* inode);
  Inode(fuse_ino_t number, bool directory, uint16_t inline_capacity);
  ~Inode();

  std::string_view key() const { return {key_data_, key_size_}; }  // REQUIRES: InodeTable::mutex_
  // Inline if it fits, else on the heap. REQUIRES: InodeTable::mutex_.
  void SetKey(std::string_view key);
  char* inline_key() { return reinterpret_cast<char*>(this + 1); }

  std::atomic<uint32_t> refs_{0};  // InodeRefs to this inode (the table's included)
  uint32_t open_count_ = 0;        // GUARDED_BY(InodeTable::mutex_)
  uint64_t nlookup_ = 0;           // GUARDED_BY(InodeTable::mutex_)
  char* key_data_;                 // GUARDED_BY(InodeTable::mutex_): inline_key() or new[]
  uint32_t key_size_ = 0;          // GUARDED_BY(InodeTable::mutex_); 0: orphan (or the root)
  const uint16_t inline_capacity_;
  bool dirty_ = false;             // GUARDED_BY(InodeTable::mutex_): in dirty_
};

// A counted reference to an Inode (like a shared_ptr, without a control
// block): the table holds one while the inode is in it, each handler one
// while it works on it; the last one destroys it.
class InodeRef {
 public:
  InodeRef() = default;
  InodeRef(std::nullptr_t) {}  // NOLINT: converts like a shared_ptr
  explicit InodeRef(Inode* inode) : p_(inode) {
    if (p_ != nullptr) p_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  InodeRef(const InodeRef& other) : InodeRef(other.p_) {}
  InodeRef(InodeRef&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  InodeRef& operator=(InodeRef other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }
  ~InodeRef() { reset(); }

  void reset() {
    if (p_ != nullptr && p_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Inode::Destroy(p_);
    p_ = nullptr;
  }
  Inode* get() const { return p_; }
  Inode& operator*() const { return *p_; }
  Inode* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const InodeRef& other) const { return p_ == other.p_; }
  bool operator==(std::nullptr_t) const { return p_ == nullptr; }

 private:
  Inode* p_ = nullptr;
};

// Orders inodes by key; compares with keys too (heterogeneous lookup).
struct InodeKeyLess {
  using is_transparent = void;
  bool operator()(const Inode* a, const Inode* b) const { return a->key() < b->key(); }
  bool operator()(const Inode* a, std::string_view b) const { return a->key() < b; }
  bool operator()(std::string_view a, const Inode* b) const { return a < b->key(); }
};

// Inode number -> Inode*: open addressing with linear probing over a
// power-of-two array of pointers (8 bytes a slot, at most 3/4 full; a
// std::unordered_map node is 32 bytes + a bucket). Not thread-safe.
class InodeNumbers {
 public:
  Inode* Find(fuse_ino_t ino) const;
  // REQUIRES: no inode with this number yet.
  void Insert(Inode* inode);
  void Erase(fuse_ino_t ino);
  size_t size() const { return size_; }
  template <typename F>
  void ForEach(F&& f) const {
    for (Inode* p : slots_) {
      if (p != nullptr) f(p);
    }
  }

 private:
  size_t Home(fuse_ino_t ino) const {
    return static_cast<size_t>((ino * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void Grow();

  std::vector<Inode*> slots_;
  size_t size_ = 0;
  int shift_ = 64;  // 64 - log2(slots_.size())
};

class InodeTable {
 public:
  // `generation` goes with every inode number of this mount.

  uint64_t generation() const { return generation_; }

  explicit InodeTable(uint64_t generation);
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // The inode with this number, or null.
  InodeRef Get(fuse_ino_t ino) const;
  // The inode whose key is `key`, or null.
  InodeRef Find(const std::string& key) const;
  // The key of `inode` now; empty for an orphan.
  std::string KeyOf(const Inode& inode) const;

  // The inode for `key`, created if new, with its lookup count raised by one.
  InodeRef LookupOrInsert(const std::string& key, bool is_dir);
  // Drops `n` lookups (the kernel's forget). Aborts if the count would go
  // negative: that is a bug in the lookup accounting.
  void Forget(fuse_ino_t ino, uint64_t n);

  void Opened(Inode& inode);
  // Returns the open count left.
  uint32_t Released(Inode& inode);
  uint32_t OpenCount(const Inode& inode) const;

  // Renames: the inode keyed `from` (if any) is keyed `to`.
  void Rekey(const std::string& from, const std::string& to);
  // Every inode whose key starts with `from_prefix` gets that prefix replaced by
  // `to_prefix`. Returns how many were re-keyed. O((1 + moved) log n).
  size_t RekeyPrefix(const std::string& from_prefix, const std::string& to_prefix);
  // The inode keyed `key` (if any) becomes an orphan.
  void Orphan(const std::string& key);
  // Inodes whose keys start with `prefix`.
  std::vector<InodeRef> Under(const std::string& prefix) const;

  // The dirty set: inodes holding a file buffer, for CommitAll.
  void SetDirty(Inode& inode, bool dirty);
  std::vector<InodeRef> Dirty() const;

  size_t size() const;

 private:
  // REQUIRES: mutex_ held.
  void MaybeErase(Inode& inode);

  // REQUIRES: mutex_ held. Adds `inode` (keyed) to both indexes; the table's ref.
  void Add(Inode* inode);
  // REQUIRES: mutex_ held. Puts `inode` in by_key_ under its key, in place of
  // any other inode there (as std::map's operator[] did).
  void IndexKey(Inode* inode);

  const uint64_t generation_;
  mutable std::mutex mutex_;
  fuse_ino_t next_ino_ = FUSE_ROOT_ID + 1;  // GUARDED_BY(mutex_)
  // Every inode in the table; each holds one ref (refs_) for the table.
  InodeNumbers by_ino_;                     // GUARDED_BY(mutex_)
  // The keyed inodes (not orphans), ordered, so a directory rename finds
  // everything below it by prefix. An inode leaves it before its key changes.
  std::set<Inode*, InodeKeyLess> by_key_;   // GUARDED_BY(mutex_)
  std::unordered_map<fuse_ino_t, InodeRef> dirty_;  // GUARDED_BY(mutex_)
};

}  // namespace alexfs::fs
