/// @file stats.h
/// @brief StoreStats: the figures a Store reports about itself.
///
/// Store::GetStats() returns a plain copy. Counters are monotonic since
/// Store::Open(); gauges (keys, bytes) are current values.
#pragma once

#include <array>
#include <cstdint>

namespace alexfs {

/// A copy of a latency histogram with power-of-two nanosecond buckets:
/// bucket i counts samples in [2^i, 2^(i+1)) ns (bucket 0 also takes 0 ns).
struct LatencySnapshot {
  /// Number of buckets; the last one takes every sample of ~9 minutes or more.
  static constexpr int kBuckets = 40;

  std::array<uint64_t, kBuckets> buckets{};  ///< samples per bucket
  uint64_t count = 0;                        ///< samples in all buckets
  uint64_t sum_ns = 0;                       ///< sum of all samples, in ns

  /// Upper bound, in ns, of the bucket holding quantile @p q (0 < q <= 1);
  /// 0 when there are no samples.
  uint64_t Quantile(double q) const;
};

/// The store's figures at the moment Store::GetStats() was called.
struct StoreStats {
  /// @name Gauges
  /// @{
  uint64_t keys = 0;         ///< live keys
  uint64_t segments = 0;     ///< log segment files in the current set
  uint64_t log_bytes = 0;    ///< bytes of records in all segments
  uint64_t live_bytes = 0;   ///< bytes of records the index points to, as stored
  /// live_bytes if every value were stored uncompressed (logical / stored is
  /// the compression ratio of the live data).
  uint64_t logical_bytes = 0;
  uint64_t dictionaries = 0;  ///< zstd dictionaries stored (StoreOptions::compression_level)
  uint64_t index_bytes = 0;  ///< memory held by the learned index
  uint64_t writable_bytes = 0;  ///< Store::WritableBytes() (UINT64_MAX: unknown)
  uint64_t reserve_bytes = 0;   ///< bytes kept free for compaction and deletes
  uint64_t segment_bytes = 0;   ///< segment size in use (see StoreOptions)
  /// @}

  /// @name Counters since Open()
  /// @{
  uint64_t gets = 0;                        ///< Get() and Contains() calls
  uint64_t puts = 0;                        ///< put operations in successful batches
  uint64_t deletes = 0;                     ///< delete operations in successful batches
  uint64_t batches = 0;                     ///< Write() calls that succeeded
  uint64_t commits = 0;                     ///< log writes (one per commit group)
  uint64_t syncs = 0;                       ///< fdatasync calls
  uint64_t bytes_logged = 0;                ///< bytes appended to the log
  uint64_t compactions = 0;                 ///< finished compaction runs
  uint64_t compaction_bytes_reclaimed = 0;  ///< log bytes compaction freed
  uint64_t idle_compactions = 0;            ///< of compactions: runs after a quiet period
  uint64_t write_errors = 0;                ///< Write() calls that failed
  uint64_t recovered_torn_bytes = 0;        ///< bytes truncated from a torn tail at Open
  /// @}

  /// @name Latencies
  /// get_latency samples one get in 64 per thread (timing every get would
  /// double its cost); its count is the number of samples.
  /// @{
  LatencySnapshot get_latency;         ///< Get() and Contains()
  LatencySnapshot write_latency;       ///< Write(), Put() and Delete()
  LatencySnapshot sync_latency;        ///< each fdatasync
  LatencySnapshot compaction_latency;  ///< each compaction run
  /// @}

  /// Bytes of records no key points to any more: what compaction can reclaim.
  uint64_t dead_bytes() const { return log_bytes > live_bytes ? log_bytes - live_bytes : 0; }
};

}  // namespace alexfs
