// The POSIX Env (engine/env.h): system calls, nothing more.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <vector>

#include "engine/env.h"
#include "engine/syncs_dropped.h"

namespace alexfs {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  Status ReadAt(uint64_t offset, char* buf, size_t n, size_t* got) override {
    *got = 0;
    while (*got < n) {
      ssize_t r = ::pread(fd_, buf + *got, n - *got, static_cast<off_t>(offset + *got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + path_);
      }
      if (r == 0) break;
      *got += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, const struct iovec* iov_in, int iovcnt,
                 uint64_t* written) override {
    *written = 0;
    std::vector<struct iovec> iov(iov_in, iov_in + iovcnt);
    size_t i = 0;
    while (i < iov.size()) {
      if (iov[i].iov_len == 0) {
        ++i;
        continue;
      }
      const int n = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
      ssize_t w = ::pwritev(fd_, &iov[i], n, static_cast<off_t>(offset + *written));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path_ + " at offset " +
                                            std::to_string(offset + *written));
      }
      *written += static_cast<uint64_t>(w);
      size_t left = static_cast<size_t>(w);
      while (i < iov.size() && left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        ++i;
      }
      if (left > 0) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
    }
    return Status::OK();
  }

  Status Allocate(uint64_t size) override {
    if (size == 0) return Status::OK();
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(size)) == 0) return Status::OK();
    const int err = errno;
    if (err == EOPNOTSUPP || err == ENOSYS) {
      return Status::NotSupported("fallocate " + path_ + ": not supported by the filesystem");
    }
    return Status::FromErrno(err, "allocate " + std::to_string(size) + " bytes for " + path_);
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::FromErrno(errno, "truncate " + path_);
    }
    return Status::OK();
  }

  Status DataSync() override {
    if (kSyncsDropped) return Status::OK();
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
    return Status::OK();
  }

  Status Sync() override {
    if (kSyncsDropped) return Status::OK();
    if (::fsync(fd_) != 0) return Status::FromErrno(errno, "fsync " + path_);
    return Status::OK();
  }

  Status GetSize(uint64_t* size, uint64_t* allocated_bytes) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
    *size = static_cast<uint64_t>(st.st_size);
    *allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    return Status::OK();
  }

  Status Map(uint64_t len, bool writable, char** base) override {
    *base = nullptr;
    if (len == 0) return Status::OK();
    void* p = ::mmap(nullptr, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                     fd_, 0);
    if (p == MAP_FAILED) return Status::FromErrno(errno, "mmap " + path_);
    *base = static_cast<char*>(p);
    return Status::OK();
  }

  void Unmap(char* base, uint64_t len) override {
    if (base != nullptr) ::munmap(base, len);
  }

  void StartWriteback(uint64_t offset, uint64_t len) override {
    (void)::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(len),
                            SYNC_FILE_RANGE_WRITE);
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixEnv final : public Env {
 public:
  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(path + ": no such file");
      return Status::FromErrno(errno, (mode == OpenMode::kCreate ? "create " : "open ") + path);
    }
    *out = std::make_unique<PosixFile>(path, fd);
    return Status::OK();
  }

  bool IsDirectory(const std::string& path) override {
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
  }

  Status CreateDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::FromErrno(ec.value(), "create directory " + dir);
    return Status::OK();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "list " + dir);
    while (struct dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names->push_back(name);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "rename " + from + " to " + to);
    }
    return Status::OK();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return Status::NotFound(path + ": no such file");
      return Status::FromErrno(errno, "delete " + path);
    }
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
    const int rc = kSyncsDropped ? 0 : ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync directory " + dir);
    return Status::OK();
  }

  Status LockFile(const std::string& path, std::unique_ptr<File>* lock) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        char buf[32] = {0};
        ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
        std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        ::close(fd);
        return Status::Busy(path + " is held by pid " + pid);
      }
      ::close(fd);
      return Status::FromErrno(err, "flock " + path);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      const int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "write pid to " + path);
    }
    *lock = std::make_unique<PosixFile>(path, fd);  // closing it releases the lock
    return Status::OK();
  }

  Status FreeSpace(const std::string& dir, uint64_t* bytes) override {
    struct statvfs st;
    if (::statvfs(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "statvfs " + dir);
    *bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv;  // never destroyed: used until exit
  return env;
}

Status WriteFileAt(File* f, uint64_t offset, const char* data, size_t n) {
  struct iovec iov = {const_cast<char*>(data), n};
  uint64_t written = 0;
  return f->WriteAt(offset, &iov, 1, &written);
}

Status ReadWholeFile(Env* env, const std::string& path, std::string* out) {
  out->clear();
  std::unique_ptr<File> f;
  Status s = env->OpenFile(path, OpenMode::kRead, &f);
  if (!s.ok()) return s;
  char buf[4096];
  for (uint64_t off = 0;;) {
    size_t got = 0;
    s = f->ReadAt(off, buf, sizeof(buf), &got);
    if (!s.ok()) return s;
    out->append(buf, got);
    off += got;
    if (got < sizeof(buf)) return Status::OK();
  }
}

}  // namespace alexfs
