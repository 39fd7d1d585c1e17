#include "engine/log/reader.h"

#include <cstring>

#include "engine/crc32c.h"

namespace alexfs::log {
namespace {

constexpr uint64_t kPageBytes = 4096;  // the unit a power cut loses

const char* Describe(DecodeResult r) {
  switch (r) {
    case DecodeResult::kOk: return "ok";
    case DecodeResult::kEndOfData: return "zero header followed by data";
    case DecodeResult::kTruncated: return "record runs past the end of the segment";
    case DecodeResult::kBadChecksum: return "checksum mismatch";
    case DecodeResult::kMalformed: return "malformed record";
  }
  return "?";
}

// Offset just past the last non-zero byte in data[from, size), or `from`.
uint64_t EndOfNonZero(const char* data, uint64_t from, uint64_t size) {
  uint64_t end = size;
  // Word at a time from the back.
  while (end > from && (end & 7) != 0) {
    if (data[end - 1] != 0) return end;
    --end;
  }
  while (end >= from + 8) {
    uint64_t w;
    std::memcpy(&w, data + end - 8, 8);
    if (w != 0) break;
    end -= 8;
  }
  while (end > from) {
    if (data[end - 1] != 0) return end;
    --end;
  }
  return from;
}

// A power cut leaves the unsynced tail of a log as pages that did or did not
// reach the disk, in any order; a page that did not reads as zeros (the space
// was zero-filled ahead of the appends, or lies past the end of the file).
// True if the bad bytes data[pos, next_good) show such a page: zeros from
// pos up to a page boundary, or a whole aligned page of zeros. A bit flipped
// in a record that was on disk shows neither.
bool LooksLikeLostPage(const char* data, uint64_t pos, uint64_t next_good) {
  auto zeros = [&](uint64_t from, uint64_t to) { return EndOfNonZero(data, from, to) == from; };
  const uint64_t first_boundary = (pos + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (first_boundary > pos && first_boundary <= next_good && zeros(pos, first_boundary)) return true;
  for (uint64_t b = first_boundary; b + kPageBytes <= next_good; b += kPageBytes) {
    if (zeros(b, b + kPageBytes)) return true;
  }
  return false;
}

Status Damage(const std::string& name, uint64_t offset, const char* what) {
  return Status::Corruption(name + " offset " + std::to_string(offset) + ": " + what);
}

}  // namespace

uint64_t FindNextRecord(const char* data, uint64_t from, uint64_t size, uint64_t after_sequence) {
  for (uint64_t p = from; p + kMinRecordSize <= size; ++p) {
    const uint32_t len = DecodeFixed32(data + p + 4);
    if (len < kMinRecordSize - kPrefixSize || len > size - p - kPrefixSize) continue;
    DecodedRecord rec;
    if (DecodeRecord(data + p, size - p, true, &rec) == DecodeResult::kOk &&
        rec.type != RecordType::kFooter && rec.sequence > after_sequence) {
      return p;
    }
  }
  return size;
}

Status ScanLogSegment(const std::string& name, const char* data, uint64_t from, uint64_t size,
                      uint64_t torn_tail_from, const RecordCallback& fn, ScanResult* result) {
  *result = ScanResult();
  uint64_t pos = from;
  uint64_t last_seq = 0;
  auto damage = [&](const std::string& what) {
    result->valid_end = pos;
    return Damage(name, pos, what.c_str());
  };
  const std::string before_sync_point =
      torn_tail_from == kNoTornTail ? std::string()
                                    : ", before the sync point " + std::to_string(torn_tail_from);
  while (pos < size) {
    DecodedRecord rec;
    DecodeResult r = DecodeRecord(data + pos, size - pos, /*verify_crc=*/true, &rec);
    if (r == DecodeResult::kOk) {
      if (rec.type == RecordType::kFooter) {
        r = DecodeResult::kMalformed;  // footers belong to sorted segments only
      } else if (rec.sequence <= last_seq && result->records > 0) {
        return damage("sequence number goes backwards");
      } else {
        fn(rec, pos);
        last_seq = rec.sequence;
        ++result->records;
        pos += rec.size;
        continue;
      }
    }
    const uint64_t junk_end = EndOfNonZero(data, pos, size);
    if (junk_end == pos) break;  // the rest is zeros: a clean end
    if (torn_tail_from == kNoTornTail) return damage(Describe(r));
    if (pos < torn_tail_from) return damage(Describe(r) + before_sync_point);
    // A complete record with a newer sequence after the bad bytes: either
    // pages of the unsynced tail were lost in a power cut (the records after
    // the hole were never acknowledged as durable: the tail is dropped from
    // the hole on), or bytes were damaged after being written. Resynchronise
    // byte by byte to find out.
    const uint64_t next = FindNextRecord(data, pos + 1, junk_end, last_seq);
    if (next < junk_end && !LooksLikeLostPage(data, pos, next)) return damage(Describe(r));
    result->torn_bytes = junk_end - pos;
    break;
  }
  if (torn_tail_from != kNoTornTail && pos < torn_tail_from) {
    // Synced records read as zeros.
    return damage("the records end here" + before_sync_point);
  }
  result->valid_end = pos;
  return Status::OK();
}

Status ScanSortedSegment(const std::string& name, const char* data, uint64_t size,
                         const RecordCallback& fn, ScanResult* result) {
  *result = ScanResult();
  if (size < kFooterRecordSize) return Damage(name, 0, "sorted segment too short for a footer");
  const uint64_t footer_at = size - kFooterRecordSize;
  DecodedRecord footer;
  DecodeResult r = DecodeRecord(data + footer_at, kFooterRecordSize, true, &footer);
  if (r != DecodeResult::kOk || footer.type != RecordType::kFooter) {
    return Damage(name, footer_at, "bad footer");
  }
  const uint64_t key_count = DecodeFixed64(footer.entry.value.data());
  const uint32_t want = crc32c::Unmask(DecodeFixed32(footer.entry.value.data() + 8));
  if (crc32c::Value(data, footer_at) != want) {
    return Damage(name, 0, "segment checksum mismatch");
  }
  uint64_t pos = 0;
  while (pos < footer_at) {
    DecodedRecord rec;
    r = DecodeRecord(data + pos, footer_at - pos, /*verify_crc=*/false, &rec);
    if (r != DecodeResult::kOk || rec.type == RecordType::kBatch ||
        rec.type == RecordType::kFooter) {
      return Damage(name, pos, r == DecodeResult::kOk ? "unexpected record type" : Describe(r));
    }
    fn(rec, pos);
    ++result->records;
    pos += rec.size;
  }
  if (result->records != key_count) return Damage(name, footer_at, "footer key count mismatch");
  result->valid_end = size;
  return Status::OK();
}

}  // namespace alexfs::log
