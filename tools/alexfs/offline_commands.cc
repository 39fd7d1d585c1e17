// Offline tools over a store directory: dump, load, compact, stats.
//
// Each opens the store itself, so each refuses, naming the daemon's pid, while a
// daemon holds the store (the store's LOCK); a daemon that is exiting after an
// unmount is waited for first (WaitForExitingDaemon). `stats` is the exception:
// given a mounted store (or its mountpoint) it prints the metrics the daemon
// exports to DATA_DIR/metrics.prom instead.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>

#include "engine/compression.h"
#include "engine/store.h"
#include "fs/mount.h"
#include "tools/alexfs/commands.h"
#include "tools/alexfs/dump_format.h"
#include "tools/alexfs/key_rules.h"
#include "tools/alexfs/progress.h"
#include "tools/alexfs/prometheus.h"
#include "tools/alexfs/stats_socket.h"
#include "tools/alexfs/store_owner.h"

namespace alexfs::tools {
namespace {

int Fail(const char* command, const Status& s) {
  std::fprintf(stderr, "alexfs %s: %s\n", command, s.message().c_str());
  return 1;
}

Status OpenExisting(const std::string& dir, std::unique_ptr<Store>* store, int compression_level = 0) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "data directory " + dir);
  StoreOptions options;
  options.create_if_missing = false;
  options.compaction_garbage_ratio = 0;  // offline tools decide themselves
  options.compression_level = compression_level;
  return Store::Open(dir, options, store);
}

int RunDump(const std::string& dir, const std::string& output) {
  std::unique_ptr<Store> store;
  Status s = OpenExisting(dir, &store);
  if (!s.ok()) return Fail("dump", s);
  std::FILE* out = stdout;
  if (!output.empty() && output != "-") {
    out = std::fopen(output.c_str(), "wb");
    if (out == nullptr) return Fail("dump", Status::FromErrno(errno, "creating " + output));
  } else if (::isatty(STDOUT_FILENO)) {
    std::fprintf(stderr, "alexfs dump: refusing to write a binary dump to a terminal; "
                         "redirect it: alexfs dump %s > FILE\n", dir.c_str());
    return 1;
  }
  uint64_t total = store->GetStats().keys;
  Progress progress("dump", total, "keys");
  DumpWriter writer(out);
  s = writer.WriteHeader();
  std::unique_ptr<Iterator> it = store->NewIterator();
  for (it->Seek(std::string_view()); s.ok() && it->Valid(); it->Next()) {
    s = writer.WriteEntry(it->key(), it->value());
    progress.Add(1);
  }
  if (s.ok()) s = it->status();
  if (s.ok()) s = writer.WriteTrailer();
  if (out != stdout && std::fclose(out) != 0 && s.ok()) s = Status::FromErrno(errno, "closing " + output);
  if (!s.ok()) return Fail("dump", s);
  progress.Finish();
  return 0;
}

// Reads a whole dump, verifying every checksum and key; calls fn per entry.
Status ReadDump(std::FILE* in, const std::function<Status(std::string&, std::string&)>& fn,
                uint64_t* entries) {
  DumpReader reader(in);
  Status s = reader.ReadHeader();
  std::string key, value;
  bool done = false;
  while (s.ok()) {
    s = reader.Next(&key, &value, &done);
    if (!s.ok() || done) break;
    s = fn(key, value);
  }
  *entries = reader.entries();
  return s;
}

