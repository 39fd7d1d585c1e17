#include "fs/filesystem.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace alexfs::fs {

int ErrnoOf(const Status& s) {
  if (s.ok()) return 0;
  int err = s.errno_value();
  return err > 0 ? err : EIO;
}

Filesystem::Filesystem(Store* store, FilesystemOptions options)
    : store_(store),
      options_(std::move(options)),
      // Inode numbers restart at 2 every mount; the generation tells mounts apart.
      inodes_(static_cast<uint64_t>(NowNs() / 1000000)) {}

Filesystem::~Filesystem() {
  if (committer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(committer_mutex_);
      stopping_ = true;
    }
    committer_cv_.notify_all();
    committer_.join();
  }
}

Status Filesystem::Start() {
  Object root;
  Status s = ReadObject(RootKey(), &root);
  if (s.IsNotFound()) {
    Attr attr;
    attr.mode = S_IFDIR | 0755;
    attr.uid = ::getuid();
    attr.gid = ::getgid();
    attr.nlink = 2;
    attr.atime_ns = attr.mtime_ns = attr.ctime_ns = NowNs();
    WriteBatch batch;
    batch.Put(RootKey(), EncodeObject(attr, {}));
    s = Apply(batch, Durability::kDurable);
  }
  if (!s.ok()) return s;
  PinnedValue counter;
  s = store_->Get(NextLinkIdKey(), &counter);
  if (s.ok() && counter.value().size() == 8) {
    std::memcpy(&next_link_id_, counter.value().data(), 8);  // little-endian hosts only
  } else if (!s.IsNotFound() && !s.ok()) {
    return s;
  }
  if (options_.commit_interval.count() > 0) {
    committer_ = std::thread([this] { CommitterLoop(); });
  }
  return Status::OK();
}

Status Filesystem::Shutdown() {
  if (committer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(committer_mutex_);
      stopping_ = true;
    }
    committer_cv_.notify_all();
    committer_.join();
  }
  return CommitAll(Durability::kDurable);
}

