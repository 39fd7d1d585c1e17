// Reading segments back: recovery, compaction and `alexfs check` scan records
// with these (one reader, so check and recovery agree on what is a torn tail
// and what is damage).
//
// A log segment is read front to back, verifying every record's CRC. Where
// valid records stop, one of three things holds:
//   * the rest is zeros (preallocated space never written): a clean end;
//   * the segment is the newest log segment and the bad bytes are a torn tail
//     (an append that never completed, so never acknowledged): the caller
//     truncates them; ScanResult says how many bytes were dropped;
//   * otherwise it is damage: Corruption naming the file and offset.
// The newest segment's tail may be torn only from its sync point on (the
// offset up to which the store recorded it synced, engine/sync_point.h):
// bad bytes before it, or records ending (zeros) before it, are damage.
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
  uint64_t valid_end = 0;    // offset just past the last good record (on
                             // Corruption: where the damage starts)
  uint64_t torn_bytes = 0;   // bytes of a torn tail after valid_end (newest segment only)
  uint64_t records = 0;
};

// Called for each good record, in file order, with its offset.
using RecordCallback = std::function<void(const DecodedRecord&, uint64_t offset)>;

// torn_tail_from for a segment whose tail may not be torn (a sealed one).
inline constexpr uint64_t kNoTornTail = UINT64_MAX;

// Scans data[from, size) of log segment `name` (data is the whole file;
// offsets, in messages and callbacks, are file offsets). Bad bytes at the end
// at or after torn_tail_from are reported in result->torn_bytes instead of
// failing; before it they are damage (see the file comment). The newest
// segment passes its sync point (0 if none is recorded), others kNoTornTail.
Status ScanLogSegment(const std::string& name, const char* data, uint64_t from, uint64_t size,
                      uint64_t torn_tail_from, const RecordCallback& fn, ScanResult* result);

// The offset of the first record in data[from, size) that verifies (a put,
// delete or batch, not a footer) and has a sequence above after_sequence, or
// `size` if there is none: where a scan resynchronises after bad bytes.
uint64_t FindNextRecord(const char* data, uint64_t from, uint64_t size, uint64_t after_sequence);

// Verifies the footer and CRC of sorted segment `name` (data[0, size) is the
// whole file) and calls fn for each record before the footer. *key_count gets
// the footer's key count.
Status ScanSortedSegment(const std::string& name, const char* data, uint64_t size,
                         const RecordCallback& fn, ScanResult* result);

}  // namespace alexfs::log
