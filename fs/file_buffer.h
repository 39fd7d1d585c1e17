// FileBuffer: a file's uncommitted state, held in the daemon.
//
// Writes, truncates and attribute changes of a regular file collect here and
// reach the store as one put of the whole value (header + bytes) when the file
// is committed: fsync/fdatasync (durable), close (flush/release), rename (in the
// rename's batch), the background commit interval, or unmount. Reads of the
// inode are served from the buffer while it exists. A 64 MiB file written in
// 128 KiB calls is thus copied into the buffer once and logged once, never
// rewritten per call.
//
// `value` is laid out exactly as the stored value: kHeaderBytes reserved for the
// header (filled in at commit), then the contents, so a commit moves the string
// into the write batch without copying it.
//
// Thread safety: none; guarded by its Inode's mutex.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fs/value_format.h"

namespace alexfs::fs {

class FileBuffer {
 public:
  using Clock = std::chrono::steady_clock;

  FileBuffer(const Attr& attr, std::string_view contents)
      : attr_(attr), dirty_since_(Clock::now()), last_change_(dirty_since_) {
    value_.reserve(kHeaderBytes + contents.size());
    value_.resize(kHeaderBytes);
    value_.append(contents);
  }

  Attr& attr() { return attr_; }
  const Attr& attr() const { return attr_; }
  uint64_t size() const { return value_.size() - kHeaderBytes; }
  std::string_view contents() const { return std::string_view(value_).substr(kHeaderBytes); }

  // Writes `data` at `offset`, zero-filling any hole. Growth is geometric, so a
  // file written front to back costs amortised O(1) per byte.
  void Write(uint64_t offset, std::string_view data) {
    const size_t end = kHeaderBytes + offset + data.size();
    if (end > value_.capacity()) Grow(end);
    if (offset == size()) {
      value_.append(data);  // appending (the common case): no zero-fill first
    } else {
      if (end > value_.size()) value_.resize(end);
      std::memcpy(value_.data() + kHeaderBytes + offset, data.data(), data.size());
    }
    last_change_ = Clock::now();
  }
  void Truncate(uint64_t size) {
    value_.resize(kHeaderBytes + size);
    if (value_.capacity() > 2 * value_.size() + 4096) value_.shrink_to_fit();
    last_change_ = Clock::now();
  }

  // When the buffer was created (first change since the last commit), and when
  // its bytes last changed: the background committer leaves a file that is
  // being written alone until it pauses, so streaming a large file is not
  // rewritten to the log every interval.
  Clock::time_point dirty_since() const { return dirty_since_; }
  Clock::time_point last_change() const { return last_change_; }

  // The encoded value, header included; the buffer is empty afterwards.
  std::string TakeValue() {
    EncodeHeaderInPlace(attr_, &value_);
    return std::move(value_);
  }
  // Puts back a value taken by TakeValue (a failed commit).
  void RestoreValue(std::string value) { value_ = std::move(value); }

 private:
  // Reserves at least `end` bytes (doubling). A large buffer asks for
  // transparent huge pages: filling fresh memory is dominated by page faults
  // (64 MiB is 16,384 faults of 4 KiB, each costly under virtualisation; with
  // 2 MiB pages, 32), measured 0.9 -> 0.3 s for a 64 MiB file. Advice only:
  // without THP ("never") nothing changes.
  void Grow(size_t end) {
    value_.reserve(std::max(end, value_.capacity() * 2));
    constexpr uintptr_t kHuge = uintptr_t{2} << 20;
    if (value_.capacity() < 2 * kHuge) return;
    const auto begin = reinterpret_cast<uintptr_t>(value_.data());
    const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t last = (begin + value_.capacity()) & ~(kHuge - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }

  Attr attr_;
  std::string value_;
  Clock::time_point dirty_since_;
  Clock::time_point last_change_;
};

}  // namespace alexfs::fs
