// getattr, setattr, and ChangeAttr, which setattr, fallocate and the xattr
// operations share.
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fs/filesystem.h"
#include "fs/posix_acl.h"

namespace alexfs::fs {
namespace {

// Applies a setattr request to `a` (size is handled by the caller).
void ApplySetAttr(const struct stat& in, int to_set, int64_t now, Attr* a) {
  if (to_set & FUSE_SET_ATTR_MODE) a->mode = (a->mode & S_IFMT) | (in.st_mode & 07777);
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    if (to_set & FUSE_SET_ATTR_UID) a->uid = in.st_uid;
    if (to_set & FUSE_SET_ATTR_GID) a->gid = in.st_gid;
    // chown(2) of a non-directory clears set-user-ID, and set-group-ID when it
    // means "executable by the group" (with S_IXGRP off it marks mandatory
    // locking). The kernel usually sends the cleared mode in the same request;
    // when it does, that mode wins.
    if (!(to_set & FUSE_SET_ATTR_MODE) && !S_ISDIR(a->mode)) {
      a->mode &= ~S_ISUID;
      if (a->mode & S_IXGRP) a->mode &= ~S_ISGID;
    }
  }
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    a->atime_ns = now;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    a->atime_ns = FromTimespec(in.st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    a->mtime_ns = now;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    a->mtime_ns = FromTimespec(in.st_mtim);
  }
  a->ctime_ns = (to_set & FUSE_SET_ATTR_CTIME) ? FromTimespec(in.st_ctim) : now;
  // The access ACL's owner, mask (or group) and other entries follow the mode.
  if (to_set & FUSE_SET_ATTR_MODE) ChmodAccessAcl(a->mode, &a->xattrs);
}

}  // namespace

void Filesystem::GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::shared_lock<std::shared_mutex> lock(inode->mutex);
  Attr attr;
  uint64_t size = 0;
  Status s = StatInode(*inode, &attr, &size);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  struct stat st;
  FillStat(attr, ino, size, &st);
  fuse_reply_attr(req, &st, kCacheTimeout);
}

Status Filesystem::ChangeAttr(Inode& inode, bool load_inline, const AttrChange& change,
                              Attr* attr, uint64_t* size, bool defer_commit) {
  if (inode.is_dir) {
    // A directory's marker is also rewritten by create/unlink in it.
    std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
    std::string key = inodes_.KeyOf(inode);
    Object object;
    Status s = key.empty() ? Removed() : ReadObject(key, &object);
    if (!s.ok()) return s;
    *attr = std::move(object.attr);
    *size = 0;
    s = change(attr, nullptr);
    if (!s.ok()) return s;
    WriteBatch batch;
    batch.Put(key, EncodeObject(*attr, {}));
    return Apply(batch, Durability::kBuffered);
  }
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::unique_lock<std::shared_mutex> lock(inode.mutex);
  Object object;
  if (!inode.buffer) {
    // An unlinked file still open (an orphan) reads its pinned old record.
    Status s = ReadInodeObject(inode, &object);
    if (!s.ok()) return s;
  }
  if (inode.buffer || object.attr.is_reg()) {
    // A regular file: the change goes through its buffer, committed now
    // unless the file is being written (then with the writes). Being
    // written: open (commit_on_close mode), or already dirty or about to be
    // (no_open: open counts are unknown; the caller defers a truncate to 0,
    // which open(O_TRUNC) sends before the writes).
    const bool was_dirty = inode.buffer != nullptr;
    object.pin.Reset();
    Status s = EnsureBuffer(inode, load_inline);
    if (!s.ok()) return s;
    s = change(&inode.buffer->attr(), &*inode.buffer);
    if (!s.ok()) {
      if (!was_dirty) {  // a refused change leaves nothing to commit
        inode.buffer.reset();
        inodes_.SetDirty(inode, false);
      }
      return s;
    }
    *attr = inode.buffer->attr();
    *size = inode.buffer->size();
    const bool being_written = no_open() ? was_dirty || defer_commit : inodes_.OpenCount(inode) > 0;
    return being_written ? Status::OK() : CommitLocked(inode, Durability::kBuffered);
  }
  // Symlinks, fifos, sockets, devices: rewrite the small value.
  if (object.key.empty()) return Removed();  // there is no value to rewrite
  *attr = object.attr;
  *size = object.size;
  Status s = change(attr, nullptr);
  if (!s.ok()) return s;
  WriteBatch batch;
  batch.Put(object.key, EncodeObject(*attr, object.bytes));
  object.pin.Reset();
  return Apply(batch, Durability::kBuffered);
}

void Filesystem::SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* in, int to_set,
                         fuse_file_info*) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  const int64_t now = NowNs();
  const bool resize = to_set & FUSE_SET_ATTR_SIZE;
  const uint64_t new_size = resize ? static_cast<uint64_t>(in->st_size) : 0;
  if (resize && inode->is_dir) {
    ReplyError(req, EISDIR);
    return;
  }
  if (resize && new_size > kMaxFileBytes) {
    ReplyError(req, EFBIG);
    return;
  }
  Inode& file = *inode;
  auto change = [&](Attr* attr, FileBuffer* buffer) -> Status {
    if (resize) {
      if (!buffer) {
        return Status::WithErrno(Status::Code::kInvalidArgument, EINVAL,
                                 "truncate of an object that is not a regular file");
      }
      if (!buffer->in_blocks() && new_size > kInlineMaxBytes) {
        uint64_t id = 0;
        Status s = NewFileId(&id);
        if (!s.ok()) return s;
        buffer->MoveToBlocks(id);
      }
      Status s = buffer->Truncate(new_size, LoaderFor(file));
      if (!s.ok()) return s;
      if (!(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))) attr->mtime_ns = now;
    }
    ApplySetAttr(*in, to_set, now, attr);
    return Status::OK();
  };
  Attr attr;
  uint64_t size = 0;
  // A truncate to 0 never reads the old bytes, and is committed with the
  // writes that follow it (open(O_TRUNC), write, fsync: the file goes from
  // its old content to its new one in one commit, never empty in between;
  // one etcd transaction in fleet mode, not two).
  const bool truncate_to_zero = resize && new_size == 0;
  Status s = ChangeAttr(file, /*load_inline=*/!truncate_to_zero, change, &attr, &size,
                        /*defer_commit=*/truncate_to_zero);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  struct stat st;
  FillStat(attr, ino, size, &st);
  fuse_reply_attr(req, &st, kCacheTimeout);
}

}  // namespace alexfs::fs
