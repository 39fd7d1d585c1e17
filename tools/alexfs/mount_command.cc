// `alexfs mount DATA_DIR MOUNTPOINT [-o OPTS] [--foreground]`
//
// Without --foreground the command forks a daemon and returns only when the
// daemon reports the mount live (exit 0) or reports why it could not mount
// (exit 1, the daemon's message on stderr). The daemon's log then goes to
// DATA_DIR/LOG. With --foreground it serves in this process, logs to stderr,
// and, under systemd (NOTIFY_SOCKET set), sends READY=1 once the mount is live.
#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fs/mount.h"
#ifdef ALEXFS_HAVE_FLEET
#include "fleet/replica.h"
#endif
#include "tools/alexfs/prometheus.h"
#include "tools/alexfs/stats_socket.h"
#include "tools/alexfs/commands.h"
#include "tools/alexfs/store_owner.h"

namespace alexfs::tools {
namespace {

struct MountArgs {
  std::string data_dir;
  std::string mountpoint;
  std::vector<std::string> options;  // raw -o values, comma-separated lists
  bool foreground = false;
  bool debug_fuse = false;
};

// Writes `text` to path.tmp and renames it over `path`, so a reader never sees
// half a file.
Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return Status::FromErrno(errno, "writing " + tmp);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "writing " + path);
    std::remove(tmp.c_str());
    return s;
  }
  return Status::OK();
}

// Fleet mode's figures for the metrics, once the replica exists.
struct FleetMetrics {
  std::mutex mu;
  std::function<std::string()> text;  // GUARDED_BY(mu); unset: not in fleet mode
  std::string Text() {
    std::lock_guard<std::mutex> lock(mu);
    return text ? text() : std::string();
  }
};

// Sets *error for a malformed option.
fs::MountConfig ToConfig(const MountArgs& args, std::string* error) {
  fs::MountConfig config;
  std::string metrics_file;
  auto fleet_metrics = std::make_shared<FleetMetrics>();
#ifdef ALEXFS_HAVE_FLEET
  fleet::EtcdOptions etcd;
#endif
  [[maybe_unused]] bool fleet_mode = false;
  config.data_dir = std::filesystem::absolute(args.data_dir).lexically_normal().string();
  config.mountpoint = std::filesystem::absolute(args.mountpoint).lexically_normal().string();
  if (config.mountpoint.size() > 1 && config.mountpoint.back() == '/') config.mountpoint.pop_back();
  for (const std::string& list : args.options) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      std::string opt = list.substr(start, comma - start);
      if (opt.rfind("metrics_file=", 0) == 0) {
        metrics_file = opt.substr(std::strlen("metrics_file="));
      } else if (opt.rfind("etcd", 0) == 0) {
#ifdef ALEXFS_HAVE_FLEET
        std::string bad;
        if (fleet::ParseEtcdOption(opt, &etcd, &bad)) {
          if (opt.rfind("etcd=", 0) == 0) fleet_mode = true;
          if (!bad.empty() && error->empty()) *error = bad;
        } else if (error->empty()) {
          *error = "unknown mount option '" + opt + "'";
        }
#else
        if (error->empty()) *error = "this alexfs was built without fleet mode (ALEXFS_FLEET)";
#endif
      } else if (!opt.empty()) {
        config.options.push_back(opt);
      }
      start = comma + 1;
    }
  }
  config.debug = args.debug_fuse;
#ifdef ALEXFS_HAVE_FLEET
  if (fleet_mode) {
    // Fleet mode: created in the daemon (gRPC must not cross the fork).
    config.open_target = [etcd, fleet_metrics](Store* store,
                                               std::unique_ptr<fs::ChangeTarget>* out) {
      std::unique_ptr<fleet::Replica> replica;
      Status s = fleet::Replica::Open(etcd, store, &replica);
      if (!s.ok()) return s;
      {
        std::lock_guard<std::mutex> lock(fleet_metrics->mu);
        fleet_metrics->text = [stats = replica->stats()] { return stats->PrometheusText(); };
      }
      *out = std::move(replica);
      return Status::OK();
    };
  }
#endif

  // The daemon's metrics: DATA_DIR/metrics.prom (what `alexfs stats` reads),
  // and -o metrics_file=PATH too, e.g. in node_exporter's textfile directory.
  std::vector<std::string> targets = {config.data_dir + "/metrics.prom"};
  if (!metrics_file.empty()) targets.push_back(metrics_file);
  std::string data_dir = config.data_dir;
  config.on_stats = [targets, data_dir, fleet_metrics](const StoreStats& stats,
                                                       const fs::RequestTotals& requests) {
    std::string text = PrometheusText(stats, data_dir, &requests) + fleet_metrics->Text();
    for (const std::string& path : targets) {
      Status s = WriteFileAtomically(path, text);
      if (!s.ok()) spdlog::warn("metrics: {}", s.message());
    }
  };
  // DATA_DIR/stats.sock: the figures of the moment, for `alexfs stats`.
  auto socket = std::make_shared<std::unique_ptr<StatsSocket>>();
  config.on_stats_probe = [socket, data_dir, fleet_metrics](fs::MountConfig::StatsProbe probe) {
    if (!probe) {
      socket->reset();
      return;
    }
    auto text = [probe, data_dir, fleet_metrics] {
      StoreStats stats;
      fs::RequestTotals requests{};
      probe(&stats, &requests);
      return PrometheusText(stats, data_dir, &requests) + fleet_metrics->Text();
    };
    Status s = StatsSocket::Start(data_dir + "/stats.sock", text, socket.get());
    if (!s.ok()) spdlog::warn("live stats: {}; alexfs stats falls back to metrics.prom", s.message());
  };
  return config;
}

