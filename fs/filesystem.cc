#include "fs/filesystem.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace alexfs::fs {
namespace {

void FillRootAttr(struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = FUSE_ROOT_ID;
  st->st_mode = S_IFDIR | 0755;
  st->st_nlink = 2;
}

void Lookup(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, ENOENT); }

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  FillRootAttr(&st);
  fuse_reply_attr(req, &st, 1.0);
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  char buf[256];
  size_t used = 0;
  struct stat st;
  FillRootAttr(&st);
  // Offsets: 1 after ".", 2 after "..".
  if (off < 1) used += fuse_add_direntry(req, buf + used, sizeof buf - used, ".", &st, 1);
  if (off < 2) used += fuse_add_direntry(req, buf + used, sizeof buf - used, "..", &st, 2);
  fuse_reply_buf(req, buf, used < size ? used : size);
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  return ops;
}();

}  // namespace

const fuse_lowlevel_ops& Filesystem::Operations() { return kOps; }

}  // namespace alexfs::fs
