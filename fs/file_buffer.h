// FileBuffer: a regular file's uncommitted state, held in the daemon.
//
// Writes, truncates and attribute changes of a regular file collect here and
// reach the store as ONE atomic batch when the file is committed: fsync/
// fdatasync (durable), close (commit_on_close), rename (in the rename's batch),
// the background commit interval, unmount, or when the file's dirty data passes
// its limit (see Filesystem::Write). Reads of the inode are served from the
// buffer where it has the bytes.
//
// Two layouts, as in the store (fs/value_format.h):
//   inline  the whole content (at most kInlineMaxBytes), rewritten whole at
//           commit; small files cost one record.
//   blocks  only the blocks a write touched ("dirty"), each holding the block's
//           whole content (a partial write first loads the stored block,
//           merged with its slices), plus dead_from(): stored blocks at that
//           index or later were dropped by a truncate and read as holes. A
//           commit logs, per dirty block, either the byte ranges written since
//           it was loaded, as slices (when they are few and small: see
//           CommitsAsSlices), or the block whole (deleting its slices); then
//           deletes the dropped blocks and rewrites the file's small record.
// A file moves to blocks (MoveToBlocks) when it grows past kInlineMaxBytes and
// stays there.
//
// Invariants: no dirty block holds a byte at or past size(); dirty blocks are
// at most kBlockBytes long. The bytes of a block past its length, up to the
// file's size, are zeros.
//
// Every buffer adds its dirty bytes to a counter shared by all buffers
// (Filesystem's total, for the memory bound), and takes them out when it goes.
//
// Thread safety: none; guarded by its Inode's mutex (the shared counter is
// atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "fs/stored_block.h"
#include "fs/value_format.h"

namespace alexfs::fs {

class FileBuffer {
 public:
  // Loads the stored block `index`: a copy of its content (base and slices
  // merged; empty for a hole) and the slices stored under it.
  using BlockLoader =
      std::function<Status(uint64_t index, std::string* out, BlockSlices* slices)>;
  // A dirty block.
  struct Block {
    std::string bytes;  // the block's whole content
    // True: the commit writes `bytes` whole. False: `bytes` is the stored
    // block with the writes in `written` applied, and the commit may log just
    // those ranges as slices after `stored`.
    bool whole = true;
    std::map<uint32_t, uint32_t> written;  // [begin, end) ranges, disjoint, not touching
    // The slices stored under this block, if `stored_known`; else the commit
    // looks them up to delete them.
    BlockSlices stored;
    bool stored_known = false;
  };
  static constexpr uint64_t kNothingDropped = std::numeric_limits<uint64_t>::max();

  // An inline file with these contents.
  FileBuffer(const Attr& attr, std::string_view contents, std::atomic<int64_t>* total_dirty);
  // A file in blocks under `file_id`, nothing loaded.
  FileBuffer(const Attr& attr, uint64_t file_id, uint64_t size,
             std::atomic<int64_t>* total_dirty);
  ~FileBuffer();
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  Attr& attr() { return attr_; }
  const Attr& attr() const { return attr_; }
  uint64_t size() const { return size_; }
  bool in_blocks() const { return in_blocks_; }
  // The bytes the buffer holds (inline contents, dirty blocks).
  uint64_t dirty_bytes() const { return dirty_bytes_; }

  // Inline layout only.
  std::string_view inline_contents() const { return contents_; }

  // Blocks layout only.
  uint64_t file_id() const { return file_id_; }
  const std::map<uint64_t, Block>& dirty_blocks() const { return blocks_; }
  // The content of dirty block `index`, or null.
  const std::string* DirtyBlock(uint64_t index) const;
  // True if the commit logs `block` as slices (one per written range): it was
  // loaded and only written since, and its slices stay within kMaxSlices and
  // kMaxSliceBytes.
  static bool CommitsAsSlices(const Block& block);
  uint64_t dead_from() const { return dead_from_; }

  // Inline -> blocks under a new, unused `file_id`: the contents become dirty
  // blocks, and no stored block is live (the id has none).
  void MoveToBlocks(uint64_t file_id);

  // Writes `data` at `offset`. Inline: REQUIRES offset + size <= kInlineMaxBytes.
  // Blocks: a block written only in part is loaded first with `load`.
  Status Write(uint64_t offset, std::string_view data, const BlockLoader& load);
  // Sets the size. Inline: REQUIRES size <= kInlineMaxBytes. Blocks: growing
  // adds a hole; shrinking drops the blocks past the end (never reading them)
  // and trims the new last block, loading it if it is not dirty.
  Status Truncate(uint64_t size, const BlockLoader& load);
  // Blocks layout only: block `index` becomes a hole (its dirty bytes go; the
  // commit deletes the stored block). For fallocate's PUNCH_HOLE.
  void PunchBlock(uint64_t index);

 private:
  void AddDirty(int64_t delta);
  // The dirty block `index`, created (loaded if `load_stored`) if needed.
  Status DirtyBlockFor(uint64_t index, bool load_stored, const BlockLoader& load, Block** block);

  Attr attr_;
  uint64_t size_ = 0;
  bool in_blocks_ = false;
  std::string contents_;                   // inline
  uint64_t file_id_ = 0;                   // blocks
  std::map<uint64_t, Block> blocks_;      // blocks: dirty ones
  uint64_t dead_from_ = kNothingDropped;   // blocks
  // Blocks: the store holds nothing (no block, no slice) at this index or
  // later (the committed size, rounded up to blocks).
  uint64_t stored_end_ = 0;
  uint64_t dirty_bytes_ = 0;
  std::atomic<int64_t>* const total_dirty_;
};

}  // namespace alexfs::fs
