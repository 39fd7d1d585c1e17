#include "fs/filesystem.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "fs/posix_acl.h"

namespace alexfs::fs {

int ErrnoOf(const Status& s) {
  if (s.ok()) return 0;
  int err = s.errno_value();
  return err > 0 ? err : EIO;
}

Filesystem::Filesystem(Store* store, FilesystemOptions options)
    : store_(store),
      options_(std::move(options)),
      local_target_(store),
      target_(options_.target != nullptr ? options_.target : &local_target_),
      // Inode numbers restart at 2 every mount; the generation tells mounts apart.
      inodes_(static_cast<uint64_t>(NowNs() / 1000000)) {}

Filesystem::~Filesystem() {
  target_->Stop();  // no remote change may reach this object any more
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
  target_->Start(this);
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
    // Fleet mode: another mount created it first.
    if (IsConflict(s)) s = ReadObject(RootKey(), &root);
  }
  if (!s.ok()) return s;
  PinnedValue counter;
  s = store_->Get(NextLinkIdKey(), &counter);
  if (s.ok() && counter.value().size() == 8) {
    std::memcpy(&next_link_id_, counter.value().data(), 8);  // little-endian hosts only
  } else if (!s.IsNotFound() && !s.ok()) {
    return s;
  }
  s = store_->Get(NextFileIdKey(), &counter);
  if (s.ok() && counter.value().size() == 8) {
    std::memcpy(&next_file_id_, counter.value().data(), 8);  // little-endian hosts only
    reserved_file_ids_ = next_file_id_;
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
  Status s = CommitAll(Durability::kDurable);
  // A full disk: every dirty byte was admitted against free space
  // (AdmitBytes), but a compaction round holds its outputs' space until its
  // inputs go. Wait for it (bounded) rather than drop acknowledged bytes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (s.IsNoSpace() && std::chrono::steady_clock::now() < deadline) {
    spdlog::warn("unmount: the last commit waits for compaction to free space: {}", s.ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s = CommitAll(Durability::kDurable);
  }
  target_->Stop();
  return s;
}

void Filesystem::CommitterLoop() {
  std::unique_lock<std::mutex> lock(committer_mutex_);
  while (!stopping_) {
    committer_cv_.wait_for(lock, options_.commit_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Status s = CommitAll(Durability::kDurable);
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
  out->size = decoded->size;
  out->in_blocks = decoded->in_blocks;
  out->file_id = decoded->file_id;
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

std::shared_ptr<Inode> Filesystem::InodeOrReply(fuse_req_t req, fuse_ino_t ino) const {
  std::shared_ptr<Inode> inode = inodes_.Get(ino);
  if (!inode) fuse_reply_err(req, ENOENT);
  return inode;
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
  auto decoded = DecodeValue(inode.OrphanValue());
  if (!decoded || decoded->kind != DecodedValue::Kind::kObject) return Removed();
  out->key.clear();
  out->attr = decoded->attr;
  out->attr.nlink = 0;
  out->bytes = decoded->bytes;
  out->size = decoded->size;
  out->in_blocks = decoded->in_blocks;
  out->file_id = decoded->file_id;
  return Status::OK();
}

Status Filesystem::EnsureBuffer(Inode& inode, bool load_inline) {
  if (inode.buffer) return Status::OK();
  Object object;
  Status s = ReadInodeObject(inode, &object);
  if (!s.ok()) return s;
  return NewBuffer(inode, object, load_inline);
}

Status Filesystem::NewBuffer(Inode& inode, const Object& object, bool load_inline) {
  if (!object.attr.is_reg()) return Status::WithErrno(Status::Code::kInvalidArgument, EINVAL,
                                                      "not a regular file");
  if (object.in_blocks) {
    inode.buffer = std::make_unique<FileBuffer>(object.attr, object.file_id, object.size, &total_dirty_);
  } else {
    inode.buffer = std::make_unique<FileBuffer>(
        object.attr, load_inline ? object.bytes : std::string_view(), &total_dirty_);
    if (inode.buffer->size() > kInlineMaxBytes) {
      uint64_t id = 0;
      Status s = NewFileId(&id);
      if (!s.ok()) {
        inode.buffer.reset();
        return s;
      }
      inode.buffer->MoveToBlocks(id);
    }
  }
  inodes_.SetDirty(inode, true);
  return Status::OK();
}

std::string Filesystem::EncodeRecord(const Object& object, const Attr& attr) {
  if (object.in_blocks) return EncodeBlockedFile(attr, object.file_id, object.size);
  return EncodeObject(attr, object.bytes);
}

std::shared_ptr<Inode> Filesystem::CreateObject(fuse_req_t req, fuse_ino_t parent,
                                                const char* name, mode_t mode,
                                                fuse_entry_param* e, dev_t rdev,
                                                std::string_view bytes) {
  const bool is_dir = S_ISDIR(mode);
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path, path;
  int err = DirPathOf(parent, &dir_path);
  if (err == 0) err = CheckNewName(dir_path, name, &path);
  // A directory's marker key has one more byte than its path.
  if (err == 0 && is_dir && path.size() + 1 > kMaxKeyBytes) err = ENAMETOOLONG;
  if (err != 0) {
    ReplyError(req, err);
    return nullptr;
  }
  const std::string key = is_dir ? DirKey(path) : FileKey(path);
  const int64_t now = NowNs();
  Attr attr;
  Status s = NewAttr(req, dir_path, mode, now, &attr);
  attr.rdev = rdev;
  if (s.ok()) s = AdmitBytes(kCreateBytes + bytes.size());
  WriteBatch batch;
  if (s.ok()) {
    batch.Put(key, EncodeObject(attr, bytes));
    s = TouchDir(dir_path, is_dir ? +1 : 0, now, &batch);  // a new ".." link
  }
  if (s.ok()) s = Apply(batch, Durability::kBuffered);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return nullptr;
  }
  return NewEntry(key, attr, bytes.size(), e);
}

// ---- Blocks ----

Status Filesystem::NewFileId(uint64_t* id) {
  // Reserved in ranges: the reservation is logged before any batch that uses
  // one of its ids, so a batch that survives a crash finds it there too.
  constexpr uint64_t kReserveAhead = 1024;
  std::lock_guard<std::mutex> lock(file_id_mutex_);
  if (next_file_id_ >= reserved_file_ids_) {
    // Another mount of a fleet may have reserved ids since: start after them.
    PinnedValue stored;
    Status g = store_->Get(NextFileIdKey(), &stored);
    if (g.ok() && stored.value().size() == 8) {
      uint64_t theirs = 0;
      std::memcpy(&theirs, stored.value().data(), 8);  // little-endian hosts only
      next_file_id_ = std::max(next_file_id_, theirs);
    } else if (!g.ok() && !g.IsNotFound()) {
      return g;
    }
    const uint64_t reserved = next_file_id_ + kReserveAhead;
    std::string counter(8, '\0');
    std::memcpy(counter.data(), &reserved, 8);  // little-endian hosts only
    WriteBatch batch;
    batch.Put(NextFileIdKey(), counter);
    Status s = Apply(batch, Durability::kBuffered);
    if (!s.ok()) return s;
    reserved_file_ids_ = reserved;
  }
  *id = next_file_id_++;
  return Status::OK();
}

Status Filesystem::ReadBlock(const Inode& inode, uint64_t file_id, uint64_t index,
                             StoredBlock* block, std::string_view* out) const {
  if (inode.BlocksPinned()) {
    auto it = inode.orphan->blocks.find(index);
    *out = it == inode.orphan->blocks.end() ? std::string_view() : it->second.bytes();
    return Status::OK();
  }
  Status s = ReadStoredBlock(*store_, file_id, index, block);
  if (!s.ok()) return s;
  *out = block->bytes();
  return Status::OK();
}

Status Filesystem::ViewFile(Inode& inode, FileView* view) const {
  if (inode.buffer) {
    const FileBuffer& buffer = *inode.buffer;
    view->buffer = &buffer;
    view->size = buffer.size();
    view->in_blocks = buffer.in_blocks();
    view->file_id = buffer.file_id();
    view->inline_contents = buffer.inline_contents();
    return Status::OK();
  }
  Status s = ReadInodeObject(inode, &view->object);
  if (!s.ok()) return s;
  if (!view->object.attr.is_reg()) {
    return Status::WithErrno(Status::Code::kInvalidArgument, EINVAL, "not a regular file");
  }
  view->size = view->object.size;
  view->in_blocks = view->object.in_blocks;
  view->file_id = view->object.file_id;
  view->inline_contents = view->object.bytes;
  return Status::OK();
}

bool Filesystem::ReadableFileOrReply(fuse_req_t req, fuse_ino_t ino, ReadableFile* file) {
  file->inode = InodeOrReply(req, ino);
  if (!file->inode) return false;
  file->ns = std::shared_lock<std::shared_mutex>(namespace_mutex_);
  file->lock = std::shared_lock<std::shared_mutex>(file->inode->mutex);
  Status s = ViewFile(*file->inode, &file->view);
  if (!s.ok()) {
    fuse_reply_err(req, ErrnoOf(s));
    return false;
  }
  return true;
}

Status Filesystem::ViewBlock(const Inode& inode, const FileView& view, uint64_t index,
                             StoredBlock* block, std::string_view* out) const {
  if (view.buffer) {
    if (const std::string* dirty = view.buffer->DirtyBlock(index)) {
      *out = *dirty;
      return Status::OK();
    }
    if (index >= view.buffer->dead_from()) {
      *out = std::string_view();  // dropped by a truncate: a hole
      return Status::OK();
    }
  }
  return ReadBlock(inode, view.file_id, index, block, out);
}

FileBuffer::BlockLoader Filesystem::LoaderFor(const Inode& inode) {
  return [this, &inode](uint64_t index, std::string* out, BlockSlices* slices) {
    StoredBlock block;
    std::string_view bytes;
    Status s = ReadBlock(inode, inode.buffer->file_id(), index, &block, &bytes);
    if (!s.ok()) return s;
    out->assign(bytes);
    *slices = std::move(block.slices);
    return s;
  };
}

Status Filesystem::AddBufferCommit(const Inode& inode, WriteBatch* batch,
                                   std::string* record) const {
  const FileBuffer& buffer = *inode.buffer;
  if (!buffer.in_blocks()) {
    *record = EncodeObject(buffer.attr(), buffer.inline_contents());
    return Status::OK();
  }
  if (buffer.dead_from() != FileBuffer::kNothingDropped) {
    Status s = AddBlockDeletes(buffer.file_id(), buffer.dead_from(), &buffer, batch);
    if (!s.ok()) return s;
  }
  const uint64_t id = buffer.file_id();
  for (const auto& [index, block] : buffer.dirty_blocks()) {
    if (FileBuffer::CommitsAsSlices(block)) {
      // The ranges written since the block was loaded, each a slice after
      // the stored ones.
      uint32_t seq = block.stored.seqs.empty() ? 1 : block.stored.seqs.back() + 1;
      for (const auto& [begin, end] : block.written) {
        batch->Put(SliceKey(id, index, seq++),
                   EncodeSlice(begin, std::string_view(block.bytes).substr(begin, end - begin)));
      }
      continue;
    }
    // Whole: the block replaces the stored one and its slices.
    if (block.bytes.empty()) {
      batch->Delete(BlockKey(id, index));
    } else {
      batch->Put(BlockKey(id, index), block.bytes);
    }
    if (index >= buffer.dead_from()) continue;  // AddBlockDeletes took its slices
    if (block.stored_known) {
      for (uint32_t seq : block.stored.seqs) batch->Delete(SliceKey(id, index, seq));
    } else {
      Status s = AddSliceDeletes(*store_, id, index, batch);
      if (!s.ok()) return s;
    }
  }
  *record = EncodeBlockedFile(buffer.attr(), buffer.file_id(), buffer.size());
  return Status::OK();
}

Status Filesystem::AddBlockDeletes(uint64_t file_id, uint64_t from, const FileBuffer* keep,
                                   WriteBatch* batch) const {
  const std::string end = BlockRangeEnd(file_id);
  std::unique_ptr<Iterator> it = store_->NewIterator();
  for (it->Seek(BlockKey(file_id, from)); it->Valid() && it->key() < end; it->Next()) {
    uint64_t id = 0, index = 0;
    uint32_t seq = 0;
    if (!ParseBlockKey(it->key(), &id, &index, &seq)) break;
    if (seq == 0 && keep && keep->DirtyBlock(index)) continue;  // put whole by the commit
    batch->Delete(it->key());
  }
  return it->status();
}

Status Filesystem::AddFileDataDeletes(const Object& object, const Inode* inode,
                                      WriteBatch* batch) const {
  if (inode && inode->buffer) {
    if (!inode->buffer->in_blocks()) return Status::OK();
    return AddBlockDeletes(inode->buffer->file_id(), 0, nullptr, batch);
  }
  if (!object.in_blocks) return Status::OK();
  return AddBlockDeletes(object.file_id, 0, nullptr, batch);
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
  // With POSIX ACLs the kernel leaves the umask to the filesystem
  // (FUSE_CAP_DONT_MASK): the directory's default ACL replaces it, if it has
  // one. A symlink's mode is always 0777 and it has no ACL.
  if (posix_acl() && !S_ISLNK(mode) &&
      !InheritDefaultAcl(dir.attr.xattrs, S_ISDIR(mode), &attr->mode, &attr->xattrs)) {
    attr->mode &= ~(ctx->umask & 0777);
  }
  return Status::OK();
}

// ---- Commits ----

namespace {
// Per request thread: set by Apply when the target reports a conflict, read by
// ReplyError and RetryOnConflict.
thread_local bool t_conflict = false;
thread_local bool t_reply_held = false;
}  // namespace

Status Filesystem::Apply(WriteBatch& batch, Durability durability) {
  batch.UseReserve();
  Status s = target_->Commit(batch, durability);
  applied_batches_.fetch_add(1, std::memory_order_release);
  if (IsConflict(s)) {
    t_conflict = true;
    spdlog::debug("{}", s.ToString());
  } else if (!s.ok()) {
    spdlog::error("store write failed: {}", s.ToString());
  }
  return s;
}

void Filesystem::ReplyError(fuse_req_t req, int err) {
  if (t_conflict && err == EAGAIN) {
    t_reply_held = true;  // RetryOnConflict runs the handler again
    return;
  }
  fuse_reply_err(req, err);
}

void Filesystem::RetryOnConflict(fuse_req_t req, const std::function<void()>& handler) {
  for (int attempt = 0;; ++attempt) {
    t_conflict = false;
    t_reply_held = false;
    handler();
    const bool retry = t_reply_held;
    t_conflict = t_reply_held = false;
    if (!retry) return;
    if (attempt + 1 >= kMaxConflictRetries) {
      spdlog::warn("a change lost the race to other mounts {} times; answering EAGAIN",
                   kMaxConflictRetries);
      fuse_reply_err(req, EAGAIN);
      return;
    }
  }
}

void Filesystem::Exclusive(const std::function<void()>& fn) {
  std::unique_lock<std::shared_mutex> ns(namespace_mutex_);
  fn();
}

void Filesystem::KeysChanged(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    if (key.empty()) continue;
    if (key == RootKey()) {
      invalidator_.InodeChanged(FUSE_ROOT_ID);
      continue;
    }
    if (key[0] == '\0') {  // a link body is an inode; blocks come with their record
      if (std::shared_ptr<Inode> inode = inodes_.Find(key)) invalidator_.InodeChanged(inode->ino);
      continue;
    }
    if (std::shared_ptr<Inode> inode = inodes_.Find(key)) invalidator_.InodeChanged(inode->ino);
    std::string path = key.back() == '/' ? key.substr(0, key.size() - 1) : key;
    size_t slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    fuse_ino_t parent = FUSE_ROOT_ID;
    if (slash != std::string::npos) {
      std::shared_ptr<Inode> dir = inodes_.Find(DirKey(path.substr(0, slash)));
      if (!dir) continue;  // the kernel knows nothing below an unknown directory
      parent = dir->ino;
    }
    invalidator_.EntryChanged(parent, name);
    invalidator_.InodeChanged(parent);
  }
}

Status Filesystem::AdmitBytes(uint64_t bytes) {
  // A statvfs at most every 50 ms while the budget lasts, and before any
  // refusal.
  constexpr int64_t kStaleNs = 50'000'000;
  const int64_t want = static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX / 4));
  for (int attempt = 0;; ++attempt) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    const uint64_t batches = applied_batches_.load(std::memory_order_acquire);
    uint64_t writable = 0, dirty = 0;
    {
      std::lock_guard<std::mutex> lock(budget_mutex_);
      if (attempt > 0 || now - budget_.at_ns > kStaleNs || budget_.left < want) {
        // In this order: a commit between the loads leaves the dirty bytes
        // too high or the free space too low, never the reverse.
        dirty = static_cast<uint64_t>(std::max<int64_t>(0, total_dirty_.load()));
        writable = store_->WritableBytes();
        budget_.at_ns = now;
        budget_.left = writable == UINT64_MAX ? INT64_MAX / 2
                       : writable > dirty
                           ? static_cast<int64_t>(std::min<uint64_t>(writable - dirty, INT64_MAX / 2))
                           : 0;
      }
      if (budget_.left >= want) {
        budget_.left -= want;
        return Status::OK();
      }
    }
    // Before refusing: a commit in flight has written its bytes but not yet
    // dropped them from the dirty count, which then counts them twice. Wait
    // for it (briefly) and measure again.
    const bool raced = commits_in_flight_.load(std::memory_order_acquire) > 0 ||
                       applied_batches_.load(std::memory_order_acquire) != batches;
    if (!raced || attempt >= 100) {
      return Status::NoSpace("no space for " + std::to_string(bytes) + " more bytes: " +
                             std::to_string(writable) + " writable, " + std::to_string(dirty) +
                             " of them taken by uncommitted data");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

uint64_t Filesystem::FreeBytes() {
  const uint64_t writable = store_->WritableBytes();
  if (writable == UINT64_MAX) return writable;
  const uint64_t dirty = static_cast<uint64_t>(std::max<int64_t>(0, total_dirty_.load()));
  return writable > dirty ? writable - dirty : 0;
}

Status Filesystem::CommitLocked(Inode& inode, Durability durability) {
  if (!inode.buffer) {
    // Unconditionally: Sync is free when nothing is pending, and a sync that
    // another thread has started may not cover this inode's last commit.
    return durability == Durability::kDurable ? target_->Sync() : Status::OK();
  }
  std::string key = inodes_.KeyOf(inode);
  if (key.empty()) return Status::OK();  // an orphan: nothing to keep
  // One batch: the dirty blocks, the deletes of dropped ones and the record,
  // so after a crash the file is as of one commit.
  WriteBatch batch;
  std::string record;
  Status s = AddBufferCommit(inode, &batch, &record);
  if (!s.ok()) return s;
  batch.Put(key, std::move(record));
  // From the write to the buffer's end its bytes are both on disk and dirty
  // (see AdmitBytes).
  commits_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  s = Apply(batch, durability);
  if (s.ok()) {
    inode.buffer.reset();
    inodes_.SetDirty(inode, false);
  }
  commits_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  return s;
}

Status Filesystem::Commit(Inode& inode, Durability durability) {
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::unique_lock<std::shared_mutex> lock(inode.mutex);
  return CommitLocked(inode, durability);
}

Status Filesystem::CommitAll(Durability durability) {
  // Every dirty buffer, at every interval: a commit logs only what changed
  // since the last one (a file being streamed costs its new blocks, never a
  // rewrite of what is already stored).
  Status first_error;
  for (const std::shared_ptr<Inode>& inode : inodes_.Dirty()) {
    std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
    std::unique_lock<std::shared_mutex> lock(inode->mutex);
    Status s = CommitLocked(*inode, Durability::kBuffered);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  if (durability == Durability::kDurable) {
    // Unconditionally (free when nothing is pending): an fsync(dir) racing
    // with the committer's sync must not return before its data is on disk.
    Status s = target_->Sync();
    if (!s.ok() && first_error.ok()) first_error = s;
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
  // POSIX ACLs: the kernel enforces them (reading system.posix_acl_* through
  // getxattr) and this daemon keeps them in step with the mode and applies
  // default ACLs and the umask at create (fs/posix_acl.h).
  if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
    conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
    posix_acl_.store(true);
  } else {
    spdlog::warn("the kernel offers no POSIX ACL support: system.posix_acl_* are refused");
  }
  conn->time_gran = 1;
  // Large sequential I/O: up to 1 MiB per read and write request (libfuse
  // raises max_pages to match), and readahead of as much.
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
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
  // Free space net of the store's reserve and of the uncommitted data: what
  // writes can still fill before ENOSPC.
  if (const uint64_t free = FreeBytes(); free != UINT64_MAX && st.f_frsize > 0) {
    st.f_bfree = st.f_bavail = std::min<uint64_t>(st.f_bavail, free / st.f_frsize);
  }
  StoreStats stats = store_->GetStats();
  st.f_files = stats.keys + st.f_ffree;
  // The limits (pathconf(_PC_NAME_MAX) reads f_namemax): names of 255 bytes;
  // the preferred I/O size is a data block (f_frsize stays the disk's, the
  // unit of f_blocks). Paths (4095 bytes) and the file size (16 TiB) have no
  // statfs field: see fs/README.md.
  st.f_namemax = kMaxNameBytes;
  st.f_bsize = kBlockBytes;
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
                   fuse_file_info* fi) { Filesystem* fs = Self(req, Request::kSetAttr);
    Filesystem::RetryOnConflict(req, [&] { fs->SetAttr(req, ino, attr, to_set, fi); }); };
  ops.readlink = [](fuse_req_t req, fuse_ino_t ino) { Self(req, Request::kReadLink)->ReadLink(req, ino); };
  ops.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    Filesystem* fs = Self(req, Request::kMkNod);
    Filesystem::RetryOnConflict(req, [&] { fs->MkNod(req, parent, name, mode, rdev); });
  };
  ops.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Filesystem* fs = Self(req, Request::kMkDir);
    Filesystem::RetryOnConflict(req, [&] { fs->MkDir(req, parent, name, mode); });
  };
  ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Filesystem* fs = Self(req, Request::kUnlink);
    Filesystem::RetryOnConflict(req, [&] { fs->Unlink(req, parent, name); });
  };
  ops.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    Filesystem* fs = Self(req, Request::kRmDir);
    Filesystem::RetryOnConflict(req, [&] { fs->RmDir(req, parent, name); });
  };
  ops.symlink = [](fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    Filesystem* fs = Self(req, Request::kSymlink);
    Filesystem::RetryOnConflict(req, [&] { fs->Symlink(req, target, parent, name); });
  };
  ops.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned int flags) {
    Filesystem* fs = Self(req, Request::kRename);
    Filesystem::RetryOnConflict(req, [&] { fs->Rename(req, parent, name, newparent, newname, flags); });
  };
  ops.link = [](fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    Filesystem* fs = Self(req, Request::kLink);
    Filesystem::RetryOnConflict(req, [&] { fs->Link(req, ino, newparent, newname); });
  };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Self(req, Request::kOpen)->Open(req, ino, fi);
  };
  ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  fuse_file_info* fi) { Filesystem* fs = Self(req, Request::kCreate);
    Filesystem::RetryOnConflict(req, [&] { fs->Create(req, parent, name, mode, fi); }); };
  ops.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Self(req, Request::kRead)->Read(req, ino, size, off, fi);
  };
  ops.write = [](fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                 fuse_file_info* fi) { Filesystem* fs = Self(req, Request::kWrite);
    Filesystem::RetryOnConflict(req, [&] { fs->Write(req, ino, buf, size, off, fi); }); };
  ops.flush = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem* fs = Self(req, Request::kFlush);
    Filesystem::RetryOnConflict(req, [&] { fs->Flush(req, ino, fi); });
  };
  ops.release = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem* fs = Self(req, Request::kRelease);
    Filesystem::RetryOnConflict(req, [&] { fs->Release(req, ino, fi); });
  };
  ops.fsync = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    Filesystem* fs = Self(req, Request::kFsync);
    Filesystem::RetryOnConflict(req, [&] { fs->Fsync(req, ino, datasync, fi); });
  };
  ops.lseek = [](fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
    Self(req, Request::kLseek)->Lseek(req, ino, off, whence, fi);
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
    Filesystem* fs = Self(req, Request::kFsyncDir);
    Filesystem::RetryOnConflict(req, [&] { fs->FsyncDir(req, ino, datasync, fi); });
  };
  ops.fallocate = [](fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                     fuse_file_info* fi) {
    Filesystem* fs = Self(req, Request::kFallocate);
    Filesystem::RetryOnConflict(req, [&] { fs->Fallocate(req, ino, mode, offset, length, fi); });
  };
  ops.setxattr = [](fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                    size_t size, int flags) {
    Filesystem* fs = Self(req, Request::kSetXattr);
    Filesystem::RetryOnConflict(req, [&] { fs->SetXattr(req, ino, name, value, size, flags); });
  };
  ops.getxattr = [](fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    Self(req, Request::kGetXattr)->GetXattr(req, ino, name, size);
  };
  ops.listxattr = [](fuse_req_t req, fuse_ino_t ino, size_t size) {
    Self(req, Request::kListXattr)->ListXattr(req, ino, size);
  };
  ops.removexattr = [](fuse_req_t req, fuse_ino_t ino, const char* name) {
    Filesystem* fs = Self(req, Request::kRemoveXattr);
    Filesystem::RetryOnConflict(req, [&] { fs->RemoveXattr(req, ino, name); });
  };
  return ops;
}();

}  // namespace

const fuse_lowlevel_ops& Filesystem::Operations() { return kOps; }

}  // namespace alexfs::fs
