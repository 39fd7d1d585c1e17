// Filesystem: the FUSE low-level operations over an AlexStorage store.
//
// The mapping of paths to keys and values is in fs/value_format.h; inode
// numbers and lookup counts in fs/inode_table.h; uncommitted file data in
// fs/file_buffer.h. The operations are split by concept:
//   filesystem.cc   state, init/destroy/statfs, object access, commits, the
//                   background committer, the operation table
//   attr_ops.cc     getattr, setattr (permissions: the kernel, see mount.cc)
//   fallocate.cc    fallocate
//   xattr_ops.cc    setxattr, getxattr, listxattr, removexattr; POSIX ACLs
//   file_ops.cc     open, create, read, write, flush, release, fsync, lseek
//   namespace_ops.cc  lookup, forget, mknod, mkdir, symlink, readlink, unlink,
//                   rmdir, link
//   rename.cc       rename (plain, RENAME_NOREPLACE, RENAME_EXCHANGE)
//   readdir.cc      opendir, readdir, readdirplus, releasedir, fsyncdir
//
// Durability. Namespace changes (create, mkdir, unlink, rename, link, setattr,
// ...) are written to the store at once as one atomic batch, buffered (in the
// OS page cache: they survive a crash of this daemon, not of the machine). File
// contents collect in per-inode buffers and are committed by fsync/fdatasync
// (durable), by rename of the file (in the rename's batch), every
// commit_interval by a background thread (which then syncs the store, bounding
// what a machine crash can lose), and at unmount; with -o commit_on_close also
// by close (flush/release: buffered). fsync on a directory commits and syncs
// everything.
//
// Open ("no_open", the default). open and flush answer ENOSYS: the kernel
// then sends no open/flush/release for files at all, keeps the page cache
// across opens (FOPEN_KEEP_CACHE is its default then), and a cached cat costs
// no round trip. opendir stays answered (measured faster; see Init).
// Consequences: fi->fh is 0 (no per-handle state exists anyway); open counts
// are not known (orphans keep their bytes until the kernel forgets them);
// atomic_o_trunc must be off so that open(O_TRUNC) arrives as a setattr of the
// size (with it on and no open sent, the truncate would be lost).
//
// Caching. Every change passes through this daemon and the kernel sees each
// one, so entries, attributes and negative entries get long timeouts; open sets
// keep_cache (the kernel's page cache stays valid: writes and truncates go
// through it) and opendir sets cache_readdir + keep_cache. The kernel drops a
// cached listing itself when the directory changes through this mount, but not
// always while a multi-page listing is being cached: every change to a
// directory (TouchDir) therefore also queues it on invalidator_, whose thread
// calls fuse_lowlevel_notify_inval_inode (never from inside a handler, which
// may hold namespace_mutex_ while the kernel holds the directory's lock).
//
// Threads and locks. The session loop runs handlers on many threads.
//   namespace_mutex_ (shared_mutex): exclusive for every change of the
//     namespace or of a directory's marker (create, mkdir, unlink, rmdir,
//     rename, link, symlink, mknod, setattr of a directory); shared for
//     everything that reads or writes an existing object by key (lookup,
//     getattr, read, write, commits, readdir). So an object's key cannot change
//     under an operation using it.
//   Inode::mutex: the inode's file buffer.
//   InodeTable's mutex, DirCookies' mutex: leaves.
// Lock order: namespace_mutex_ -> Inode::mutex -> InodeTable / DirCookies.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/store.h"
#include "fs/change_target.h"
#include "fs/inode_table.h"
#include "fs/invalidator.h"
#include "fs/request_counts.h"
#include "fs/value_format.h"

