// Encoding and decoding of log records (format: engine/log/log_format.h).
//
// RecordEncoder lays out a group of records as iovecs for one pwritev: headers
// and small payloads are copied into an arena, large values are referenced in
// place (a 64 MiB file body is never copied). DecodeRecord parses and verifies
// one record from a buffer.
//
// Thread-safety: RecordEncoder is not thread-safe; DecodeRecord is pure.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/log/log_format.h"
#include "engine/write_batch.h"

namespace alexfs::log {

class RecordEncoder {
 public:
  // Appends one record holding `batch` (kPut/kPutEncoded/kDelete for one op,
  // kBatch for several). Appends to *entry_offsets, per op, the offset of its
  // entry relative to the start of the encoded group. `encoded`, if not null,
  // holds per op the encoded form of its value (engine/compression.h), or an
  // empty string to store the value as it is; it must outlive the encoder's
  // use like the batch.
  // REQUIRES: !batch.empty() and EncodedSize(batch) <= kMaxRecordSize.
  void AddBatch(const WriteBatch& batch, uint64_t sequence, std::vector<uint64_t>* entry_offsets,
                const std::vector<std::string>* encoded = nullptr);
  // Appends a single-entry record; returns the entry's offset in the group.
  uint64_t AddEntry(RecordType type, uint64_t sequence, std::string_view key, std::string_view value);
  // Appends a kFooter record; `data_crc` is the unmasked crc32c of every byte
  // of the segment before the footer.
  void AddFooter(uint64_t key_count, uint32_t data_crc);

  // Bytes encoded so far.
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void Clear();
  // The group as iovecs. Valid until the encoder is changed or the referenced
  // batches die.
  std::vector<struct iovec> Iovecs() const;
  // Copies the group to dst[0, size()).
  void CopyTo(char* dst) const;
  // crc32c (unmasked) of the encoded bytes, extended from `init`.
  uint32_t ExtendCrc(uint32_t init) const;

  // Size of the record AddBatch would produce with no value encoded (an upper
  // bound: an encoded value is always shorter).
  static uint64_t EncodedSize(const WriteBatch& batch);

 private:
  struct Piece {
    const char* external;  // nullptr: arena_[arena_offset, +len)
    size_t arena_offset;
    size_t len;
  };
  void AppendArena(const char* data, size_t n);
  void AppendValue(std::string_view v);
  // Finishes the record that starts at arena offset `crc_at` / piece `first_piece`.
  void SealRecord(size_t crc_at, size_t first_piece, uint64_t record_start);
  const char* PieceData(const Piece& p) const {
    return p.external != nullptr ? p.external : arena_.data() + p.arena_offset;
  }

  std::string arena_;
  std::vector<Piece> pieces_;
  uint64_t size_ = 0;
};

enum class DecodeResult {
  kOk,
  kEndOfData,    // zero header: nothing was written here
  kTruncated,    // the header or the record runs past the buffer
  kBadChecksum,  // the CRC does not match
  kMalformed,    // CRC ok but the contents do not parse (bad type, lengths)
};

struct DecodedRecord {
  uint64_t sequence = 0;
  RecordType type = RecordType::kPut;
  size_t size = 0;           // whole record, prefix included
  const char* data = nullptr;  // start of the record
  // For kPut/kDelete/kFooter: the single entry. For kBatch: the entries blob
  // (value of the outer entry); see ForEachEntry.
  Entry entry;
};

// Decodes the record at data[0, avail). If verify_crc is false the CRC is not
// checked (the caller verified a larger range already), structure still is.
DecodeResult DecodeRecord(const char* data, size_t avail, bool verify_crc, DecodedRecord* out);

// Calls fn(entry, offset of the entry from the record start) for each put or
// delete in the record, in order. Returns false (after calling fn for none) if a
// batch's entries do not parse.
bool ForEachEntry(const DecodedRecord& record,
                  const std::function<void(const Entry&, uint64_t)>& fn);

}  // namespace alexfs::log
