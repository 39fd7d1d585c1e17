// Counters and latency histograms a Store keeps about itself.
//
// Counters are monotonic since Open(); gauges (keys, bytes) are current values.
// StoreStats is a plain copy taken by Store::GetStats(); the live counters behind
// it are updated with relaxed atomics off the readers' fast path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace alexfs {

// A latency histogram with power-of-two nanosecond buckets: bucket i counts
// samples in [2^i, 2^(i+1)) ns (bucket 0 also takes 0 ns). Lock-free to record.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 40;  // up to ~9 minutes

  struct Snapshot {
    std::array<uint64_t, kBuckets> buckets{};
    uint64_t count = 0;
    uint64_t sum_ns = 0;
    // Upper bound of the bucket holding quantile q (0 < q <= 1), in ns.
    uint64_t Quantile(double q) const;
  };

  void Record(uint64_t nanos) {
    int b = nanos == 0 ? 0 : 63 - __builtin_clzll(nanos);
    if (b >= kBuckets) b = kBuckets - 1;
    buckets_[b].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(nanos, std::memory_order_relaxed);
  }
  Snapshot Take() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// A counter bumped by many threads: striped over cache lines so that readers
// on different cores do not bounce one line. Add is a relaxed RMW on (mostly)
// this thread's stripe; Load sums the stripes.
class ShardedCounter {
 public:
  static constexpr size_t kStripes = 16;
  void Add(uint64_t n) {
    stripes_[StripeOfThisThread()].v.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Load() const {
    uint64_t sum = 0;
    for (const auto& s : stripes_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static size_t StripeOfThisThread() {
    static std::atomic<size_t> next{0};
    thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
    return stripe;
  }
  struct alignas(64) Stripe {
    std::atomic<uint64_t> v{0};
  };
  std::array<Stripe, kStripes> stripes_{};
};

struct StoreStats {
  // Gauges.
  uint64_t keys = 0;            // live keys
  uint64_t segments = 0;        // log segment files in the current set
  uint64_t log_bytes = 0;       // bytes of records in all segments
  uint64_t live_bytes = 0;      // bytes of records the index points to
  uint64_t index_bytes = 0;     // memory held by the learned index
  // Counters.
  uint64_t gets = 0;
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t batches = 0;          // Write() calls that succeeded
  uint64_t commits = 0;          // log writes (one per commit group)
  uint64_t syncs = 0;            // fdatasync calls
  uint64_t bytes_logged = 0;     // bytes appended to the log since Open
  uint64_t compactions = 0;      // finished compaction runs
  uint64_t compaction_bytes_reclaimed = 0;
  uint64_t write_errors = 0;     // Write() calls that failed
  uint64_t recovered_torn_bytes = 0;  // bytes truncated from a torn tail at Open
  // Latencies. get_latency samples one get in 64 per thread (timing every get
  // would double its cost); its count is the number of samples.
  LatencyHistogram::Snapshot get_latency;
  LatencyHistogram::Snapshot write_latency;
  LatencyHistogram::Snapshot sync_latency;
  LatencyHistogram::Snapshot compaction_latency;

  uint64_t dead_bytes() const { return log_bytes > live_bytes ? log_bytes - live_bytes : 0; }
};

}  // namespace alexfs