namespace alexfs::fs {

// Entry, attribute and negative-entry timeout, seconds. Long, because every
// change passes through this daemon and the kernel sees it (see "Caching").
inline constexpr double kCacheTimeout = 86400.0;

struct FilesystemOptions {
  std::string data_dir;  // for statfs
  // How often dirty file buffers are committed (each commit logs only what
  // changed) and the store synced. Zero: only on fsync, close, rename, unmount
  // and the memory bound.
  std::chrono::milliseconds commit_interval{1000};
  // Strict mode (-o commit_on_close): answer open, flush and release, and
  // commit a file's buffer when it is closed. Off (the default): open and flush
  // answer ENOSYS, so the kernel stops sending open, flush and release for
  // files and serves cached reads without this daemon ("no_open", see
  // fs/README.md); closed data is committed by the interval, fsync, rename or
  // unmount.
  bool commit_on_close = false;
  // Memory bound on uncommitted file data (-o max_dirty_mb, max_file_dirty_mb).
  // A write that leaves its file with more dirty bytes than max_file_dirty_bytes,
  // or all files with more than max_dirty_bytes, commits that file (buffered)
  // before it returns, so buffers never grow past about these limits.
  uint64_t max_dirty_bytes = uint64_t{256} << 20;
  uint64_t max_file_dirty_bytes = uint64_t{64} << 20;
  // Where changes go (fs/change_target.h); null: the store itself. Must
  // outlive the Filesystem. Fleet mode passes its etcd-backed target.
  ChangeTarget* target = nullptr;
};

class Filesystem final : public RemoteChangeSink {
 public:
  // `store` must outlive the Filesystem.
  Filesystem(Store* store, FilesystemOptions options);
  ~Filesystem() override;
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Creates the root's attributes in a new store, loads counters and starts the
  // background committer. Call once before mounting.
  Status Start();
  // Stops the committer, commits every dirty buffer and syncs the store. Call
  // after the session loop has returned (no handler runs any more).
  Status Shutdown();

  // RemoteChangeSink (fs/change_target.h): the entry points of a target that
  // applies other mounts' changes to the store.
  void Exclusive(const std::function<void()>& fn) override;
  void KeysChanged(const std::vector<std::string>& keys) override;

  // Runs `handler` (one request's handler) again while its commit lost a race
  // to another mount (Conflict from the target; the store has caught up, so the
  // re-run sees fresh data), up to kMaxConflictRetries times, then answers
  // EAGAIN. A handler's error reply for a conflict goes through ReplyError,
  // which holds it back when a retry will follow.
  static constexpr int kMaxConflictRetries = 8;
  static void RetryOnConflict(fuse_req_t req, const std::function<void()>& handler);
  // fuse_reply_err, except for a conflict that RetryOnConflict will retry.
  static void ReplyError(fuse_req_t req, int err);

  // The operation table handed to fuse_session_new; userdata is the Filesystem.
  static const fuse_lowlevel_ops& Operations();

  // Starts / stops telling the kernel which directories changed (fs/invalidator.h):
  // start once the session exists, stop before it is destroyed.
  void StartInvalidator(fuse_session* session) { invalidator_.Start(session); }
  void StopInvalidator() { invalidator_.Stop(); }

  // Requests received so far, per kind (every entry of Operations() counts
  // its request before handling it). Thread-safe.
  void CountRequest(Request kind) { requests_.Add(kind); }
  RequestTotals Requests() const { return requests_.Totals(); }

  // ---- Operations (called through Operations()) ----
  void Init(fuse_conn_info* conn);
  void StatFs(fuse_req_t req, fuse_ino_t ino);

  void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);