void Filesystem::CommitterLoop() {
  std::unique_lock<std::mutex> lock(committer_mutex_);
  while (!stopping_) {
    committer_cv_.wait_for(lock, options_.commit_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Status s = CommitAll(Durability::kDurable, /*only_settled=*/true);
    if (!s.ok()) spdlog::warn("background commit failed (will retry): {}", s.ToString());
    lock.lock();
  }
}

// ---- Object access ----

Status Filesystem::ReadObject(const std::string& key, Object* out) const {
  Status s = store_->Get(key, &out->pin);
  if (!s.ok()) return s;
  auto decoded = DecodeValue(out->pin.value());
  if (decoded && decoded->kind == DecodedValue::Kind::kLinkPointer) {
    out->link_id = decoded->link_id;
    out->key = LinkBodyKey(decoded->link_id);
    s = store_->Get(out->key, &out->pin);
    if (s.IsNotFound()) {
      return Status::Corruption("link body of " + key + " is missing");
    }
    if (!s.ok()) return s;
    decoded = DecodeValue(out->pin.value());
  } else {
    out->key = key;
  }
  if (!decoded || decoded->kind != DecodedValue::Kind::kObject) {
    return Status::Corruption("value of key " + key + " has an unknown format");
  }
  out->attr = decoded->attr;
  out->bytes = decoded->bytes;
  out->size = S_ISREG(out->attr.mode) || S_ISLNK(out->attr.mode) ? out->bytes.size() : 0;
  return Status::OK();
}

Status Filesystem::ResolveName(const std::string& dir_path, std::string_view name,
                               Entry* out) const {
  out->path = ChildPath(dir_path, name);
  out->stored_key = FileKey(out->path);
  Status s = ReadObject(out->stored_key, &out->object);
  if (!s.IsNotFound()) return s;
  out->stored_key = DirKey(out->path);
  return ReadObject(out->stored_key, &out->object);
}

int Filesystem::DirPathOf(fuse_ino_t dir, std::string* path) const {
  if (dir == FUSE_ROOT_ID) {
    path->clear();
    return 0;
  }
  std::shared_ptr<Inode> inode = inodes_.Get(dir);
  if (!inode) return ENOENT;
  if (!inode->is_dir) return ENOTDIR;
  std::string key = inodes_.KeyOf(*inode);
  if (key.empty()) return ENOENT;
  key.pop_back();  // "a/b/" -> "a/b"
  *path = std::move(key);
  return 0;
}

Status Filesystem::StatInode(Inode& inode, Attr* attr, uint64_t* size) const {
  if (inode.buffer) {
    *attr = inode.buffer->attr();
    *size = inode.buffer->size();
    return Status::OK();
  }
  Object object;
  Status s = ReadInodeObject(inode, &object);
  if (!s.ok()) return s;
  *attr = object.attr;
  *size = object.size;
  return Status::OK();
}

Status Filesystem::ReadInodeObject(Inode& inode, Object* out) const {
  std::string key = inodes_.KeyOf(inode);
  if (!key.empty()) return ReadObject(key, out);
  auto decoded = DecodeValue(inode.orphan_value.value());
  if (!decoded || decoded->kind != DecodedValue::Kind::kObject) return Removed();
  out->key.clear();
  out->attr = decoded->attr;
  out->attr.nlink = 0;
  out->bytes = decoded->bytes;
  out->size = S_ISREG(out->attr.mode) || S_ISLNK(out->attr.mode) ? out->bytes.size() : 0;
  return Status::OK();
}

Status Filesystem::EnsureBuffer(Inode& inode) {
  if (inode.buffer) return Status::OK();
  Object object;
  Status s = ReadInodeObject(inode, &object);
  if (!s.ok()) return s;
  if (!object.attr.is_reg()) return Status::WithErrno(Status::Code::kInvalidArgument, EINVAL,
                                                      "not a regular file");
  inode.buffer.emplace(object.attr, object.bytes);
  inodes_.SetDirty(inode, true);
  return Status::OK();
}

Status Filesystem::TouchDir(const std::string& dir_path, int nlink_delta, int64_t now,
                            WriteBatch* batch) {
  std::string key = DirKey(dir_path);
  Object dir;
  Status s = ReadObject(key, &dir);
  if (!s.ok()) return s;
  dir.attr.mtime_ns = dir.attr.ctime_ns = now;
  dir.attr.nlink = static_cast<uint32_t>(static_cast<int64_t>(dir.attr.nlink) + nlink_delta);
  batch->Put(key, EncodeObject(dir.attr, {}));
  // Every change to a directory's names passes here; the kernel's cached
  // listing of it is dropped from the invalidator's thread.
  if (std::shared_ptr<Inode> inode = inodes_.Find(key)) invalidator_.DirectoryChanged(inode->ino);
  return Status::OK();
}

int Filesystem::CheckNewName(const std::string& dir_path, const char* name,
                             std::string* path) const {
  size_t len = std::strlen(name);
  if (len > kMaxNameBytes) return ENAMETOOLONG;
  *path = ChildPath(dir_path, name);
  if (path->size() > kMaxPathBytes) return ENAMETOOLONG;
  if (store_->Contains(FileKey(*path)) || store_->Contains(DirKey(*path))) return EEXIST;
  return 0;
}

Status Filesystem::NewAttr(fuse_req_t req, const std::string& dir_path, mode_t mode, int64_t now,
                           Attr* attr) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  attr->mode = mode;
  attr->uid = ctx->uid;
  attr->gid = ctx->gid;
  attr->nlink = S_ISDIR(mode) ? 2 : 1;
  attr->atime_ns = attr->mtime_ns = attr->ctime_ns = now;
  Object dir;
  Status s = ReadObject(DirKey(dir_path), &dir);
  if (!s.ok()) return s;
  if (dir.attr.mode & S_ISGID) {
    attr->gid = dir.attr.gid;
    if (S_ISDIR(mode)) attr->mode |= S_ISGID;
  }
  return Status::OK();
}

// ---- Commits ----

Status Filesystem::Apply(const WriteBatch& batch, Durability durability) {
  Status s = store_->Write(batch, durability);
  if (s.ok() && durability == Durability::kBuffered) unsynced_.store(true);
  if (!s.ok()) spdlog::error("store write failed: {}", s.ToString());
  return s;
}

