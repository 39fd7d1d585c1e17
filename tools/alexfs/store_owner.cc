#include "tools/alexfs/store_owner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fs/mount.h"

namespace alexfs::tools {
namespace {

constexpr std::chrono::milliseconds kPollInterval{20};

std::string Canonical(const std::string& path) {
  std::error_code ec;
  std::string c = std::filesystem::canonical(path, ec).string();
  return ec ? std::string() : c;
}

}  // namespace

std::string DataDirOfMount(const std::string& path) {
  std::string target = Canonical(path);
  if (target.empty()) return "";
  for (const fs::MountEntry& entry : fs::ReadMountTable()) {
    if (entry.mount_point == target && entry.fstype == "fuse.alexfs" &&
        entry.source.rfind("alexfs:", 0) == 0) {
      return entry.source.substr(7);
    }
  }
  return "";
}

std::string MountpointOfDataDir(const std::string& data_dir) {
  std::string dir = Canonical(data_dir);
  if (dir.empty()) return "";
  for (const fs::MountEntry& entry : fs::ReadMountTable()) {
    if (entry.fstype == "fuse.alexfs" && entry.source.rfind("alexfs:", 0) == 0 &&
        Canonical(entry.source.substr(7)) == dir) {
      return entry.mount_point;
    }
  }
  return "";
}

pid_t LockHolder(const std::string& data_dir) {
  int fd = ::open((data_dir + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  pid_t holder = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
  } else {
    char buf[32] = {0};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    holder = n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
    if (holder <= 0) holder = -1;
  }
  ::close(fd);
  return holder;
}

bool WaitForLockRelease(const std::string& data_dir, const char* command,
                        std::chrono::milliseconds limit, std::chrono::milliseconds quiet) {
  auto start = std::chrono::steady_clock::now();
  bool said = false;
  for (;;) {
    pid_t holder = LockHolder(data_dir);
    if (holder == 0) return true;
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited >= limit) return false;
    if (!said && waited >= quiet) {
      std::fprintf(stderr,
                   "alexfs %s: waiting up to %llds for the daemon (pid %d, holding %s/LOCK) to "
                   "finish its final commit and exit\n",
                   command,
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::seconds>(limit).count()),
                   static_cast<int>(holder), data_dir.c_str());
      said = true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void WaitForExitingDaemon(const std::string& data_dir, const char* command) {
  if (LockHolder(data_dir) == 0 || !MountpointOfDataDir(data_dir).empty()) return;
  WaitForLockRelease(data_dir, command, kExitingDaemonWait, std::chrono::milliseconds(0));
}

bool ProcessExited(pid_t pid) {
  if (pid <= 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  // pid (comm) STATE ...: comm may hold spaces and parentheses; STATE follows the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return true;
  char state = line[close + 2];
  return state == 'Z' || state == 'X';
}

}  // namespace alexfs::tools
