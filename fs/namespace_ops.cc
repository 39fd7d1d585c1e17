// lookup, forget, mknod, mkdir, symlink, readlink, unlink, rmdir, link.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fs/filesystem.h"

namespace alexfs::fs {
namespace {

bool IsLinkBodyKey(const std::string& key) {
  return key.size() > 6 && key.compare(0, 6, std::string_view("\0link\0", 6)) == 0;
}

}  // namespace

void Filesystem::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (std::strlen(name) > kMaxNameBytes) {
    ReplyError(req, ENAMETOOLONG);
    return;
  }
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path;
  int err = DirPathOf(parent, &dir_path);
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  if (dir_path.size() + 1 + std::strlen(name) > kMaxPathBytes) {
    ReplyError(req, ENAMETOOLONG);
    return;
  }
  Entry entry;
  Status s = ResolveName(dir_path, name, &entry);
  fuse_entry_param e;
  if (s.IsNotFound()) {
    // A negative entry the kernel may cache: a create through this mount
    // replaces it.
    std::memset(&e, 0, sizeof e);
    e.ino = 0;
    e.entry_timeout = kCacheTimeout;
    fuse_reply_entry(req, &e);
    return;
  }
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  MakeEntry(entry.object, &e);
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(e.ino, 1);
}

void Filesystem::Forget(fuse_ino_t ino, uint64_t nlookup) { inodes_.Forget(ino, nlookup); }

// ---- Creating objects ----

void Filesystem::MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                       dev_t rdev) {
  if (S_ISDIR(mode)) {
    MkDir(req, parent, name, mode);
    return;
  }
  if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) && !S_ISBLK(mode)) {
    ReplyError(req, EINVAL);
    return;
  }
  // Fifos, sockets and device nodes are metadata only: the kernel serves them.
  fuse_entry_param e;
  const dev_t device = (S_ISCHR(mode) || S_ISBLK(mode)) ? rdev : 0;
  if (!CreateObject(req, parent, name, (mode & S_IFMT) | (mode & 07777), &e, device)) return;
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(e.ino, 1);
}

void Filesystem::MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  fuse_entry_param e;
  if (!CreateObject(req, parent, name, S_IFDIR | (mode & 07777), &e)) return;
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(e.ino, 1);
}

void Filesystem::Symlink(fuse_req_t req, const char* target, fuse_ino_t parent,
                         const char* name) {
  std::string_view link(target);
  if (link.size() > kMaxPathBytes) {
    ReplyError(req, ENAMETOOLONG);
    return;
  }
  fuse_entry_param e;
  if (!CreateObject(req, parent, name, S_IFLNK | 0777, &e, 0, link)) return;
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(e.ino, 1);
}

void Filesystem::ReadLink(fuse_req_t req, fuse_ino_t ino) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string key = inodes_.KeyOf(*inode);
  Object object;
  Status s = key.empty() ? Removed() : ReadObject(key, &object);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (!S_ISLNK(object.attr.mode)) {
    ReplyError(req, EINVAL);
    return;
  }
  std::string target(object.bytes);
  fuse_reply_readlink(req, target.c_str());
}

// ---- Removing names ----

Status Filesystem::KeepOpenData(const std::string& key) {
  std::shared_ptr<Inode> inode = inodes_.Find(key);
  if (!inode || inode->is_dir) return Status::OK();
  std::unique_lock<std::shared_mutex> lock(inode->mutex);
  uint64_t file_id = 0;
  bool in_blocks = false;
  if (inode->buffer) {
    in_blocks = inode->buffer->in_blocks();
    file_id = inode->buffer->file_id();
  } else {
    Object object;
    Status s = ReadObject(key, &object);
    if (s.IsNotFound()) return Status::OK();
    if (!s.ok()) return s;
    in_blocks = object.in_blocks;
    file_id = object.file_id;
    if (inodes_.OpenCount(*inode) == 0) {
      // Not open, but the kernel knows the inode: keep the old record pinned.
      inode->Orphan().value = std::move(object.pin);
    } else if (object.attr.is_reg()) {
      s = NewBuffer(*inode, object, /*load_inline=*/true);
      if (!s.ok()) return s;
    }
  }
  if (!in_blocks) return Status::OK();
  // The batch about to go deletes the blocks: pin them (zero-copy; merged
  // with their slices) for the orphan's reads and partial writes.
  const std::string end = BlockRangeEnd(file_id);
  std::unique_ptr<Iterator> it = store_->NewIterator();
  for (it->Seek(BlockKey(file_id, 0)); it->Valid() && it->key() < end; it->Next()) {
    uint64_t id = 0, index = 0;
    if (!ParseBlockKey(it->key(), &id, &index)) break;
    if (inode->Orphan().blocks.count(index)) continue;  // a slice of a block read already
    StoredBlock block;
    Status s = ReadStoredBlock(*store_, file_id, index, &block);
    if (!s.ok()) return s;
    inode->Orphan().blocks.emplace(index, std::move(block));
  }
  inode->Orphan().blocks_pinned = true;
  return it->status();
}

