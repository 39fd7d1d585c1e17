// setxattr, getxattr, listxattr, removexattr.
//
// Extended attributes live in the object's record, with its attributes
// (Attr::xattrs, fs/value_format.h), so they cost nothing to objects without
// any, move with rename and survive everything the record does. Changes go
// through ChangeAttr, exactly like a chmod: one small record rewrite.
//
// Who may do what. The kernel checks first (default_permissions is always on):
// user.* needs read/write permission on the object and exists only on
// regular files and directories; trusted.* needs CAP_SYS_ADMIN; security.*
// writes need CAP_SYS_ADMIN (for most LSMs). The daemon repeats the checks it
// can make from the request (the object's type; root for trusted.*) and hides
// trusted.* from other users' listings. Symlinks carry security.* and
// trusted.* only; ACLs apply to files, directories and special files.
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "fs/filesystem.h"
#include "fs/posix_acl.h"
#include "fs/xattr_format.h"

namespace alexfs::fs {
namespace {

Status Fail(int err, const char* why) {
  return Status::WithErrno(Status::Code::kInvalidArgument, err, why);
}

// The errno for an attribute name before any object is looked at: 0 if the
// name may be used by this request.
int CheckName(const fuse_req_t req, XattrNamespace ns, std::string_view name, bool acls) {
  if (name.size() > kMaxXattrNameBytes) return ERANGE;
  switch (ns) {
    case XattrNamespace::kUnsupported: return EOPNOTSUPP;
    case XattrNamespace::kAclAccess:
    case XattrNamespace::kAclDefault: return acls ? 0 : EOPNOTSUPP;
    case XattrNamespace::kTrusted: return fuse_req_ctx(req)->uid == 0 ? 0 : EPERM;
    default: return 0;
  }
}

// Whether an object of `mode` may carry an attribute of namespace `ns`; the
// errno setxattr gets if not (0 if it may).
int CheckObject(XattrNamespace ns, uint32_t mode) {
  switch (ns) {
    case XattrNamespace::kUser: return S_ISREG(mode) || S_ISDIR(mode) ? 0 : EPERM;
    case XattrNamespace::kAclAccess: return S_ISLNK(mode) ? EOPNOTSUPP : 0;
    case XattrNamespace::kAclDefault: return S_ISDIR(mode) ? 0 : EACCES;
    default: return 0;
  }
}

// The change of an object's extended attributes through ChangeAttr: decode
// them, let `edit` change them (and the attributes), encode them, new ctime.
std::function<Status(Attr*, FileBuffer*)> XattrEdit(
    int64_t now, std::function<Status(Attr* attr, XattrMap* xattrs)> edit) {
  return [now, edit = std::move(edit)](Attr* attr, FileBuffer*) -> Status {
    XattrMap xattrs;
    if (!DecodeXattrs(attr->xattrs, &xattrs)) {
      return Status::Corruption("malformed extended attributes");
    }
    Status s = edit(attr, &xattrs);
    if (!s.ok()) return s;
    attr->xattrs = EncodeXattrs(xattrs);
    attr->ctime_ns = now;
    return Status::OK();
  };
}

}  // namespace

void Filesystem::SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name_c, const char* value_c,
                          size_t size, int flags) {
  const std::string_view name(name_c);
  const std::string_view value(value_c, size);
  const XattrNamespace ns = ClassifyXattr(name);
  int err = CheckName(req, ns, name, posix_acl());
  if (err == 0 && size > kMaxXattrBytes) err = E2BIG;
  if (err == 0 && (flags & ~(XATTR_CREATE | XATTR_REPLACE))) err = EINVAL;
  std::vector<AclEntry> acl;
  if (err == 0 && (ns == XattrNamespace::kAclAccess || ns == XattrNamespace::kAclDefault) &&
      !ParseAcl(value, &acl)) {
    err = EINVAL;
  }
  if (err != 0) {
    ReplyError(req, err);
    return;
  }
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  auto change = XattrEdit(NowNs(), [&](Attr* attr, XattrMap* xattrs) -> Status {
    if (int e = CheckObject(ns, attr->mode)) return Fail(e, "attribute not allowed on this object");
    auto it = xattrs->find(name);
    if ((flags & XATTR_CREATE) && it != xattrs->end()) return Fail(EEXIST, "attribute exists");
    if ((flags & XATTR_REPLACE) && it == xattrs->end()) return Fail(ENODATA, "no such attribute");
    bool keep = true;
    if (ns == XattrNamespace::kAclAccess) {
      // The mode follows the ACL; an ACL the mode says entirely is not kept.
      uint32_t bits = 0;
      keep = !AclModeBits(acl, &bits);
      attr->mode = (attr->mode & ~0777u) | bits;
    }
    if (keep) {
      (*xattrs)[std::string(name)] = std::string(value);
    } else if (it != xattrs->end()) {
      xattrs->erase(it);
    }
    if (XattrPayloadBytes(*xattrs) > kMaxXattrBytes) {
      return Fail(ENOSPC, "extended attributes of one object are limited to 64 KiB");
    }
    return Status::OK();
  });
  Attr attr;
  uint64_t file_size = 0;
  Status s = ChangeAttr(*inode, /*load_inline=*/true, change, &attr, &file_size);
  ReplyError(req, ErrnoOf(s));
}

