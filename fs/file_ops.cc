// open, create, read, write, flush, release, fsync, lseek.
//
// Open files have no per-handle state: a file's uncommitted bytes live in its
// inode's buffer (fs/file_buffer.h), shared by every handle, so fi->fh is unused
// (and 0 with no_open, the default: open and flush answer ENOSYS and the kernel
// stops sending open, flush and release; see filesystem.h, "Open").
#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <vector>

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
    ReplyError(req, ENOSYS);
    return;
  }
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  if (inode->is_dir) {
    ReplyError(req, EISDIR);
    return;
  }
  {
    std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    if (!inode->buffer && inodes_.KeyOf(*inode).empty() && inode->OrphanValue().empty()) {
      ReplyError(req, ErrnoOf(Removed()));  // the VFS retries with a fresh lookup
      return;
    }
    // With atomic_o_trunc the kernel sends O_TRUNC here instead of a setattr.
    if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
      Attr attr;
      uint64_t size = 0;
      Status s = StatInode(*inode, &attr, &size);
      if (!s.ok()) {
        ReplyError(req, ErrnoOf(s));
        return;
      }
      if (attr.is_reg()) {
        // No need to load bytes about to be dropped.
        s = EnsureBuffer(*inode, /*load_inline=*/false);
        if (s.ok()) s = inode->buffer->Truncate(0, LoaderFor(*inode));
        if (!s.ok()) {
          ReplyError(req, ErrnoOf(s));
          return;
        }
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
  fuse_entry_param e;
  std::shared_ptr<Inode> inode =
      CreateObject(req, parent, name, S_IFREG | (mode & 07777), &e);
  if (!inode) return;
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

namespace {

// Zeros for holes and for the bytes between a short block's end and the next.
const char kZeros[kBlockBytes] = {};

// The iovecs of one read reply: views into the buffer, the mapped log or
// kZeros, sent with one writev by fuse_reply_iov (no copy in the daemon).
class ReadReply {
 public:
  void Add(std::string_view bytes) {
    if (!bytes.empty()) iov_.push_back({const_cast<char*>(bytes.data()), bytes.size()});
  }
  void AddZeros(uint64_t n) {
    while (n > 0) {
      const size_t part = static_cast<size_t>(std::min<uint64_t>(n, sizeof kZeros));
      Add(std::string_view(kZeros, part));
      n -= part;
    }
  }
  // Keeps a block (its mapping, or its merged copy) alive until the reply is sent.
  StoredBlock* NewBlock() { return &blocks_.emplace_back(); }
  void Send(fuse_req_t req) { fuse_reply_iov(req, iov_.data(), static_cast<int>(iov_.size())); }

 private:
  std::vector<iovec> iov_;
  std::deque<StoredBlock> blocks_;
};

}  // namespace

void Filesystem::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  ReadableFile readable;
  if (!ReadableFileOrReply(req, ino, &readable)) return;
  Inode* inode = readable.inode.get();
  const FileView& file = readable.view;
  Status s;
  const uint64_t start = std::min<uint64_t>(static_cast<uint64_t>(off), file.size);
  const uint64_t end = std::min<uint64_t>(file.size, start + size);
  ReadReply reply;
  if (!file.in_blocks) {
    reply.Add(file.inline_contents.substr(start, end - start));
    reply.Send(req);
    return;
  }
  for (uint64_t pos = start; pos < end;) {
    const uint64_t index = pos / kBlockBytes;
    const uint64_t in_block = pos % kBlockBytes;
    const uint64_t n = std::min(kBlockBytes - in_block, end - pos);
    std::string_view block;
    s = ViewBlock(*inode, file, index, reply.NewBlock(), &block);
    if (!s.ok()) {
      ReplyError(req, ErrnoOf(s));
      return;
    }
    std::string_view part = in_block < block.size() ? block.substr(in_block, n) : std::string_view();
    reply.Add(part);
    reply.AddZeros(n - part.size());
    pos += n;
  }
  reply.Send(req);
}

void Filesystem::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                       fuse_file_info* fi) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  if (off < 0 || static_cast<uint64_t>(off) + size > kMaxFileBytes) {
    ReplyError(req, EFBIG);
    return;
  }
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::unique_lock<std::shared_mutex> lock(inode->mutex);
  Status s = EnsureBuffer(*inode);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  // A full disk fails the write here, never its commit later.
  s = AdmitBytes(size);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  FileBuffer& buffer = *inode->buffer;
  uint64_t offset = (fi->flags & O_APPEND) ? buffer.size() : static_cast<uint64_t>(off);
  if (!buffer.in_blocks() && offset + size > kInlineMaxBytes) {
    uint64_t id = 0;
    s = NewFileId(&id);
    if (s.ok()) buffer.MoveToBlocks(id);
  }
  if (s.ok()) s = buffer.Write(offset, std::string_view(buf, size), LoaderFor(*inode));
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  buffer.attr().mtime_ns = buffer.attr().ctime_ns = NowNs();
  // The memory bound: past either limit the file is committed now (buffered,
  // as one batch like any commit), and its buffer goes.
  if (buffer.dirty_bytes() > options_.max_file_dirty_bytes ||
      total_dirty_.load(std::memory_order_relaxed) >
          static_cast<int64_t>(options_.max_dirty_bytes)) {
    s = CommitLocked(*inode, Durability::kBuffered);
    if (!s.ok()) {
      ReplyError(req, ErrnoOf(s));
      return;
    }
  }
  fuse_reply_write(req, size);
}

