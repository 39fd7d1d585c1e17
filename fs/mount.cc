#include "fs/mount.h"

#include <dirent.h>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <sstream>

#include "engine/compression.h"
#include "engine/store.h"
#include "fs/filesystem.h"

namespace alexfs::fs {
namespace {

// Decodes the octal escapes (\040 for space, ...) /proc/self/mountinfo uses.
std::string UnescapeMountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out += static_cast<char>(v);
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Canonical(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out(real);
  std::free(real);
  return out;
}

bool DirectoryIsEmpty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Detaches a mount whose daemon is gone. As root umount2 works directly;
// otherwise fusermount3 (setuid) does it for the user who mounted.
Status DetachDeadMount(const std::string& mountpoint) {
  if (::umount2(mountpoint.c_str(), MNT_DETACH) == 0) return Status::OK();
  int err = errno;
  if (RunFusermount({"-u", "-z", "--", mountpoint}, /*quiet=*/true) == 0) return Status::OK();
  return Status::FromErrno(err, "detaching the dead mount at " + mountpoint);
}

// Calls config.on_stats every stats_period from a thread of its own, and once
// more from Stop(); hands config.on_stats_probe the live figures while it runs.
class StatsTicker {
 public:
  StatsTicker(const MountConfig& config, const Store* store, const Filesystem* filesystem)
      : config_(config), store_(store), filesystem_(filesystem) {
    if (config_.on_stats) thread_ = std::thread([this] { Run(); });
    if (config_.on_stats_probe) {
      config_.on_stats_probe([this](StoreStats* stats, RequestTotals* requests) {
        *stats = store_->GetStats();
        *requests = filesystem_->Requests();
      });
    }
  }
  ~StatsTicker() { Stop(); }
  void Stop() {
    if (config_.on_stats_probe && !probe_withdrawn_) {
      config_.on_stats_probe(nullptr);
      probe_withdrawn_ = true;
    }
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    Report();
  }

 private:
  void Report() { config_.on_stats(store_->GetStats(), filesystem_->Requests()); }
  void Run() {
    Report();  // the figures at mount time
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, config_.stats_period, [this] { return stop_; })) {
      lock.unlock();
      Report();
      lock.lock();
    }
  }
  const MountConfig& config_;
  const Store* store_;
  const Filesystem* filesystem_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // protected by mu_
  bool probe_withdrawn_ = false;
  std::thread thread_;
};

// The decimal number after the '=' of mount option `opt`; false if malformed.
bool ParseOptionNumber(const std::string& opt, uint64_t* out) {
  const std::string value = opt.substr(opt.find('=') + 1);
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || value[0] == '-') return false;
  *out = n;
  return true;
}

}  // namespace

std::vector<MountEntry> ReadMountTable() {
  std::vector<MountEntry> table;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "id parent major:minor root mount_point options... - fstype source super_options"
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    MountEntry entry;
    entry.mount_point = UnescapeMountinfo(mount_point);
    size_t dash = line.find(" - ");
    if (dash != std::string::npos) {
      std::istringstream rest(line.substr(dash + 3));
      std::string source;
      rest >> entry.fstype >> source;
      entry.source = UnescapeMountinfo(source);
    }
    table.push_back(std::move(entry));
  }
  return table;
}

bool IsMountPoint(const std::string& path) {
  std::string target = Canonical(path);
  for (const MountEntry& entry : ReadMountTable()) {
    if (entry.mount_point == target) return true;
  }
  return false;
}

Status PrepareMountpoint(const std::string& mountpoint, bool allow_nonempty) {
  // A mount whose daemon died answers every request with ENOTCONN; statfs always
  // reaches the daemon (stat may be served from the kernel's attribute cache).
  struct statfs sfs;
  if (::statfs(mountpoint.c_str(), &sfs) != 0 && errno == ENOTCONN) {
    spdlog::warn("{}: the daemon of the mount there is gone (transport endpoint not connected); "
                 "detaching the dead mount and mounting again",
                 mountpoint);
    Status s = DetachDeadMount(mountpoint);
    if (!s.ok()) return s;
  }
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Status::WithErrno(Status::Code::kInvalidArgument, ENOENT,
                               "mountpoint " + mountpoint + " does not exist (create it first)");
    }
    return Status::FromErrno(err, "mountpoint " + mountpoint);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::WithErrno(Status::Code::kInvalidArgument, ENOTDIR,
                             "mountpoint " + mountpoint + " is not a directory");
  }
  if (IsMountPoint(mountpoint)) {
    return Status::Busy("mountpoint " + mountpoint +
                        " is already a mount point (unmount it first: fusermount3 -u " +
                        mountpoint + ")");
  }
  if (!allow_nonempty && !DirectoryIsEmpty(mountpoint)) {
    return Status::WithErrno(Status::Code::kInvalidArgument, ENOTEMPTY,
                             "mountpoint " + mountpoint +
                                 " is not empty (its files would be hidden; pass -o nonempty to "
                                 "mount over them anyway)");
  }
  return Status::OK();
}

