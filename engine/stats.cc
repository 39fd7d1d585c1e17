#include "engine/stats.h"
#include "engine/stats_counters.h"

namespace alexfs {

uint64_t LatencySnapshot::Quantile(double q) const {
  if (count == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets[i];
    if (seen >= rank) return uint64_t{2} << i;  // upper bound of [2^i, 2^(i+1))
  }
  return uint64_t{2} << (kBuckets - 1);
}

LatencyHistogram::Snapshot LatencyHistogram::Take() const {
  Snapshot s;
  for (int i = 0; i < kBuckets; ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  s.count = count_.load(std::memory_order_relaxed);
  s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace alexfs