void Filesystem::RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name_c) {
  const std::string_view name(name_c);
  const XattrNamespace ns = ClassifyXattr(name);
  if (int err = CheckName(req, ns, name, posix_acl())) {
    ReplyError(req, err);
    return;
  }
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  auto change = XattrEdit(NowNs(), [&](Attr*, XattrMap* xattrs) -> Status {
    auto it = xattrs->find(name);
    if (it == xattrs->end()) return Fail(ENODATA, "no such attribute");
    xattrs->erase(it);
    return Status::OK();
  });
  Attr attr;
  uint64_t file_size = 0;
  Status s = ChangeAttr(*inode, /*load_inline=*/true, change, &attr, &file_size);
  ReplyError(req, ErrnoOf(s));
}

void Filesystem::GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name_c, size_t size) {
  const std::string_view name(name_c);
  const XattrNamespace ns = ClassifyXattr(name);
  int err = CheckName(req, ns, name, posix_acl());
  if (err != 0) {
    // Reading a trusted.* attribute without the right finds nothing.
    ReplyError(req, err == EPERM ? ENODATA : err);
    return;
  }
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  std::shared_lock<std::shared_mutex> ns_lock(namespace_mutex_);
  std::shared_lock<std::shared_mutex> lock(inode->mutex);
  Attr attr;
  uint64_t file_size = 0;
  Status s = StatInode(*inode, &attr, &file_size);
  if (!s.ok()) {
    ReplyError(req, ErrnoOf(s));
    return;
  }
  std::string_view value;
  if (!FindXattr(attr.xattrs, name, &value)) {
    ReplyError(req, ENODATA);
  } else if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    ReplyError(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void Filesystem::ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::shared_ptr<Inode> inode = InodeOrReply(req, ino);
  if (!inode) return;
  const bool root = fuse_req_ctx(req)->uid == 0;
  std::string list;
  {
    std::shared_lock<std::shared_mutex> ns_lock(namespace_mutex_);
    std::shared_lock<std::shared_mutex> lock(inode->mutex);
    Attr attr;
    uint64_t file_size = 0;
    Status s = StatInode(*inode, &attr, &file_size);
    XattrMap xattrs;
    if (s.ok() && !DecodeXattrs(attr.xattrs, &xattrs)) {
      s = Status::Corruption("malformed extended attributes");
    }
    if (!s.ok()) {
      ReplyError(req, ErrnoOf(s));
      return;
    }
    for (const auto& [name, value] : xattrs) {
      if (!root && ClassifyXattr(name) == XattrNamespace::kTrusted) continue;
      list.append(name);
      list += '\0';
    }
  }
  if (size == 0) {
    fuse_reply_xattr(req, list.size());
  } else if (size < list.size()) {
    ReplyError(req, ERANGE);
  } else {
    fuse_reply_buf(req, list.data(), list.size());
  }
}

}  // namespace alexfs::fs