void Filesystem::OrphanInode(const std::string& key) {
  std::shared_ptr<Inode> inode = inodes_.Find(key);
  if (!inode) return;
  std::unique_lock<std::shared_mutex> lock(inode->mutex);
  inodes_.Orphan(key);
  // The orphan keeps its bytes (buffer or pinned value) until the kernel
  // forgets it or its last handle closes.
  if (inode->buffer) inode->buffer->attr().nlink = 0;  // fstat on an open, unlinked file

}

Status Filesystem::DropName(const Entry& entry, int64_t now, WriteBatch* batch,
                            std::string* orphan_key) {
  orphan_key->clear();
  if (!entry.object.link_id) {
    // The file goes, with its blocks, in this batch.
    *orphan_key = entry.object.key;
    Status s = KeepOpenData(*orphan_key);
    if (!s.ok()) return s;
    std::shared_ptr<Inode> inode = inodes_.Find(*orphan_key);
    std::shared_lock<std::shared_mutex> lock;
    if (inode) lock = std::shared_lock<std::shared_mutex>(inode->mutex);
    return AddFileDataDeletes(entry.object, inode.get(), batch);
  }
  // One name of a hard-linked file: the shared body loses a link.
  const std::string& body_key = entry.object.key;
  std::shared_ptr<Inode> inode = inodes_.Find(body_key);
  std::unique_lock<std::shared_mutex> lock;
  if (inode) lock = std::unique_lock<std::shared_mutex>(inode->mutex);
  Attr attr = inode && inode->buffer ? inode->buffer->attr() : entry.object.attr;
  attr.nlink = attr.nlink > 0 ? attr.nlink - 1 : 0;
  attr.ctime_ns = now;
  if (attr.nlink == 0) {
    lock = {};
    *orphan_key = body_key;
    batch->Delete(body_key);
    Status s = KeepOpenData(body_key);
    if (!s.ok()) return s;
    std::shared_lock<std::shared_mutex> shared;
    if (inode) shared = std::shared_lock<std::shared_mutex>(inode->mutex);
    return AddFileDataDeletes(entry.object, inode.get(), batch);
  }
  if (inode && inode->buffer) {
    // The buffer carries the new nlink to its next commit; the stored body's
    // nlink is one high until then, which only a crash before that commit can
    // expose (an extra count, never a missing one).
    inode->buffer->attr() = attr;
    return Status::OK();
  }
  batch->Put(body_key, EncodeRecord(entry.object, attr));
  return Status::OK();
}

void Filesystem::Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path;
  int err = DirPathOf(parent, &dir_path);
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  Entry entry;
  Status s = ResolveName(dir_path, name, &entry);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (entry.is_dir()) {
    ReplyError(req, EISDIR);
    return;
  }
  const int64_t now = NowNs();
  WriteBatch batch;
  batch.Delete(entry.stored_key);
  std::string orphan_key;
  s = DropName(entry, now, &batch, &orphan_key);
  if (s.ok()) s = TouchDir(dir_path, 0, now, &batch);
  entry.object.pin.Reset();
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (!orphan_key.empty()) OrphanInode(orphan_key);
  ReplyError(req, 0);
}

bool Filesystem::DirIsEmpty(const std::string& dir_path) const {
  std::string prefix = ChildPrefix(dir_path);
  std::unique_ptr<Iterator> it = store_->NewIterator();
  it->Seek(prefix.empty() ? std::string_view("\x01", 1) : std::string_view(prefix));
  if (!prefix.empty() && it->Valid() && it->key() == prefix) it->Next();  // the marker
  return !(it->Valid() && it->key().substr(0, prefix.size()) == prefix);
}

