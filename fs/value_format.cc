#include "fs/value_format.h"

#include <time.h>

#include <cstring>
#include <type_traits>

namespace alexfs::fs {
namespace {

enum : uint8_t { kKindObject = 0, kKindLinkPointer = 1, kKindBlockedFile = 2 };

template <typename T>
void Store(char* p, T v) {
  static_assert(std::is_integral_v<T>);
  for (size_t i = 0; i < sizeof(T); ++i) {
    p[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  }
}

template <typename T>
T Load(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return static_cast<T>(v);
}

void DecodeHeader(const char* p, Attr* attr) {
  attr->mode = Load<uint32_t>(p + 4);
  attr->uid = Load<uint32_t>(p + 8);
  attr->gid = Load<uint32_t>(p + 12);
  attr->nlink = Load<uint32_t>(p + 16);
  attr->rdev = Load<uint64_t>(p + 24);
  attr->atime_ns = Load<int64_t>(p + 32);
  attr->mtime_ns = Load<int64_t>(p + 40);
  attr->ctime_ns = Load<int64_t>(p + 48);
}

void PutBigEndian(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) *out += static_cast<char>(v >> (8 * i));
}

uint64_t GetBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

std::optional<DecodedValue> DecodeValue(std::string_view value) {
  if (value.size() < 2) return std::nullopt;
  const uint8_t version = static_cast<uint8_t>(value[0]);
  if (version != 1 && version != kFormatVersion && version != kXattrFormatVersion) {
    return std::nullopt;
  }
  const char* p = value.data();
  DecodedValue out;
  const uint8_t kind = static_cast<uint8_t>(value[1]);
  if (kind == kKindLinkPointer) {
    if (value.size() < kLinkPointerBytes) return std::nullopt;
    out.kind = DecodedValue::Kind::kLinkPointer;
    out.link_id = Load<uint64_t>(p + 8);
    return out;
  }
  if (kind != kKindObject && kind != kKindBlockedFile) return std::nullopt;
  if (value.size() < kHeaderBytes) return std::nullopt;
  out.kind = DecodedValue::Kind::kObject;
  DecodeHeader(p, &out.attr);
  // The body: what lies between the header and the extended attributes.
  std::string_view body = value.substr(kHeaderBytes);
  if (version == kXattrFormatVersion) {
    const uint32_t xattr_bytes = Load<uint32_t>(p + 20);
    if (xattr_bytes > body.size()) return std::nullopt;
    out.attr.xattrs.assign(body.substr(body.size() - xattr_bytes));
    body.remove_suffix(xattr_bytes);
  }
  if (kind == kKindObject) {
    out.bytes = body;
    out.size = S_ISREG(out.attr.mode) || S_ISLNK(out.attr.mode) ? out.bytes.size() : 0;
    return out;
  }
  // kKindBlockedFile
  if (version < 2 || body.size() < kBlockedFileBytes - kHeaderBytes) return std::nullopt;
  if (!S_ISREG(out.attr.mode)) return std::nullopt;
  out.in_blocks = true;
  out.file_id = Load<uint64_t>(body.data());
  out.size = Load<uint64_t>(body.data() + 8);
  return out;
}

namespace {

// Writes the header into the first kHeaderBytes of `value` (at least that
// long), and appends the extended attributes, if any.
void EncodeHeaderAndXattrs(const Attr& attr, uint8_t kind, std::string* value) {
  char* p = value->data();
  std::memset(p, 0, kHeaderBytes);
  p[0] = static_cast<char>(attr.xattrs.empty() ? kFormatVersion : kXattrFormatVersion);
  p[1] = static_cast<char>(kind);
  Store(p + 4, attr.mode);
  Store(p + 8, attr.uid);
  Store(p + 12, attr.gid);
  Store(p + 16, attr.nlink);
  Store(p + 20, static_cast<uint32_t>(attr.xattrs.size()));
  Store(p + 24, attr.rdev);
  Store(p + 32, attr.atime_ns);
  Store(p + 40, attr.mtime_ns);
  Store(p + 48, attr.ctime_ns);
  value->append(attr.xattrs);
}

}  // namespace

std::string EncodeObject(const Attr& attr, std::string_view bytes) {
  std::string value;
  value.reserve(kHeaderBytes + bytes.size() + attr.xattrs.size());
  value.resize(kHeaderBytes);
  value.append(bytes);
  EncodeHeaderAndXattrs(attr, kKindObject, &value);
  return value;
}

std::string EncodeBlockedFile(const Attr& attr, uint64_t file_id, uint64_t size) {
  std::string value(kBlockedFileBytes, '\0');
  Store(value.data() + kHeaderBytes, file_id);
  Store(value.data() + kHeaderBytes + 8, size);
  EncodeHeaderAndXattrs(attr, kKindBlockedFile, &value);
  return value;
}

std::string EncodeLinkPointer(uint64_t link_id) {
  std::string value(kLinkPointerBytes, '\0');
  value[0] = static_cast<char>(kFormatVersion);
  value[1] = static_cast<char>(kKindLinkPointer);
  Store(value.data() + 8, link_id);
  return value;
}

std::string FileKey(std::string_view path) { return std::string(path); }

std::string DirKey(std::string_view path) {
  if (path.empty()) return RootKey();
  std::string key(path);
  key += '/';
  return key;
}

std::string RootKey() { return std::string("\0root", 5); }

std::string LinkBodyKey(uint64_t id) {
  std::string key("\0link\0", 6);
  PutBigEndian(id, &key);
  return key;
}

std::string NextLinkIdKey() { return std::string("\0next_link", 10); }

namespace {
constexpr std::string_view kBlockPrefix("\0b", 2);
}  // namespace

std::string BlockKey(uint64_t file_id, uint64_t index) {
  std::string key(kBlockPrefix);
  PutBigEndian(file_id, &key);
  PutBigEndian(index, &key);
  return key;
}

std::string BlockRangeEnd(uint64_t file_id) { return BlockKey(file_id + 1, 0); }

std::string SliceKey(uint64_t file_id, uint64_t index, uint32_t seq) {
  std::string key = BlockKey(file_id, index);
  for (int shift = 24; shift >= 0; shift -= 8) key += static_cast<char>(seq >> shift);
  return key;
}

bool ParseBlockKey(std::string_view key, uint64_t* file_id, uint64_t* index, uint32_t* seq) {
  constexpr size_t kBlockKeyBytes = kBlockPrefix.size() + 16;
  if ((key.size() != kBlockKeyBytes && key.size() != kBlockKeyBytes + 4) ||
      key.substr(0, kBlockPrefix.size()) != kBlockPrefix) {
    return false;
  }
  *file_id = GetBigEndian(key.substr(kBlockPrefix.size(), 8));
  *index = GetBigEndian(key.substr(kBlockPrefix.size() + 8, 8));
  uint32_t n = 0;
  for (size_t i = kBlockKeyBytes; i < key.size(); ++i) n = (n << 8) | static_cast<uint8_t>(key[i]);
  if (key.size() > kBlockKeyBytes && n == 0) return false;  // slice numbers start at 1
  if (seq) *seq = n;
  return true;
}

std::string EncodeSlice(uint32_t offset, std::string_view bytes) {
  std::string value(4, '\0');
  Store<uint32_t>(value.data(), offset);
  value.append(bytes);
  return value;
}

bool DecodeSlice(std::string_view value, uint32_t* offset, std::string_view* bytes) {
  if (value.size() < 4) return false;
  *offset = Load<uint32_t>(value.data());
  *bytes = value.substr(4);
  return *offset <= kBlockBytes && bytes->size() <= kBlockBytes - *offset;
}

std::string NextFileIdKey() { return std::string("\0next_file", 10); }

std::string ChildPath(std::string_view parent, std::string_view name) {
  std::string path;
  path.reserve(parent.size() + 1 + name.size());
  path.append(parent);
  if (!parent.empty()) path += '/';
  path.append(name);
  return path;
}

std::string ChildPrefix(std::string_view path) {
  if (path.empty()) return std::string();
  std::string prefix(path);
  prefix += '/';
  return prefix;
}

int64_t NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return FromTimespec(ts);
}

timespec ToTimespec(int64_t ns) {
  timespec ts;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

int64_t FromTimespec(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void FillStat(const Attr& attr, uint64_t ino, uint64_t size, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_mode = attr.mode;
  st->st_nlink = attr.nlink;
  st->st_uid = attr.uid;
  st->st_gid = attr.gid;
  st->st_rdev = attr.rdev;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = kBlockBytes;  // the preferred I/O size: a data block
  st->st_blocks = static_cast<blkcnt_t>((size + 511) / 512);
  st->st_atim = ToTimespec(attr.atime_ns);
  st->st_mtim = ToTimespec(attr.mtime_ns);
  st->st_ctim = ToTimespec(attr.ctime_ns);
}

}  // namespace alexfs::fs
