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
#pragma once

#include <fuse_lowlevel.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/store.h"
#include "fs/dir_cookies.h"
#include "fs/file_buffer.h"
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

// One per inode the kernel holds, so kept small (~150 bytes): what only some
// inodes need (a buffer, an orphan's pins, a directory's cookies) hangs off a
// pointer.
struct Inode {
  Inode(fuse_ino_t number, bool directory)
      : ino(number), is_dir(directory), cookies(directory ? new DirCookies : nullptr) {}

  const fuse_ino_t ino;
  const bool is_dir;

  // Guards buffer. Readers of the inode's bytes take it shared, writers
  // exclusive. Lock order: Filesystem::namespace_mutex_, then this, then
  // InodeTable's mutex.
  std::shared_mutex mutex;
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

 private:
  friend class InodeTable;
  std::string key_;        // GUARDED_BY(InodeTable::mutex_); empty: orphan
  uint64_t nlookup_ = 0;   // GUARDED_BY(InodeTable::mutex_)
  uint32_t open_count_ = 0;  // GUARDED_BY(InodeTable::mutex_)
  bool dirty_ = false;     // GUARDED_BY(InodeTable::mutex_): in dirty_
};

class InodeTable {
 public:
  // `generation` goes with every inode number of this mount.
  explicit InodeTable(uint64_t generation);

  uint64_t generation() const { return generation_; }

  // The inode with this number, or null.
  std::shared_ptr<Inode> Get(fuse_ino_t ino) const;
  // The inode whose key is `key`, or null.
  std::shared_ptr<Inode> Find(const std::string& key) const;
  // The key of `inode` now; empty for an orphan.
  std::string KeyOf(const Inode& inode) const;

  // The inode for `key`, created if new, with its lookup count raised by one.
  std::shared_ptr<Inode> LookupOrInsert(const std::string& key, bool is_dir);
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
  // `to_prefix`. Returns how many were re-keyed. O(log n + moved).
  size_t RekeyPrefix(const std::string& from_prefix, const std::string& to_prefix);
  // The inode keyed `key` (if any) becomes an orphan.
  void Orphan(const std::string& key);
  // Inodes whose keys start with `prefix`.
  std::vector<std::shared_ptr<Inode>> Under(const std::string& prefix) const;

  // The dirty set: inodes holding a file buffer, for CommitAll.
  void SetDirty(Inode& inode, bool dirty);
  std::vector<std::shared_ptr<Inode>> Dirty() const;

  size_t size() const;

 private:
  // REQUIRES: mutex_ held.
  void MaybeErase(Inode& inode);

  const uint64_t generation_;
  mutable std::mutex mutex_;
  fuse_ino_t next_ino_ = FUSE_ROOT_ID + 1;                        // GUARDED_BY(mutex_)
  std::unordered_map<fuse_ino_t, std::shared_ptr<Inode>> by_ino_;  // GUARDED_BY(mutex_)
  // Ordered, so a directory rename finds everything below it by prefix. The
  // keys are views of the inodes' key_ (an entry is erased before its key_
  // changes).
  std::map<std::string_view, Inode*, std::less<>> by_key_;         // GUARDED_BY(mutex_)
  std::unordered_map<fuse_ino_t, std::shared_ptr<Inode>> dirty_;   // GUARDED_BY(mutex_)
};

}  // namespace alexfs::fs
