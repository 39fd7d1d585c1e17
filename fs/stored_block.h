// StoredBlock: one block of a file in blocks as the store holds it, its base
// record merged with its slices (fs/value_format.h, "Slices").
//
// A block without slices is a zero-copy view of its pinned base record; a
// block with slices is assembled into a buffer of its own (a copy of the base
// with each slice copied over it, in order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/store.h"

namespace alexfs::fs {

// The slices stored under one block.
struct BlockSlices {
  std::vector<uint32_t> seqs;  // their numbers, ascending
  uint64_t bytes = 0;          // their data bytes in total
};

struct StoredBlock {
  PinnedValue base;     // the block's record, if any (empty: none)
  std::string merged;   // base + slices; used only when it has slices
  BlockSlices slices;
  // The block's content (empty for a hole). Valid while this object lives.
  std::string_view bytes() const { return slices.seqs.empty() ? base.value() : merged; }
};

// Reads block `index` of file `file_id`: one Get of the block and one seek
// for its slices. Corruption if a slice record is malformed.
Status ReadStoredBlock(const Store& store, uint64_t file_id, uint64_t index, StoredBlock* out);

// Adds deletes of every slice stored under block `index` of `file_id` to
// `batch` (one seek).
Status AddSliceDeletes(const Store& store, uint64_t file_id, uint64_t index, WriteBatch* batch);

}  // namespace alexfs::fs
