// Extended attributes: their namespaces, limits and the encoded section an
// object's value carries them in (fs/value_format.h, version 3).
//
// Section layout: entries sorted by name, each
//   u8 name length n (1..255) | u32 value length v (little-endian) | name | value
// An object without extended attributes has no section at all (empty string).
//
// Limits (checked by the filesystem; the kernel itself refuses names over 255
// bytes with ERANGE and values over 64 KiB with E2BIG):
//   a name is 1..kMaxXattrNameBytes bytes;
//   the names and values of one object together are at most kMaxXattrBytes,
//   so a single value is at most 64 KiB minus its name (ENOSPC past it), and a
//   listing always fits the kernel's 64 KiB listxattr limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace alexfs::fs {

inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrBytes = size_t{64} << 10;

inline constexpr std::string_view kAclAccessXattr = "system.posix_acl_access";
inline constexpr std::string_view kAclDefaultXattr = "system.posix_acl_default";

// The namespaces AlexFS stores. Any other name is refused with EOPNOTSUPP.
enum class XattrNamespace {
  kUser,        // user.*: regular files and directories only
  kTrusted,     // trusted.*: read and written by root (CAP_SYS_ADMIN) only
  kSecurity,    // security.*: every kind of object (SELinux labels, capabilities)
  kAclAccess,   // system.posix_acl_access (fs/posix_acl.h)
  kAclDefault,  // system.posix_acl_default: directories only
  kUnsupported,
};
XattrNamespace ClassifyXattr(std::string_view name);

// Name -> value, in name order.
using XattrMap = std::map<std::string, std::string, std::less<>>;

// Parses a section; false if it is malformed.
bool DecodeXattrs(std::string_view section, XattrMap* out);
// Encodes a section ("" for an empty map).
std::string EncodeXattrs(const XattrMap& xattrs);
// The bytes the limit counts: every name and value.
size_t XattrPayloadBytes(const XattrMap& xattrs);
// Finds one attribute in a section without decoding the rest; false if absent
// (or the section is malformed).
bool FindXattr(std::string_view section, std::string_view name, std::string_view* value);

}  // namespace alexfs::fs
