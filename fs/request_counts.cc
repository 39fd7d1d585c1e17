#include "fs/request_counts.h"

namespace alexfs::fs {

const char* RequestName(Request r) {
  static constexpr const char* kNames[kRequestKinds] = {
      "init",    "statfs",   "lookup",  "forget",  "getattr",  "setattr",
      "readlink", "mknod",   "mkdir",   "unlink",  "rmdir",    "symlink",     "rename",
      "link",    "open",     "create",  "read",    "write",    "flush",       "release",
      "fsync",   "opendir",  "readdir", "readdirplus", "releasedir", "fsyncdir", "lseek",
      "setxattr", "getxattr", "listxattr", "removexattr", "fallocate",
  };
  const auto i = static_cast<size_t>(r);
  return i < kRequestKinds ? kNames[i] : "unknown";
}

}  // namespace alexfs::fs
