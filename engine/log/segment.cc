#include "engine/log/segment.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <spdlog/spdlog.h>

namespace alexfs::log {
namespace {

// Allocates [0, size) of f: fallocate, or where the filesystem has none, a
// sparse ftruncate (*allocated false).
Status Allocate(File* f, uint64_t size, bool* allocated) {
  *allocated = true;
  Status s = f->Allocate(size);
  if (s.code() == Status::Code::kNotSupported) {
    // NFS, FUSE filesystems: a sparse file instead. ENOSPC may then surface
    // at write time, so appends never store into the mapping (see Append).
    *allocated = false;
    s = f->Truncate(size);
  }
  return s;
}

}  // namespace

std::string SegmentFileName(uint32_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%06u.log", id);
  return buf;
}

bool ParseSegmentName(const std::string& name, uint32_t* id) {
  if (name.size() < 10 || name.substr(name.size() - 4) != ".log") return false;
  uint64_t v = 0;
  for (size_t i = 0; i + 4 < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  *id = static_cast<uint32_t>(v);
  return true;
}

Segment::Segment(Env* env, uint32_t id, SegmentKind kind, std::string path,
                 std::unique_ptr<File> file, char* base, bool writable_map, uint64_t capacity,
                 uint64_t file_size, bool allocated)
    : env_(env),
      id_(id),
      kind_(kind),
      path_(std::move(path)),
      file_(std::move(file)),
      base_(base),
      writable_map_(writable_map),
      capacity_(capacity),
      file_size_at_open_(file_size),
      allocated_(allocated) {}

Segment::~Segment() {
  file_->Unmap(base_, capacity_);
  if (obsolete_.load(std::memory_order_relaxed)) {
    Status s = env_->Remove(path_);
    if (!s.ok() && !s.IsNotFound()) {
      spdlog::error("alexfs: cannot delete obsolete segment: {}", s.ToString());
    }
  }
}

Status Segment::Create(Env* env, const std::string& dir, uint32_t id, SegmentKind kind,
                       uint64_t capacity, std::shared_ptr<Segment>* out) {
  std::string path = dir + "/" + SegmentFileName(id);
  std::unique_ptr<File> file;
  Status s = env->OpenFile(path, OpenMode::kCreate, &file);
  if (!s.ok()) return s;
  const bool writable = kind == SegmentKind::kLog && env->AllowsMappedWrites();
  bool allocated = false;
  s = Allocate(file.get(), capacity, &allocated);
  char* base = nullptr;
  if (s.ok()) s = file->Map(capacity, writable, &base);
  if (!s.ok()) {
    file.reset();
    (void)env->Remove(path);
    return s;
  }
  out->reset(new Segment(env, id, kind, std::move(path), std::move(file), base, writable, capacity,
                         0, allocated));
  return Status::OK();
}

Status Segment::OpenExisting(Env* env, const std::string& dir, uint32_t id, SegmentKind kind,
                             uint64_t map_at_least, std::shared_ptr<Segment>* out) {
  std::string path = dir + "/" + SegmentFileName(id);
  std::unique_ptr<File> file;
  Status s = env->OpenFile(path, OpenMode::kReadWrite, &file);
  if (!s.ok()) return s;
  uint64_t size = 0, allocated_bytes = 0;
  s = file->GetSize(&size, &allocated_bytes);
  if (!s.ok()) return s;
  const uint64_t map_len = std::max(size, map_at_least);
  const bool writable = map_at_least > 0 && kind == SegmentKind::kLog && env->AllowsMappedWrites();
  char* base = nullptr;
  s = file->Map(map_len, writable, &base);
  if (!s.ok()) return s;
  // Fully allocated if the blocks cover the file (fallocate'd earlier) and
  // the mapping does not reach beyond it.
  const bool allocated = map_len == size && allocated_bytes >= size;
  out->reset(new Segment(env, id, kind, std::move(path), std::move(file), base, writable, map_len,
                         size, allocated));
  return Status::OK();
}

Status Segment::Append(const RecordEncoder& enc, uint64_t offset, bool may_map) {
  // Readers may read these bytes as soon as the index holds their location:
  // the index stores locations with release and loads them with acquire
  // (engine/index/nodes.h), which orders this copy before those reads.
  if (may_map && writable_map_ && allocated_ && offset + enc.size() <= zeroed_until_ &&
      offset + enc.size() <= capacity_) {
    // Allocated and zero-filled: a store into the mapping allocates nothing.
    enc.CopyTo(const_cast<char*>(base_) + offset);
    return Status::OK();
  }
  std::vector<struct iovec> iov = enc.Iovecs();
  uint64_t written = 0;
  Status s = file_->WriteAt(offset, iov.data(), static_cast<int>(iov.size()), &written);
  if (!s.ok() && written > 0) {
    // Give back what part of the group did land: a partial record must not
    // linger where the next append (or recovery) would find it.
    std::vector<char> zeros(std::min<uint64_t>(written, 1 << 20), 0);
    for (uint64_t z = offset; z < offset + written;) {
      const size_t len = static_cast<size_t>(std::min<uint64_t>(zeros.size(), offset + written - z));
      if (!WriteFileAt(file_.get(), z, zeros.data(), len).ok()) break;
      z += len;
    }
  }
  return s;
}

Status Segment::WriteAt(uint64_t offset, const char* data, size_t n) {
  return WriteFileAt(file_.get(), offset, data, n);
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
    Status s = WriteFileAt(file_.get(), zeroed_until_, zeros.data(), n);
    if (!s.ok()) return s;
    zeroed_until_ += n;
  }
  return Status::OK();
}

Status Segment::Sync() { return file_->DataSync(); }

Status Segment::TruncateAndReserve(uint64_t size, uint64_t reserve) {
  Status s = file_->Truncate(size);
  if (!s.ok()) return s;
  allocated_ = allocated_ && size >= capacity_;
  if (reserve > size) {
    bool allocated = false;
    s = Allocate(file_.get(), reserve, &allocated);
    if (!s.ok()) return s;
    allocated_ = allocated && reserve >= capacity_;
  }
  return Sync();
}

Status Segment::Truncate(uint64_t size) {
  allocated_ = false;  // appends that follow (if any) extend the file with pwrite
  zeroed_until_ = std::min(zeroed_until_, size);
  return file_->Truncate(size);
}

}  // namespace alexfs::log
