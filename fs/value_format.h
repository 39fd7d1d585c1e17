// How the filesystem lays out keys and values in the store.
//
// Keys
//   a/b/c          the file (or symlink, fifo, socket, device) at that path
//   a/b/           the directory a/b: a marker, so empty directories and their
//                  metadata persist; everything below it sorts right after it
//   \0root         the root directory's attributes
//   \0link\0<id>   the shared body of a hard-linked file (<id>: 8 bytes, big-endian)
//   \0next_link    the next hard-link body id (8 bytes, little-endian)
// Paths never contain a 0x00 byte, so no path reaches the internal keys, and a
// range scan of "dir/" never meets them. Inside a directory a file `x` and a
// directory `x` cannot both exist: every operation checks both keys.
//
// Values: every value starts with a format version byte and a kind byte.
//
//   kind 0, an object (file, directory marker, link body), 56-byte header:
//     0  u8   version (kFormatVersion)
//     1  u8   kind = 0
//     2  u16  reserved, 0
//     4  u32  mode (file type and permission bits, as st_mode)
//     8  u32  uid
//     12 u32  gid
//     16 u32  nlink (files: 1, or the number of names of a link body;
//                    directories: 2 + number of subdirectories)
//     20 u32  reserved, 0
//     24 u64  rdev (device nodes)
//     32 i64  atime, nanoseconds since the epoch
//     40 i64  mtime, ns
//     48 i64  ctime, ns
//     56 ...  the bytes: file contents, or the symlink target; nothing for others
//   The size of a file is the length of its bytes.
//
//   kind 1, a link pointer (a name of a hard-linked file), 16 bytes:
//     0  u8   version
//     1  u8   kind = 1
//     2  u8[6] reserved, 0
//     8  u64  body id (little-endian); the body is at LinkBodyKey(id)
//
// All integers are little-endian. A reader that meets an unknown version or
// kind reports EIO rather than guess.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace alexfs::fs {

inline constexpr uint8_t kFormatVersion = 1;
inline constexpr size_t kHeaderBytes = 56;
inline constexpr size_t kLinkPointerBytes = 16;

// The limits the kernel and tools expect (NAME_MAX, PATH_MAX).
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxPathBytes = 4095;

// An object's attributes, as stored in its header.
struct Attr {
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint64_t rdev = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  bool is_dir() const { return S_ISDIR(mode); }
  bool is_reg() const { return S_ISREG(mode); }
};

// What a stored value is.
struct DecodedValue {
  enum class Kind { kObject, kLinkPointer };
  Kind kind = Kind::kObject;
  Attr attr;               // kObject
  std::string_view bytes;  // kObject: contents / symlink target (a view into the input)
  uint64_t link_id = 0;    // kLinkPointer
};

// Parses a value; nullopt if it is not a value this version understands.
std::optional<DecodedValue> DecodeValue(std::string_view value);

// Encodes header + bytes.
std::string EncodeObject(const Attr& attr, std::string_view bytes);
// Writes just the header into the first kHeaderBytes of `value` (which must be
// at least that long); the filesystem's file buffers keep room for it.
void EncodeHeaderInPlace(const Attr& attr, std::string* value);
std::string EncodeLinkPointer(uint64_t link_id);

// Keys (see the top of this file). `path` is relative, without leading or
// trailing slash; "" is the root.
std::string FileKey(std::string_view path);
std::string DirKey(std::string_view path);  // "a/b/"; the root's is RootKey()
std::string RootKey();
std::string LinkBodyKey(uint64_t id);
std::string NextLinkIdKey();
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
