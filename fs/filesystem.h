// Filesystem: the FUSE low-level operations over the engine.
//
// This first version serves an empty, read-only root directory; the store-backed
// filesystem replaces it.
#pragma once

#include <fuse_lowlevel.h>

namespace alexfs::fs {

class Filesystem {
 public:
  Filesystem() = default;
  // The operation table handed to fuse_session_new; userdata is this object.
  static const fuse_lowlevel_ops& Operations();
};

}  // namespace alexfs::fs
