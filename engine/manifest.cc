#include "engine/manifest.h"

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

Status WriteManifest(Env* env, const std::string& dir, const Manifest& m) {
  const std::string tmp = dir + "/MANIFEST.tmp";
  const std::string final_name = dir + "/MANIFEST";
  const std::string text = m.Encode();
  std::unique_ptr<File> f;
  Status s = env->OpenFile(tmp, OpenMode::kCreate, &f);
  if (s.ok()) s = WriteFileAt(f.get(), 0, text.data(), text.size());
  if (s.ok()) s = f->Sync();
  f.reset();
  if (s.ok()) s = env->Rename(tmp, final_name);
  if (!s.ok()) {
    (void)env->Remove(tmp);
    return s;
  }
  return env->SyncDir(dir);
}

Status ReadManifest(Env* env, const std::string& dir, Manifest* m) {
  const std::string path = dir + "/MANIFEST";
  std::string text;
  Status s = ReadWholeFile(env, path, &text);
  if (!s.ok()) return s;
  return Manifest::Decode(path, text, m);
}

}  // namespace alexfs
