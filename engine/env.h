/// @file env.h
/// @brief Env: every file operation the engine makes, behind one interface.
///
/// The store, its log segments, the MANIFEST and the LOCK reach the disk only
/// through an Env: files are opened, read, written (pwritev), allocated
/// (fallocate), truncated, synced (fdatasync/fsync) and mapped through a File;
/// directories are created, listed, synced (fsync) and their entries renamed
/// and removed through the Env itself. Env::Default() is the POSIX
/// implementation (engine/env_posix.cc). Tests substitute their own, e.g. the
/// fault-injection Env of tests/support/fault_env.h that simulates power cuts.
///
/// Thread-safety: an Env is shared by every thread of a store and must be
/// thread-safe. A File may be used by several threads at once for different
/// byte ranges (pwrite semantics); Map/Unmap, Truncate and the syncs may run
/// concurrently with writes.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "status.h"

namespace alexfs {

/// An open file of an Env: positioned reads and writes, syncs and mappings.
class File {
 public:
  virtual ~File() = default;

  /// The path the file was opened with (for messages).
  virtual const std::string& path() const = 0;

  /// pread: up to n bytes at `offset` into buf; *got < n only at end of file.
  virtual Status ReadAt(uint64_t offset, char* buf, size_t n, size_t* got) = 0;
  /// pwritev of the whole vector at `offset` (short writes are continued).
  /// On error *written says how many bytes did land.
  virtual Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt,
                         uint64_t* written) = 0;
  /// Allocates [0, size) (fallocate, mode 0). NotSupported where the
  /// filesystem cannot (NFS, FUSE): callers fall back to Truncate.
  virtual Status Allocate(uint64_t size) = 0;
  /// ftruncate.
  virtual Status Truncate(uint64_t size) = 0;
  /// fdatasync: the data written so far and the size survive a power cut.
  virtual Status DataSync() = 0;
  /// fsync: as DataSync, plus all metadata.
  virtual Status Sync() = 0;
  /// Current size, and bytes of blocks allocated to the file.
  virtual Status GetSize(uint64_t* size, uint64_t* allocated_bytes) = 0;
  /// Maps [0, len) MAP_SHARED, read-only or read-write. Unmap with Unmap().
  virtual Status Map(uint64_t len, bool writable, char** base) = 0;
  /// Unmaps a mapping Map() returned.
  virtual void Unmap(char* base, uint64_t len) = 0;
  /// Advises the kernel to start writing back [offset, offset + len): a hint.
  virtual void StartWriteback(uint64_t /*offset*/, uint64_t /*len*/) {}
};

/// How Env::OpenFile() opens a file.
enum class OpenMode {
  kRead,  ///< existing file, read-only
  kReadWrite,  ///< existing file
  kCreate,  ///< create or truncate to 0 bytes, read-write
};

/// The file system as the store sees it (see the file comment).
class Env {
 public:
  virtual ~Env() = default;

  /// The POSIX Env; lives for the whole process.
  static Env* Default();

  /// Opens `path` as `mode` says; NotFound if it must exist and does not.
  virtual Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) = 0;
  /// True if `path` names a directory.
  virtual bool IsDirectory(const std::string& path) = 0;
  /// mkdir -p.
  virtual Status CreateDirs(const std::string& dir) = 0;
  /// The names in `dir` (without "." and "..").
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  /// rename(2): replaces `to` atomically.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  /// unlink(2); NotFound if there is no such file.
  virtual Status Remove(const std::string& path) = 0;
  /// fsync of a directory: the names created, renamed and removed in it so
  /// far survive a power cut.
  virtual Status SyncDir(const std::string& dir) = 0;
  /// Locks `path` (created if missing) with flock(LOCK_EX|LOCK_NB) and writes
  /// the caller's pid into it; the lock lasts until *lock is destroyed. Busy,
  /// naming the holder's pid, if another open file description holds it.
  virtual Status LockFile(const std::string& path, std::unique_ptr<File>* lock) = 0;

  /// Capability: may the store append by storing into a read-write shared
  /// mapping of a segment (bypassing WriteAt)? An Env that must see every
  /// byte written (fault injection) says no; segments are then mapped
  /// read-only and every append goes through WriteAt.
  virtual bool AllowsMappedWrites() const { return true; }

  /// Bytes free on the filesystem holding `dir` (statvfs: f_bavail ×
  /// f_frsize), for the store's reserve and segment sizing. NotSupported
  /// where the Env cannot tell; the store then assumes there is room.
  virtual Status FreeSpace(const std::string& /*dir*/, uint64_t* /*bytes*/) {
    return Status::NotSupported("free space unknown");
  }
};

/// Writes all of data[0, n) at `offset`.
Status WriteFileAt(File* f, uint64_t offset, const char* data, size_t n);
/// Reads the whole file at `path`.
Status ReadWholeFile(Env* env, const std::string& path, std::string* out);

}  // namespace alexfs
