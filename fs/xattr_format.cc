#include "fs/xattr_format.h"

namespace alexfs::fs {
namespace {

constexpr size_t kEntryHeaderBytes = 5;  // u8 name length + u32 value length

// Reads the entry at the front of *section and advances past it; false if
// the section is malformed there.
bool NextEntry(std::string_view* section, std::string_view* name, std::string_view* value) {
  if (section->size() < kEntryHeaderBytes) return false;
  const size_t name_bytes = static_cast<uint8_t>((*section)[0]);
  uint32_t value_bytes = 0;
  for (int i = 0; i < 4; ++i) {
    value_bytes |= static_cast<uint32_t>(static_cast<uint8_t>((*section)[1 + i])) << (8 * i);
  }
  section->remove_prefix(kEntryHeaderBytes);
  if (name_bytes == 0 || section->size() < name_bytes + size_t{value_bytes}) return false;
  *name = section->substr(0, name_bytes);
  *value = section->substr(name_bytes, value_bytes);
  section->remove_prefix(name_bytes + value_bytes);
  return true;
}

}  // namespace

XattrNamespace ClassifyXattr(std::string_view name) {
  if (name.starts_with("user.") && name.size() > 5) return XattrNamespace::kUser;
  if (name.starts_with("trusted.") && name.size() > 8) return XattrNamespace::kTrusted;
  if (name.starts_with("security.") && name.size() > 9) return XattrNamespace::kSecurity;
  if (name == kAclAccessXattr) return XattrNamespace::kAclAccess;
  if (name == kAclDefaultXattr) return XattrNamespace::kAclDefault;
  return XattrNamespace::kUnsupported;
}

bool DecodeXattrs(std::string_view section, XattrMap* out) {
  out->clear();
  std::string_view name, value;
  while (!section.empty()) {
    if (!NextEntry(&section, &name, &value)) return false;
    out->emplace(std::string(name), std::string(value));
  }
  return true;
}

std::string EncodeXattrs(const XattrMap& xattrs) {
  std::string section;
  for (const auto& [name, value] : xattrs) {
    section += static_cast<char>(name.size());
    const auto value_bytes = static_cast<uint32_t>(value.size());
    for (int i = 0; i < 4; ++i) section += static_cast<char>(value_bytes >> (8 * i));
    section += name;
    section += value;
  }
  return section;
}

size_t XattrPayloadBytes(const XattrMap& xattrs) {
  size_t bytes = 0;
  for (const auto& [name, value] : xattrs) bytes += name.size() + value.size();
  return bytes;
}

bool FindXattr(std::string_view section, std::string_view name, std::string_view* value) {
  std::string_view entry_name, entry_value;
  while (!section.empty()) {
    if (!NextEntry(&section, &entry_name, &entry_value)) return false;
    if (entry_name == name) {
      *value = entry_value;
      return true;
    }
  }
  return false;
}

}  // namespace alexfs::fs
