// Shared pieces of alexfs-bench: result rows, latency samples, the table and JSON
// printers, and suite registration.
//
// A suite is a function that adds a CLI11 subcommand (`alexfs-bench index`,
// `alexfs-bench engine`, `alexfs-bench fs`); it registers itself with
// ALEXFS_BENCH_SUITE so that main.cc needs no list of suites.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace alexfs::bench {

// One line of results. Fields that do not apply to a suite stay 0 / empty and are
// still written to JSON, so every suite's rows have the same shape.
struct Row {
  std::string suite;
  std::string workload;
  std::string system;
  uint64_t keys = 0;
  uint64_t key_bytes = 0;
  uint64_t value_bytes = 0;
  int threads = 1;
  std::string durability;  // "sync", "buffered", "group", or empty
  double ops_per_s = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t p999_ns = 0;
  uint64_t memory_bytes = 0;   // index or process memory, per suite's definition
  uint64_t rss_bytes = 0;
  uint64_t disk_bytes = 0;
  uint64_t bytes_written = 0;
  std::string note;            // free text, e.g. "warm", "cold", "run 2/3"
};

// Per-operation latency samples (nanoseconds). Sample every op, or every k-th op
// for very cheap ones; percentiles are exact over what was recorded.
class Latencies {
 public:
  void Reserve(size_t n) { samples_.reserve(n); }
  void Add(uint64_t ns) { samples_.push_back(ns); }
  void Merge(const Latencies& other);
  size_t count() const { return samples_.size(); }
  // Sorts in place on first call after Add.
  uint64_t Percentile(double p);  // p in [0, 100]
  void FillRow(Row* row);         // p50/p99/p999

 private:
  std::vector<uint64_t> samples_;
  bool sorted_ = false;
};

inline uint64_t NowNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Resident set size of this process, from /proc/self/statm.
uint64_t CurrentRssBytes();
// Bytes used on disk by the files under `path` (st_blocks * 512).
uint64_t DiskUsageBytes(const std::string& path);

class Report {
 public:
  void Add(Row row);
  const std::vector<Row>& rows() const { return rows_; }
  // A fixed-width table on stdout.
  void PrintTable() const;
  // A JSON array of row objects. Returns false (and prints why) on failure.
  bool WriteJson(const std::string& path) const;

 private:
  std::vector<Row> rows_;
};

using SuiteFactory = std::function<void(CLI::App& app)>;
// Registers a suite; use ALEXFS_BENCH_SUITE in the suite's .cc file.
bool RegisterSuite(const char* name, SuiteFactory factory);
std::vector<std::pair<std::string, SuiteFactory>>& Suites();

#define ALEXFS_BENCH_SUITE(name, factory) \
  static const bool alexfs_bench_suite_registered_##name = ::alexfs::bench::RegisterSuite(#name, factory)

}  // namespace alexfs::bench
