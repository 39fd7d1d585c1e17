#include "engine/log/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdio>
#include <vector>

#include <spdlog/spdlog.h>

namespace alexfs::log {
namespace {

// Allocates [0, size) of fd; falls back to ftruncate where fallocate is not
// supported (the file is then sparse, *allocated false, and ENOSPC may
// surface at write time).
int Allocate(int fd, uint64_t size, bool* allocated) {
  *allocated = true;
  if (size == 0) return 0;
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) return 0;
  int err = errno;
  if (err == EOPNOTSUPP || err == ENOSYS) {
    *allocated = false;
    if (::ftruncate(fd, static_cast<off_t>(size)) == 0) return 0;
    err = errno;
  }
  return err;
}

const char* MapFile(int fd, uint64_t len, int* err) {
  if (len == 0) return nullptr;
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  return static_cast<const char*>(p);
}

}  // namespace

std::string SegmentFileName(uint32_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%06u.log", id);
  return buf;
}

Segment::Segment(uint32_t id, SegmentKind kind, std::string path, int fd, const char* base,
                 uint64_t capacity, uint64_t file_size, bool allocated)
    : id_(id),
      kind_(kind),
      path_(std::move(path)),
      fd_(fd),
      base_(base),
      capacity_(capacity),
      file_size_at_open_(file_size),
      allocated_(allocated) {}

Segment::~Segment() {
  if (base_ != nullptr) ::munmap(const_cast<char*>(base_), capacity_);
  ::close(fd_);
  if (obsolete_.load(std::memory_order_relaxed)) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      spdlog::error("alexfs: cannot delete obsolete segment {}: {}", path_, std::strerror(errno));
    }
  }
}

Status Segment::Create(const std::string& dir, uint32_t id, SegmentKind kind, uint64_t capacity,
                       std::shared_ptr<Segment>* out) {
  std::string path = dir + "/" + SegmentFileName(id);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + path);
  bool allocated = false;
  int err = Allocate(fd, capacity, &allocated);
  const char* base = nullptr;
  if (err == 0) base = MapFile(fd, capacity, &err);
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Status::FromErrno(err, "allocate " + std::to_string(capacity) + " bytes for " + path);
  }
  out->reset(new Segment(id, kind, std::move(path), fd, base, capacity, 0, allocated));
  return Status::OK();
}

Status Segment::OpenExisting(const std::string& dir, uint32_t id, SegmentKind kind,
                             uint64_t map_at_least, std::shared_ptr<Segment>* out) {
  std::string path = dir + "/" + SegmentFileName(id);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + path);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t map_len = std::max(size, map_at_least);
  int err = 0;
  const char* base = MapFile(fd, map_len, &err);
  if (err != 0) {
    ::close(fd);
    return Status::FromErrno(err, "mmap " + path);
  }
  // Fully allocated if the blocks cover the file (fallocate'd earlier) and
  // the mapping does not reach beyond it.
  const bool allocated =
      map_len == size && static_cast<uint64_t>(st.st_blocks) * 512 >= size;
  out->reset(new Segment(id, kind, std::move(path), fd, base, map_len, size, allocated));
  return Status::OK();
}

Status Segment::Append(const RecordEncoder& enc, uint64_t offset, bool may_map) {
  // Readers may read these bytes as soon as the index holds their location:
  // the index stores locations with release and loads them with acquire
  // (engine/index/nodes.h), which orders this copy before those reads.
  if (may_map && allocated_ && offset + enc.size() <= zeroed_until_ &&
      offset + enc.size() <= capacity_) {
    // Allocated and zero-filled: a store into the mapping allocates nothing.
    enc.CopyTo(const_cast<char*>(base_) + offset);
    return Status::OK();
  }
  std::vector<struct iovec> iov = enc.Iovecs();
  size_t i = 0;
  uint64_t pos = offset;
  while (i < iov.size()) {
    int n = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    ssize_t w = ::pwritev(fd_, &iov[i], n, static_cast<off_t>(pos));
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // Give back what part of the group did land: a partial record must not
      // linger where the next append (or recovery) would find it.
      if (pos > offset) {
        std::vector<char> zeros(std::min<uint64_t>(pos - offset, 1 << 20), 0);
        for (uint64_t z = offset; z < pos;) {
          size_t len = static_cast<size_t>(std::min<uint64_t>(zeros.size(), pos - z));
          if (::pwrite(fd_, zeros.data(), len, static_cast<off_t>(z)) <= 0) break;
          z += len;
        }
      }
      return Status::FromErrno(err, "append to " + path_ + " at offset " + std::to_string(offset));
    }
    pos += static_cast<uint64_t>(w);
    size_t left = static_cast<size_t>(w);
    while (i < iov.size() && left >= iov[i].iov_len) {
      left -= iov[i].iov_len;
      ++i;
    }
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return Status::OK();
}

Status Segment::PrefillZeros(uint64_t end) {
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  // Written in small pieces: the page cache sizes its folios by the write
  // (large folios, ext4 on Linux >= 6.16), and every fdatasync writes back
  // each dirty folio whole. 1 MiB pieces made each small durable write cost
  // a 1 MiB device write; 16 KiB pieces cost 16 KiB.
  constexpr uint64_t kPiece = uint64_t{16} << 10;
  if (end <= zeroed_until_) return Status::OK();
  static const std::vector<char> zeros(kPiece, 0);
  const uint64_t target = std::min(capacity_, (end + kChunk - 1) / kChunk * kChunk);
  while (zeroed_until_ < target) {
    const size_t n = static_cast<size_t>(std::min(kPiece, target - zeroed_until_));
    ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(zeroed_until_));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "zero-fill " + path_);
    }
    zeroed_until_ += static_cast<uint64_t>(w);
  }
  return Status::OK();
}

Status Segment::Sync() {
  if (const int e = g_inject_sync_errno.load(std::memory_order_relaxed); e != 0) {
    return Status::FromErrno(e, "fdatasync " + path_ + " (injected)");
  }
  if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
  return Status::OK();
}

Status Segment::TruncateAndReserve(uint64_t size, uint64_t reserve) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "truncate " + path_);
  }
  allocated_ = allocated_ && size >= capacity_;
  if (reserve > size) {
    bool allocated = false;
    int err = Allocate(fd_, reserve, &allocated);
    if (err != 0) return Status::FromErrno(err, "allocate " + path_);
    allocated_ = allocated && reserve >= capacity_;
  }
  return Sync();
}

Status Segment::Truncate(uint64_t size) {
  allocated_ = false;  // sealed: no appends follow
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "truncate " + path_);
  }
  return Status::OK();
}

}  // namespace alexfs::log