int RunLoad(const std::string& dir, const std::string& input, const std::string& compression) {
  int level = 0;
  Status cs = ParseCompression(compression, &level);
  if (!cs.ok()) return Fail("load", cs);
  // Pass 1 reads and checks everything before a single key is written: the
  // dump must be complete and every key must be able to be a file. Standard
  // input that cannot be rewound is spooled to a temporary file for pass 2.
  std::FILE* in = stdin;
  if (!input.empty() && input != "-") {
    in = std::fopen(input.c_str(), "rb");
    if (in == nullptr) return Fail("load", Status::FromErrno(errno, "opening " + input));
  }
  std::FILE* spool = nullptr;
  if (std::fseek(in, 0, SEEK_SET) != 0) {
    spool = std::tmpfile();
    if (spool == nullptr) return Fail("load", Status::FromErrno(errno, "creating a spool file"));
  }
  std::set<std::string> keys;
  std::vector<std::string> bad;
  uint64_t entries = 0;
  Progress check("load: checking", 0);
  Status s = ReadDump(
      in,
      [&](std::string& key, std::string& value) {
        std::string why = WhyNotAFileKey(key);
        if (!why.empty()) bad.push_back(PrintableKey(key) + ": " + why);
        keys.insert(key);
        check.Add(1);
        if (spool != nullptr) {
          uint32_t k = static_cast<uint32_t>(key.size());
          uint64_t v = value.size();
          if (std::fwrite(&k, 4, 1, spool) != 1 || std::fwrite(&v, 8, 1, spool) != 1 ||
              std::fwrite(key.data(), 1, k, spool) != k ||
              std::fwrite(value.data(), 1, v, spool) != v) {
            return Status::FromErrno(errno, "writing the spool file");
          }
        }
        return Status::OK();
      },
      &entries);
  if (!s.ok()) return Fail("load", s);
  for (std::string& c : FileDirectoryConflicts(keys)) bad.push_back(std::move(c));
  if (!bad.empty()) {
    std::fprintf(stderr, "alexfs load: refusing the dump: %zu keys cannot be files:\n", bad.size());
    for (const std::string& b : bad) std::fprintf(stderr, "  %s\n", b.c_str());
    return 1;
  }

  std::unique_ptr<Store> store;
  StoreOptions options;
  options.compaction_garbage_ratio = 0;
  options.compression_level = level;
  s = Store::Open(dir, options, &store);
  if (!s.ok()) return Fail("load", s);
  if (store->GetStats().keys != 0) {
    std::fprintf(stderr, "alexfs load: %s already holds %llu keys; load restores into an empty "
                         "store only\n", dir.c_str(),
                 static_cast<unsigned long long>(store->GetStats().keys));
    return 1;
  }
  Progress progress("load", entries);
  WriteBatch batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    Status w = store->Write(batch, Durability::kBuffered);
    progress.Add(batch.count());
    batch.Clear();
    return w;
  };
  if (spool == nullptr) {
    std::fseek(in, 0, SEEK_SET);
    uint64_t n = 0;
    s = ReadDump(
        in,
        [&](std::string& key, std::string& value) {
          batch.Put(key, std::move(value));
          return batch.payload_bytes() > (4u << 20) || batch.count() >= 1000 ? flush() : Status::OK();
        },
        &n);
  } else {
    std::rewind(spool);
    std::string key, value;
    for (uint64_t i = 0; s.ok() && i < entries; ++i) {
      uint32_t k = 0;
      uint64_t v = 0;
      if (std::fread(&k, 4, 1, spool) != 1 || std::fread(&v, 8, 1, spool) != 1) {
        s = Status::FromErrno(EIO, "reading the spool file");
        break;
      }
      key.resize(k);
      value.resize(v);
      if (std::fread(key.data(), 1, k, spool) != k || std::fread(value.data(), 1, v, spool) != v) {
        s = Status::FromErrno(EIO, "reading the spool file");
        break;
      }
      batch.Put(key, std::move(value));
      if (batch.payload_bytes() > (4u << 20) || batch.count() >= 1000) s = flush();
    }
    std::fclose(spool);
  }
  if (s.ok()) s = flush();
  if (s.ok()) s = store->Sync();
  if (s.ok()) s = store->Close();
  if (!s.ok()) return Fail("load", s);
  progress.Finish();
  return 0;
}

