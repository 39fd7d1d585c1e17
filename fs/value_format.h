// How the filesystem lays out keys and values in the store.
//
// Keys
//   a/b/c          the file (or symlink, fifo, socket, device) at that path
//   a/b/           the directory a/b: a marker, so empty directories and their
//                  metadata persist; everything below it sorts right after it
//   \0root         the root directory's attributes
//   \0link\0<id>   the shared body of a hard-linked file (<id>: 8 bytes, big-endian)
//   \0next_link    the next hard-link body id (8 bytes, little-endian)
//   \0b<id><index> block <index> of the file whose data lives in blocks under
//                  file id <id> (both 8 bytes, big-endian): one file's blocks
//                  are one contiguous range, in offset order
//   \0b<id><index><seq>  slice <seq> (4 bytes, big-endian, from 1) of that
//                  block: a small write logged without rewriting the block
//                  (see "Slices" below); sorts right after its block
//   \0next_file    the file ids reserved so far (8 bytes, little-endian): ids
//                  below it may be in use, ids from it on are free
// Paths never contain a 0x00 byte, so no path reaches the internal keys, and a
// range scan of "dir/" never meets them. Inside a directory a file `x` and a
// directory `x` cannot both exist: every operation checks both keys.
//
// Values: every value starts with a format version byte and a kind byte.
//
//   kind 0, an object (file, directory marker, link body), 56-byte header:
//     0  u8   version (1 or 2; written: kFormatVersion)
//     1  u8   kind = 0
//     2  u16  reserved, 0
//     4  u32  mode (file type and permission bits, as st_mode)
//     8  u32  uid
//     12 u32  gid
//     16 u32  nlink (files: 1, or the number of names of a link body;
//                    directories: 2 + number of subdirectories)
//     20 u32  version 3: the length x of the extended-attribute section at the
//             end of the value (fs/xattr_format.h); versions 1 and 2: 0
//     24 u64  rdev (device nodes)
//     32 i64  atime, nanoseconds since the epoch
//     40 i64  mtime, ns
//     48 i64  ctime, ns
//     56 ...  the bytes: file contents, or the symlink target; nothing for others
//   The size of a file is the length of its bytes ("inline": files of at most
//   kInlineMaxBytes are written so, and every file of a version-1 store).
//
//   kind 2 (version 2 only), a regular file whose data lives in blocks:
//     0  ...  the 56-byte header above, with kind = 2
//     56 u64  file id: its blocks are BlockKey(id, 0), BlockKey(id, 1), ...
//     64 u64  size in bytes
//   Block i holds bytes [i * kBlockBytes, (i + 1) * kBlockBytes) of the file,
//   possibly fewer (the bytes after its end, up to the file's size, are zeros);
//   a missing block is a hole (zeros). No block holds bytes at or past the size.
//   The file id never changes while the file exists, so rename, chmod, link
//   and friends rewrite only this record.
//
//   Slices. A commit that changed only a few small byte ranges of a stored
//   block logs each range as a slice record, u32 offset (little-endian) then
//   the bytes, instead of the whole block (no header: block and slice values
//   are raw). The block's content is its base record (if any) with every
//   slice copied over it in <seq> order; its length is the largest of the
//   base's length and each slice's end. A commit that writes a block whole
//   deletes its slices in the same batch (so does every delete of the block),
//   and slice numbers restart at 1. A block has at most kMaxSlices slices of
//   at most kMaxSliceBytes in total; past that the commit writes it whole.
//
//   kind 1, a link pointer (a name of a hard-linked file), 16 bytes:
//     0  u8   version
//     1  u8   kind = 1
//     2  u8[6] reserved, 0
//     8  u64  body id (little-endian); the body is at LinkBodyKey(id)
//
//   Extended attributes (kinds 0 and 2, version 3 only): a value with any is
//   written as version 3, with their section's length x at offset 20 and the
//   section itself as the value's last x bytes (after the contents, target or
//   file id + size). An object without any is written as version 2, exactly
//   as before they existed, so only objects that carry attributes change.
//
// All integers in values are little-endian. A reader that meets an unknown
// version or kind reports EIO rather than guess. Version 1 (stores written
// before blocks existed) has kinds 0 and 1 only and is still read; every value
// written now is version 2, or 3 when it carries extended attributes.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace alexfs::fs {

