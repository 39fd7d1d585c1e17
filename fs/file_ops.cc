// open, create, read, write, flush, release, fsync.
//
// Open files have no per-handle state: a file's uncommitted bytes live in its
// inode's buffer (fs/file_buffer.h), shared by every handle, so fi->fh is unused
// (and 0 with no_open, the default: open and flush answer ENOSYS and the kernel
// stops sending open, flush and release; see filesystem.h, "Open").
#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "fs/filesystem.h"

namespace alexfs::fs {
namespace {

// The cache policy of an open file, in one place. keep_cache: the kernel's page
// cache of this inode stays valid across opens, because every write and
// truncate reaches the file through the kernel, which updates its cache as it
// forwards them. No direct_io: reads are served from the page cache.
void SetOpenCachePolicy(fuse_file_info* fi) {
  fi->keep_cache = 1;
  fi->direct_io = 0;
}

}  // namespace

void Filesystem::Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (no_open()) {
    // The kernel remembers this (no_open) and sends no more open, flush or
    // release for files; it keeps the page cache across opens.
    fuse_reply_err(req, ENOSYS);
    return;
  }
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (inode->is_dir) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  {
    std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    if (!inode->buffer && inodes_.KeyOf(*inode).empty() && inode->orphan_value.value().empty()) {
      fuse_reply_err(req, ErrnoOf(Removed()));  // the VFS retries with a fresh lookup
      return;
    }
    // With atomic_o_trunc the kernel sends O_TRUNC here instead of a setattr.
    if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
      Attr attr;
      uint64_t size = 0;
      Status s = StatInode(*inode, &attr, &size);
      if (!s.ok()) {
        fuse_reply_err(req, ErrnoOf(s));
        return;
      }
      if (attr.is_reg()) {
        if (!inode->buffer) {
          // No need to load bytes about to be dropped.
          inode->buffer.emplace(attr, std::string_view());
          inodes_.SetDirty(*inode, true);
        }
        inode->buffer->Truncate(0);
        inode->buffer->attr().mtime_ns = inode->buffer->attr().ctime_ns = NowNs();
      }
    }
    inodes_.Opened(*inode);
  }
  SetOpenCachePolicy(fi);
  fuse_reply_open(req, fi);
}

void Filesystem::Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                        fuse_file_info* fi) {
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path, path;
  int err = DirPathOf(parent, &dir_path);
  if (err == 0) err = CheckNewName(dir_path, name, &path);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  const int64_t now = NowNs();
  Attr attr;
  Status s = NewAttr(req, dir_path, S_IFREG | (mode & 07777), now, &attr);
  WriteBatch batch;
  if (s.ok()) {
    batch.Put(FileKey(path), EncodeObject(attr, {}));
    s = TouchDir(dir_path, 0, now, &batch);
  }
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (!s.ok()) {
    fuse_reply_err(req, ErrnoOf(s));
    return;
  }
  fuse_entry_param e;
  std::shared_ptr<Inode> inode = NewEntry(FileKey(path), attr, 0, &e);
  // With no_open the kernel sends no release (once it has seen one ENOSYS
  // open), so open counts are kept only in commit_on_close mode.
  const bool counted = !no_open();
  if (counted) inodes_.Opened(*inode);
  SetOpenCachePolicy(fi);
  if (fuse_reply_create(req, &e, fi) != 0) {
    // The request was interrupted: the kernel will not use the entry.
    if (counted) inodes_.Released(*inode);
    inodes_.Forget(inode->ino, 1);
  }
}

void Filesystem::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::shared_lock<std::shared_mutex> lock(inode->mutex);
  std::string_view contents;
  Object object;
  if (inode->buffer) {
    contents = inode->buffer->contents();
  } else {
    Status s = ReadInodeObject(*inode, &object);
    if (!s.ok()) {
      fuse_reply_err(req, ErrnoOf(s));
      return;
    }
    if (!object.attr.is_reg()) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    contents = object.bytes;
  }
  uint64_t start = std::min<uint64_t>(static_cast<uint64_t>(off), contents.size());
  // The one copy: from the mapped log (or the buffer) into the kernel.
  std::string_view slice = contents.substr(start, size);
  fuse_reply_buf(req, slice.data(), slice.size());
}

void Filesystem::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                       fuse_file_info* fi) {
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (off < 0 || static_cast<uint64_t>(off) + size > kMaxValueBytes - kHeaderBytes) {
    fuse_reply_err(req, EFBIG);
    return;
  }
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::unique_lock<std::shared_mutex> lock(inode->mutex);
  Status s = EnsureBuffer(*inode);
  if (!s.ok()) {
    fuse_reply_err(req, ErrnoOf(s));
    return;
  }
  FileBuffer& buffer = *inode->buffer;
  uint64_t offset = (fi->flags & O_APPEND) ? buffer.size() : static_cast<uint64_t>(off);
  buffer.Write(offset, std::string_view(buf, size));
  buffer.attr().mtime_ns = buffer.attr().ctime_ns = NowNs();
  fuse_reply_write(req, size);
}

void Filesystem::Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (no_open()) {
    // The kernel stops sending flush (no_flush); close(2) costs no round trip.
    fuse_reply_err(req, ENOSYS);
    return;
  }
  // close(2): commit, buffered. A daemon crash after close loses nothing.
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_reply_err(req, ErrnoOf(Commit(*inode, Durability::kBuffered)));
}

void Filesystem::Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (no_open()) {
    // Only files created before the kernel saw the first ENOSYS open get a
    // release; nothing was counted for them.
    fuse_reply_err(req, 0);
    return;
  }
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, 0);
    return;
  }
  // Flush has committed already unless the file was written through another
  // handle since (or a commit failed): try once more; errors are only logged,
  // the buffer stays dirty for the committer.
  Status s = Commit(*inode, Durability::kBuffered);
  if (!s.ok()) spdlog::warn("commit at release of inode {}: {}", ino, s.ToString());
  if (inodes_.Released(*inode) == 0) {
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    // An orphan's bytes die with its last handle.
    if (inode->buffer && inodes_.KeyOf(*inode).empty()) inode->buffer.reset();
  }
  fuse_reply_err(req, 0);
}

void Filesystem::Fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  // fsync and fdatasync alike: the whole value (data and header) is one record.
  // Never ENOSYS: the kernel would then report success for every later fsync.
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  // The buffer goes to the log (buffered) under the locks; the fdatasync runs
  // after they are released, so renames and creates (namespace_mutex_
  // exclusive) do not wait for the disk, and concurrent fsyncs share one
  // fdatasync (the store's group commit).
  Status s = Commit(*inode, Durability::kBuffered);
  if (s.ok()) s = store_->Sync();
  fuse_reply_err(req, ErrnoOf(s));
}

}  // namespace alexfs::fs