  // Extended attributes (fs/xattr_format.h: namespaces, limits; fs/posix_acl.h:
  // ACLs), stored in the object's record with its attributes.
  void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags);
  void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
  void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size);
  void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name);

  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi);
  void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi);
  void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
  // SEEK_DATA / SEEK_HOLE (holes: missing blocks, and the zeros after a
  // short block's end); other whence values are the kernel's.
  void Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi);
  // Mode 0 (extend), KEEP_SIZE, PUNCH_HOLE | KEEP_SIZE; EOPNOTSUPP for the
  // rest (fs/fallocate.cc).
  void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi);

  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
  void ReadLink(fuse_req_t req, fuse_ino_t ino);
  void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
  void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name);
  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags);

  void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
               bool plus);
  void ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void FsyncDir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);

 private:
  // An object found in the store, with its record pinned.
  struct Object {
    std::string key;  // where its header lives (a link body's key for linked files)
    Attr attr;
    uint64_t size = 0;
    std::string_view bytes;  // inline contents; valid while `pin` lives
    bool in_blocks = false;  // a regular file whose data is in blocks of file_id
    uint64_t file_id = 0;
    PinnedValue pin;
    std::optional<uint64_t> link_id;  // set if reached through a link pointer
  };
  // A name in a directory, resolved.
  struct Entry {
    std::string path;         // "a/b"
    std::string stored_key;   // the key under that name: "a/b" or "a/b/"
    Object object;            // object.key is the inode key
    bool is_dir() const { return object.attr.is_dir(); }
  };

  // ---- Object access (filesystem.cc) ----
  // The inode numbered `ino`, or null after replying ENOENT (the kernel named
  // an inode it had forgotten).
  std::shared_ptr<Inode> InodeOrReply(fuse_req_t req, fuse_ino_t ino) const;
  // Reads the object at `key`, following a link pointer to its body.
  // NotFound if absent; EIO if the value is not one we understand.
  Status ReadObject(const std::string& key, Object* out) const;
  // Resolves `name` in the directory at `dir_path`: the file key first, then
  // the directory marker. NotFound if neither exists.
  Status ResolveName(const std::string& dir_path, std::string_view name, Entry* out) const;
  // The path of directory inode `dir` ("" for the root); ENOENT if it was
  // removed, ENOTDIR if it is not a directory.
  int DirPathOf(fuse_ino_t dir, std::string* path) const;
  // The stored object of `inode`: at its key, or an orphan's pinned old value
  // (ESTALE if it has none). REQUIRES: namespace_mutex_ held, inode.mutex held.
  Status ReadInodeObject(Inode& inode, Object* out) const;
  // Attributes and size of `inode`, from its buffer if it has one.
  // REQUIRES: namespace_mutex_ held (any mode), inode.mutex held (any mode).
  Status StatInode(Inode& inode, Attr* attr, uint64_t* size) const;
  // Makes sure a regular file's inode has a buffer. An inline file's bytes are
  // loaded unless `load_inline` is false (they are about to be dropped); a file
  // in blocks loads nothing. A stored inline file larger than kInlineMaxBytes
  // (written before blocks existed) moves to blocks here.
  // REQUIRES: namespace_mutex_ held (any mode), inode.mutex held exclusively.
  Status EnsureBuffer(Inode& inode, bool load_inline = true);
  // Gives `inode` a buffer holding `object` (a regular file).
  Status NewBuffer(Inode& inode, const Object& object, bool load_inline);
  // Encodes `object`'s record with attributes `attr` (inline or in blocks).
  static std::string EncodeRecord(const Object& object, const Attr& attr);

  // ---- Attribute changes (attr_ops.cc) ----
  // A change of an object's attributes: `attr` to change in place, `buffer` the
  // regular file's buffer (null for other objects). An error stores nothing.
  using AttrChange = std::function<Status(Attr* attr, FileBuffer* buffer)>;
  // Applies `change` to `inode`'s object and stores the result, as setattr
  // does: a directory's marker is rewritten under namespace_mutex_ held
  // exclusively (create and unlink in it rewrite it too); a regular file
  // changes through its buffer (inline bytes loaded unless `load_inline` is
  // false), committed at once unless it is being written or `defer_commit`
  // (with no_open: then it is committed with the file's next commit, or by
  // the committer within the interval); other objects rewrite their small
  // value. Sets *attr and *size to the result. Takes the locks it needs.
  Status ChangeAttr(Inode& inode, bool load_inline, const AttrChange& change, Attr* attr,
                    uint64_t* size, bool defer_commit = false);

  // ---- Blocks (filesystem.cc) ----
  // A new, never used file id. The ids are reserved in the store in ranges
  // before use, so an id is never handed out twice, even across a crash.
  Status NewFileId(uint64_t* id);
  // Block `index` of file `file_id` as stored (slices merged): a view into
  // *block, or into the orphan inode's own copy; empty for a hole.
  // REQUIRES: inode.mutex held (any mode).
  Status ReadBlock(const Inode& inode, uint64_t file_id, uint64_t index, StoredBlock* block,
                   std::string_view* out) const;
  // What reads see of a regular file: its buffer if it has one, else its
  // stored record (pinned in `object`).
  struct FileView {
    const FileBuffer* buffer = nullptr;
    Object object;
    uint64_t size = 0;
    bool in_blocks = false;
    uint64_t file_id = 0;
    std::string_view inline_contents;  // !in_blocks
  };
  // EINVAL if `inode` is not a regular file.
  // REQUIRES: namespace_mutex_ and inode.mutex held (any mode) while *view is used.
  Status ViewFile(Inode& inode, FileView* view) const;
  // A regular file's inode with both locks held shared and its view (the
  // preamble of read and lseek).
  struct ReadableFile {
    std::shared_ptr<Inode> inode;
    std::shared_lock<std::shared_mutex> ns;
    std::shared_lock<std::shared_mutex> lock;
    FileView view;
  };
  // Fills *file and returns true, or replies the error and returns false.
  bool ReadableFileOrReply(fuse_req_t req, fuse_ino_t ino, ReadableFile* file);
  // Block `index` of a viewed file in blocks: the dirty block, the stored one
  // (held by *block), or empty for a hole.
  Status ViewBlock(const Inode& inode, const FileView& view, uint64_t index, StoredBlock* block,
                   std::string_view* out) const;
  // The loader a buffer of `inode` uses for partial block writes (copies).
  FileBuffer::BlockLoader LoaderFor(const Inode& inode);
  // Adds what committing `inode`'s buffer writes, except its record, to
  // `batch` (dirty blocks whole or as slices, deletes of the slices a whole
  // block replaces and of dropped blocks) and sets *record to the
  // record to put under the file's key. The buffer is unchanged.
  // REQUIRES: namespace_mutex_ held (any mode), inode.mutex held.
  Status AddBufferCommit(const Inode& inode, WriteBatch* batch, std::string* record) const;
  // Adds deletes of the stored blocks and slices of `file_id` from block
  // `from` on to `batch`, skipping the blocks `keep` holds dirty (it puts
  // them whole), not their slices.
  Status AddBlockDeletes(uint64_t file_id, uint64_t from, const FileBuffer* keep,
                         WriteBatch* batch) const;
  // Adds the deletes of every stored block of the file `object` (whose inode,
  // if the kernel knows it, is `inode`) to `batch`: the file is going away.
  Status AddFileDataDeletes(const Object& object, const Inode* inode, WriteBatch* batch) const;
  // Adds the directory at `dir_path`'s marker with mtime/ctime = now and nlink
  // changed by `nlink_delta` to `batch`.
  // REQUIRES: namespace_mutex_ held exclusively.
  Status TouchDir(const std::string& dir_path, int nlink_delta, int64_t now, WriteBatch* batch);
  // Checks a new name: ENAMETOOLONG, EEXIST if anything has it. Fills *path.
  int CheckNewName(const std::string& dir_path, const char* name, std::string* path) const;
  // Attributes for a new object created by `req` in `dir_path`: the caller's
  // uid/gid, or the directory's gid (and, for directories, S_ISGID) when the
  // directory has S_ISGID set.
  Status NewAttr(fuse_req_t req, const std::string& dir_path, mode_t mode, int64_t now,
                 Attr* attr);

  // Creates `name` in directory `parent` (create, mknod, mkdir, symlink), an
  // object of `mode` (type and permission bits) with `rdev` (devices) and
  // `bytes` (a symlink's target): checks
  // the name, makes the attributes, and writes the object with its parent's
  // touched marker (a new directory also raises the parent's nlink) in one
  // batch; then registers the entry in *e. Returns the new inode, or null after
  // replying the error. Takes namespace_mutex_ exclusively.
  std::shared_ptr<Inode> CreateObject(fuse_req_t req, fuse_ino_t parent, const char* name,
                                      mode_t mode, fuse_entry_param* e, dev_t rdev = 0,
                                      std::string_view bytes = {});

  // ---- Commits (filesystem.cc) ----
  // Writes `batch` to the store. Every write of the filesystem goes through
  // here, allowed to use the store's reserve: new data was admitted already
  // (AdmitBytes), and deletes, renames and attribute changes must work on a
  // full disk.
  Status Apply(WriteBatch& batch, Durability durability);
  // Space admission, as a delayed-allocation filesystem reserves at write
  // time: kNoSpace (ENOSPC) unless `bytes` more fit in Store::WritableBytes()
  // besides every dirty byte not yet committed. write(2) asks for its length,
  // creates for kCreateBytes. What was admitted is committed with the reserve
  // (Apply), so data a program was told is written never fails to commit for
  // lack of space. Thread-safe.
  Status AdmitBytes(uint64_t bytes);
  static constexpr uint64_t kCreateBytes = 4096;
  // Writable bytes the filesystem may still fill: WritableBytes() minus the
  // dirty bytes (UINT64_MAX: unknown). For statfs.
  uint64_t FreeBytes();
  // Commits `inode`'s buffer, if any, as one put.
  // REQUIRES: namespace_mutex_ held (any mode), inode.mutex held exclusively.
  Status CommitLocked(Inode& inode, Durability durability);
  // Takes ns shared + inode exclusive and commits.
  Status Commit(Inode& inode, Durability durability);
  // Commits every dirty buffer; with kDurable then syncs the store (always:
  // a sync another thread started may not cover what this one must).
  Status CommitAll(Durability durability);
  void CommitterLoop();

  // ---- Replies ----
  // Registers a lookup of `object` (named by the kernel) and fills *e.
  // REQUIRES: namespace_mutex_ held.
  void MakeEntry(const Object& object, fuse_entry_param* e);
  void FillEntryAttrs(Inode& inode, const Attr& attr, uint64_t size, fuse_entry_param* e);
  // Sends the entry of a just-created object (create/mkdir/mknod/symlink).
  std::shared_ptr<Inode> NewEntry(const std::string& key, const Attr& attr, uint64_t size,
                                  fuse_entry_param* e);

  // ---- Pieces of larger operations ----
  // A put of a rename, applied after all deletes. `folded` is set when the
  // value commits that inode's buffer (dropped once the batch is applied).
  struct PendingPut {
    std::string key;
    std::string value;
    std::shared_ptr<Inode> folded;
  };
  // Adds the move of the object `from` (a file, or a directory with everything
  // below it) to path `to_path`, stamping ctime = now: deletes of the old keys
  // to `deletes`, the new keys to `puts`.
  // REQUIRES: namespace_mutex_ held exclusively.
  Status MoveObject(const Entry& from, const std::string& to_path, int64_t now,
                    WriteBatch* deletes, std::vector<PendingPut>* puts);
  // Adds to `batch` what removing one name of `entry` does to its object: for a
  // linked file the body's nlink drops (the body goes at zero). Returns in
  // *orphan_key the inode key that loses its object (empty if none).
  // REQUIRES: namespace_mutex_ held exclusively.
  Status DropName(const Entry& entry, int64_t now, WriteBatch* batch, std::string* orphan_key);
  // Prepares `key`'s inode (if open) to outlive its object: loads its bytes
  // into its buffer. Call before the batch that removes the object.
  Status KeepOpenData(const std::string& key);
  // After the batch removing `key`'s object: its inode becomes an orphan, and
  // drops its buffer unless it is open.
  void OrphanInode(const std::string& key);
  // True if the directory at `dir_path` has no entries.
  bool DirIsEmpty(const std::string& dir_path) const;

  Store* const store_;
  const FilesystemOptions options_;
  LocalTarget local_target_;
  ChangeTarget* const target_;  // options_.target, or &local_target_
  InodeTable inodes_;

  mutable std::shared_mutex namespace_mutex_;
  uint64_t next_link_id_ = 1;  // GUARDED_BY(namespace_mutex_)

  std::mutex file_id_mutex_;
  uint64_t next_file_id_ = 1;       // GUARDED_BY(file_id_mutex_)
  uint64_t reserved_file_ids_ = 1;  // GUARDED_BY(file_id_mutex_): ids below are reserved

  // Dirty bytes of all file buffers (see FilesystemOptions::max_dirty_bytes).
  std::atomic<int64_t> total_dirty_{0};
  // Batches Apply has handed to the target, and file commits between their
  // Apply and the end of their buffer: a measurement that overlapped either
  // may count the committed bytes as dirty and as used (see AdmitBytes).
  std::atomic<uint64_t> applied_batches_{0};
  std::atomic<int> commits_in_flight_{0};
  // What writes may still add: Store::WritableBytes() (a statvfs) minus the
  // dirty bytes, when measured (steady ns), less what was admitted since. A
  // commit turns dirty bytes into used ones one for one, so it leaves the
  // budget as it is; AdmitBytes measures again when it is old or short.
  struct AdmitBudget {
    int64_t left = 0;
    int64_t at_ns = 0;
  };
  std::mutex budget_mutex_;
  AdmitBudget budget_;  // GUARDED_BY(budget_mutex_)

  // Decided in Init (before any other request): the kernel is told ENOSYS for
  // open and flush of files, and stops sending open, flush and release.
  std::atomic<bool> no_open_{false};
  bool no_open() const { return no_open_.load(std::memory_order_relaxed); }
  // Decided in Init: the kernel enforces POSIX ACLs (FUSE_CAP_POSIX_ACL) and
  // leaves the umask to this daemon (FUSE_CAP_DONT_MASK), which applies it
  // unless a default ACL governs the new object. Off: system.posix_acl_*
  // answer EOPNOTSUPP and the kernel applies the umask.
  std::atomic<bool> posix_acl_{false};
  bool posix_acl() const { return posix_acl_.load(std::memory_order_relaxed); }

  std::mutex committer_mutex_;
  std::condition_variable committer_cv_;
  bool stopping_ = false;  // GUARDED_BY(committer_mutex_)
  std::thread committer_;

  RequestCounts requests_;
  // Drops the kernel's cached listing of every directory that changes.
  Invalidator invalidator_;
};

// Maps a store Status to the errno the kernel gets: its errno, or EIO.
int ErrnoOf(const Status& s);

// An operation on an inode whose object was removed or replaced (an orphan
// holding no data). ESTALE, not ENOENT: the kernel may have resolved a path to
// the inode just before a rename replaced it (a reader opening "config" while a
// writer renames "config.tmp" over it); on ESTALE the VFS looks the path up
// again and retries the open or stat, which then finds the new file.
inline Status Removed() {
  return Status::WithErrno(Status::Code::kNotFound, ESTALE, "the object was removed or replaced");
}

}  // namespace alexfs::fs
