#include "tools/alexfs/prometheus.h"

#include <array>
#include <cstdio>
#include <string>

namespace alexfs::tools {
namespace {

class Writer {
 public:
  explicit Writer(const std::string& data_dir) {
    for (char c : data_dir) {
      if (c == '"' || c == '\\') label_ += '\\';
      if (c == '\n') {
        label_ += "\\n";
        continue;
      }
      label_ += c;
    }
  }
  void Metric(const char* name, const char* type, const char* help, double value) {
    Header(name, type, help);
    Sample(name, "", value);
  }
  // One metric with one sample per value of the label `label`.
  template <size_t N>
  void Labelled(const char* name, const char* type, const char* help, const char* label,
                const std::array<const char*, N>& values, const std::array<uint64_t, N>& counts) {
    Header(name, type, help);
    for (size_t i = 0; i < N; ++i) {
      std::string extra = std::string(",") + label + "=\"" + values[i] + "\"";
      Sample(name, extra.c_str(), static_cast<double>(counts[i]));
    }
  }
  void Histogram(const char* name, const char* help, const LatencySnapshot& h) {
    Header(name, "histogram", help);
    uint64_t cumulative = 0;
    std::string bucket = std::string(name) + "_bucket";
    for (int i = 0; i < LatencySnapshot::kBuckets; ++i) {
      cumulative += h.buckets[i];
      // Bucket i holds [2^i, 2^(i+1)) ns; emit every fourth bound to keep it short.
      if (i % 4 == 3 || i == LatencySnapshot::kBuckets - 1) {
        char le[64];
        std::snprintf(le, sizeof le, ",le=\"%.9g\"", static_cast<double>(uint64_t{2} << i) / 1e9);
        Sample(bucket.c_str(), le, static_cast<double>(cumulative));
      }
    }
    Sample(bucket.c_str(), ",le=\"+Inf\"", static_cast<double>(h.count));
    Sample((std::string(name) + "_sum").c_str(), "", static_cast<double>(h.sum_ns) / 1e9);
    Sample((std::string(name) + "_count").c_str(), "", static_cast<double>(h.count));
  }
  std::string Take() { return std::move(out_); }

 private:
  void Header(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(const char* name, const char* extra_labels, double value) {
    char num[64];
    std::snprintf(num, sizeof num, "%.17g", value);
    out_ += name;
    out_ += "{store=\"" + label_ + "\"" + extra_labels + "} " + num + "\n";
  }
  std::string label_;
  std::string out_;
};

}  // namespace

std::string PrometheusText(const StoreStats& s, const std::string& data_dir,
                           const fs::RequestTotals* requests) {
  Writer w(data_dir);
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  w.Metric("alexfs_keys", "gauge", "Live keys in the store.", d(s.keys));
  w.Metric("alexfs_segments", "gauge", "Log segment files in the current set.", d(s.segments));
  w.Metric("alexfs_log_bytes", "gauge", "Bytes of records in all log segments.", d(s.log_bytes));
  w.Metric("alexfs_live_bytes", "gauge", "Bytes of records the index points to, as stored.",
           d(s.live_bytes));
  w.Metric("alexfs_logical_bytes", "gauge",
           "Bytes the live records would take with every value uncompressed.", d(s.logical_bytes));
  w.Metric("alexfs_compression_ratio", "gauge", "logical_bytes / live_bytes (1: nothing compressed).",
           s.live_bytes == 0 ? 1.0 : d(s.logical_bytes) / d(s.live_bytes));
  w.Metric("alexfs_dictionaries", "gauge", "zstd dictionaries stored.", d(s.dictionaries));
  w.Metric("alexfs_dead_bytes", "gauge", "Bytes of overwritten or deleted records (garbage).",
           d(s.dead_bytes()));
  w.Metric("alexfs_index_bytes", "gauge", "Memory held by the learned index.", d(s.index_bytes));
  w.Metric("alexfs_gets_total", "counter", "Point reads.", d(s.gets));
  w.Metric("alexfs_puts_total", "counter", "Keys written.", d(s.puts));
  w.Metric("alexfs_deletes_total", "counter", "Keys deleted (tombstones).", d(s.deletes));
  w.Metric("alexfs_batches_total", "counter", "Atomic write batches applied.", d(s.batches));
  w.Metric("alexfs_commits_total", "counter", "Log appends (one per commit group).", d(s.commits));
  w.Metric("alexfs_syncs_total", "counter", "fdatasync calls on the log.", d(s.syncs));
  w.Metric("alexfs_logged_bytes_total", "counter", "Bytes appended to the log.", d(s.bytes_logged));
  w.Metric("alexfs_compactions_total", "counter", "Finished compaction runs.", d(s.compactions));
  w.Metric("alexfs_compaction_reclaimed_bytes_total", "counter", "Bytes reclaimed by compaction.",
           d(s.compaction_bytes_reclaimed));
  w.Metric("alexfs_idle_compactions_total", "counter", "Compaction runs after a quiet period.",
           d(s.idle_compactions));
  if (s.writable_bytes != UINT64_MAX) {
    w.Metric("alexfs_writable_bytes", "gauge",
             "Bytes writes can still add before ENOSPC (free space minus the reserve).",
             d(s.writable_bytes));
  }
  w.Metric("alexfs_reserve_bytes", "gauge", "Bytes kept free for compaction and deletes.",
           d(s.reserve_bytes));
  w.Metric("alexfs_write_errors_total", "counter", "Writes that failed (e.g. disk full).",
           d(s.write_errors));
  w.Metric("alexfs_recovered_torn_bytes", "gauge",
           "Bytes of a torn log tail truncated at the last open.", d(s.recovered_torn_bytes));
  w.Histogram("alexfs_get_seconds", "Latency of point reads.", s.get_latency);
  w.Histogram("alexfs_write_seconds", "Latency of writes, including group commit.",
              s.write_latency);
  w.Histogram("alexfs_sync_seconds", "Latency of fdatasync on the log.", s.sync_latency);
  w.Histogram("alexfs_compaction_seconds", "Duration of compaction runs.", s.compaction_latency);
  if (requests != nullptr) {
    std::array<const char*, fs::kRequestKinds> names{};
    for (size_t i = 0; i < fs::kRequestKinds; ++i) names[i] = fs::RequestName(static_cast<fs::Request>(i));
    w.Labelled("alexfs_fs_requests_total", "counter", "FUSE requests received, by operation.", "op",
               names, *requests);
  }
  return w.Take();
}

}  // namespace alexfs::tools
