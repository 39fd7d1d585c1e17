#include "tools/bench/page_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace alexfs::bench {
namespace {

std::vector<std::string> RegularFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  return files;
}

// Drops this process's page table entries for shared mappings of files under `dir`.
bool UnmapPages(const std::string& dir, std::string* error) {
  std::ifstream maps("/proc/self/maps");
  if (!maps) {
    *error = "cannot read /proc/self/maps";
    return false;
  }
  std::string prefix = std::filesystem::absolute(dir).lexically_normal().string() + "/";
  std::string line;
  while (std::getline(maps, line)) {
    // start-end perms offset dev inode path
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    if (path.compare(0, prefix.size(), prefix) != 0 || perms.size() < 4 || perms[3] != 's') continue;
    uintptr_t start = 0, end = 0;
    if (std::sscanf(range.c_str(), "%lx-%lx", &start, &end) != 2 || end <= start) continue;
    if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED) != 0) {
      *error = "madvise(MADV_DONTNEED) on " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

bool EvictFiles(const std::string& dir, std::string* error) {
  ::sync();
  if (!UnmapPages(dir, error)) return false;
  for (const std::string& f : RegularFiles(dir)) {
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // deleted meanwhile (e.g. a compacted segment)
    int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    if (rc != 0) {
      *error = "posix_fadvise(DONTNEED) on " + f + ": " + std::strerror(rc);
      return false;
    }
  }
  std::FILE* drop = std::fopen("/proc/sys/vm/drop_caches", "w");
  if (drop == nullptr) {
    *error = std::string("cannot open /proc/sys/vm/drop_caches: ") + std::strerror(errno);
    return false;
  }
  bool ok = std::fputs("3\n", drop) >= 0;
  ok = std::fclose(drop) == 0 && ok;
  if (!ok) *error = "writing /proc/sys/vm/drop_caches failed";
  return ok;
}

Residency PageCacheResidency(const std::string& dir) {
  Residency r;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  for (const std::string& f : RegularFiles(dir)) {
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      size_t len = static_cast<size_t>(st.st_size);
      r.file_bytes += len;
      void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        std::vector<unsigned char> vec((len + page - 1) / page);
        if (::mincore(p, len, vec.data()) == 0) {
          for (unsigned char v : vec) r.resident_bytes += (v & 1) ? page : 0;
        }
        ::munmap(p, len);
      }
    }
    ::close(fd);
  }
  return r;
}

}  // namespace alexfs::bench
