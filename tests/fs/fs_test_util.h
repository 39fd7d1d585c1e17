// Helpers for filesystem tests: plain syscalls on a mounted AlexFS.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace alexfs::testing {

// Writes `data` to `path` (created/truncated, mode 0644) with write(2); optional fsync.
inline bool PutFile(const std::string& path, const std::string& data, bool sync = false) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    ::close(fd);
    return false;
  }
  return ::close(fd) == 0;
}

// The whole file, or "<error errno>" if it cannot be read.
inline std::string GetFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "<error " + std::to_string(errno) + ">";
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return "<error " + std::to_string(errno) + ">";
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The file's bytes, read after dropping its cached pages, so the daemon
// serves them.
inline std::string ReadUncached(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  return GetFile(path);
}

// Runs `body` as uid:gid (no supplementary groups) in a forked child; returns
// what it returned, or "cannot switch user".
inline std::string RunAs(uid_t uid, gid_t gid, const std::function<std::string()>& body) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "cannot make a pipe";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string result;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(uid, uid, uid) != 0) {
      result = "cannot switch user";
    } else {
      result = body();
    }
    (void)!::write(pipefd[1], result.data(), result.size());
    _exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status;
  ::waitpid(pid, &status, 0);
  return out;
}

// Names in a directory, without "." and "..".
inline std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

// errno of a failing call, or 0 if it succeeded.
inline int ErrnoOf(int rc) { return rc == 0 ? 0 : errno; }

inline struct stat StatOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) st.st_ino = 0;
  return st;
}

// Deterministic test bytes.
inline std::string Pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

}  // namespace alexfs::testing
