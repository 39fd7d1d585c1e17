#include "engine/log/record.h"

#include <cstring>

#include "engine/crc32c.h"

namespace alexfs::log {
namespace {

// Values at least this long are referenced, not copied into the arena.
constexpr size_t kReferenceThreshold = 4096;

}  // namespace

void RecordEncoder::Clear() {
  arena_.clear();
  pieces_.clear();
  size_ = 0;
}

void RecordEncoder::AppendArena(const char* data, size_t n) {
  if (n == 0) return;
  if (!pieces_.empty() && pieces_.back().external == nullptr &&
      pieces_.back().arena_offset + pieces_.back().len == arena_.size()) {
    pieces_.back().len += n;
  } else {
    pieces_.push_back(Piece{nullptr, arena_.size(), n});
  }
  arena_.append(data, n);
  size_ += n;
}

void RecordEncoder::AppendValue(std::string_view v) {
  if (v.size() < kReferenceThreshold) {
    AppendArena(v.data(), v.size());
  } else {
    pieces_.push_back(Piece{v.data(), 0, v.size()});
    size_ += v.size();
  }
}

uint64_t RecordEncoder::EncodedSize(const WriteBatch& batch) {
  uint64_t n = kRecordHeaderSize;
  if (batch.count() == 1) return n + kEntryHeaderSize + batch.payload_bytes();
  n += kEntryHeaderSize;
  for (const auto& op : batch.ops()) n += kEntryHeaderSize + op.key.size() + op.value.size();
  return n;
}

void RecordEncoder::SealRecord(size_t crc_at, size_t first_piece, uint64_t record_start) {
  uint32_t length = static_cast<uint32_t>(size_ - record_start - kPrefixSize);
  EncodeFixed32(&arena_[crc_at + 4], length);
  // CRC over everything after the crc field.
  uint32_t crc = 0;
  for (size_t i = first_piece; i < pieces_.size(); ++i) {
    const Piece& p = pieces_[i];
    const char* d = PieceData(p);
    size_t len = p.len;
    if (i == first_piece) {  // skip the crc field itself
      d += 4;
      len -= 4;
    }
    crc = crc32c::Extend(crc, d, len);
  }
  EncodeFixed32(&arena_[crc_at], crc32c::Mask(crc));
}

void RecordEncoder::AddBatch(const WriteBatch& batch, uint64_t sequence,
                             std::vector<uint64_t>* entry_offsets,
                             const std::vector<std::string>* encoded) {
  // The type and stored value of op i.
  auto stored = [&](size_t i, RecordType* t) -> std::string_view {
    const auto& op = batch.ops()[i];
    if (op.type == WriteBatch::OpType::kDelete) {
      *t = RecordType::kDelete;
      return op.value;
    }
    if (encoded != nullptr && !(*encoded)[i].empty()) {
      *t = RecordType::kPutEncoded;
      return (*encoded)[i];
    }
    *t = RecordType::kPut;
    return op.value;
  };
  if (batch.count() == 1) {
    RecordType t;
    const std::string_view v = stored(0, &t);
    entry_offsets->push_back(AddEntry(t, sequence, batch.ops()[0].key, v));
    return;
  }
  const uint64_t record_start = size_;
  // Start a fresh arena piece so the prefix is contiguous within one piece.
  pieces_.push_back(Piece{nullptr, arena_.size(), 0});
  const size_t first_piece = pieces_.size() - 1;
  const size_t crc_at = arena_.size();
  char hdr[kRecordHeaderSize + kEntryHeaderSize];
  std::memset(hdr, 0, 8);
  EncodeFixed64(hdr + 8, sequence);
  uint64_t blob = 0;
  for (size_t i = 0; i < batch.count(); ++i) {
    RecordType t;
    blob += kEntryHeaderSize + batch.ops()[i].key.size() + stored(i, &t).size();
  }
  EncodeEntryHeader(hdr + 16, RecordType::kBatch, 0, static_cast<uint32_t>(blob));
  AppendArena(hdr, sizeof(hdr));
  for (size_t i = 0; i < batch.count(); ++i) {
    const auto& op = batch.ops()[i];
    entry_offsets->push_back(size_);
    char eh[kEntryHeaderSize];
    RecordType t;
    const std::string_view v = stored(i, &t);
    EncodeEntryHeader(eh, t, static_cast<uint32_t>(op.key.size()), static_cast<uint32_t>(v.size()));
    AppendArena(eh, sizeof(eh));
    AppendArena(op.key.data(), op.key.size());
    AppendValue(v);
  }
  SealRecord(crc_at, first_piece, record_start);
}

uint64_t RecordEncoder::AddEntry(RecordType type, uint64_t sequence, std::string_view key,
                                 std::string_view value) {
  const uint64_t record_start = size_;
  pieces_.push_back(Piece{nullptr, arena_.size(), 0});
  const size_t first_piece = pieces_.size() - 1;
  const size_t crc_at = arena_.size();
  char hdr[kRecordHeaderSize + kEntryHeaderSize];
  std::memset(hdr, 0, 8);
  EncodeFixed64(hdr + 8, sequence);
  EncodeEntryHeader(hdr + 16, type, static_cast<uint32_t>(key.size()),
                    static_cast<uint32_t>(value.size()));
  AppendArena(hdr, sizeof(hdr));
  AppendArena(key.data(), key.size());
  AppendValue(value);
  SealRecord(crc_at, first_piece, record_start);
  return record_start + kRecordHeaderSize;
}

void RecordEncoder::AddFooter(uint64_t key_count, uint32_t data_crc) {
  char v[kFooterValueSize];
  EncodeFixed64(v, key_count);
  EncodeFixed32(v + 8, crc32c::Mask(data_crc));
  AddEntry(RecordType::kFooter, 0, std::string_view(), std::string_view(v, sizeof(v)));
}

std::vector<struct iovec> RecordEncoder::Iovecs() const {
  std::vector<struct iovec> v;
  v.reserve(pieces_.size());
  for (const Piece& p : pieces_) {
    if (p.len == 0) continue;
    v.push_back(iovec{const_cast<char*>(PieceData(p)), p.len});
  }
  return v;
}

void RecordEncoder::CopyTo(char* dst) const {
  for (const Piece& p : pieces_) {
    std::memcpy(dst, PieceData(p), p.len);
    dst += p.len;
  }
}

uint32_t RecordEncoder::ExtendCrc(uint32_t init) const {
  uint32_t crc = init;
  for (const Piece& p : pieces_) crc = crc32c::Extend(crc, PieceData(p), p.len);
  return crc;
}

DecodeResult DecodeRecord(const char* data, size_t avail, bool verify_crc, DecodedRecord* out) {
  if (avail < kPrefixSize) {
    for (size_t i = 0; i < avail; ++i) {
      if (data[i] != 0) return DecodeResult::kTruncated;
    }
    return DecodeResult::kEndOfData;
  }
  const uint32_t masked = DecodeFixed32(data);
  const uint32_t length = DecodeFixed32(data + 4);
  if (masked == 0 && length == 0) return DecodeResult::kEndOfData;
  if (length > avail - kPrefixSize) return DecodeResult::kTruncated;
  if (length < kMinRecordSize - kPrefixSize) {
    return verify_crc ? DecodeResult::kBadChecksum : DecodeResult::kMalformed;
  }
  if (verify_crc && crc32c::Unmask(masked) != crc32c::Value(data + 4, length + 4)) {
    return DecodeResult::kBadChecksum;
  }
  const size_t size = kPrefixSize + length;
  const char* e = data + kRecordHeaderSize;
  const uint64_t k = DecodeFixed32(e + 1);
  const uint64_t v = DecodeFixed32(e + 5);
  if (kRecordHeaderSize + kEntryHeaderSize + k + v != size) return DecodeResult::kMalformed;
  const auto type = static_cast<RecordType>(e[0]);
  switch (type) {
    case RecordType::kPut:
    case RecordType::kPutEncoded:
    case RecordType::kDelete:
      if (k == 0 || k > 4096) return DecodeResult::kMalformed;
      if (type == RecordType::kDelete && v != 0) return DecodeResult::kMalformed;
      break;
    case RecordType::kBatch:
      if (k != 0) return DecodeResult::kMalformed;
      break;
    case RecordType::kFooter:
      if (k != 0 || v != kFooterValueSize) return DecodeResult::kMalformed;
      break;
    default:
      return DecodeResult::kMalformed;
  }
  out->sequence = DecodeFixed64(data + 8);
  out->type = type;
  out->size = size;
  out->data = data;
  out->entry = EntryAtUnchecked(e);
  if (type == RecordType::kBatch) {
    // Validate the entries now so callers never see a half-parsable batch.
    if (!ForEachEntry(*out, [](const Entry&, uint64_t) {})) return DecodeResult::kMalformed;
  }
  return DecodeResult::kOk;
}

bool ForEachEntry(const DecodedRecord& record,
                  const std::function<void(const Entry&, uint64_t)>& fn) {
  if (record.type != RecordType::kBatch) {
    fn(record.entry, kRecordHeaderSize);
    return true;
  }
  const char* blob = record.entry.value.data();
  const size_t n = record.entry.value.size();
  // First pass: validate; second: deliver. A batch is all or nothing.
  for (int pass = 0; pass < 2; ++pass) {
    size_t pos = 0;
    size_t count = 0;
    while (pos < n) {
      if (n - pos < kEntryHeaderSize) return false;
      const char* p = blob + pos;
      const uint64_t k = DecodeFixed32(p + 1);
      const uint64_t v = DecodeFixed32(p + 5);
      const auto t = static_cast<RecordType>(p[0]);
      if ((!IsPut(t) && t != RecordType::kDelete) || k == 0 || k > 4096) return false;
      if (t == RecordType::kDelete && v != 0) return false;
      if (kEntryHeaderSize + k + v > n - pos) return false;
      if (pass == 1) fn(EntryAtUnchecked(p), static_cast<uint64_t>(p - record.data));
      pos += kEntryHeaderSize + k + v;
      ++count;
    }
    if (count == 0) return false;
  }
  return true;
}

}  // namespace alexfs::log
