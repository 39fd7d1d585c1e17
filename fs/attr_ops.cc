// getattr, setattr, access.
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fs/filesystem.h"

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
    fuse_reply_err(req, ErrnoOf(s));
    return;
  }
  struct stat st;
  FillStat(attr, ino, size, &st);
  fuse_reply_attr(req, &st, kCacheTimeout);
}

void Filesystem::SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* in, int to_set,
                         fuse_file_info*) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  const int64_t now = NowNs();
  Attr attr;
  uint64_t size = 0;
  if (inode->is_dir) {
    // A directory's marker is also rewritten by create/unlink in it.
    std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
    if (to_set & FUSE_SET_ATTR_SIZE) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    std::string key = inodes_.KeyOf(*inode);
    Object object;
    Status s = key.empty() ? Removed() : ReadObject(key, &object);
    if (!s.ok()) {
      fuse_reply_err(req, ErrnoOf(s));
      return;
    }
    attr = object.attr;
    ApplySetAttr(*in, to_set, now, &attr);
    WriteBatch batch;
    batch.Put(key, EncodeObject(attr, {}));
    s = Apply(batch, Durability::kBuffered);
    if (!s.ok()) {
      fuse_reply_err(req, ErrnoOf(s));
      return;
    }
  } else {
    std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    Object object;
    if (!inode->buffer) {
      // An unlinked file still open (an orphan) reads its pinned old record.
      Status s = ReadInodeObject(*inode, &object);
      if (!s.ok()) {
        fuse_reply_err(req, ErrnoOf(s));
        return;
      }
    }
    if (inode->buffer || object.attr.is_reg()) {
      // A regular file: the change goes through its buffer, committed now
      // unless the file is being written (then with the writes). Being
      // written: open (commit_on_close mode), or already dirty (no_open: open
      // counts are unknown; a truncate to 0 of a clean file is committed).
      const bool was_dirty = inode->buffer != nullptr;
      object.pin.Reset();
      const bool resize = to_set & FUSE_SET_ATTR_SIZE;
      const uint64_t new_size = resize ? static_cast<uint64_t>(in->st_size) : 0;
      if (resize && new_size > kMaxFileBytes) {
        fuse_reply_err(req, EFBIG);
        return;
      }
      // A truncate to 0 never reads the old bytes.
      Status s = EnsureBuffer(*inode, /*load_inline=*/!(resize && new_size == 0));
      if (!s.ok()) {
        fuse_reply_err(req, ErrnoOf(s));
        return;
      }
      FileBuffer& buffer = *inode->buffer;
      if (resize) {
        if (!buffer.in_blocks() && new_size > kInlineMaxBytes) {
          uint64_t id = 0;
          s = NewFileId(&id);
          if (s.ok()) buffer.MoveToBlocks(id);
        }
        if (s.ok()) s = buffer.Truncate(new_size, LoaderFor(*inode));
        if (!s.ok()) {
          fuse_reply_err(req, ErrnoOf(s));
          return;
        }
        if (!(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))) {
          buffer.attr().mtime_ns = now;
        }
      }
      ApplySetAttr(*in, to_set, now, &buffer.attr());
      attr = buffer.attr();
      size = buffer.size();
      const bool being_written = no_open() ? was_dirty : inodes_.OpenCount(*inode) > 0;
      if (!being_written) {
        s = CommitLocked(*inode, Durability::kBuffered);
        if (!s.ok()) {
          fuse_reply_err(req, ErrnoOf(s));
          return;
        }
      }
    } else {
      // Symlinks, fifos, sockets, devices: rewrite the small value.
      if (to_set & FUSE_SET_ATTR_SIZE) {
        fuse_reply_err(req, EINVAL);
        return;
      }
      if (object.key.empty()) {  // removed: there is no value to rewrite
        fuse_reply_err(req, ErrnoOf(Removed()));
        return;
      }
      attr = object.attr;
      ApplySetAttr(*in, to_set, now, &attr);
      size = object.size;
      WriteBatch batch;
      batch.Put(object.key, EncodeObject(attr, object.bytes));
      object.pin.Reset();
      Status s = Apply(batch, Durability::kBuffered);
      if (!s.ok()) {
        fuse_reply_err(req, ErrnoOf(s));
        return;
      }
    }
  }
  struct stat st;
  FillStat(attr, ino, size, &st);
  fuse_reply_attr(req, &st, kCacheTimeout);
}

}  // namespace alexfs::fs
