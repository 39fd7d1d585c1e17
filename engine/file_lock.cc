#include "engine/file_lock.h"

namespace alexfs {

Status FileLock::Acquire(Env* env, const std::string& path) {
  if (file_ != nullptr) return Status::InvalidArgument("lock already held: " + path);
  return env->LockFile(path, &file_);
}

}  // namespace alexfs
