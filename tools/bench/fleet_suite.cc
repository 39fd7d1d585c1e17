// `alexfs-bench fleet`: fleet mode against one loopback etcd member, the figures
// of issue 18.
//
// Method (also printed by --help):
// - Starts Debian's etcd on free loopback ports in a temporary directory
//   (tests/support/etcd_cluster.h, the fleet tests' own launcher), two fleet
//   mounts A and B of one prefix and a single-node mount S (`alexfs mount`,
//   daemonized; unmounted and removed at the end).
// - propagation: write+fsync of a small file on A, then B polled (open+read)
//   until it shows the new content; lag = start of the write to the match.
// - durable updates: write+fsync (O_TRUNC) of one file on A, 1 writer, vs a
//   loop of one-Put transactions through fleet's EtcdClient to the same etcd
//   from this process (etcd's own commit with no process start per put, unlike
//   an `etcdctl put` loop).
// - cached cat (open+read+close) and stat on B vs S, alternated twice, the
//   better round reported; vs a serializable Range of the etcd key that holds
//   the file's data, through the same client.
// Every op is timed with steady_clock; the notes give the ratios and targets.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fleet/etcd_client.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "tools/bench/report.h"

namespace alexfs::bench::fleetbench {
namespace {

using alexfs::testing::EtcdCluster;
using alexfs::testing::ReadFile;
using alexfs::testing::RunCommand;
using alexfs::testing::TempDir;

constexpr char kPrefix[] = "/alexfs-bench/fleet/";

struct Options {
  std::string json;
  std::string alexfs;
  int updates = 300;
  int reads = 20000;
};

// An `alexfs mount` daemon on DATA_DIR/MOUNTPOINT under `temp`.
class Mount {
 public:
  Mount(const std::string& binary, const TempDir& temp, const std::string& name,
        const std::string& options)
      : data_(temp.Sub(name + "-data")), mnt_(temp.Sub(name)) {
    std::filesystem::create_directories(data_);
    std::filesystem::create_directories(mnt_);
    std::vector<std::string> argv = {binary, "mount", data_, mnt_};
    if (!options.empty()) argv.insert(argv.end(), {"-o", options});
    std::string out;
    if (RunCommand(argv, &out) != 0) {
      throw std::runtime_error("alexfs mount " + mnt_ + " failed: " + out);
    }
    std::string pid;
    if (ReadFile(data_ + "/LOCK", &pid)) pid_ = std::atoi(pid.c_str());
  }
  // Unmounts and waits (up to 30 s) for the daemon to exit: it holds data_.
  ~Mount() {
    RunCommand({"fusermount3", "-u", mnt_});
    for (int i = 0; i < 300 && pid_ > 0 && ::kill(pid_, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  std::string Path(const std::string& name) const { return mnt_ + "/" + name; }

 private:
  std::string data_, mnt_;
  pid_t pid_ = -1;
};

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

void WriteSynced(const std::string& path, const std::string& contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Check(fd >= 0, "open " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  Check(ok, "write+fsync " + path + ": " + std::strerror(err));
}

// open+read+close; the bytes read (up to 4 KiB).
std::string Cat(const std::string& path) {
  char buf[4096];
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return {};
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// `n` calls of `op`, each timed; ops/s over the sum of the op times.
Row Timed(const std::string& workload, const std::string& system, int n,
          const std::function<void(int)>& op) {
  Latencies lat;
  lat.Reserve(static_cast<size_t>(n));
  uint64_t total = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t t0 = NowNanos();
    op(i);
    const uint64_t dt = NowNanos() - t0;
    lat.Add(dt);
    total += dt;
  }
  Row row;
  row.suite = "fleet";
  row.workload = workload;
  row.system = system;
  row.keys = static_cast<uint64_t>(n);
  row.ops_per_s = total > 0 ? n * 1e9 / static_cast<double>(total) : 0;
  lat.FillRow(&row);
  return row;
}

// The etcd key under kPrefix whose value holds `payload` (the file's data).
std::string KeyHolding(fleet::EtcdClient& client, const std::string& payload) {
  etcdserverpb::RangeRequest req;
  req.set_key(kPrefix);
  req.set_range_end(fleet::PrefixEnd(kPrefix));
  etcdserverpb::RangeResponse resp;
  Status s = client.Range(req, &resp);
  Check(s.ok(), "etcd range of " + std::string(kPrefix) + ": " + s.ToString());
  for (const auto& kv : resp.kvs()) {
    if (kv.value().find(payload) != std::string::npos) return kv.key();
  }
  throw std::runtime_error("no etcd key under " + std::string(kPrefix) + " holds the file's data");
}

int RunSuite(const Options& in) {
  std::string binary = in.alexfs;
  if (binary.empty()) {
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    binary = (self.parent_path().parent_path() / "alexfs").string();  // tools/bench/.. -> tools/alexfs
  }
  Check(::access(binary.c_str(), X_OK) == 0, "no alexfs binary at " + binary + " (use --alexfs PATH)");

  EtcdCluster etcd(1);
  Check(etcd.Start(), "etcd did not start; its log:\n" + etcd.last_output());
  fleet::EtcdOptions eo;
  eo.endpoints = {etcd.ClientUrls()};
  std::unique_ptr<fleet::EtcdClient> client;
  Status s = fleet::EtcdClient::Open(eo, &client);
  Check(s.ok(), "etcd client: " + s.ToString());

  TempDir temp;
  const std::string fleet_opts = "etcd=" + etcd.MountUrls() + ",etcd_prefix=" + kPrefix;
  Mount a(binary, temp, "a", fleet_opts);
  Mount b(binary, temp, "b", fleet_opts);
  Mount single(binary, temp, "s", "");
  Report report;

  // Propagation: A's write+fsync -> B's open+read shows it.
  Row lag = Timed("write_fsync_A_to_read_B", "fleet", in.updates, [&](int i) {
    const std::string data = "v" + std::to_string(i);
    WriteSynced(a.Path("cfg"), data);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (Cat(b.Path("cfg")) != data) {
      Check(std::chrono::steady_clock::now() < give_up, "B did not show A's write within 10 s");
    }
  });
  lag.durability = "sync";
  lag.note = std::string("lag; target p99 < 50 ms: ") + (lag.p99_ns < 50'000'000 ? "met" : "MISSED");
  report.Add(lag);

  // Durable updates: the mount vs etcd's own one-Put transactions.
  Row mount_updates = Timed("durable_update", "fleet_mount", in.updates, [&](int i) {
    WriteSynced(a.Path("cfg"), "u" + std::to_string(i));
  });
  Row etcd_puts = Timed("durable_update", "etcd_put", in.updates, [&](int i) {
    etcdserverpb::TxnRequest req;
    auto* put = req.add_success()->mutable_request_put();
    put->set_key("/alexfs-bench/put-loop/cfg");
    put->set_value("u" + std::to_string(i));
    etcdserverpb::TxnResponse resp;
    Status st = client->Txn(req, &resp);
    Check(st.ok(), "etcd put: " + st.ToString());
  });
  mount_updates.durability = etcd_puts.durability = "sync";
  etcd_puts.note = "one-Put Txn via fleet EtcdClient, same process";
  const double update_ratio = mount_updates.ops_per_s / etcd_puts.ops_per_s;
  char note[160];
  std::snprintf(note, sizeof note, "write+fsync, 1 writer; %.2fx etcd_put (target >= 0.8x: %s)", update_ratio,
                update_ratio >= 0.8 ? "met" : "MISSED");
  mount_updates.note = note;
  report.Add(mount_updates);
  report.Add(etcd_puts);

  // Cached cat and stat: B (fleet) vs S (single-node), alternated; the better
  // of two rounds each. Then etcd's serializable Range of the same data.
  std::string payload = "fleet-bench-config-";
  while (payload.size() < 200) payload += std::to_string(payload.size() * 7919 % 1000);
  WriteSynced(a.Path("conf"), payload);
  WriteSynced(single.Path("conf"), payload);
  const auto visible = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Cat(b.Path("conf")) != payload) {
    Check(std::chrono::steady_clock::now() < visible, "B did not show A's conf within 10 s");
  }
  auto best = [](Row x, const Row& y) { return y.ops_per_s > x.ops_per_s ? y : x; };
  Row cat_fleet, cat_single, stat_fleet, stat_single;
  for (int round = 0; round < 2; ++round) {
    auto cat = [&](const Mount& m) {
      return [&m](int) { Check(!Cat(m.Path("conf")).empty(), "cat " + m.Path("conf")); };
    };
    auto stat = [&](const Mount& m) {
      return [&m](int) {
        struct stat st;
        Check(::stat(m.Path("conf").c_str(), &st) == 0, "stat " + m.Path("conf"));
      };
    };
    cat_fleet = best(cat_fleet, Timed("cat_cached", "fleet_mount", in.reads, cat(b)));
    cat_single = best(cat_single, Timed("cat_cached", "single_node", in.reads, cat(single)));
    stat_fleet = best(stat_fleet, Timed("stat_cached", "fleet_mount", in.reads, stat(b)));
    stat_single = best(stat_single, Timed("stat_cached", "single_node", in.reads, stat(single)));
  }
  const std::string key = KeyHolding(*client, payload);
  const int ranges = std::max(1, in.reads / 10);
  Row range = Timed("cat_cached", "etcd_range", ranges, [&](int) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    req.set_serializable(true);
    etcdserverpb::RangeResponse resp;
    Status st = client->Range(req, &resp);
    Check(st.ok() && resp.kvs_size() == 1, "etcd range: " + st.ToString());
  });
  range.note = "serializable Range of the key holding conf's data";
  const double vs_single = cat_fleet.ops_per_s / cat_single.ops_per_s;
  const double vs_range = cat_fleet.ops_per_s / range.ops_per_s;
  std::snprintf(note, sizeof note, "%.2fx single_node (target ~1x), %.0fx etcd_range (target >= 50x: %s)",
                vs_single, vs_range, vs_range >= 50 ? "met" : "MISSED");
  cat_fleet.note = note;
  std::snprintf(note, sizeof note, "%.2fx single_node (target ~1x), %.0fx etcd_range (target >= 50x: %s)",
                stat_fleet.ops_per_s / stat_single.ops_per_s, stat_fleet.ops_per_s / range.ops_per_s,
                stat_fleet.ops_per_s / range.ops_per_s >= 50 ? "met" : "MISSED");
  stat_fleet.note = note;
  for (const Row& r : {cat_fleet, cat_single, stat_fleet, stat_single, range}) report.Add(r);

  report.PrintTable();
  std::fflush(stdout);
  if (!in.json.empty() && !report.WriteJson(in.json)) return 1;
  return 0;
}

void AddFleetSuite(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "fleet",
      "Fleet mode on one loopback etcd member (started here): propagation lag write+fsync on mount A -> "
      "content read on mount B (p50/p99); durable updates/s through a fleet mount vs one-Put etcd "
      "transactions from this process (fleet's EtcdClient, no process per put as an etcdctl loop has); "
      "cached cat and stat on a fleet mount vs a single-node mount vs etcd's serializable Range of the "
      "same data. Every op timed with steady_clock. Needs root (FUSE) and /usr/bin/etcd.");
  cmd->add_option("--json", opt->json, "write the rows to FILE as JSON");
  cmd->add_option("--alexfs", opt->alexfs, "the alexfs binary (default: ../alexfs next to alexfs-bench's directory)");
  cmd->add_option("--updates", opt->updates, "updates for the lag and durable rows (default 300)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--reads", opt->reads, "cached cat/stat ops per round (default 20000; etcd ranges: 1/10)")
      ->check(CLI::Range(10, 100000000));
  cmd->callback([opt] {
    int rc = 1;
    try {
      rc = RunSuite(*opt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "alexfs-bench fleet: %s\n", e.what());
    }
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace
}  // namespace alexfs::bench::fleetbench

ALEXFS_BENCH_SUITE(fleet, alexfs::bench::fleetbench::AddFleetSuite);