void LogStart(const fs::MountConfig& config) {
  spdlog::info("alexfs {} (pid {}) mounting {} at {}", ALEXFS_VERSION, ::getpid(), config.data_dir,
               config.mountpoint);
}

int RunForeground(fs::MountConfig config) {
  LogStart(config);
  config.on_stopping = [] { sd_notify(0, "STOPPING=1"); };
  Status s = fs::Serve(config, [](const Status& ready) {
    if (ready.ok()) sd_notify(0, "READY=1");
  });
  if (!s.ok()) {
    spdlog::error("alexfs mount: {}", s.message());
    return 1;
  }
  return 0;
}

// Writes all of `msg` to fd, ignoring EINTR.
void WriteAll(int fd, const std::string& msg) {
  size_t done = 0;
  while (done < msg.size()) {
    ssize_t n = ::write(fd, msg.data() + done, msg.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

int RunDaemon(const fs::MountConfig& config) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    std::perror("alexfs mount: pipe");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("alexfs mount: fork");
    return 1;
  }
  if (pid == 0) {
    // The daemon: a new session, no terminal, log to DATA_DIR/LOG.
    ::close(pipefd[0]);
    ::setsid();
    if (::chdir("/") != 0) _exit(1);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(devnull, STDOUT_FILENO);
    }
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    try {
      auto logger = spdlog::basic_logger_mt("alexfs", config.data_dir + "/LOG");
      logger->set_level(spdlog::get_level());
      logger->flush_on(spdlog::level::info);
      spdlog::set_default_logger(logger);
      if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    } catch (const spdlog::spdlog_ex&) {
      // Keep logging to stderr; the data dir problem is reported by the store.
    }
    LogStart(config);
    int ready_fd = pipefd[1];
    Status s = fs::Serve(config, [&](const Status& ready) {
      WriteAll(ready_fd, ready.ok() ? std::string("OK") : "ERR" + ready.message());
      ::close(ready_fd);
      ready_fd = -1;
    });
    if (!s.ok()) spdlog::error("alexfs mount: {}", s.message());
    spdlog::shutdown();
    _exit(s.ok() ? 0 : 1);
  }
  // The parent: wait for the daemon's word.
  ::close(pipefd[1]);
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  if (reply == "OK") return 0;
  if (reply.rfind("ERR", 0) == 0) {
    std::fprintf(stderr, "alexfs mount: %s\n", reply.c_str() + 3);
  } else {
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::fprintf(stderr, "alexfs mount: the daemon exited before the mount was live (see %s/LOG)\n",
                 config.data_dir.c_str());
  }
  return 1;
}

}  // namespace

void AddMountCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mount", "Mount the store in DATA_DIR (created if missing) at MOUNTPOINT");
  cmd->add_option("DATA_DIR", args->data_dir, "Directory holding the store")->required();
  cmd->add_option("MOUNTPOINT", args->mountpoint, "Existing empty directory to mount on")
      ->required();
  cmd->add_option("-o", args->options,
                  "Mount options, comma-separated: nonempty (mount over a non-empty directory), "
                  "commit_interval_ms=N (commit closed or unsynced file data and sync the store "
                  "every N ms; default 1000; 0 = only on fsync, rename and unmount), "
                  "commit_on_close (also commit at every close; cached reads then cost daemon "
                  "round trips), max_dirty_mb=N and max_file_dirty_mb=N (uncommitted file data "
                  "held in memory in total, default 256, and per file, default 64; past them a "
                  "write commits its file), idle_compaction_ms=N (after N ms without writes, "
                  "compact segments at least a quarter dead; default 10000; 0 = off), "
                  "compression=none|zstd|zstd:LEVEL (how new data is "
                  "stored; default none; a store reads both kinds), metrics_file=PATH (also "
                  "export metrics there, e.g. for node_exporter's textfile collector), "
                  "fleet mode: etcd=URL[|URL...] with etcd_prefix=PREFIX, etcd_cacert=, "
                  "etcd_cert=, etcd_key=, etcd_user=, etcd_password= or etcd_password_file=, "
                  "etcd_timeout_ms=N (writes fail with EIO after N ms without etcd; default "
                  "3000), "
                  "and libfuse's own: allow_other, ro, noexec, nosuid, nodev, ... "
                  "(permissions are always checked: default_permissions is always on)")
      ->allow_extra_args(false);
  cmd->add_flag("-f,--foreground", args->foreground,
                "Serve in this process (for systemd: Type=notify), log to stderr");
  cmd->add_flag("--debug-fuse", args->debug_fuse, "Print libfuse's trace of every request");
  cmd->callback([args, exit_code] {
    std::string error;
    fs::MountConfig config = ToConfig(*args, &error);
    if (!error.empty()) {
      std::fprintf(stderr, "alexfs mount: %s\n", error.c_str());
      *exit_code = 1;
      return;
    }
    WaitForExitingDaemon(config.data_dir, "mount");
    *exit_code = args->foreground ? RunForeground(config) : RunDaemon(config);
  });
}

}  // namespace alexfs::tools