int RunFusermount(const std::vector<std::string>& args, bool quiet) {
  // No shell: each argument is passed as it is, whatever characters it holds.
  std::vector<std::string> argv_storage = {"fusermount3"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "fusermount3", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// Blocks the stop signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT) in this thread
// while it lives, so the daemon's own threads -- the store's background
// thread, the committer, the invalidator, the stats ticker, gRPC's -- inherit
// a mask without them; Unblock() lets them in again for this thread only.
// libfuse's handler only flags the session as exited: delivered to one of
// those threads it woke nothing, and the daemon stayed mounted until the
// next request. Now they reach the thread waiting in fuse_session_loop_mt,
// whose wait they interrupt (libfuse's workers block them themselves).
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    sigset_t stop;
    sigemptyset(&stop);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&stop, sig);
    pthread_sigmask(SIG_BLOCK, &stop, &old_);
  }
  ~StopSignalsBlocked() { Unblock(); }
  void Unblock() {
    if (!blocked_) return;
    blocked_ = false;
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool blocked_ = true;
};

}  // namespace

Status Serve(const MountConfig& config, const std::function<void(const Status&)>& on_ready) {
  StopSignalsBlocked stop_signals;  // until the session loop runs (see the class)
  auto fail = [&](Status s) {
    on_ready(s);
    return s;
  };
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return fail(Status::FromErrno(errno, "FUSE is unavailable: cannot open /dev/fuse "
                                         "(load the fuse module: modprobe fuse)"));
  }
  bool allow_nonempty = false;
  int compression_level = kDefaultCompressionLevel;
  FilesystemOptions fs_options;
  StoreOptions store_options;
  fs_options.data_dir = config.data_dir;
  std::vector<std::string> fuse_options;
  for (const std::string& opt : config.options) {
    if (opt == "nonempty") {
      allow_nonempty = true;
    } else if (opt == "commit_on_close") {
      // Strict mode: open, flush and release reach the daemon; close commits.
      fs_options.commit_on_close = true;
    } else if (opt.rfind("commit_interval_ms=", 0) == 0) {
      // How often dirty file buffers are committed and the store synced; 0 off.
      uint64_t ms = 0;
      if (!ParseOptionNumber(opt, &ms)) {
        return fail(Status::InvalidArgument("bad mount option '" + opt +
                                            "': expected commit_interval_ms=<milliseconds>"));
      }
      fs_options.commit_interval = std::chrono::milliseconds(ms);
    } else if (opt.rfind("max_dirty_mb=", 0) == 0 || opt.rfind("max_file_dirty_mb=", 0) == 0) {
      // The memory bound on uncommitted file data, in total and per file.
      uint64_t mb = 0;
      if (!ParseOptionNumber(opt, &mb) || mb == 0 || mb > (uint64_t{1} << 30)) {
        return fail(Status::InvalidArgument("bad mount option '" + opt +
                                            "': expected a size in MiB, at least 1"));
      }
      if (opt.rfind("max_dirty_mb=", 0) == 0) {
        fs_options.max_dirty_bytes = mb << 20;
      } else {
        fs_options.max_file_dirty_bytes = mb << 20;
      }
    } else if (opt.rfind("idle_compaction_ms=", 0) == 0) {
      // Quiet time after which segments a quarter dead are compacted; 0 off.
      uint64_t ms = 0;
      if (!ParseOptionNumber(opt, &ms)) {
        return fail(Status::InvalidArgument("bad mount option '" + opt +
                                            "': expected idle_compaction_ms=<milliseconds>"));
      }
      store_options.idle_compaction_after = std::chrono::milliseconds(ms);
    } else if (opt.rfind("compression=", 0) == 0) {
      // How new file data is stored: none, zstd or zstd:LEVEL (engine/compression.h).
      Status cs = ParseCompression(opt.substr(12), &compression_level);
      if (!cs.ok()) return fail(Status::InvalidArgument("bad mount option '" + opt + "': " + cs.message()));
    } else if (opt == "default_permissions") {
      // Always on (below); accepted for compatibility with existing fstab lines.
    } else if (!opt.empty()) {
      fuse_options.push_back(opt);
    }
  }
  // Permissions are always checked by the kernel against the stored mode, uid
  // and gid (default_permissions). Without it the kernel would ask this daemon
  // only through access(2), so with allow_other any user could open, chmod or
  // delete anybody's files; the kernel's check also covers every operation
  // (open, create, unlink, rename, setattr, sticky directories) in one place.
  fuse_options.push_back("default_permissions");
  if (fs_options.commit_interval.count() == 0 && !fs_options.commit_on_close) {
    spdlog::warn("commit_interval_ms=0 without commit_on_close: closed files are committed only "
                 "by fsync, rename and unmount (a killed daemon loses the rest)");
  }
  Status s = PrepareMountpoint(config.mountpoint, allow_nonempty);
  if (!s.ok()) return fail(s);

  // The store first: a store another process holds (LOCK busy, naming its pid)
  // or cannot recover must stop the mount before the kernel sees it.
  std::unique_ptr<Store> store;
  store_options.env = config.env;
  store_options.compression_level = compression_level;
  s = Store::Open(config.data_dir, store_options, &store);
  if (!s.ok()) {
    return fail(Status::WithErrno(s.code(), s.errno_value(),
                                  "cannot open the store in " + config.data_dir + ": " +
                                      s.message()));
  }
  std::unique_ptr<ChangeTarget> target;  // destroyed after the filesystem
  if (config.open_target) {
    s = config.open_target(store.get(), &target);
    if (!s.ok()) {
      store->Close();
      return fail(Status::WithErrno(s.code(), s.errno_value(),
                                    "cannot start fleet mode on " + config.data_dir + ": " +
                                        s.message()));
    }
    fs_options.target = target.get();
  }
  Filesystem filesystem(store.get(), fs_options);
  s = filesystem.Start();
  if (!s.ok()) {
    store->Close();
    return fail(Status::WithErrno(s.code(), s.errno_value(),
                                  "cannot start the filesystem on " + config.data_dir + ": " +
                                      s.message()));
  }
  // Whatever happens from here, the store is closed on the way out.
  auto close_store = [&store] {
    if (!store) return Status::OK();
    Status c = store->Close();
    store.reset();
    return c;
  };

  // libfuse takes argv-style arguments; the first is the program name.
  std::vector<std::string> argv_storage = {"alexfs"};
  if (config.debug) argv_storage.push_back("-d");
  std::string joined = "fsname=alexfs:" + config.data_dir + ",subtype=alexfs";
  for (const std::string& opt : fuse_options) joined += "," + opt;
  argv_storage.push_back("-o");
  argv_storage.push_back(joined);
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  // Parsing may allocate into args; freed after the session (declared below) is gone.
  std::unique_ptr<fuse_args, void (*)(fuse_args*)> free_args(&args, fuse_opt_free_args);

  const fuse_lowlevel_ops& ops = Filesystem::Operations();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &filesystem);
  if (se == nullptr) {
    close_store();
    return fail(Status::InvalidArgument("libfuse rejected the mount options '" + joined +
                                        "' (see the message above)"));
  }
  std::unique_ptr<fuse_session, void (*)(fuse_session*)> session(se, fuse_session_destroy);
  if (fuse_set_signal_handlers(se) != 0) {
    close_store();
    return fail(Status::FromErrno(errno, "installing signal handlers"));
  }
  if (fuse_session_mount(se, config.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    close_store();
    return fail(Status::FromErrno(EIO, "mounting FUSE at " + config.mountpoint +
                                           " failed (see the message above)"));
  }
  spdlog::info("mounted {} at {}", config.data_dir, config.mountpoint);
  on_ready(Status::OK());

  StatsTicker ticker(config, store.get(), &filesystem);

  filesystem.StartInvalidator(se);
  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(loop, 0);
  fuse_loop_cfg_set_max_threads(loop, 16);
  // Every thread of ours is running: a stop signal may arrive now (one that
  // came meanwhile was held, and is delivered here).
  stop_signals.Unblock();
  int rc = fuse_session_loop_mt(se, loop);
  fuse_loop_cfg_destroy(loop);
  if (config.on_stopping) config.on_stopping();

  // No handler runs any more: commit every dirty file, sync, close the store.
  filesystem.StopInvalidator();
  Status committed = filesystem.Shutdown();
  if (!committed.ok()) spdlog::error("committing at unmount: {}", committed.ToString());
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  ticker.Stop();  // the last figures, after the final commit
  Status closed = close_store();
  if (!closed.ok()) spdlog::error("closing the store: {}", closed.ToString());
  spdlog::info("unmounted {}", config.mountpoint);
  if (rc != 0 && rc != SIGTERM && rc != SIGINT && rc != SIGHUP) {
    return Status::FromErrno(rc < 0 ? -rc : EIO, "FUSE session loop");
  }
  if (!committed.ok()) return committed;
  return closed;
}

}  // namespace alexfs::fs
