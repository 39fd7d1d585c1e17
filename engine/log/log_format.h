// The log record format, shared by the writer (engine/log/writer.h), the reader
// (engine/log/reader.h) and the store's key reader.
//
// A segment file NNNNNN.log is a sequence of records, then zero bytes up to its
// preallocated size (the active segment) or end of file (a sealed segment).
// All integers are little-endian.
//
//   offset  size  field
//   0       4     masked crc32c of bytes [4, 8 + length)
//   4       4     length: bytes after this 8-byte prefix (sequence + entry/ies)
//   8       8     sequence number (ascending in file order within a log segment)
//   16      1     type (RecordType)
//   17      4     key length   k
//   21      4     value length v
//   25      k     key
//   25+k    v     value
//
// Type kPutEncoded is a put whose value is stored encoded (compressed; the
// layout is in engine/compression.h, which names the codec and dictionary);
// readers decode it, everything else treats it as a kPut. The CRC covers the
// encoded bytes as stored. Stores written before compression existed hold no
// such entries and read unchanged.
//
// Bytes [16, 25+k+v) form an *entry*. A kBatch record has key length 0 and its
// value is a sequence of entries (each kPut or kDelete, same layout), so a batch
// is logged -- and recovered -- all or nothing. A kFooter record (value:
// key count u64, masked crc32c u32 of every byte before the footer) ends a
// compacted, key-sorted segment (engine/log/sorted_segment.h).
//
// An index location names an entry: (segment id << 40) | byte offset of the
// entry's type byte. The key reader reads the key there.
//
// A record of all-zero header bytes (crc 0, length 0) marks the end of data:
// a real record's length is never 0.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace alexfs::log {

enum class RecordType : uint8_t {
  kPut = 1,
  kDelete = 2,  // tombstone
  kBatch = 3,
  kFooter = 4,
  kPutEncoded = 5,  // a put whose value is encoded (engine/compression.h)
};

// kPut or kPutEncoded.
inline bool IsPut(RecordType t) { return t == RecordType::kPut || t == RecordType::kPutEncoded; }

// Keys the engine keeps for itself (zstd dictionaries, engine/dictionary.h).
// The prefix is all 0xff, so these keys are the tail of the key order:
// iterators stop at the first one, and Write refuses them.
inline constexpr std::string_view kReservedKeyPrefix("\xff\xff\xff\xff", 4);
inline bool IsReservedKey(std::string_view key) {
  return key.size() >= kReservedKeyPrefix.size() &&
         key.compare(0, kReservedKeyPrefix.size(), kReservedKeyPrefix) == 0;
}

inline constexpr size_t kPrefixSize = 8;        // crc + length
inline constexpr size_t kRecordHeaderSize = 16;  // crc + length + sequence
inline constexpr size_t kEntryHeaderSize = 9;    // type + key length + value length
inline constexpr size_t kMinRecordSize = kRecordHeaderSize + kEntryHeaderSize;
inline constexpr size_t kFooterValueSize = 12;
inline constexpr size_t kFooterRecordSize = kMinRecordSize + kFooterValueSize;
// The length field is 32 bits.
inline constexpr uint64_t kMaxRecordSize = kPrefixSize + uint64_t{0xffffffffu};

// Location packing.
inline constexpr int kOffsetBits = 40;
inline constexpr uint64_t kMaxSegmentId = (uint64_t{1} << (64 - kOffsetBits)) - 1;
inline uint64_t PackLocation(uint32_t segment_id, uint64_t offset) {
  return (uint64_t{segment_id} << kOffsetBits) | offset;
}
inline uint32_t LocationSegment(uint64_t location) {
  return static_cast<uint32_t>(location >> kOffsetBits);
}
inline uint64_t LocationOffset(uint64_t location) {
  return location & ((uint64_t{1} << kOffsetBits) - 1);
}

inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// A decoded entry; views point into the buffer it was decoded from.
struct Entry {
  RecordType type;
  std::string_view key;
  std::string_view value;
  size_t size() const { return kEntryHeaderSize + key.size() + value.size(); }
};

// Reads the entry at p without checks. REQUIRES: p is a location the index
// handed out, i.e. inside a record whose CRC was verified or that this process
// wrote.
inline Entry EntryAtUnchecked(const char* p) {
  uint32_t k = DecodeFixed32(p + 1);
  uint32_t v = DecodeFixed32(p + 5);
  return Entry{static_cast<RecordType>(p[0]), std::string_view(p + kEntryHeaderSize, k),
               std::string_view(p + kEntryHeaderSize + k, v)};
}

// Writes an entry header for (type, k, v) into dst[0, kEntryHeaderSize).
inline void EncodeEntryHeader(char* dst, RecordType type, uint32_t k, uint32_t v) {
  dst[0] = static_cast<char>(type);
  EncodeFixed32(dst + 1, k);
  EncodeFixed32(dst + 5, v);
}

}  // namespace alexfs::log
