// Reading segments back: recovery and compaction scan records with these.
//
// A log segment is read front to back, verifying every record's CRC. Where
// valid records stop, one of three things holds:
//   * the rest is zeros (preallocated space never written): a clean end;
//   * the segment is the newest log segment and the bad bytes are a torn tail
//     (an append that never completed, so never acknowledged): the caller
//     truncates them; ScanResult says how many bytes were dropped;
//   * otherwise it is damage: Corruption naming the file and offset.
// A bad record in the newest segment that is followed by a record that does
// verify is a torn tail only if the bad bytes show a page lost in a power cut
// (zeros from the bad record to a page boundary, or a whole aligned 4 KiB
// page of zeros: pages of an unsynced tail reach the disk in any order);
// anything else there (a flipped bit) is damage.
//
// A sorted segment (written by compaction, fsync'd before it was published)
// ends in a footer whose CRC covers all bytes before it; it is verified in one
// pass and its records are then parsed without per-record CRCs.
//
// Thread-safety: pure functions over immutable bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/log/record.h"
#include "engine/status.h"

namespace alexfs::log {

struct ScanResult {
  uint64_t valid_end = 0;    // offset just past the last good record
  uint64_t torn_bytes = 0;   // bytes of a torn tail after valid_end (newest segment only)
  uint64_t records = 0;
};

// Called for each good record, in file order, with its offset.
using RecordCallback = std::function<void(const DecodedRecord&, uint64_t offset)>;

// Scans data[0, size) of log segment `name`. If tail_may_be_torn, bad bytes at
// the end are reported in result->torn_bytes instead of failing.
Status ScanLogSegment(const std::string& name, const char* data, uint64_t size,
                      bool tail_may_be_torn, const RecordCallback& fn, ScanResult* result);

// Verifies the footer and CRC of sorted segment `name` (data[0, size) is the
// whole file) and calls fn for each record before the footer. *key_count gets
// the footer's key count.
Status ScanSortedSegment(const std::string& name, const char* data, uint64_t size,
                         const RecordCallback& fn, ScanResult* result);

}  // namespace alexfs::log
