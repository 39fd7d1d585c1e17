// FileLock: the store directory's LOCK file, held with flock(LOCK_EX|LOCK_NB)
// for the store's lifetime and holding the owner's pid as text, so a second
// daemon or tool fails at once with a message naming the holder.
//
// flock locks belong to the open file description: a second Open in the same
// process conflicts too. The lock goes away with the process (even SIGKILL).
//
// Thread-safety: not thread-safe; owned by one Store.
#pragma once

#include <memory>
#include <string>

#include "engine/env.h"
#include "engine/status.h"

namespace alexfs {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock() { Release(); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // kBusy ("... held by pid N") if another open file description holds it.
  // Taken through env->LockFile (engine/env.h).
  Status Acquire(Env* env, const std::string& path);
  void Release() { file_.reset(); }
  bool held() const { return file_ != nullptr; }

 private:
  std::unique_ptr<File> file_;
};

}  // namespace alexfs
