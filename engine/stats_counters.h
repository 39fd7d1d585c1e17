// The live counters behind StoreStats (engine/stats.h): lock-free to bump from
// any thread, read by Store::GetStats() and by the filesystem's request counts.
// Internal: not installed with the public headers.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "engine/stats.h"

namespace alexfs {

// A latency histogram with LatencySnapshot's power-of-two nanosecond buckets.
// Record is three relaxed adds; Take copies the buckets (not atomically as a
// whole: a sample recorded meanwhile may be counted in some fields only).
class LatencyHistogram {
 public:
  using Snapshot = LatencySnapshot;
  static constexpr int kBuckets = LatencySnapshot::kBuckets;

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

}  // namespace alexfs
