#include "tools/bench/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace alexfs::bench {

void Latencies::Merge(const Latencies& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

uint64_t Latencies::Percentile(double p) {
  if (samples_.empty()) return 0;
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(samples_.size() - 1) + 0.5);
  return samples_[std::min(i, samples_.size() - 1)];
}

void Latencies::FillRow(Row* row) {
  row->p50_ns = Percentile(50);
  row->p99_ns = Percentile(99);
  row->p999_ns = Percentile(99.9);
}

uint64_t CurrentRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

uint64_t DiskUsageBytes(const std::string& path) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  auto add = [&](const fs::path& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  };
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      add(it->path());
    }
  } else {
    add(path);
  }
  return total;
}

void Report::Add(Row row) {
  std::printf("%-8s %-28s %-12s %9llu %5llu %6llu %3d %-8s %14.0f %10llu %10llu %10llu %s\n",
              row.suite.c_str(), row.workload.c_str(), row.system.c_str(),
              static_cast<unsigned long long>(row.keys),
              static_cast<unsigned long long>(row.key_bytes),
              static_cast<unsigned long long>(row.value_bytes), row.threads,
              row.durability.c_str(), row.ops_per_s, static_cast<unsigned long long>(row.p50_ns),
              static_cast<unsigned long long>(row.p99_ns),
              static_cast<unsigned long long>(row.p999_ns), row.note.c_str());
  std::fflush(stdout);
  rows_.push_back(std::move(row));
}

void Report::PrintTable() const {
  std::printf("\n| suite | workload | system | keys | key B | value B | threads | durability "
              "| ops/s | p50 ns | p99 ns | p99.9 ns | memory B | note |\n");
  std::printf("|---|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|\n");
  for (const Row& r : rows_) {
    std::printf("| %s | %s | %s | %llu | %llu | %llu | %d | %s | %.0f | %llu | %llu | %llu | %llu | %s |\n",
                r.suite.c_str(), r.workload.c_str(), r.system.c_str(),
                static_cast<unsigned long long>(r.keys), static_cast<unsigned long long>(r.key_bytes),
                static_cast<unsigned long long>(r.value_bytes), r.threads, r.durability.c_str(),
                r.ops_per_s, static_cast<unsigned long long>(r.p50_ns),
                static_cast<unsigned long long>(r.p99_ns),
                static_cast<unsigned long long>(r.p999_ns),
                static_cast<unsigned long long>(r.memory_bytes ? r.memory_bytes : r.rss_bytes),
                r.note.c_str());
  }
  std::fflush(stdout);
}

namespace {
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

bool Report::WriteJson(const std::string& path) const {
  std::ofstream out(path);
  if (!out) {
    std::fprintf(stderr, "alexfs-bench: cannot write %s\n", path.c_str());
    return false;
  }
  out << "[\n";
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& r = rows_[i];
    out << "  {\"suite\": \"" << JsonEscape(r.suite) << "\", \"workload\": \"" << JsonEscape(r.workload)
        << "\", \"system\": \"" << JsonEscape(r.system) << "\", \"keys\": " << r.keys
        << ", \"key_bytes\": " << r.key_bytes << ", \"value_bytes\": " << r.value_bytes
        << ", \"threads\": " << r.threads << ", \"durability\": \"" << JsonEscape(r.durability)
        << "\", \"ops_per_s\": " << static_cast<uint64_t>(r.ops_per_s) << ", \"p50_ns\": " << r.p50_ns
        << ", \"p99_ns\": " << r.p99_ns << ", \"p999_ns\": " << r.p999_ns
        << ", \"memory_bytes\": " << r.memory_bytes << ", \"rss_bytes\": " << r.rss_bytes
        << ", \"disk_bytes\": " << r.disk_bytes << ", \"bytes_written\": " << r.bytes_written
        << ", \"note\": \"" << JsonEscape(r.note) << "\"}" << (i + 1 < rows_.size() ? ",\n" : "\n");
  }
  out << "]\n";
  out.close();
  if (!out) {
    std::fprintf(stderr, "alexfs-bench: writing %s failed\n", path.c_str());
    return false;
  }
  return true;
}

bool RegisterSuite(const char* name, SuiteFactory factory) {
  Suites().emplace_back(name, std::move(factory));
  return true;
}

std::vector<std::pair<std::string, SuiteFactory>>& Suites() {
  static std::vector<std::pair<std::string, SuiteFactory>> suites;
  return suites;
}

}  // namespace alexfs::bench