Status Filesystem::CommitLocked(Inode& inode, Durability durability) {
  if (!inode.buffer) {
    if (durability == Durability::kDurable) {
      unsynced_.store(false);
      return store_->Sync();
    }
    return Status::OK();
  }
  std::string key = inodes_.KeyOf(inode);
  if (key.empty()) return Status::OK();  // an orphan: nothing to keep
  WriteBatch batch;
  batch.Put(key, inode.buffer->TakeValue());
  Status s = Apply(batch, durability);
  if (!s.ok()) {
    inode.buffer->RestoreValue(batch.ops()[0].value);
    return s;
  }
  inode.buffer.reset();
  inodes_.SetDirty(inode, false);
  return Status::OK();
}

Status Filesystem::Commit(Inode& inode, Durability durability) {
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::unique_lock<std::shared_mutex> lock(inode.mutex);
  return CommitLocked(inode, durability);
}

Status Filesystem::CommitAll(Durability durability, bool only_settled) {
  Status first_error;
  const auto now = FileBuffer::Clock::now();
  const auto interval = options_.commit_interval;
  for (const std::shared_ptr<Inode>& inode : inodes_.Dirty()) {
    std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    // Settled: small (rewriting it is cheap, and a closed file must not wait
    // long, since close does not commit), unchanged for a whole interval, or
    // dirty for ten intervals (a large file written without pause is committed
    // at most every ten).
    if (only_settled && inode->buffer && inode->buffer->size() > kSmallBufferBytes &&
        now - inode->buffer->last_change() < interval &&
        now - inode->buffer->dirty_since() < 10 * interval) {
      continue;
    }
    Status s = CommitLocked(*inode, Durability::kBuffered);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  if (durability == Durability::kDurable && unsynced_.exchange(false)) {
    Status s = store_->Sync();
    if (!s.ok()) {
      unsynced_.store(true);
      if (first_error.ok()) first_error = s;
    }
  }
  return first_error;
}

// ---- Replies ----

void Filesystem::FillEntryAttrs(Inode& inode, const Attr& attr, uint64_t size,
                                fuse_entry_param* e) {
  std::memset(e, 0, sizeof *e);
  e->ino = inode.ino;
  e->generation = inodes_.generation();
  FillStat(attr, inode.ino, size, &e->attr);
  // Every change passes through this daemon: cache for long.
  e->attr_timeout = kCacheTimeout;
  e->entry_timeout = kCacheTimeout;
}

void Filesystem::MakeEntry(const Object& object, fuse_entry_param* e) {
  std::shared_ptr<Inode> inode = inodes_.LookupOrInsert(object.key, object.attr.is_dir());
  std::shared_lock<std::shared_mutex> lock(inode->mutex);
  if (inode->buffer) {
    FillEntryAttrs(*inode, inode->buffer->attr(), inode->buffer->size(), e);
  } else {
    FillEntryAttrs(*inode, object.attr, object.size, e);
  }
}

std::shared_ptr<Inode> Filesystem::NewEntry(const std::string& key, const Attr& attr,
                                            uint64_t size, fuse_entry_param* e) {
  std::shared_ptr<Inode> inode = inodes_.LookupOrInsert(key, attr.is_dir());
  FillEntryAttrs(*inode, attr, size, e);
  return inode;
}

// ---- Init, statfs ----

void Filesystem::Init(fuse_conn_info* conn) {
  if (options_.commit_on_close) {
    // open(O_TRUNC) arrives as open with O_TRUNC (one round trip, handled in Open).
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  } else {
    // no_open: open and flush answer ENOSYS (see filesystem.h, "Open"). libfuse
    // asks for atomic_o_trunc by default; it must be off, or an open(O_TRUNC)
    // the kernel no longer sends would never truncate: without it the kernel
    // sends the truncate as a setattr of the size.
    conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
    if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
      no_open_.store(true);
    } else {
      spdlog::warn("the kernel cannot skip open (no FUSE_CAP_NO_OPEN_SUPPORT): files are "
                   "opened and closed through the daemon, which commits on close");
    }
  }
  // opendir stays answered (cache_readdir + keep_cache) although directory
  // handles hold no state: no_opendir saved the opendir/releasedir round trips
  // but repeated listings of an unchanged 10,000-entry directory were no faster
  // here (the listing itself dominates). See fs/README.md.
  // Directory operations lock what they need (namespace_mutex_).
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // Symlink targets never change (a symlink is replaced, never rewritten).
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // No writeback cache: the daemon must see every write to buffer and commit it
  // on close and fsync exactly as the program asked.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Setuid/setgid clearing on write and chown is left to the kernel, which
  // sends it as a setattr.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  conn->time_gran = 1;
}

