// Value compression: the zstd codec behind records of type kPutEncoded
// (engine/log/log_format.h).
//
// An encoded value (the value bytes of a kPutEncoded entry) is
//
//   offset  size  field
//   0       1     codec: 1 = zstd, 2 = zstd with a dictionary
//   1       4     dictionary id (codec 2 only)
//   1|5     4     logical size: bytes of the value once decoded
//   ...           one zstd frame, without content size, dictionary id or
//                 checksum: the header above names the first two, and the
//                 record's CRC covers the frame
//
// The record CRC covers these on-disk bytes, so damage is caught before
// anything is decompressed; DecodeValue still checks that the frame decodes to
// exactly the logical size (a fuzzed, CRC-valid record must not overrun).
//
// Thread-safety: every function may be called from any thread; compression
// and decompression contexts are per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace alexfs {

class Dictionary;

enum class Codec : uint8_t { kZstd = 1, kZstdDictionary = 2 };

// Values shorter than this are never compressed (nothing worth saving).
inline constexpr size_t kMinCompressBytes = 64;

// Parses "none", "zstd" or "zstd:LEVEL" (LEVEL 1..19) into *level (0: none).
Status ParseCompression(std::string_view text, int* level);
// The inverse: "none" or "zstd:LEVEL".
std::string CompressionName(int level);

// Encodes `value` at zstd `level` (> 0), with `dict` if not null, into *out
// (cleared first). Returns false, leaving *out empty, when the encoded form
// would not save at least 1/8 of the value, or when the value is too short;
// the caller then stores it raw. Values over 16 KiB are first probed with a
// 4 KiB sample at level 1: if the sample does not shrink by 1/8 either, the
// value is taken as incompressible without compressing the rest.
bool EncodeValue(std::string_view value, int level, const Dictionary* dict, std::string* out);

// The header of an encoded value. False if it does not parse.
struct EncodedHeader {
  Codec codec;
  uint32_t dict_id;       // 0 unless kZstdDictionary
  uint32_t logical_size;  // bytes once decoded
  size_t header_bytes;    // where the frame starts
};
bool ParseEncodedHeader(std::string_view encoded, EncodedHeader* h);

// Decodes an encoded value into *out (resized to the logical size). `dict` is
// the dictionary the header names (nullptr for codec 1). Corruption error if
// the header does not parse, the dictionary is missing or wrong, or the frame
// does not decode to exactly the logical size.
Status DecodeValue(std::string_view encoded, const Dictionary* dict, std::string* out);

}  // namespace alexfs