inline constexpr uint8_t kFormatVersion = 2;
// The version of an object's value that carries extended attributes.
inline constexpr uint8_t kXattrFormatVersion = 3;
inline constexpr size_t kHeaderBytes = 56;
inline constexpr size_t kLinkPointerBytes = 16;
inline constexpr size_t kBlockedFileBytes = kHeaderBytes + 16;

// Data block size, and the largest file kept inline in its path's record (see
// fs/README.md, "Blocks", for how they were chosen). A file grows into blocks
// when it passes kInlineMaxBytes; it stays in blocks after.
inline constexpr uint64_t kBlockBytes = uint64_t{64} << 10;
inline constexpr uint64_t kInlineMaxBytes = uint64_t{64} << 10;
// The limits on a block's slices (see "Slices" above): a read of a block
// merges at most this many records and copies at most this many bytes more.
inline constexpr uint32_t kMaxSlices = 32;
inline constexpr uint64_t kMaxSliceBytes = kBlockBytes / 2;
// The largest file size: 16 TiB (2^28 blocks).
inline constexpr uint64_t kMaxFileBytes = uint64_t{1} << 44;

// The limits the kernel and tools expect (NAME_MAX, PATH_MAX).
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxPathBytes = 4095;

// An object's attributes, as stored in its header, and its extended attributes.
struct Attr {
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint64_t rdev = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  // The encoded extended-attribute section (fs/xattr_format.h); empty if the
  // object has none. Travels with the attributes, so every rewrite of a record
  // (chmod, rename, a directory's touch, a commit) keeps it.
  std::string xattrs;

  bool is_dir() const { return S_ISDIR(mode); }
  bool is_reg() const { return S_ISREG(mode); }
};

// What a stored value is.
struct DecodedValue {
  enum class Kind { kObject, kLinkPointer };
  Kind kind = Kind::kObject;
  Attr attr;               // kObject
  std::string_view bytes;  // kObject inline: contents / symlink target (a view into the input)
  bool in_blocks = false;  // kObject: a regular file whose data is in blocks
  uint64_t file_id = 0;    // in_blocks: the file id of its blocks
  uint64_t size = 0;       // kObject: file or symlink size (0 for others)
  uint64_t link_id = 0;    // kLinkPointer
};

// Parses a value; nullopt if it is not a value this version understands.
std::optional<DecodedValue> DecodeValue(std::string_view value);

// Encodes header + bytes (+ attr.xattrs).
std::string EncodeObject(const Attr& attr, std::string_view bytes);
std::string EncodeLinkPointer(uint64_t link_id);
// Encodes the record of a regular file whose data is in blocks (+ attr.xattrs).
std::string EncodeBlockedFile(const Attr& attr, uint64_t file_id, uint64_t size);

// Keys (see the top of this file). `path` is relative, without leading or
// trailing slash; "" is the root.
std::string FileKey(std::string_view path);
std::string DirKey(std::string_view path);  // "a/b/"; the root's is RootKey()
std::string RootKey();
std::string LinkBodyKey(uint64_t id);
std::string NextLinkIdKey();
std::string BlockKey(uint64_t file_id, uint64_t index);
// The first key after every block of `file_id` (BlockKey(file_id + 1, 0)).
std::string BlockRangeEnd(uint64_t file_id);
// The key of slice `seq` (>= 1) of block `index` of `file_id`.
std::string SliceKey(uint64_t file_id, uint64_t index, uint32_t seq);
// True if `key` is a block or slice key; then sets *file_id, *index and, if
// `seq` is given, *seq (0 for a block, the slice number for a slice).
bool ParseBlockKey(std::string_view key, uint64_t* file_id, uint64_t* index,
                   uint32_t* seq = nullptr);
// A slice record: `bytes` at `offset` in its block.
std::string EncodeSlice(uint32_t offset, std::string_view bytes);
// Parses a slice record; false if it is malformed (reaches past a block).
bool DecodeSlice(std::string_view value, uint32_t* offset, std::string_view* bytes);
std::string NextFileIdKey();
// "parent/name", or "name" at the root.
std::string ChildPath(std::string_view parent, std::string_view name);
// The prefix every key directly or deeply under directory `path` starts with:
// "a/b/" or "" for the root.
std::string ChildPrefix(std::string_view path);

// Current time in nanoseconds since the epoch (CLOCK_REALTIME).
int64_t NowNs();
timespec ToTimespec(int64_t ns);
int64_t FromTimespec(const timespec& ts);

// Fills a struct stat from attributes and the object's byte count.
void FillStat(const Attr& attr, uint64_t ino, uint64_t size, struct stat* st);

}  // namespace alexfs::fs
