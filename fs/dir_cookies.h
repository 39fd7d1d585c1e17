// DirCookies: the readdir offset cookies of one directory.
//
// A readdir offset must let a later call resume where the last one stopped, even
// after entries were added or removed meanwhile, and even from another open
// handle: with cache_readdir the kernel keeps the offsets of cached entries and
// may continue a partly cached listing through a new handle. So a cookie does
// not count positions; it names the last entry returned. The directory hands
// out one cookie per resume point ("name\0" after a file, "name0" after a
// directory: the first key past its subtree) and keeps it for the life of the
// inode, so the same entry gets the same cookie in every listing. Memory grows
// with the distinct names ever listed in the directory while the kernel holds
// its inode (~50 bytes each).
//
// Cookies 1 and 2 are "." and ".."; entry cookies start at kFirstEntryCookie.
//
// Thread safety: thread-safe; mutex_ is a leaf lock.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace alexfs::fs {

class DirCookies {
 public:
  static constexpr off_t kFirstEntryCookie = 3;

  // The cookie that resumes a listing at the first key >= prefix + resume_after.
  off_t CookieFor(std::string_view resume_after) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = index_.try_emplace(std::string(resume_after), 0);
    if (inserted) {
      it->second = kFirstEntryCookie + static_cast<off_t>(resume_points_.size());
      resume_points_.push_back(it->first);
    }
    return it->second;
  }

  // The resume point of `cookie`; false if this directory never issued it.
  bool Find(off_t cookie, std::string* resume_after) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cookie < kFirstEntryCookie) return false;
    size_t i = static_cast<size_t>(cookie - kFirstEntryCookie);
    if (i >= resume_points_.size()) return false;
    *resume_after = resume_points_[i];
    return true;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> resume_points_;                // GUARDED_BY(mutex_)
  std::unordered_map<std::string, off_t> index_;          // GUARDED_BY(mutex_)
};

}  // namespace alexfs::fs
