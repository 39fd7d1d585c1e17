// Orphaned file blocks: blocks and their slices (fs/value_format.h, BlockKey,
// SliceKey) whose file id no file record names. The filesystem deletes a file's blocks in the batch that
// removes the file, so none should exist; `alexfs check` reports them and
// `alexfs check --repair` deletes them.
#pragma once

#include <cstdint>
#include <string>

#include "engine/status.h"

namespace alexfs::tools {

struct OrphanBlockReport {
  uint64_t files_in_blocks = 0;  // records of files whose data is in blocks
  uint64_t blocks = 0;           // block and slice keys in the store
  uint64_t orphaned = 0;         // of those, blocks of no file
  uint64_t orphaned_bytes = 0;
  bool repaired = false;         // the orphaned blocks were deleted (durably)
};

// Opens the store in `dir` (it must not be mounted), finds the orphaned
// blocks and, with `repair`, deletes them.
Status CheckOrphanBlocks(const std::string& dir, bool repair, OrphanBlockReport* report);

}  // namespace alexfs::tools
