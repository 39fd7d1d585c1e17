// fallocate.
//
// AlexFS has no blocks to reserve: a file's data is records in the store's
// log, written when it is committed. So
//   mode 0              extends the size (zeros, stored as a hole: nothing is
//                       written for it) when the range ends past it;
//   FALLOC_FL_KEEP_SIZE changes nothing (it reserves no space, which a later
//                       write may still fail to find);
//   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
//                       zeros the range: whole 64 KiB blocks inside it become
//                       holes (their records are deleted at commit, and
//                       SEEK_HOLE sees them), the partial ends are written as
//                       zeros (inline files: the bytes are zeroed);
//   any other mode      EOPNOTSUPP, the file unchanged (glibc's
//                       posix_fallocate then writes zeros itself, which is
//                       right for a mode-0 request it could not pass).
// Like setattr, the change goes through the file's buffer and is committed at
// once unless the file is being written.
#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "fs/filesystem.h"

namespace alexfs::fs {

void Filesystem::Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                           fuse_file_info*) {
  const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
  const bool punch = mode & FALLOC_FL_PUNCH_HOLE;
  if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) || (punch && !keep_size)) {
    ReplyError(req, EOPNOTSUPP);
    return;
  }
  if (offset < 0 || length <= 0) {
    ReplyError(req, EINVAL);
    return;
  }
  const uint64_t begin = static_cast<uint64_t>(offset);
  const uint64_t end = begin + static_cast<uint64_t>(length);
  if (end > kMaxFileBytes || end < begin) {
    ReplyError(req, EFBIG);
    return;
  }
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  if (keep_size && !punch) {
    ReplyError(req, inode->is_dir ? EISDIR : 0);  // nothing to reserve
    return;
  }
  const int64_t now = NowNs();
  Inode& file = *inode;
  auto change = [&](Attr* attr, FileBuffer* buffer) -> Status {
    if (!buffer) {
      return Status::WithErrno(Status::Code::kInvalidArgument, ENODEV,
                               "fallocate of an object that is not a regular file");
    }
    if (!punch) {
      if (end <= buffer->size()) return Status::OK();
      if (!buffer->in_blocks() && end > kInlineMaxBytes) {
        uint64_t id = 0;
        Status s = NewFileId(&id);
        if (!s.ok()) return s;
        buffer->MoveToBlocks(id);
      }
      Status s = buffer->Truncate(end, LoaderFor(file));
      if (!s.ok()) return s;
      attr->mtime_ns = attr->ctime_ns = now;
      return Status::OK();
    }
    // Punch: only bytes below the size exist to be zeroed.
    const uint64_t stop = std::min(end, buffer->size());
    if (begin >= stop) return Status::OK();
    uint64_t pos = begin;
    while (pos < stop) {
      const uint64_t block_end =
          buffer->in_blocks() ? std::min(stop, (pos / kBlockBytes + 1) * kBlockBytes) : stop;
      if (buffer->in_blocks() && pos % kBlockBytes == 0 && block_end - pos == kBlockBytes) {
        buffer->PunchBlock(pos / kBlockBytes);
      } else {
        Status s = buffer->Write(pos, std::string(block_end - pos, '\0'), LoaderFor(file));
        if (!s.ok()) return s;
      }
      pos = block_end;
    }
    attr->mtime_ns = attr->ctime_ns = now;
    return Status::OK();
  };
  Attr attr;
  uint64_t size = 0;
  Status s = ChangeAttr(file, /*load_inline=*/true, change, &attr, &size);
  ReplyError(req, ErrnoOf(s));
}

}  // namespace alexfs::fs
