// The dump format of `alexfs dump` / `alexfs load`: every key and value of a
// store, in key order, in a stream that says when it is damaged or cut short.
//
// Version 1, all integers little-endian:
//
//   header   "ALEXFS-DUMP\n" (12 bytes) | u32 version = 1
//   entry    u8 tag = 'E' | u32 key length k | u64 value length v | key | value
//            | u32 masked crc32c of the entry's bytes from the tag to the value
//   trailer  u8 tag = 'Z' | u64 entry count | u32 masked crc32c of (tag, count)
//
// A stream without its trailer is truncated; an entry whose CRC fails is
// corrupt; both make `load` refuse to write anything. Keys are the store's raw
// keys (a file's path, a directory's path with a trailing '/', and the
// filesystem's internal keys, which begin with a 0x00 byte); values are the
// store's raw values (the filesystem's header, then the file's bytes), so a dump
// carries every byte of data and metadata.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace alexfs::tools {

inline constexpr char kDumpMagic[] = "ALEXFS-DUMP\n";
inline constexpr size_t kDumpMagicSize = 12;
inline constexpr uint32_t kDumpVersion = 1;

class DumpWriter {
 public:
  explicit DumpWriter(std::FILE* out) : out_(out) {}
  Status WriteHeader();
  Status WriteEntry(std::string_view key, std::string_view value);
  Status WriteTrailer();
  uint64_t entries() const { return entries_; }
  uint64_t bytes() const { return bytes_; }

 private:
  Status Put(const void* data, size_t n);
  std::FILE* out_;
  uint64_t entries_ = 0;
  uint64_t bytes_ = 0;
};

class DumpReader {
 public:
  explicit DumpReader(std::FILE* in) : in_(in) {}
  Status ReadHeader();
  // OK with *done = false and key/value set, or OK with *done = true at a
  // trailer that matches the entries read; otherwise Corruption naming the
  // entry number and byte offset.
  Status Next(std::string* key, std::string* value, bool* done);
  uint64_t entries() const { return entries_; }
  uint64_t offset() const { return offset_; }

 private:
  Status Get(void* data, size_t n, const char* what);
  std::FILE* in_;
  uint64_t entries_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace alexfs::tools
