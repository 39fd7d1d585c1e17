#include "engine/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <sstream>

#include "engine/crc32c.h"

namespace alexfs {

std::string Manifest::Encode() const {
  std::string s = "alexfs-manifest 1\nnext_file " + std::to_string(next_file) + "\n";
  for (const auto& [id, kind] : segments) {
    s += "segment " + std::to_string(id) + (kind == log::SegmentKind::kLog ? " log\n" : " sorted\n");
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "crc %08x\n", crc32c::Mask(crc32c::Value(s.data(), s.size())));
  return s + buf;
}

Status Manifest::Decode(const std::string& name, const std::string& text, Manifest* out) {
  auto bad = [&](const std::string& why) { return Status::Corruption(name + ": " + why); };
  size_t crc_at = text.rfind("crc ");
  if (crc_at == std::string::npos) return bad("no crc line");
  unsigned want = 0;
  if (std::sscanf(text.c_str() + crc_at, "crc %x", &want) != 1) return bad("bad crc line");
  if (crc32c::Mask(crc32c::Value(text.data(), crc_at)) != want) return bad("checksum mismatch");
  std::istringstream in(text.substr(0, crc_at));
  std::string word;
  int version = 0;
  if (!(in >> word >> version) || word != "alexfs-manifest" || version != 1) {
    return bad("unknown header");
  }
  Manifest m;
  while (in >> word) {
    if (word == "next_file") {
      if (!(in >> m.next_file)) return bad("bad next_file");
    } else if (word == "segment") {
      uint32_t id;
      std::string kind;
      if (!(in >> id >> kind) || (kind != "log" && kind != "sorted")) return bad("bad segment line");
      m.segments[id] = kind == "log" ? log::SegmentKind::kLog : log::SegmentKind::kSorted;
    } else {
      return bad("unknown line '" + word + "'");
    }
  }
  *out = std::move(m);
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(err, "fsync directory " + dir);
  return Status::OK();
}

Status WriteManifest(const std::string& dir, const Manifest& m) {
  const std::string tmp = dir + "/MANIFEST.tmp";
  const std::string final_name = dir + "/MANIFEST";
  const std::string text = m.Encode();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::FromErrno(err, "write " + tmp);
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "fsync " + tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_name.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "rename " + tmp);
  }
  return SyncDir(dir);
}

Status ReadManifest(const std::string& dir, Manifest* m) {
  const std::string path = dir + "/MANIFEST";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path);
    return Status::FromErrno(errno, "open " + path);
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "read " + path);
    }
    if (r == 0) break;
    text.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return Manifest::Decode(path, text, m);
}

}  // namespace alexfs
