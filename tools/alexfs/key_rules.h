// Which store keys can be files: the rules `alexfs load` applies before it
// writes anything, matching how the filesystem maps paths to keys.
//
//   * a key beginning with a 0x00 byte is the filesystem's internal key space
//     (hard-link bodies, root attributes): accepted as it is;
//   * otherwise the key is a relative path; a trailing '/' marks a directory;
//     every component is non-empty, not "." or "..", has no NUL byte and is at
//     most 255 bytes; the path (the key without its trailing '/') is at most 4095
//     bytes, as the filesystem allows;
//   * no name is both a file and a directory: a file key "a/b" excludes every
//     key beginning with "a/b/".
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace alexfs::tools {

// Empty if `key` can be a file or directory; otherwise why not.
std::string WhyNotAFileKey(std::string_view key);

// The file keys of `keys` (sorted) that are also directories, each with the
// reason, e.g. "a/b: is a file and a directory (a/b/c)".
std::vector<std::string> FileDirectoryConflicts(const std::set<std::string>& keys);

// `key` for a message: printable ASCII as it is, other bytes as \xNN.
std::string PrintableKey(std::string_view key);

}  // namespace alexfs::tools
