#include "tools/alexfs/key_rules.h"

#include <cstdio>

namespace alexfs::tools {

std::string WhyNotAFileKey(std::string_view key) {
  if (key.empty()) return "empty key";
  if (key[0] == '\0') return "";  // internal key space
  std::string_view path = key;
  if (path.back() == '/') path.remove_suffix(1);
  if (path.size() > 4095) return "path longer than 4095 bytes";
  if (path.empty()) return "empty path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view name = path.substr(start, slash - start);
    if (name.empty()) return "empty path component";
    if (name == "." || name == "..") return std::string("'").append(name).append("' component");
    if (name.find('\0') != std::string_view::npos) return "NUL byte in a name";
    if (name.size() > 255) return "name longer than 255 bytes";
    start = slash + 1;
  }
  return "";
}

std::vector<std::string> FileDirectoryConflicts(const std::set<std::string>& keys) {
  std::vector<std::string> conflicts;
  for (const std::string& key : keys) {
    if (key.empty() || key[0] == '\0' || key.back() == '/') continue;
    auto below = keys.lower_bound(key + "/");
    if (below != keys.end() && below->compare(0, key.size() + 1, key + "/") == 0) {
      conflicts.push_back(PrintableKey(key) + ": is a file and a directory (" +
                          PrintableKey(*below) + ")");
    }
  }
  return conflicts;
}

std::string PrintableKey(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace alexfs::tools
