// MANIFEST: the set of segments that form the store.
//
// A text file, rewritten whole and atomically (MANIFEST.tmp, fsync, rename,
// fsync the directory) whenever the set changes: when a new log segment is
// started and when compaction swaps segments. A crash leaves the old or the new
// file, never a mix, so recovery sees the old or the new segment set.
//
//   alexfs-manifest 1
//   next_file 8
//   segment 5 sorted
//   segment 7 log
//   crc 1a2b3c4d          <- masked crc32c of every byte before this line
//
// Files NNNNNN.log not listed (a crash between creating and publishing them)
// are deleted at Open.
//
// Thread-safety: plain value type and free functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/env.h"
#include "engine/log/segment.h"
#include "engine/status.h"

namespace alexfs {

struct Manifest {
  uint32_t next_file = 1;
  std::map<uint32_t, log::SegmentKind> segments;  // by id

  std::string Encode() const;
  // Corruption (naming `name`) if the text does not parse or its CRC fails.
  static Status Decode(const std::string& name, const std::string& text, Manifest* out);
};

// Writes dir/MANIFEST atomically and durably: MANIFEST.tmp, fsync, rename,
// fsync of the directory. When it returns OK the new set survives a power cut.
Status WriteManifest(Env* env, const std::string& dir, const Manifest& m);
// NotFound if dir/MANIFEST does not exist.
Status ReadManifest(Env* env, const std::string& dir, Manifest* m);

}  // namespace alexfs
