#include "tools/alexfs/dump_format.h"

#include <cerrno>
#include <cstring>

#include "engine/crc32c.h"

namespace alexfs::tools {
namespace {
void PutU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* s, uint64_t v) { s->append(reinterpret_cast<const char*>(&v), 8); }
}  // namespace

Status DumpWriter::Put(const void* data, size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, out_) != n) return Status::FromErrno(errno, "writing the dump");
  bytes_ += n;
  return Status::OK();
}

Status DumpWriter::WriteHeader() {
  std::string h(kDumpMagic, kDumpMagicSize);
  PutU32(&h, kDumpVersion);
  return Put(h.data(), h.size());
}

Status DumpWriter::WriteEntry(std::string_view key, std::string_view value) {
  std::string head;
  head += 'E';
  PutU32(&head, static_cast<uint32_t>(key.size()));
  PutU64(&head, value.size());
  uint32_t crc = crc32c::Extend(crc32c::Value(head.data(), head.size()), key.data(), key.size());
  crc = crc32c::Mask(crc32c::Extend(crc, value.data(), value.size()));
  Status s = Put(head.data(), head.size());
  if (s.ok()) s = Put(key.data(), key.size());
  if (s.ok()) s = Put(value.data(), value.size());
  if (s.ok()) s = Put(&crc, 4);
  if (s.ok()) ++entries_;
  return s;
}

Status DumpWriter::WriteTrailer() {
  std::string t;
  t += 'Z';
  PutU64(&t, entries_);
  uint32_t crc = crc32c::Mask(crc32c::Value(t.data(), t.size()));
  PutU32(&t, crc);
  Status s = Put(t.data(), t.size());
  if (s.ok() && std::fflush(out_) != 0) s = Status::FromErrno(errno, "writing the dump");
  return s;
}

Status DumpReader::Get(void* data, size_t n, const char* what) {
  if (n > 0 && std::fread(data, 1, n, in_) != n) {
    if (std::ferror(in_)) return Status::FromErrno(errno, "reading the dump");
    return Status::Corruption("the dump is truncated: it ends inside " + std::string(what) +
                              " at byte " + std::to_string(offset_) + " after " +
                              std::to_string(entries_) + " entries");
  }
  offset_ += n;
  return Status::OK();
}

Status DumpReader::ReadHeader() {
  char magic[kDumpMagicSize];
  uint32_t version = 0;
  Status s = Get(magic, sizeof magic, "the header");
  if (s.ok() && std::memcmp(magic, kDumpMagic, kDumpMagicSize) != 0) {
    return Status::Corruption("not an AlexFS dump (bad magic)");
  }
  if (s.ok()) s = Get(&version, 4, "the header");
  if (s.ok() && version != kDumpVersion) {
    return Status::NotSupported("dump format version " + std::to_string(version) +
                                " is not supported (this alexfs reads version " +
                                std::to_string(kDumpVersion) + ")");
  }
  return s;
}

Status DumpReader::Next(std::string* key, std::string* value, bool* done) {
  uint64_t start = offset_;
  char tag = 0;
  Status s = Get(&tag, 1, "an entry tag");
  if (!s.ok()) return s;
  if (tag == 'Z') {
    uint64_t count = 0;
    uint32_t stored = 0;
    s = Get(&count, 8, "the trailer");
    if (s.ok()) s = Get(&stored, 4, "the trailer");
    if (!s.ok()) return s;
    std::string t(1, 'Z');
    t.append(reinterpret_cast<const char*>(&count), 8);
    if (crc32c::Mask(crc32c::Value(t.data(), t.size())) != stored || count != entries_) {
      return Status::Corruption("the dump's trailer at byte " + std::to_string(start) +
                                " does not match: it counts " + std::to_string(count) +
                                " entries, " + std::to_string(entries_) + " were read");
    }
    *done = true;
    return Status::OK();
  }
  if (tag != 'E') {
    return Status::Corruption("bad tag at byte " + std::to_string(start) + " (entry " +
                              std::to_string(entries_ + 1) + ")");
  }
  uint32_t k = 0;
  uint64_t v = 0;
  s = Get(&k, 4, "an entry header");
  if (s.ok()) s = Get(&v, 8, "an entry header");
  if (!s.ok()) return s;
  if (k == 0 || k > 4096 || v > (uint64_t{1} << 30)) {
    return Status::Corruption("entry " + std::to_string(entries_ + 1) + " at byte " +
                              std::to_string(start) + " has impossible lengths");
  }
  key->resize(k);
  value->resize(v);
  uint32_t stored = 0;
  s = Get(key->data(), k, "a key");
  if (s.ok()) s = Get(value->data(), v, "a value");
  if (s.ok()) s = Get(&stored, 4, "an entry checksum");
  if (!s.ok()) return s;
  std::string head(1, 'E');
  head.append(reinterpret_cast<const char*>(&k), 4);
  head.append(reinterpret_cast<const char*>(&v), 8);
  uint32_t crc = crc32c::Extend(crc32c::Value(head.data(), head.size()), key->data(), k);
  crc = crc32c::Mask(crc32c::Extend(crc, value->data(), v));
  if (crc != stored) {
    return Status::Corruption("entry " + std::to_string(entries_ + 1) + " at byte " +
                              std::to_string(start) + " fails its checksum");
  }
  ++entries_;
  *done = false;
  return Status::OK();
}

}  // namespace alexfs::tools
