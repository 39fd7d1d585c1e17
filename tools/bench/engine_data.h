// Keys, values, random streams and timing loops of `alexfs-bench engine`.
//
// Keys: "u64" keys are 8-byte big-endian integers spread over the whole 64-bit
// range (a bijective mix of the key id, so ids never collide); "path" keys are
// 35-byte path-like strings, ~100 files per directory:
//   home/uNN/projNNN/srcNNN/IIIIIIII.rs
// Values: bytes 0..7 hold the key id, 8..15 a version, the rest incompressible
// bytes from a random pool; every read checks the length and the id.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench/report.h"

namespace alexfs::bench::engine {

// A bijection on 64-bit integers (splitmix64's finalizer).
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(Mix64(seed + 0x9e3779b97f4a7c15ULL)) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix64(state_);
  }
  // Uniform in [0, n).
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Zipfian ranks over [0, n) with skew theta (YCSB's generator, Gray et al.),
// scattered over the key ids by a fixed bijection so the hot keys are not
// neighbours.
class Zipf {
 public:
  Zipf() = default;
  Zipf(uint64_t n, double theta) : n_(n) {
    double zetan = 0;
    for (uint64_t i = 1; i <= n; ++i) zetan += 1.0 / std::pow(static_cast<double>(i), theta);
    zetan_ = zetan;
    double zeta2 = 1.0 + std::pow(0.5, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetan);
    half_pow_theta_ = 1.0 + std::pow(0.5, theta);
  }
  uint64_t Next(Rng& rng) const {
    double u = rng.Unit();
    double uz = u * zetan_;
    uint64_t rank;
    if (uz < 1.0) {
      rank = 0;
    } else if (uz < half_pow_theta_) {
      rank = 1;
    } else {
      rank = static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
      if (rank >= n_) rank = n_ - 1;
    }
    // 2654435761 is prime; n is never a multiple of it here.
    return static_cast<uint64_t>((static_cast<unsigned __int128>(rank) * 2654435761ULL + 12345) % n_);
  }

 private:
  uint64_t n_ = 1;
  double zetan_ = 1, alpha_ = 1, eta_ = 0, half_pow_theta_ = 1;
};

struct Dataset {
  std::string kind;  // "u64" or "path"
  uint32_t key_bytes = 8;
  uint32_t value_bytes = 100;
  uint64_t n = 0;
  bool full_sequence = false;  // every workload, or the read-side subset
  std::vector<char> keys;      // n * key_bytes
  std::vector<char> pool;      // random bytes values are cut from
  Zipf zipf;

  std::string Label() const { return kind + "/" + std::to_string(value_bytes); }
  std::string_view Key(uint64_t id) const {
    return std::string_view(keys.data() + id * key_bytes, key_bytes);
  }
  uint64_t DataBytes() const { return n * (key_bytes + value_bytes); }

  void Build() {
    key_bytes = kind == "u64" ? 8 : 35;
    keys.resize(n * key_bytes);
    uint64_t dirs = n / 100 + 1;
    for (uint64_t id = 0; id < n; ++id) {
      char* out = keys.data() + id * key_bytes;
      if (kind == "u64") {
        uint64_t k = Mix64(id);
        for (int b = 0; b < 8; ++b) out[b] = static_cast<char>(k >> (56 - 8 * b));
      } else {
        uint64_t d = Mix64(id) % dirs;
        char buf[64];
        std::snprintf(buf, sizeof buf, "home/u%02u/proj%03u/src%03u/%08llu.rs",
                      static_cast<unsigned>(d % 16), static_cast<unsigned>((d / 16) % 1000),
                      static_cast<unsigned>((d / 16000) % 1000), static_cast<unsigned long long>(id));
        std::memcpy(out, buf, 35);
      }
    }
    pool.resize(64 * 1024 + value_bytes);
    Rng rng(42);
    for (size_t i = 0; i + 8 <= pool.size(); i += 8) {
      uint64_t x = rng.Next();
      std::memcpy(pool.data() + i, &x, 8);
    }
    zipf = Zipf(n, 0.99);
  }

  // Writes the value of (id, version) into out[0, value_bytes).
  void FillValue(char* out, uint64_t id, uint64_t version) const {
    std::memcpy(out + 16, pool.data() + (Mix64(id ^ (version << 40)) & (64 * 1024 - 1)),
                value_bytes - 16);
    std::memcpy(out, &id, 8);
    std::memcpy(out + 8, &version, 8);
  }
  bool CheckValue(std::string_view v, uint64_t id) const {
    if (v.size() != value_bytes) return false;
    uint64_t got;
    std::memcpy(&got, v.data(), 8);
    return got == id;
  }
};

// Keys of one phase's operations laid out in order, so fetching the next key is
// a sequential read and not a cache miss charged to the system under test.
struct OpKeys {
  std::vector<uint64_t> ids;
  std::vector<char> buf;
  uint32_t key_bytes = 0;

  void Fill(const Dataset& ds, std::vector<uint64_t> op_ids) {
    ids = std::move(op_ids);
    key_bytes = ds.key_bytes;
    buf.resize(ids.size() * key_bytes);
    for (size_t i = 0; i < ids.size(); ++i) std::memcpy(&buf[i * key_bytes], ds.Key(ids[i]).data(), key_bytes);
  }
  size_t size() const { return ids.size(); }
  std::string_view Key(size_t i) const { return std::string_view(&buf[i * key_bytes], key_bytes); }
};

// The outcome of one timed loop on one thread.
struct Phase {
  uint64_t ops = 0;
  uint64_t start_ns = 0, end_ns = 0;
  uint64_t errors = 0;
  int batch = 1;  // 1: every op timed; k: batches of k timed, one sample per batch (mean)
  Latencies lat;
};

enum class Timing { kAuto, kPerOp };

// Runs op(i) for i = 0, 1, ... until max_ops are done, `deadline_ns` (0: none)
// passes or *stop is set. kAuto times the first ops as a block: if they average
// >= 300 ns every op is timed with steady_clock, otherwise batches of 16 are
// timed and each batch adds its mean as one sample. op returns false on error.
template <class Op>
void RunLoop(Phase* ph, uint64_t max_ops, uint64_t deadline_ns, const std::atomic<bool>* stop,
             Timing timing, Op&& op) {
  ph->lat.Reserve(std::min<uint64_t>(max_ops, 4u << 20));
  uint64_t i = 0;
  ph->start_ns = NowNanos();
  auto done = [&](uint64_t now) {
    return i >= max_ops || (deadline_ns != 0 && now >= deadline_ns) ||
           (stop != nullptr && stop->load(std::memory_order_relaxed));
  };
  uint64_t calib = std::min<uint64_t>(256, max_ops / 16);
  if (timing == Timing::kAuto && calib > 0) {
    uint64_t t0 = NowNanos();
    for (; i < calib; ++i) ph->errors += !op(i);
    uint64_t mean = (NowNanos() - t0) / calib;
    ph->batch = mean >= 300 ? 1 : 16;
  }
  uint64_t t0 = NowNanos();
  if (ph->batch == 1) {
    while (!done(t0)) {
      ph->errors += !op(i++);
      uint64_t t1 = NowNanos();
      ph->lat.Add(t1 - t0);
      t0 = t1;
    }
  } else {
    const uint64_t k = static_cast<uint64_t>(ph->batch);
    while (!done(t0)) {
      uint64_t end = std::min(max_ops, i + k);
      uint64_t count = end - i;
      for (; i < end; ++i) ph->errors += !op(i);
      uint64_t t1 = NowNanos();
      ph->lat.Add((t1 - t0) / count);
      t0 = t1;
    }
  }
  ph->end_ns = t0;
  ph->ops = i;
}

}  // namespace alexfs::bench::engine
