#include "tests/support/mounted_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace alexfs::testing {

bool IsMounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == path) return true;
  }
  return false;
}

MountedStore::MountedStore(std::vector<std::string> extra_args)
    : data_dir_(temp_.Sub("data")),
      mountpoint_(temp_.Sub("mnt")),
      log_path_(temp_.Sub("daemon.log")),
      extra_args_(std::move(extra_args)) {
  ::mkdir(mountpoint_.c_str(), 0755);
}

MountedStore::~MountedStore() {
  if (pid_ > 0) {
    if (Unmount() < 0) Kill();
  }
  if (IsMounted(mountpoint_)) ::umount2(mountpoint_.c_str(), MNT_DETACH);
}

bool MountedStore::Mount() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    std::vector<std::string> argv = {AlexfsBinary(), "mount", data_dir_, mountpoint_,
                                     "--foreground"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (IsMounted(mountpoint_)) {
      // The mount is in the table; statfs (never cached) proves a daemon
      // answers. The f_type check matters on a remount after a kill: the
      // table may still list the dead mount when the new daemon detaches it,
      // and statfs then reaches the directory underneath (ext4, tmpfs) before
      // the new FUSE mount is in place.
      constexpr decltype(statfs::f_type) kFuseSuperMagic = 0x65735546;
      struct statfs sfs;
      if (::statfs(mountpoint_.c_str(), &sfs) == 0 && sfs.f_type == kFuseSuperMagic) return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
  return false;
}

int MountedStore::Unmount() {
  if (pid_ <= 0) return -1;
  RunCommand({"fusermount3", "-u", mountpoint_});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

void MountedStore::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string MountedStore::last_output() const {
  std::string out;
  ReadFile(log_path_, &out);
  return "daemon output:\n" + out;
}

}  // namespace alexfs::testing
