// rename(2) and renameat2(2) with RENAME_NOREPLACE and RENAME_EXCHANGE.
//
// A rename is one atomic batch: the deletes of the old keys, the marker updates
// of both parents, then the puts of the new keys. A renamed file's dirty buffer
// is committed in that same batch, so "write a temp file, rename it over the
// real one" is atomic even without fsync: after a crash the target holds the
// old bytes or the new, never a mix or nothing.
//
// Directory renames scale with the subtree: keys are full paths, so every key
// below the directory is rewritten (one delete + one put each, values copied)
// in one batch. This keeps lookups one Get and readdir one range scan, and a
// crash leaves the whole tree at the old or at the new name. It costs time and
// memory proportional to the subtree's bytes; renames of large trees are
// logged with their size and duration. Measured figures: fs/README.md.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "fs/filesystem.h"

namespace alexfs::fs {
namespace {

bool IsUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

Status Filesystem::MoveObject(const Entry& from, const std::string& to_path, int64_t now,
                              WriteBatch* deletes, std::vector<PendingPut>* puts) {
  if (!from.is_dir()) {
    deletes->Delete(from.stored_key);
    if (from.object.link_id) {
      // A name of a linked file: only the pointer moves.
      puts->push_back({FileKey(to_path), EncodeLinkPointer(*from.object.link_id), nullptr});
      return Status::OK();
    }
    std::shared_ptr<Inode> inode = inodes_.Find(from.object.key);
    if (inode) {
      std::unique_lock<std::shared_mutex> lock(inode->mutex);
      if (inode->buffer) {
        // Its pending data is committed in the rename's batch.
        inode->buffer->attr().ctime_ns = now;
        std::string record;
        Status s = AddBufferCommit(*inode, deletes, &record);
        if (!s.ok()) return s;
        puts->push_back({FileKey(to_path), std::move(record), inode});
        return Status::OK();
      }
    }
    // Only the record moves: a file in blocks keeps its blocks (keyed by id).
    Attr attr = from.object.attr;
    attr.ctime_ns = now;
    puts->push_back({FileKey(to_path), EncodeRecord(from.object, attr), nullptr});
    return Status::OK();
  }

  // A directory: commit the buffers of open files below it first (at their
  // old names), then copy every key below it.
  const std::string from_prefix = DirKey(from.path);
  const std::string to_prefix = DirKey(to_path);
  for (const std::shared_ptr<Inode>& inode : inodes_.Under(from_prefix)) {
    if (inode->is_dir) continue;
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    Status s = CommitLocked(*inode, Durability::kBuffered);
    if (!s.ok()) return s;
  }
  std::unique_ptr<Iterator> it = store_->NewIterator();
  for (it->Seek(from_prefix); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    if (key.substr(0, from_prefix.size()) != from_prefix) break;
    std::string new_key = to_prefix;
    new_key.append(key.substr(from_prefix.size()));
    // Every key below is a file's path or a directory's path plus '/'.
    if (new_key.size() - (new_key.back() == '/' ? 1 : 0) > kMaxPathBytes) {
      return Status::WithErrno(Status::Code::kInvalidArgument, ENAMETOOLONG,
                               "rename would make a path below it longer than 4095 bytes");
    }
    deletes->Delete(key);
    if (key.size() == from_prefix.size()) {
      // The directory's own marker: stamp its ctime.
      Attr attr = from.object.attr;
      attr.ctime_ns = now;
      puts->push_back({std::move(new_key), EncodeObject(attr, {}), nullptr});
    } else {
      puts->push_back({std::move(new_key), std::string(it->value()), nullptr});
    }
  }
  return it->status();
}

void Filesystem::Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                        const char* newname, unsigned int flags) {
  const bool exchange = flags & RENAME_EXCHANGE;
  const bool noreplace = flags & RENAME_NOREPLACE;
  if ((flags & ~(RENAME_EXCHANGE | RENAME_NOREPLACE)) != 0 || (exchange && noreplace)) {
    ReplyError(req, EINVAL);
    return;
  }
  if (std::strlen(newname) > kMaxNameBytes) {
    ReplyError(req, ENAMETOOLONG);
    return;
  }
  auto started = std::chrono::steady_clock::now();
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string old_dir, new_dir;
  int err = DirPathOf(parent, &old_dir);
  if (err == 0) err = DirPathOf(newparent, &new_dir);
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  Entry src;
  Status s = ResolveName(old_dir, name, &src);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  const std::string new_path = ChildPath(new_dir, newname);
  if (new_path.size() > kMaxPathBytes) {
    ReplyError(req, ENAMETOOLONG);
    return;
  }
  Entry dst;
  s = ResolveName(new_dir, newname, &dst);
  const bool dst_exists = s.ok();
  if (!s.ok() && !s.IsNotFound()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  if (src.path == new_path) {
    ReplyError(req, 0);
    return;
  }
  // A directory cannot move below itself.
  if (src.is_dir() && IsUnder(new_path, src.path)) {
    ReplyError(req, EINVAL);
    return;
  }
  if (exchange) {
    if (!dst_exists) {
      ReplyError(req, ENOENT);
      return;
    }
    if (dst.is_dir() && IsUnder(src.path, new_path)) {
      ReplyError(req, EINVAL);
      return;
    }
  } else if (dst_exists) {
    if (noreplace) {
      ReplyError(req, EEXIST);
      return;
    }
    if (src.is_dir() && !dst.is_dir()) {
      ReplyError(req, ENOTDIR);
      return;
    }
    if (!src.is_dir() && dst.is_dir()) {
      ReplyError(req, EISDIR);
      return;
    }
    if (dst.is_dir() && !DirIsEmpty(dst.path)) {
      ReplyError(req, ENOTEMPTY);
      return;
    }
    if (src.object.link_id && src.object.key == dst.object.key) {
      // Two names of one file: POSIX says do nothing.
      ReplyError(req, 0);
      return;
    }
  }

  const int64_t now = NowNs();
  WriteBatch batch;  // deletes and parent updates first, then puts
  std::vector<PendingPut> puts;
  std::string orphan_key;
  s = MoveObject(src, new_path, now, &batch, &puts);
  if (s.ok() && exchange) s = MoveObject(dst, src.path, now, &batch, &puts);
  if (s.ok() && dst_exists && !exchange) {
    // The source's put overwrites dst.stored_key (same name, same kind).
    if (dst.is_dir()) {
      orphan_key = dst.stored_key;
    } else {
      s = DropName(dst, now, &batch, &orphan_key);
    }
  }
  // Parents: mtime/ctime, and nlink when directories change parent.
  int old_delta = 0, new_delta = 0;
  if (src.is_dir()) {
    old_delta -= 1;
    new_delta += 1;
  }
  if (dst_exists && dst.is_dir()) {
    new_delta -= 1;
    if (exchange) old_delta += 1;
  }
  if (s.ok()) {
    if (old_dir == new_dir) {
      s = TouchDir(old_dir, old_delta + new_delta, now, &batch);
    } else {
      s = TouchDir(old_dir, old_delta, now, &batch);
      if (s.ok()) s = TouchDir(new_dir, new_delta, now, &batch);
    }
  }
  if (exchange) {
    // Each side's old keys are the other side's new ones: keep only the puts,
    // so the batch never deletes and puts one key.
    std::unordered_set<std::string_view> put_keys;
    for (const PendingPut& put : puts) put_keys.insert(put.key);
    WriteBatch filtered;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.type == WriteBatch::OpType::kDelete) {
        if (!put_keys.count(op.key)) filtered.Delete(op.key);
      } else {
        filtered.Put(op.key, op.value);
      }
    }
    batch = std::move(filtered);
  }
  std::vector<std::shared_ptr<Inode>> folded;
  for (PendingPut& put : puts) {
    if (put.folded) folded.push_back(put.folded);
    batch.Put(put.key, std::move(put.value));
  }
  puts.clear();
  src.object.pin.Reset();
  dst.object.pin.Reset();
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (s.ok()) {
    for (const std::shared_ptr<Inode>& inode : folded) {
      std::unique_lock<std::shared_mutex> lock(inode->mutex);
      inode->buffer.reset();
      inodes_.SetDirty(*inode, false);
    }
  }
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }

  // The inode table follows: inodes keep their numbers under their new keys.
  if (!orphan_key.empty()) OrphanInode(orphan_key);
  size_t moved_inodes = 0;
  // Re-keys the inodes of `from` (at path from_path) to path to_path; a path
  // starting with 0x00 parks them where no real key is.
  auto rekey = [&](const Entry& from, const std::string& from_path, const std::string& to_path) {
    if (from.is_dir()) {
      moved_inodes += inodes_.RekeyPrefix(from_path + "/", to_path + "/");
    } else if (!from.object.link_id) {  // a linked file's inode is keyed by its body
      inodes_.Rekey(from_path, to_path);
      moved_inodes++;
    }
  };
  if (exchange) {
    const std::string parking("\0parking", 8);
    rekey(src, src.path, parking);
    rekey(dst, dst.path, src.path);
    rekey(src, parking, dst.path);
  } else {
    rekey(src, src.path, new_path);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (batch.count() > 1000 || took.count() > 100) {
    spdlog::info("rename {} -> {}: {} keys, {} bytes, {} cached inodes moved, {} ms", src.path,
                 new_path, batch.count(), batch.payload_bytes(), moved_inodes, took.count());
  }
  ReplyError(req, 0);
}

}  // namespace alexfs::fs