void Filesystem::StatFs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  struct statvfs disk;
  if (::statvfs(options_.data_dir.c_str(), &disk) == 0) {
    st = disk;
  } else {
    st.f_bsize = st.f_frsize = 4096;
  }
  StoreStats stats = store_->GetStats();
  st.f_files = stats.keys + st.f_ffree;
  st.f_namemax = kMaxNameBytes;
  st.f_flag = 0;
  st.f_fsid = 0;
  fuse_reply_statfs(req, &st);
}

// ---- The operation table ----

namespace {

Filesystem* Self(fuse_req_t req) { return static_cast<Filesystem*>(fuse_req_userdata(req)); }

// The handler's Filesystem, with the request counted.
Filesystem* Self(fuse_req_t req, Request kind) {
  Filesystem* fs = Self(req);
  fs->CountRequest(kind);
  return fs;
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.init = [](void* userdata, fuse_conn_info* conn) {
    auto* fs = static_cast<Filesystem*>(userdata);
    fs->CountRequest(Request::kInit);
    fs->Init(conn);
  };
  ops.statfs = [](fuse_req_t req, fuse_ino_t ino) {
    Self(req, Request::kStatFs)->StatFs(req, ino);
  };
  ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Self(req, Request::kLookup)->Lookup(req, parent, name);
  };
  ops.forget = [](fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    Self(req, Request::kForget)->Forget(ino, nlookup);
    fuse_reply_none(req);
  };
  ops.forget_multi = [](fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    Self(req, Request::kForget);
    for (size_t i = 0; i < count; ++i) Self(req)->Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  };
  ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kGetAttr)->GetAttr(req, ino, fi);
  };
  ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   fuse_file_info* fi) { Self(req, Request::kSetAttr)->SetAttr(req, ino, attr, to_set, fi); };
  ops.readlink = [](fuse_req_t req, fuse_ino_t ino) { Self(req, Request::kReadLink)->ReadLink(req, ino); };
  ops.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    Self(req, Request::kMkNod)->MkNod(req, parent, name, mode, rdev);
  };
  ops.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Self(req, Request::kMkDir)->MkDir(req, parent, name, mode);
  };
  ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Self(req, Request::kUnlink)->Unlink(req, parent, name);
  };
  ops.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Self(req, Request::kRmDir)->RmDir(req, parent, name);
  };
  ops.symlink = [](fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    Self(req, Request::kSymlink)->Symlink(req, target, parent, name);
  };
  ops.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned int flags) {
    Self(req, Request::kRename)->Rename(req, parent, name, newparent, newname, flags);
  };
  ops.link = [](fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    Self(req, Request::kLink)->Link(req, ino, newparent, newname);
  };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kOpen)->Open(req, ino, fi);
  };
  ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  fuse_file_info* fi) { Self(req, Request::kCreate)->Create(req, parent, name, mode, fi); };
  ops.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Self(req, Request::kRead)->Read(req, ino, size, off, fi);
  };
  ops.write = [](fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                 fuse_file_info* fi) { Self(req, Request::kWrite)->Write(req, ino, buf, size, off, fi); };
  ops.flush = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kFlush)->Flush(req, ino, fi);
  };
  ops.release = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kRelease)->Release(req, ino, fi);
  };
  ops.fsync = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    Self(req, Request::kFsync)->Fsync(req, ino, datasync, fi);
  };
  ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kOpenDir)->OpenDir(req, ino, fi);
  };
  ops.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Self(req, Request::kReadDir)->ReadDir(req, ino, size, off, fi, /*plus=*/false);
  };
  ops.readdirplus = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       fuse_file_info* fi) {
    Self(req, Request::kReadDirPlus)->ReadDir(req, ino, size, off, fi, /*plus=*/true);
  };
  ops.releasedir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kReleaseDir)->ReleaseDir(req, ino, fi);
  };
  ops.fsyncdir = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    Self(req, Request::kFsyncDir)->FsyncDir(req, ino, datasync, fi);
  };
  return ops;
}();

}  // namespace

const fuse_lowlevel_ops& Filesystem::Operations() { return kOps; }

}  // namespace alexfs::fs
