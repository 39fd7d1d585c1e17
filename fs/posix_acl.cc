#include "fs/posix_acl.h"

#include "fs/xattr_format.h"

namespace alexfs::fs {
namespace {

constexpr uint32_t kAclVersion = 2;
constexpr size_t kAclHeaderBytes = 4;
constexpr size_t kAclEntryBytes = 8;

uint32_t LoadLe(std::string_view bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return v;
}

void StoreLe(uint32_t v, size_t bytes, std::string* out) {
  for (size_t i = 0; i < bytes; ++i) *out += static_cast<char>(v >> (8 * i));
}

// The entry with `tag` (the first one), or null.
AclEntry* FindTag(std::vector<AclEntry>* acl, uint16_t tag) {
  for (AclEntry& e : *acl) {
    if (e.tag == tag) return &e;
  }
  return nullptr;
}

}  // namespace

bool ParseAcl(std::string_view value, std::vector<AclEntry>* acl) {
  acl->clear();
  if (value.size() < kAclHeaderBytes || (value.size() - kAclHeaderBytes) % kAclEntryBytes != 0) {
    return false;
  }
  if (LoadLe(value.substr(0, 4)) != kAclVersion) return false;
  int owners = 0, groups = 0, others = 0, masks = 0, named = 0;
  for (size_t off = kAclHeaderBytes; off < value.size(); off += kAclEntryBytes) {
    AclEntry e;
    e.tag = static_cast<uint16_t>(LoadLe(value.substr(off, 2)));
    e.perm = static_cast<uint16_t>(LoadLe(value.substr(off + 2, 2)));
    e.id = LoadLe(value.substr(off + 4, 4));
    if (e.perm > 7) return false;
    switch (e.tag) {
      case kAclUserObj: ++owners; break;
      case kAclGroupObj: ++groups; break;
      case kAclOther: ++others; break;
      case kAclMask: ++masks; break;
      case kAclUser:
      case kAclGroup: ++named; break;
      default: return false;
    }
    acl->push_back(e);
  }
  return owners == 1 && groups == 1 && others == 1 && masks <= 1 && (named == 0 || masks == 1);
}

std::string EncodeAcl(const std::vector<AclEntry>& acl) {
  std::string value;
  value.reserve(kAclHeaderBytes + acl.size() * kAclEntryBytes);
  StoreLe(kAclVersion, 4, &value);
  for (const AclEntry& e : acl) {
    StoreLe(e.tag, 2, &value);
    StoreLe(e.perm, 2, &value);
    StoreLe(e.id, 4, &value);
  }
  return value;
}

bool AclModeBits(const std::vector<AclEntry>& acl, uint32_t* bits) {
  uint32_t owner = 0, group = 0, other = 0;
  int mask = -1;  // the group class is the mask's when there is one
  bool equivalent = true;
  for (const AclEntry& e : acl) {
    switch (e.tag) {
      case kAclUserObj: owner = e.perm; break;
      case kAclGroupObj: group = e.perm; break;
      case kAclOther: other = e.perm; break;
      case kAclMask:
        mask = e.perm;
        equivalent = false;
        break;
      default: equivalent = false; break;  // named users and groups
    }
  }
  if (mask >= 0) group = static_cast<uint32_t>(mask);
  *bits = (owner << 6) | (group << 3) | other;
  return equivalent;
}

void AclChmod(uint32_t mode, std::vector<AclEntry>* acl) {
  AclEntry* mask = FindTag(acl, kAclMask);
  for (AclEntry& e : *acl) {
    if (e.tag == kAclUserObj) e.perm = static_cast<uint16_t>((mode >> 6) & 7);
    if (e.tag == kAclOther) e.perm = static_cast<uint16_t>(mode & 7);
    if (e.tag == (mask ? kAclMask : kAclGroupObj)) e.perm = static_cast<uint16_t>((mode >> 3) & 7);
  }
}

bool AclCreate(std::vector<AclEntry>* acl, uint32_t* mode) {
  // Each class keeps only what both the ACL and the requested mode grant.
  uint32_t bits = *mode & 0777;
  bool extended = false;
  AclEntry* group_class = FindTag(acl, kAclMask);
  if (group_class) extended = true;
  else group_class = FindTag(acl, kAclGroupObj);
  for (AclEntry& e : *acl) {
    if (e.tag == kAclUser || e.tag == kAclGroup) extended = true;
    if (e.tag == kAclUserObj) {
      e.perm &= static_cast<uint16_t>((bits >> 6) & 7);
      bits = (bits & ~0700u) | (uint32_t{e.perm} << 6);
    } else if (e.tag == kAclOther) {
      e.perm &= static_cast<uint16_t>(bits & 7);
      bits = (bits & ~07u) | e.perm;
    }
  }
  if (group_class) {
    group_class->perm &= static_cast<uint16_t>((bits >> 3) & 7);
    bits = (bits & ~070u) | (uint32_t{group_class->perm} << 3);
  }
  *mode = (*mode & ~0777u) | bits;
  return extended;
}

bool InheritDefaultAcl(std::string_view parent_xattrs, bool is_dir, uint32_t* mode,
                       std::string* xattrs) {
  std::string_view default_acl;
  if (!FindXattr(parent_xattrs, kAclDefaultXattr, &default_acl)) return false;
  std::vector<AclEntry> acl;
  if (!ParseAcl(default_acl, &acl)) return false;  // never stored so; the umask applies
  XattrMap map;
  if (!DecodeXattrs(*xattrs, &map)) return false;
  if (AclCreate(&acl, mode)) map[std::string(kAclAccessXattr)] = EncodeAcl(acl);
  if (is_dir) map[std::string(kAclDefaultXattr)] = std::string(default_acl);
  *xattrs = EncodeXattrs(map);
  return true;
}

void ChmodAccessAcl(uint32_t mode, std::string* xattrs) {
  std::string_view value;
  if (!FindXattr(*xattrs, kAclAccessXattr, &value)) return;
  std::vector<AclEntry> acl;
  XattrMap map;
  if (!ParseAcl(value, &acl) || !DecodeXattrs(*xattrs, &map)) return;
  AclChmod(mode, &acl);
  map[std::string(kAclAccessXattr)] = EncodeAcl(acl);
  *xattrs = EncodeXattrs(map);
}

}  // namespace alexfs::fs
