// opendir, readdir, readdirplus, releasedir, fsyncdir.
//
// A listing is a range scan of the keys under "dir/". Everything below a
// subdirectory `sub` sorts together under "dir/sub/", so on meeting the first
// such key the scan emits `sub` once and seeks to "dir/sub0" ('0' is the byte
// after '/'), skipping the subtree in one Seek. Offsets are cookies naming the
// last entry returned (fs/dir_cookies.h), so a listing resumes by name, never by
// position: names added or removed meanwhile do not make it repeat or skip the
// others.
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "fs/filesystem.h"

namespace alexfs::fs {

void Filesystem::OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  if (!inode->is_dir) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  // The kernel may keep this listing (cache_readdir) across opens (keep_cache)
  // and serve repeated listings itself; it drops the cache when the directory
  // changes through this mount, and every change also invalidates it from the
  // invalidator's thread (fs/invalidator.h).
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

void Filesystem::ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*,
                         bool plus) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  std::shared_lock<std::shared_mutex> ns(namespace_mutex_);
  std::string dir_path;
  int err = DirPathOf(ino, &dir_path);
  if (err == 0 && !inode->cookies) err = ENOTDIR;
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  // Adds one entry if it fits; false when the buffer is full. `lookup` runs
  // only for an entry that fits, so readdirplus never counts a lookup the
  // kernel does not receive.
  auto add = [&](const std::string& name, struct stat st, off_t next,
                 const std::function<void(fuse_entry_param*)>& lookup) {
    if (plus) {
      size_t need = fuse_add_direntry_plus(req, nullptr, 0, name.c_str(), nullptr, 0);
      if (need > size - used) return false;
      fuse_entry_param e;
      std::memset(&e, 0, sizeof e);
      e.attr = st;
      if (lookup) lookup(&e);  // "." and ".." are not looked up (ino 0)
      used += fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e, next);
    } else {
      size_t need = fuse_add_direntry(req, nullptr, 0, name.c_str(), nullptr, 0);
      if (need > size - used) return false;
      used += fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st, next);
    }
    return true;
  };

  struct stat dot;
  std::memset(&dot, 0, sizeof dot);
  dot.st_mode = S_IFDIR;
  dot.st_ino = ino;
  if (off < 1 && !add(".", dot, 1, nullptr)) {
    fuse_reply_buf(req, buf.data(), used);
    return;
  }
  if (off < 2) {
    std::shared_ptr<Inode> up;
    size_t slash = dir_path.rfind('/');
    if (!dir_path.empty()) {
      up = inodes_.Find(slash == std::string::npos ? RootKey()
                                                   : DirKey(dir_path.substr(0, slash)));
    }
    dot.st_ino = up ? up->ino : FUSE_ROOT_ID;
    if (!add("..", dot, 2, nullptr)) {
      fuse_reply_buf(req, buf.data(), used);
      return;
    }
  }

  const std::string prefix = ChildPrefix(dir_path);
  std::string start = prefix.empty() ? std::string("\x01") : prefix;  // skip internal keys
  if (off > 2) {
    std::string resume;
    if (!inode->cookies->Find(off, &resume)) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    start = prefix + resume;
  }
  std::unique_ptr<Iterator> it = store_->NewIterator();
  it->Seek(start);
  while (it->Valid()) {
    std::string_view key = it->key();
    if (key.substr(0, prefix.size()) != prefix) break;
    std::string_view rest = key.substr(prefix.size());
    if (rest.empty()) {  // the directory's own marker
      it->Next();
      continue;
    }
    size_t slash = rest.find('/');
    const bool is_dir = slash != std::string_view::npos;
    std::string name(is_dir ? rest.substr(0, slash) : rest);
    Object object;
    object.key = std::string(key);
    auto decoded = DecodeValue(it->value());
    Status s;
    if (decoded && decoded->kind == DecodedValue::Kind::kLinkPointer) {
      s = ReadObject(object.key, &object);
    } else if (decoded) {
      object.attr = decoded->attr;
      object.size = decoded->size;
    } else {
      s = Status::Corruption("value of key " + object.key + " has an unknown format");
    }
    if (is_dir && rest.size() != slash + 1) {
      // Keys below a directory without its marker: show it as a plain directory.
      object.key = std::string(prefix) + name + "/";
      object.attr = Attr();
      object.attr.mode = S_IFDIR | 0755;
      object.attr.nlink = 2;
      s = Status::OK();
    }
    if (!s.ok()) {
      if (used == 0) {
        fuse_reply_err(req, ErrnoOf(s));
        return;
      }
      break;  // an error can only be reported before the first entry
    }
    const std::string resume_after = name + (is_dir ? '0' : '\0');
    const off_t next = inode->cookies->CookieFor(resume_after);
    struct stat st;
    std::shared_ptr<Inode> known = inodes_.Find(object.key);
    // Plain readdir reports the inode number the kernel knows, or a stable
    // stand-in (high bit set, never a real number) without creating an inode.
    uint64_t d_ino =
        known ? known->ino : (std::hash<std::string>()(object.key) | (uint64_t{1} << 63));
    FillStat(object.attr, d_ino, object.size, &st);
    bool fitted = add(name, st, next, [&](fuse_entry_param* e) { MakeEntry(object, e); });
    if (!fitted) break;
    if (is_dir) {
      it->Seek(prefix + name + '0');
    } else {
      it->Next();
    }
  }
  if (used == 0 && !it->status().ok()) {
    fuse_reply_err(req, ErrnoOf(it->status()));
    return;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void Filesystem::ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void Filesystem::FsyncDir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  // Everything before it: every dirty buffer, then one sync of the store.
  fuse_reply_err(req, ErrnoOf(CommitAll(Durability::kDurable)));
}

}  // namespace alexfs::fs
