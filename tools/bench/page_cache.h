// Page cache control for the "cold" rows of `alexfs-bench engine`.
//
// A cold read means that, at the moment the timed reads start, none of the
// store's file pages are in memory, whichever way the system reads them
// (pread into a block cache, or a mapping it populated when it opened).
// Dropping the page cache alone does not do that: the kernel keeps pages that
// a process maps, so a store that maps and populates its files at open (LMDB,
// AlexStorage) would stay warm.
#pragma once

#include <cstdint>
#include <string>

namespace alexfs::bench {

// Makes the files under `dir` cold for this process: sync(), then
// madvise(MADV_DONTNEED) on every shared mapping of such a file listed in
// /proc/self/maps (a shared mapping keeps its data in the file; only this
// process's page table entries go), posix_fadvise(POSIX_FADV_DONTNEED) on
// every regular file, then `echo 3 > /proc/sys/vm/drop_caches`. Needs root for
// the last step. Call it while no thread of the process is writing to `dir`.
// On failure returns false and sets *error.
bool EvictFiles(const std::string& dir, std::string* error);

struct Residency {
  uint64_t resident_bytes = 0;  // pages of the files in the page cache
  uint64_t file_bytes = 0;      // sizes of the regular files under dir
};
// What of the files under `dir` is in the page cache now (mmap + mincore).
Residency PageCacheResidency(const std::string& dir);

}  // namespace alexfs::bench