void Filesystem::RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path;
  int err = DirPathOf(parent, &dir_path);
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  Entry entry;
  Status s = ResolveName(dir_path, name, &entry);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (!entry.is_dir()) {
    ReplyError(req, ENOTDIR);
    return;
  }
  if (!DirIsEmpty(entry.path)) {
    ReplyError(req, ENOTEMPTY);
    return;
  }
  const int64_t now = NowNs();
  WriteBatch batch;
  batch.Delete(entry.stored_key);
  s = TouchDir(dir_path, -1, now, &batch);
  entry.object.pin.Reset();
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  OrphanInode(entry.stored_key);
  ReplyError(req, 0);
}

// ---- Hard links ----
//
// A file with one name is stored at its path. Its first link() moves its value
// to a body key in the internal key space and puts a link pointer under each
// name, in one batch; the inode is re-keyed to the body, so every name shows
// the same inode. Later links add a pointer and raise the body's nlink. Only
// linked files pay the indirection (one more Get per open/stat). When names are
// removed down to one, the file stays linked (a later rename or unlink handles
// it as any linked file).
void Filesystem::Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  if (inode->is_dir) {
    ReplyError(req, EPERM);
    return;
  }
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path, path;
  int err = DirPathOf(newparent, &dir_path);
  if (err == 0) err = CheckNewName(dir_path, newname, &path);
  std::string key = inodes_.KeyOf(*inode);
  if (err == 0 && key.empty()) err = ENOENT;
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  std::unique_lock<std::shared_mutex> lock(inode->mutex);
  const int64_t now = NowNs();
  Attr attr;
  uint64_t size = 0;
  std::string record;  // the object's record with the new nlink and ctime
  WriteBatch batch;
  Status s;
  if (inode->buffer) {
    // The buffer is committed in this batch (its blocks are keyed by file id,
    // so only its record moves to the body key).
    inode->buffer->attr().nlink += 1;
    inode->buffer->attr().ctime_ns = now;
    attr = inode->buffer->attr();
    size = inode->buffer->size();
    s = AddBufferCommit(*inode, &batch, &record);
  } else {
    Object object;
    s = ReadObject(key, &object);
    attr = object.attr;
    size = object.size;
    attr.nlink += 1;
    attr.ctime_ns = now;
    if (s.ok()) record = EncodeRecord(object, attr);
  }
  std::string body_key = key;
  uint64_t new_link_id = 0;
  if (!s.ok()) {
    // reported below
  } else if (IsLinkBodyKey(key)) {
    batch.Put(body_key, std::move(record));
    // The body id is the last 8 bytes of its key.
    uint64_t id = 0;
    for (size_t i = key.size() - 8; i < key.size(); ++i) {
      id = (id << 8) | static_cast<uint8_t>(key[i]);
    }
    batch.Put(FileKey(path), EncodeLinkPointer(id));
  } else {
    // The stored counter: another mount of a fleet may have advanced it.
    PinnedValue stored;
    if (store_->Get(NextLinkIdKey(), &stored).ok() && stored.value().size() == 8) {
      uint64_t theirs = 0;
      std::memcpy(&theirs, stored.value().data(), 8);  // little-endian hosts only
      next_link_id_ = std::max(next_link_id_, theirs);
    }
    new_link_id = next_link_id_;
    body_key = LinkBodyKey(new_link_id);
    batch.Put(body_key, std::move(record));
    batch.Put(key, EncodeLinkPointer(new_link_id));
    batch.Put(FileKey(path), EncodeLinkPointer(new_link_id));
    std::string counter(8, '\0');
    uint64_t next = new_link_id + 1;
    std::memcpy(counter.data(), &next, 8);  // little-endian hosts only
    batch.Put(NextLinkIdKey(), counter);
  }
  if (s.ok()) s = TouchDir(dir_path, 0, now, &batch);
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (!s.ok()) {
    if (inode->buffer) inode->buffer->attr().nlink -= 1;
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (inode->buffer) {
    inode->buffer.reset();
    inodes_.SetDirty(*inode, false);
  }
  if (new_link_id != 0) {
    next_link_id_ = new_link_id + 1;
    inodes_.Rekey(key, body_key);
  }
  lock.unlock();
  fuse_entry_param e;
  std::shared_ptr<Inode> same = inodes_.LookupOrInsert(body_key, false);
  FillEntryAttrs(*same, attr, size, &e);
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(e.ino, 1);
}

}  // namespace alexfs::fs
