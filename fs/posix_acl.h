// POSIX ACLs as the kernel hands them to a FUSE filesystem with
// FUSE_CAP_POSIX_ACL: the values of system.posix_acl_access and
// system.posix_acl_default, and the rules that tie them to the file mode.
//
// The kernel checks permissions against the ACLs itself (it reads them with
// getxattr and caches them); the filesystem must keep mode and ACL in step:
//   - setting an access ACL sets the mode's permission bits from it (owner,
//     mask or else group, other); an ACL that says no more than the mode (just
//     the three base entries) is not stored, only the mode;
//   - chmod rewrites the access ACL's owner, mask (or group) and other entries;
//   - an object created in a directory with a default ACL gets that ACL as its
//     access ACL, narrowed by the mode the creator asked for (the umask does
//     not apply then), and a new directory also inherits the default ACL.
//
// Value layout (the kernel's posix_acl_xattr): u32 version = 2, then entries
// of u16 tag | u16 perm | u32 id, all little-endian, in the order the kernel
// validated (by tag, then id).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alexfs::fs {

struct AclEntry {
  uint16_t tag = 0;   // one of the kAcl* tags below
  uint16_t perm = 0;  // rwx bits, 0..7
  uint32_t id = 0;    // uid or gid for kAclUser / kAclGroup
};

inline constexpr uint16_t kAclUserObj = 0x01;
inline constexpr uint16_t kAclUser = 0x02;
inline constexpr uint16_t kAclGroupObj = 0x04;
inline constexpr uint16_t kAclGroup = 0x08;
inline constexpr uint16_t kAclMask = 0x10;
inline constexpr uint16_t kAclOther = 0x20;

// Parses an ACL value; false unless it is well formed: version 2, known tags,
// exactly one owner, group and other entry, and a mask if it has named users
// or groups.
bool ParseAcl(std::string_view value, std::vector<AclEntry>* acl);
std::string EncodeAcl(const std::vector<AclEntry>& acl);

// The permission bits (0777) an access ACL gives the mode; true if the ACL is
// equivalent to them (only the owner, group and other entries).
bool AclModeBits(const std::vector<AclEntry>& acl, uint32_t* bits);

// chmod: the owner, other and mask (or, without a mask, group) entries take
// the new mode's bits.
void AclChmod(uint32_t mode, std::vector<AclEntry>* acl);

// Creation under a default ACL: narrows `acl` (a copy of the default ACL) by
// the requested `*mode` and narrows *mode by the ACL. Returns true if the
// result says more than the mode (then it is stored as the access ACL).
bool AclCreate(std::vector<AclEntry>* acl, uint32_t* mode);

// Applies a parent directory's default ACL to a new object (not a symlink):
// `parent_xattrs` is the parent's encoded extended attributes
// (fs/xattr_format.h). If the parent has a default ACL, sets the new object's
// mode, access ACL and (directories) default ACL in *mode and *xattrs and
// returns true; otherwise changes nothing and returns false (the umask
// applies).
bool InheritDefaultAcl(std::string_view parent_xattrs, bool is_dir, uint32_t* mode,
                       std::string* xattrs);

// After chmod to `mode`: rewrites the access ACL in the encoded extended
// attributes `*xattrs`, if there is one.
void ChmodAccessAcl(uint32_t mode, std::string* xattrs);

}  // namespace alexfs::fs
