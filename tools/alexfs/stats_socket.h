// The mounted daemon's live figures: a unix socket, DATA_DIR/stats.sock, that
// answers every connection with the current metrics in the Prometheus text
// format and closes it. `alexfs stats MOUNTPOINT` reads it, so its figures are
// those of the moment it runs (DATA_DIR/metrics.prom stays, rewritten every
// 10 s, for node_exporter).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/status.h"

namespace alexfs::tools {

class StatsSocket {
 public:
  // Listens at `path` (a stale socket there is replaced: the caller holds the
  // store's LOCK) and serves `text()` to each connection from a thread of its own.
  static Status Start(const std::string& path, std::function<std::string()> text,
                      std::unique_ptr<StatsSocket>* socket);
  // Stops serving and removes the socket file.
  ~StatsSocket();
  StatsSocket(const StatsSocket&) = delete;
  StatsSocket& operator=(const StatsSocket&) = delete;

 private:
  StatsSocket(std::string path, int listen_fd, int stop_fd, std::function<std::string()> text);
  void Serve();

  std::string path_;
  int listen_fd_;
  int stop_fd_;  // an eventfd: readable once the destructor asks the thread to stop
  std::function<std::string()> text_;
  std::thread thread_;
};

// Reads a daemon's answer from the socket at `path`.
Status ReadStatsSocket(const std::string& path, std::string* text);

}  // namespace alexfs::tools