void Filesystem::Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (no_open()) {
    // The kernel stops sending flush (no_flush); close(2) costs no round trip.
    ReplyError(req, ENOSYS);
    return;
  }
  // close(2): commit, buffered. A daemon crash after close loses nothing.
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  ReplyError(req, ErrnoOf(Commit(*inode, Durability::kBuffered)));
}

void Filesystem::Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (no_open()) {
    // Only files created before the kernel saw the first ENOSYS open get a
    // release; nothing was counted for them.
    ReplyError(req, 0);
    return;
  }
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) {
    ReplyError(req, 0);
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
  ReplyError(req, 0);
}

void Filesystem::Fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  // fsync and fdatasync alike: data and record are committed in one batch.
  // Never ENOSYS: the kernel would then report success for every later fsync.
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  // The buffer goes to the log (buffered) under the locks; the fdatasync runs
  // after they are released, so renames and creates (namespace_mutex_
  // exclusive) do not wait for the disk, and concurrent fsyncs share one
  // fdatasync (the store's group commit).
  Status s = Commit(*inode, Durability::kBuffered);
  if (s.ok()) s = target_->Sync();
  ReplyError(req, ErrnoOf(s));
}

void Filesystem::Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info*) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) {
    ReplyError(req, EINVAL);  // SEEK_SET/CUR/END never reach the daemon
    return;
  }
  ReadableFile readable;
  if (!ReadableFileOrReply(req, ino, &readable)) return;
  Inode* inode = readable.inode.get();
  const FileView& file = readable.view;
  Status s;
  const uint64_t size = file.size;
  const uint64_t start = static_cast<uint64_t>(std::max<off_t>(off, 0));
  if (start >= size) {
    ReplyError(req, ENXIO);
    return;
  }
  if (!file.in_blocks) {
    // An inline file is all data.
    fuse_reply_lseek(req, static_cast<off_t>(whence == SEEK_DATA ? start : size));
    return;
  }
  // The first block at or after `from` that may hold data (dirty or stored),
  // found by seeking, so SEEK_DATA skips a long hole at once.
  auto next_block = [&](uint64_t from) {
    uint64_t next = std::numeric_limits<uint64_t>::max();
    if (file.buffer) {
      auto it = file.buffer->dirty_blocks().lower_bound(from);
      if (it != file.buffer->dirty_blocks().end()) next = it->first;
      if (from >= file.buffer->dead_from()) return next;
    }
    if (inode->BlocksPinned()) {
      auto it = inode->orphan->blocks.lower_bound(from);
      if (it != inode->orphan->blocks.end()) next = std::min(next, it->first);
      return next;
    }
    std::unique_ptr<Iterator> it = store_->NewIterator();
    it->Seek(BlockKey(file.file_id, from));
    uint64_t id = 0, index = 0;
    if (it->Valid() && ParseBlockKey(it->key(), &id, &index) && id == file.file_id) {
      next = std::min(next, index);
    }
    return next;
  };
  // Walks the blocks from the one holding `start`: each is data up to its
  // length and a hole after it.
  for (uint64_t index = start / kBlockBytes; index * kBlockBytes < size; ++index) {
    if (whence == SEEK_DATA) {
      index = next_block(index);
      if (index >= size / kBlockBytes + 1) break;
    }
    StoredBlock stored;
    std::string_view block;
    s = ViewBlock(*inode, file, index, &stored, &block);
    if (!s.ok()) {
      ReplyError(req, ErrnoOf(s));
      return;
    }
    const uint64_t begin = std::max(start, index * kBlockBytes);
    const uint64_t data_end = std::min(size, index * kBlockBytes + block.size());
    if (whence == SEEK_DATA && begin < data_end) {
      fuse_reply_lseek(req, static_cast<off_t>(begin));
      return;
    }
    const uint64_t hole = std::max(begin, data_end);
    if (whence == SEEK_HOLE && hole < std::min(size, (index + 1) * kBlockBytes)) {
      fuse_reply_lseek(req, static_cast<off_t>(hole));
      return;
    }
  }
  // No data after start: ENXIO; no hole before the end: the end (an implicit hole).
  if (whence == SEEK_DATA) {
    ReplyError(req, ENXIO);
  } else {
    fuse_reply_lseek(req, static_cast<off_t>(size));
  }
}

}  // namespace alexfs::fs