int RunCompact(const std::string& dir, const std::string& compression) {
  int level = 0;
  Status s = ParseCompression(compression, &level);
  if (!s.ok()) return Fail("compact", s);
  std::unique_ptr<Store> store;
  s = OpenExisting(dir, &store, level);
  if (!s.ok()) return Fail("compact", s);
  StoreStats before = store->GetStats();
  std::fprintf(stderr, "compact: %llu keys, %llu bytes of log, %llu dead\n",
               static_cast<unsigned long long>(before.keys),
               static_cast<unsigned long long>(before.log_bytes),
               static_cast<unsigned long long>(before.dead_bytes()));
  auto start = std::chrono::steady_clock::now();
  s = store->Compact();
  if (!s.ok()) return Fail("compact", s);
  StoreStats after = store->GetStats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s = store->Close();
  if (!s.ok()) return Fail("compact", s);
  std::fprintf(stderr,
               "compact: done in %.2fs: %llu bytes of log (was %llu), %llu segments; live data "
               "%llu bytes stored for %llu logical\n",
               secs, static_cast<unsigned long long>(after.log_bytes),
               static_cast<unsigned long long>(before.log_bytes),
               static_cast<unsigned long long>(after.segments),
               static_cast<unsigned long long>(after.live_bytes),
               static_cast<unsigned long long>(after.logical_bytes));
  return 0;
}

int RunStats(const std::string& target) {
  std::string dir = DataDirOfMount(target);
  if (dir.empty()) dir = target;
  std::unique_ptr<Store> store;
  Status s = OpenExisting(dir, &store);
  if (s.IsBusy()) {
    // Mounted: the daemon answers on its socket with the current figures;
    // failing that, its metrics file has them as of at most 10 s ago.
    std::string live;
    Status asked = ReadStatsSocket(dir + "/stats.sock", &live);
    if (asked.ok() && !live.empty()) {
      std::fputs(live.c_str(), stdout);
      return 0;
    }
    std::ifstream in(dir + "/metrics.prom");
    if (!in) {
      return Fail("stats", Status::Busy(s.message() + ", and it exports no " + dir +
                                        "/metrics.prom"));
    }
    std::cout << in.rdbuf();
    return 0;
  }
  if (!s.ok()) return Fail("stats", s);
  // Closed before printing: its log lines on stderr never land inside the
  // text when both go to one pipe.
  const StoreStats stats = store->GetStats();
  store->Close();
  store.reset();
  std::fputs(PrometheusText(stats, dir).c_str(), stdout);
  return 0;
}

}  // namespace

void AddOfflineCommands(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto compression = std::make_shared<std::string>("none");

  CLI::App* dump = app.add_subcommand(
      "dump", "Write every key and value of a store to standard output (or -o FILE) in the "
              "versioned, checksummed dump format; the store must not be mounted");
  dump->add_option("DATA_DIR", *dir, "The store's directory")->required();
  dump->add_option("-o,--output", *file, "Write to FILE instead of standard output");
  dump->callback([=] {
    WaitForExitingDaemon(*dir, "dump");
    *exit_code = RunDump(*dir, *file);
  });

  CLI::App* load = app.add_subcommand(
      "load", "Restore a dump from standard input (or FILE) into an empty store; checks the "
              "whole dump first and writes nothing if any entry is damaged or cannot be a file");
  load->add_option("DATA_DIR", *dir, "The store's directory (created if missing)")->required();
  load->add_option("FILE", *file, "The dump (default: standard input)");
  load->add_option("--compression", *compression,
                   "How values are stored: none (default), zstd or zstd:LEVEL (1..19)");
  load->callback([=] {
    WaitForExitingDaemon(*dir, "load");
    *exit_code = RunLoad(*dir, *file, *compression);
  });

  CLI::App* compact = app.add_subcommand(
      "compact", "Reclaim the space of overwritten and deleted records now (offline; a mounted "
                 "store compacts itself in the background)");
  compact->add_option("DATA_DIR", *dir, "The store's directory")->required();
  compact->add_option("--compression", *compression,
                      "none (default): values move as they are; zstd or zstd:LEVEL: retrain the "
                      "dictionary and re-encode the small values with it");
  compact->callback([=] {
    WaitForExitingDaemon(*dir, "compact");
    *exit_code = RunCompact(*dir, *compression);
  });

  CLI::App* stats = app.add_subcommand(
      "stats", "Print a store's metrics in the Prometheus text format (a mounted store's come "
               "from its daemon)");
  stats->add_option("TARGET", *dir, "DATA_DIR, or the MOUNTPOINT of a mounted store")->required();
  stats->callback([=] { *exit_code = RunStats(*dir); });
}

}  // namespace alexfs::tools
