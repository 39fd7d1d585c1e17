// Segment: one log file NNNNNN.log, preallocated and mapped once.
//
// All file access goes through an Env (engine/env.h). A segment is created
// with fallocate() to its capacity (on filesystems without fallocate: a sparse
// file, see Allocate in segment.cc) and mapped MAP_SHARED over that whole
// capacity, so appends become visible in the mapping without remapping: a
// view handed out earlier stays valid while the segment grows. Readers only
// ever get const views. The mapping is read-only, except for the log segment
// the writer appends to when the Env allows mapped writes
// (Env::AllowsMappedWrites). Appends go through File::WriteAt (pwritev),
// except small appends into a region of such a writable mapping that is
// allocated (fallocate) and already written with zeros (PrefillZeros): those
// are copied into the mapping, with no system call. Storing into such a page allocates no block,
// so it cannot fail with ENOSPC (which, through a mapping, would be SIGBUS);
// the page cache takes the bytes exactly as from pwritev, and fdatasync
// writes them back the same way.
//
// Lifetime: segments are shared (std::shared_ptr). The store's segment table
// holds one reference; every PinnedValue and iterator position holds one too. A
// segment dropped from the store (after compaction) is marked obsolete; its file
// is unlinked and its mapping released when the last reference goes.
//
// Thread-safety: base()/capacity()/id() are constant. Append/Sync/Truncate are
// called by one thread at a time (the commit leader, or the compactor for a
// segment it is building). The byte counters are atomics.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/env.h"
#include "engine/log/record.h"
#include "engine/status.h"

namespace alexfs::log {

enum class SegmentKind : uint8_t {
  kLog,     // appended in sequence order
  kSorted,  // written by compaction: key-sorted, ends with a footer
};

// "000042.log"
std::string SegmentFileName(uint32_t id);
// The id of a segment file name ("000042.log" -> 42); false for other names.
bool ParseSegmentName(const std::string& name, uint32_t* id);

class Segment {
 public:
  // Creates dir/NNNNNN.log with `capacity` bytes allocated (fallocate) and maps
  // it (read-write for a log segment if env allows mapped writes). On failure
  // no file is left behind. The name is not durable until the directory is
  // synced (WriteManifest does).
  static Status Create(Env* env, const std::string& dir, uint32_t id, SegmentKind kind,
                       uint64_t capacity, std::shared_ptr<Segment>* out);
  // Opens an existing segment. The mapping covers max(file size, map_at_least);
  // map_at_least > 0 marks the segment the writer will append to.
  static Status OpenExisting(Env* env, const std::string& dir, uint32_t id, SegmentKind kind,
                             uint64_t map_at_least, std::shared_ptr<Segment>* out);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  uint32_t id() const { return id_; }
  SegmentKind kind() const { return kind_; }
  const std::string& path() const { return path_; }
  std::string name() const { return SegmentFileName(id_); }
  const char* base() const { return base_; }
  // Bytes mapped; appends must stay below this.
  uint64_t capacity() const { return capacity_; }
  // Every block up to capacity() is allocated. REQUIRES: the appending thread.
  bool allocated() const { return allocated_; }
  // Size of the file at open (before any append).
  uint64_t file_size_at_open() const { return file_size_at_open_; }

  // Writes the encoded group at `offset`: copied into the mapping if the
  // range is allocated and zero-filled (see above), else with pwritev. On
  // error, zeroes whatever part was written (so no partial record remains) and
  // returns kNoSpace for ENOSPC. REQUIRES: offset + enc.size() <= capacity().
  // may_map false: always pwritev (see StoreImpl::CommitGroup for why).
  Status Append(const RecordEncoder& enc, uint64_t offset, bool may_map = true);
  // Writes data[0, n) at `offset` through the file (compaction's writer).
  Status WriteAt(uint64_t offset, const char* data, size_t n);
  // Starts writeback of [offset, offset + len) (a hint).
  void StartWriteback(uint64_t offset, uint64_t len) { file_->StartWriteback(offset, len); }
  Status Sync();  // fdatasync
  // Writes zeros over the preallocated space up to at least `end` (1 MiB at a
  // time, in 16 KiB writes) unless it was written already. fallocate leaves "unwritten"
  // extents; the first write into one changes file metadata, which makes the
  // next fdatasync commit the journal (~6 ms on ext4). Zeroing ahead of the
  // appends keeps a durable write to one data flush.
  // REQUIRES: only the appending thread calls it; nothing is appended beyond
  // the zeroed range without NoteWritten.
  Status PrefillZeros(uint64_t end);
  // The appending thread wrote [.., end).
  void NoteWritten(uint64_t end) { zeroed_until_ = std::max(zeroed_until_, end); }
  // Cuts the file to `size` bytes, then reallocates it to `reserve` (>= size)
  // so the region after `size` reads as zeros.
  Status TruncateAndReserve(uint64_t size, uint64_t reserve);
  // Cuts the file to `size`: a segment being sealed gives back its unused
  // space. Appends after it (if the next segment could not start) go through
  // pwrite, which extends the file again.
  Status Truncate(uint64_t size);

  // The file is unlinked when this object dies.
  void MarkObsolete() { obsolete_.store(true, std::memory_order_relaxed); }
  bool obsolete() const { return obsolete_.load(std::memory_order_relaxed); }

  // Accounting for compaction (bytes of records / bytes the index points to),
  // and the smallest sequence number of any record in the segment.
  std::atomic<uint64_t> data_bytes{0};
  std::atomic<uint64_t> live_bytes{0};
  std::atomic<uint64_t> min_sequence{UINT64_MAX};

  void NoteSequence(uint64_t seq) {
    uint64_t cur = min_sequence.load(std::memory_order_relaxed);
    while (seq < cur && !min_sequence.compare_exchange_weak(cur, seq, std::memory_order_relaxed)) {
    }
  }

 private:
  Segment(Env* env, uint32_t id, SegmentKind kind, std::string path, std::unique_ptr<File> file,
          char* base, bool writable_map, uint64_t capacity, uint64_t file_size, bool allocated);

  Env* const env_;
  const uint32_t id_;
  const SegmentKind kind_;
  const std::string path_;
  const std::unique_ptr<File> file_;
  char* const base_;
  const bool writable_map_;  // base_ is mapped read-write
  const uint64_t capacity_;
  const uint64_t file_size_at_open_;
  std::atomic<bool> obsolete_{false};
  uint64_t zeroed_until_ = 0;  // bytes known written (data or zeros); appending thread only
  bool allocated_;  // every block up to capacity_ is allocated; appending thread only
};

}  // namespace alexfs::log
