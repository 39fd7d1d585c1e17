// `alexfs-bench engine`: AlexStorage side by side with RocksDB and LMDB.
//
// Method (also printed by --help):
// - Every system gets the same keys, values, operation sequences and directory
//   (--dir, default /var/tmp/alexfs-bench-engine) on the same machine.
// - Each (data set, run, system) runs in a fresh child process (fork), so RSS,
//   caches and threads of one system never touch the next. Systems are
//   interleaved and the order is rotated every run; each row reported is the
//   median run by ops/s (of --runs, default 3); the note says which run.
// - Latency: per-op steady_clock timing when an op averages >= 300 ns (timed=op),
//   otherwise batches of 16 ops are timed and each adds its mean
//   (timed=batch16). Batched writes (bulk insert) report batch time / batch size.
// - Durability per row: "sync" = durable before return (RocksDB sync=true, LMDB
//   default commit, AlexStorage kDurable); "buffered" = RocksDB WAL without sync,
//   LMDB MDB_NOSYNC, AlexStorage kBuffered; "group" = several writers each
//   asking for sync at once.
// - Every system compacts in the background as it would in service (RocksDB its
//   LSM, AlexStorage its log when garbage passes StoreOptions' threshold); the
//   compact_* rows then time an explicit full compaction of what is left.
// - Reopen: reopen_warm = close, open; reopen_cold = close, page cache made
//   cold (see page_cache.h), open. Both include each system's recovery.
// - get_uniform_cold: the store is reopened first, THEN its files are made cold
//   (mappings dropped, page cache dropped), then the gets are timed, so no
//   system reads warm data its open just touched; the note gives how much of
//   the files was still resident when the gets started.
// - Data sets (--datasets): int8-100 = 8-byte keys, 100 B values (every
//   workload unless --workloads narrows it); path35-100, path35-1k, int8-1k,
//   int8-4k, ...: the read-side workloads.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tools/bench/engine_data.h"
#include "tools/bench/engine_systems.h"
#include "tools/bench/page_cache.h"
#include "tools/bench/report.h"

namespace alexfs::bench::engine {
namespace {

constexpr uint64_t kBulkBatch = 1000;
constexpr size_t kScanLength = 100;
constexpr uint64_t kMiB = 1024 * 1024;

struct Options {
  uint64_t keys = 1'000'000;
  int runs = 3;
  bool quick = false;
  bool full = false;
  bool no_cold = false;
  bool keep = false;
  double seconds = 1.5;        // duration of time-bounded phases
  uint64_t writer_rate = 20000;  // puts/s of the background writer
  std::string dir = "/var/tmp/alexfs-bench-engine";
  std::string json;
  std::vector<std::string> workloads;  // name prefixes; empty: all
  std::vector<std::string> systems = {"alexstorage", "rocksdb", "lmdb"};
  std::vector<std::string> datasets;  // e.g. int8-100, path35-1k; empty: by --quick/--full
  // Derived.
  uint64_t get_ops = 0;
  uint64_t cold_ops = 0;
};

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

std::unique_ptr<KvSystem> MakeSystem(const std::string& name) {
  if (name == "rocksdb") return NewRocksDbSystem();
  if (name == "lmdb") return NewLmdbSystem();
  if (name == "alexstorage") return NewAlexSystem();
  return nullptr;
}

// Bytes this process caused to be written to storage (/proc/self/io).
uint64_t ProcWriteBytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char line[128];
  uint64_t v = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long x;
    if (std::sscanf(line, "write_bytes: %llu", &x) == 1) v = x;
  }
  std::fclose(f);
  return v;
}

std::vector<uint64_t> UniformIds(uint64_t n, uint64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint64_t> ids(count);
  for (auto& id : ids) id = rng.Uniform(n);
  return ids;
}

// Uniform over a subset of ids: every `stride`-th id starting at `first`.
std::vector<uint64_t> UniformStrided(uint64_t n, uint64_t first, uint64_t stride, uint64_t count,
                                     uint64_t seed) {
  Rng rng(seed);
  uint64_t m = (n - first + stride - 1) / stride;
  std::vector<uint64_t> ids(count);
  for (auto& id : ids) id = first + rng.Uniform(m) * stride;
  return ids;
}

std::vector<uint64_t> Shuffled(std::vector<uint64_t> ids, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[rng.Uniform(i)]);
  return ids;
}

// ---------------------------------------------------------------------------
// One system, one data set, one run: runs in a child process and writes rows
// to `out` as tab-separated lines.
class Runner {
 public:
  Runner(const Options& opt, const Dataset& ds, KvSystem* sys, std::string dir, int run, std::FILE* out)
      : opt_(opt), ds_(ds), sys_(sys), dir_(std::move(dir)), run_(run), out_(out) {}

  bool Run();

 private:
  bool Want(const std::string& workload) const {
    if (opt_.workloads.empty()) return true;
    for (const auto& w : opt_.workloads) {
      if (workload.compare(0, w.size(), w) == 0) return true;
    }
    return false;
  }
  bool WantAny(std::initializer_list<const char*> names) const {
    for (const char* n : names) {
      if (Want(n)) return true;
    }
    return false;
  }
  // Op-count phases also stop after this long, so a slow system cannot stretch the matrix.
  double PhaseCap() const { return 2 * opt_.seconds; }
  uint64_t Seed(uint64_t phase) const { return Mix64(phase * 1000003 + static_cast<uint64_t>(run_) * 7919); }

  bool Open();
  bool Fail(const std::string& what) {
    std::fprintf(out_, "E\t%s %s run %d: %s\n", sys_->name(), ds_.Label().c_str(), run_ + 1, what.c_str());
    std::fflush(out_);
    ok_ = false;
    return false;
  }

  Row Base(const std::string& workload, int threads, const char* durability) const {
    Row r;
    r.suite = "engine";
    r.workload = workload;
    r.system = sys_->name();
    r.keys = ds_.n;
    r.key_bytes = ds_.key_bytes;
    r.value_bytes = ds_.value_bytes;
    r.threads = threads;
    r.durability = durability;
    uint64_t rss = CurrentRssBytes();
    r.rss_bytes = rss > rss_base_ ? rss - rss_base_ : 0;
    r.disk_bytes = DiskUsageBytes(dir_);
    r.memory_bytes = sys_->IndexBytes();
    return r;
  }
  void Emit(const Row& r);
  // Fills ops/s and percentiles of `r` from the phases of all threads and emits it.
  void EmitPhases(Row r, std::vector<Phase>& phases, uint64_t written, std::string note);
  // A row whose one op took `ns` (open, compaction).
  void EmitSingle(Row r, uint64_t ns, uint64_t written, std::string note) {
    r.ops_per_s = ns > 0 ? 1e9 / static_cast<double>(ns) : 0;
    r.p50_ns = r.p99_ns = r.p999_ns = ns;
    r.bytes_written = written;
    r.note = std::move(note);
    Emit(r);
  }

  // Runs make_op(t)() loops on `threads` threads at once.
  template <class MakeOp>
  std::vector<Phase> RunThreads(int threads, uint64_t max_ops, double seconds, Timing timing,
                                const std::atomic<bool>* stop, MakeOp&& make_op);

  // A get op over `keys` on a reader of its own; checks every value.
  auto GetOp(const OpKeys* keys) {
    return [this, keys, reader = sys_->NewReader()](uint64_t i) mutable {
      size_t j = i % keys->size();
      ValueView v;
      return reader->Get(keys->Key(j), &v) && ds_.CheckValue(v, keys->ids[j]);
    };
  }
  bool GetPhase(const std::string& workload, int threads, uint64_t ops, double seconds,
                const std::function<std::vector<uint64_t>(uint64_t seed)>& ids, const std::string& note);

  bool BulkInsert();
  bool WarmUp();
  bool Scan();
  bool ReadersWithWriter(int readers);
  bool Mixed();
  bool PutBuffered();
  bool DurablePuts(int threads);
  bool Reopen(bool cold);
  // `note` plus the system's own counters (AlexStorage: compactions so far).
  std::string WithStats(const std::string& note) {
    std::string stats = sys_->StatsNote();
    return stats.empty() ? note : note + "; " + stats;
  }
  // Makes the store's files cold (page_cache.h); returns what stayed resident.
  bool Evict(Residency* left);
  bool ColdGets();
  bool OverwriteHalf();
  bool DeleteHalf();
  bool CompactPhase(const std::string& tag, uint64_t first_live, uint64_t stride);

  const Options& opt_;
  const Dataset& ds_;
  KvSystem* sys_;
  std::string dir_;
  int run_;
  std::FILE* out_;
  uint64_t rss_base_ = 0;
  bool ok_ = true;
};

void Runner::Emit(const Row& r) {
  std::fprintf(out_, "R\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%d\t%s\t%.3f\t%" PRIu64
                     "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\n",
               r.suite.c_str(), r.workload.c_str(), r.system.c_str(), r.keys, r.key_bytes, r.value_bytes,
               r.threads, r.durability.c_str(), r.ops_per_s, r.p50_ns, r.p99_ns, r.p999_ns,
               r.memory_bytes, r.rss_bytes, r.disk_bytes, r.bytes_written, r.note.c_str());
  std::fflush(out_);
}

void Runner::EmitPhases(Row r, std::vector<Phase>& phases, uint64_t written, std::string note) {
  Latencies all;
  uint64_t ops = 0, errors = 0, start = UINT64_MAX, end = 0;
  int batch = 1;
  for (Phase& p : phases) {
    all.Merge(p.lat);
    ops += p.ops;
    errors += p.errors;
    start = std::min(start, p.start_ns);
    end = std::max(end, p.end_ns);
    batch = std::max(batch, p.batch);
  }
  r.ops_per_s = end > start ? static_cast<double>(ops) * 1e9 / static_cast<double>(end - start) : 0;
  all.FillRow(&r);
  r.bytes_written = written;
  std::string timing = batch == 1 ? "timed=op" : Format("timed=batch%d", batch);
  r.note = note.empty() ? timing : note + "; " + timing;
  if (errors > 0) {
    r.note += Format("; ERRORS=%" PRIu64, errors);
    Fail(Format("%s: %" PRIu64 " failed or wrong results", r.workload.c_str(), errors));
  }
  Emit(r);
}

template <class MakeOp>
std::vector<Phase> Runner::RunThreads(int threads, uint64_t max_ops, double seconds, Timing timing,
                                      const std::atomic<bool>* stop, MakeOp&& make_op) {
  std::vector<Phase> phases(static_cast<size_t>(threads));
  std::latch ready(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto op = make_op(t);
      ready.arrive_and_wait();
      uint64_t deadline = seconds > 0 ? NowNanos() + static_cast<uint64_t>(seconds * 1e9) : 0;
      RunLoop(&phases[static_cast<size_t>(t)], max_ops, deadline, stop, timing, op);
    });
  }
  for (auto& w : workers) w.join();
  return phases;
}

bool Runner::Open() {
  std::string error;
  SystemConfig config;
  config.data_bytes = ds_.DataBytes();
  if (!sys_->Open(dir_, config, &error)) return Fail("open: " + error);
  return true;
}

bool Runner::GetPhase(const std::string& workload, int threads, uint64_t ops, double seconds,
                      const std::function<std::vector<uint64_t>(uint64_t seed)>& ids,
                      const std::string& note) {
  if (!Want(workload)) return true;
  std::vector<OpKeys> keys(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) keys[static_cast<size_t>(t)].Fill(ds_, ids(Seed(100 + t)));
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(threads, ops, seconds, Timing::kAuto, nullptr,
                           [&](int t) { return GetOp(&keys[static_cast<size_t>(t)]); });
  EmitPhases(Base(workload, threads, ""), phases, ProcWriteBytes() - w0, note);
  return ok_;
}

bool Runner::BulkInsert() {
  std::vector<uint64_t> order(ds_.n);
  std::iota(order.begin(), order.end(), 0);
  order = Shuffled(std::move(order), Seed(1));
  std::vector<char> values(kBulkBatch * ds_.value_bytes);
  std::vector<std::pair<std::string_view, std::string_view>> puts;
  puts.reserve(kBulkBatch);
  Phase ph;
  ph.batch = static_cast<int>(kBulkBatch);
  ph.lat.Reserve(ds_.n / kBulkBatch + 1);
  uint64_t busy = 0;
  uint64_t w0 = ProcWriteBytes();
  for (uint64_t off = 0; off < ds_.n; off += kBulkBatch) {
    uint64_t end = std::min(ds_.n, off + kBulkBatch);
    puts.clear();
    for (uint64_t i = off; i < end; ++i) {
      char* v = &values[(i - off) * ds_.value_bytes];
      ds_.FillValue(v, order[i], 0);
      puts.emplace_back(ds_.Key(order[i]), std::string_view(v, ds_.value_bytes));
    }
    uint64_t t0 = NowNanos();
    if (!sys_->WriteBatch(puts, BenchDurability::kBuffered)) return Fail("bulk insert: write failed");
    uint64_t t1 = NowNanos();
    busy += t1 - t0;
    ph.lat.Add((t1 - t0) / (end - off));
  }
  uint64_t t0 = NowNanos();
  if (!sys_->Sync()) return Fail("bulk insert: sync failed");
  busy += NowNanos() - t0;
  ph.ops = ds_.n;
  ph.start_ns = 0;
  ph.end_ns = busy;
  if (Want("bulk_insert")) {
    std::vector<Phase> phases;
    phases.push_back(std::move(ph));
    EmitPhases(Base("bulk_insert", 1, "buffered"), phases, ProcWriteBytes() - w0,
               Format("shuffled order, %" PRIu64 " keys/batch, then one sync; p = batch time/keys",
                      kBulkBatch));
  }
  return ok_;
}

// A full scan through every system's iterator, so reads start warm: the data in
// the page cache and RocksDB's block cache filled.
bool Runner::WarmUp() {
  auto reader = sys_->NewReader();
  uint64_t sum = 0;
  size_t n = reader->Scan(std::string_view("\0", 1), ds_.n,
                          [&](std::string_view, std::string_view v) { sum += static_cast<uint8_t>(v[0]); });
  if (n != ds_.n) return Fail(Format("warm-up scan saw %zu keys, want %" PRIu64, n, ds_.n));
  return sum != 1;  // keeps `sum` alive
}

bool Runner::Scan() {
  if (!Want("scan_100")) return true;
  OpKeys keys;
  keys.Fill(ds_, UniformIds(ds_.n, std::max<uint64_t>(opt_.get_ops / 10, 1000), Seed(3)));
  uint64_t visited = 0;
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(1, keys.size(), PhaseCap(), Timing::kAuto, nullptr, [&](int) {
    return [&, reader = sys_->NewReader()](uint64_t i) mutable {
      bool good = true;
      size_t n = reader->Scan(keys.Key(i % keys.size()), kScanLength, [&](std::string_view k, std::string_view v) {
        good &= k.size() == ds_.key_bytes && v.size() == ds_.value_bytes;
      });
      visited += n;
      return good && n > 0;
    };
  });
  double secs = static_cast<double>(phases[0].end_ns - phases[0].start_ns) / 1e9;
  EmitPhases(Base("scan_100", 1, ""), phases, ProcWriteBytes() - w0,
             Format("warm; seek + next x%zu; %.1f ns/key", kScanLength,
                    visited > 0 ? secs * 1e9 / static_cast<double>(visited) : 0.0));
  return ok_;
}

bool Runner::ReadersWithWriter(int readers) {
  std::string name = "get_with_writer";
  if (!Want(name)) return true;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::atomic<bool> write_failed{false};
  std::thread writer([&] {
    Rng rng(Seed(50 + static_cast<uint64_t>(readers)));
    std::vector<char> value(ds_.value_bytes);
    const uint64_t interval = 1'000'000'000 / std::max<uint64_t>(opt_.writer_rate, 1);
    uint64_t next = NowNanos();
    for (uint64_t version = 1; !stop.load(std::memory_order_relaxed); ++version) {
      uint64_t id = rng.Uniform(ds_.n);
      ds_.FillValue(value.data(), id, version);
      if (!sys_->Put(ds_.Key(id), std::string_view(value.data(), value.size()), BenchDurability::kBuffered)) {
        write_failed = true;
      }
      writes.fetch_add(1, std::memory_order_relaxed);
      next += interval;
      uint64_t now = NowNanos();
      if (next > now + 100'000) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
      } else if (now > next + 100'000'000) {
        next = now;  // fell far behind: do not burst to catch up
      }
    }
  });
  std::vector<OpKeys> keys(static_cast<size_t>(readers));
  for (int t = 0; t < readers; ++t) {
    keys[static_cast<size_t>(t)].Fill(ds_, UniformIds(ds_.n, std::min<uint64_t>(opt_.get_ops, 1u << 20), Seed(60 + t)));
  }
  uint64_t w0 = ProcWriteBytes();
  uint64_t t0 = NowNanos();
  auto phases = RunThreads(readers, UINT64_MAX, opt_.seconds, Timing::kAuto, nullptr,
                           [&](int t) { return GetOp(&keys[static_cast<size_t>(t)]); });
  stop = true;
  writer.join();
  double secs = static_cast<double>(NowNanos() - t0) / 1e9;
  if (write_failed) Fail("writer: put failed");
  EmitPhases(Base(name, readers, "buffered"), phases, ProcWriteBytes() - w0,
             Format("warm; uniform gets by %d reader(s) while 1 writer puts (target %" PRIu64
                    "/s, got %.0f/s)",
                    readers, opt_.writer_rate, static_cast<double>(writes.load()) / secs));
  return ok_;
}

bool Runner::Mixed() {
  if (!Want("mixed_80_20")) return true;
  OpKeys keys;
  keys.Fill(ds_, UniformIds(ds_.n, opt_.get_ops, Seed(4)));
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(1, keys.size(), PhaseCap(), Timing::kAuto, nullptr, [&](int) {
    return [&, reader = sys_->NewReader(), value = std::vector<char>(ds_.value_bytes)](uint64_t i) mutable {
      if (Mix64(i ^ 0xabcdef) % 5 == 0) {
        ds_.FillValue(value.data(), keys.ids[i], i + 1);
        return sys_->Put(keys.Key(i), std::string_view(value.data(), value.size()), BenchDurability::kBuffered);
      }
      ValueView v;
      return reader->Get(keys.Key(i), &v) && ds_.CheckValue(v, keys.ids[i]);
    };
  });
  EmitPhases(Base("mixed_80_20", 1, "buffered"), phases, ProcWriteBytes() - w0,
             WithStats("warm; 80% get / 20% put (overwrite), uniform"));
  return ok_;
}

bool Runner::PutBuffered() {
  if (!Want("put")) return true;
  OpKeys keys;
  keys.Fill(ds_, UniformIds(ds_.n, opt_.get_ops / 2, Seed(5)));
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(1, keys.size(), PhaseCap(), Timing::kAuto, nullptr, [&](int) {
    return [&, value = std::vector<char>(ds_.value_bytes)](uint64_t i) mutable {
      ds_.FillValue(value.data(), keys.ids[i], i + 1);
      return sys_->Put(keys.Key(i), std::string_view(value.data(), value.size()), BenchDurability::kBuffered);
    };
  });
  EmitPhases(Base("put", 1, "buffered"), phases, ProcWriteBytes() - w0, WithStats("one put per op, uniform overwrite"));
  return ok_;
}

bool Runner::DurablePuts(int threads) {
  if (!Want("durable_put")) return true;
  sys_->SetDurability(BenchDurability::kSync);
  std::string before = sys_->StatsNote();
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(threads, UINT64_MAX, opt_.seconds, Timing::kPerOp, nullptr, [&](int t) {
    return [&, rng = Rng(Seed(70 + t)), value = std::vector<char>(ds_.value_bytes)](uint64_t i) mutable {
      uint64_t id = rng.Uniform(ds_.n);
      ds_.FillValue(value.data(), id, i + 1);
      return sys_->Put(ds_.Key(id), std::string_view(value.data(), value.size()), BenchDurability::kSync);
    };
  });
  sys_->SetDurability(BenchDurability::kBuffered);
  std::string note = Format("%d writer(s), each put durable before it returns", threads);
  std::string after = sys_->StatsNote();
  if (!after.empty()) note += "; before " + before + ", after " + after;
  EmitPhases(Base("durable_put", threads, threads == 1 ? "sync" : "group"), phases, ProcWriteBytes() - w0, note);
  return ok_;
}

bool Runner::Evict(Residency* left) {
  std::string error;
  if (!EvictFiles(dir_, &error)) return Fail("cannot make the page cache cold: " + error + " (run as root, or pass --no-cold)");
  *left = PageCacheResidency(dir_);
  return true;
}

std::string ResidencyNote(const Residency& r) {
  return Format("%.1f of %.1f MiB of the files resident", static_cast<double>(r.resident_bytes) / kMiB,
                static_cast<double>(r.file_bytes) / kMiB);
}

bool Runner::Reopen(bool cold) {
  std::string name = cold ? "reopen_cold" : "reopen_warm";
  sys_->Close();
  Residency left;
  if (cold && !Evict(&left)) return false;
  uint64_t w0 = ProcWriteBytes();
  uint64_t t0 = NowNanos();
  if (!Open()) return false;
  uint64_t ns = NowNanos() - t0;
  if (Want(name)) {
    EmitSingle(Base(name, 1, ""), ns, ProcWriteBytes() - w0,
               cold ? "close, page cache made cold (" + ResidencyNote(left) + "), open (recovery included)"
                    : std::string("close, open (recovery included)"));
  }
  return ok_;
}

// Uniform gets on a cold page cache: the store is already open (its recovery
// may have read every byte), its files are made cold, then the gets run.
bool Runner::ColdGets() {
  Residency left;
  if (!Evict(&left)) return false;
  if (!Want("get_uniform_cold")) return true;
  std::vector<OpKeys> keys(1);
  keys[0].Fill(ds_, UniformIds(ds_.n, opt_.cold_ops, Seed(100)));
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(1, opt_.cold_ops, std::max(2 * opt_.seconds, 3.0), Timing::kAuto, nullptr,
                           [&](int) { return GetOp(&keys[0]); });
  Residency after = PageCacheResidency(dir_);
  EmitPhases(Base("get_uniform_cold", 1, ""), phases, ProcWriteBytes() - w0,
             "cold: opened, then page cache made cold (" + ResidencyNote(left) + "), then " +
                 std::to_string(phases[0].ops) + " gets (after them " + ResidencyNote(after) + ")");
  return ok_;
}

// Overwrites the even ids (half the keys) in batches, so half the data is garbage.
bool Runner::OverwriteHalf() {
  std::vector<char> values(kBulkBatch * ds_.value_bytes);
  std::vector<std::pair<std::string_view, std::string_view>> puts;
  for (uint64_t base = 0; base < ds_.n; base += 2 * kBulkBatch) {
    puts.clear();
    for (uint64_t id = base; id < std::min(ds_.n, base + 2 * kBulkBatch); id += 2) {
      char* v = &values[puts.size() * ds_.value_bytes];
      ds_.FillValue(v, id, 1'000'000'000);
      puts.emplace_back(ds_.Key(id), std::string_view(v, ds_.value_bytes));
    }
    if (!sys_->WriteBatch(puts, BenchDurability::kBuffered)) return Fail("overwrite: write failed");
  }
  if (!sys_->Sync()) return Fail("overwrite: sync failed");
  return true;
}

bool Runner::DeleteHalf() {
  std::vector<uint64_t> even;
  for (uint64_t id = 0; id < ds_.n; id += 2) even.push_back(id);
  OpKeys keys;
  keys.Fill(ds_, Shuffled(std::move(even), Seed(8)));
  uint64_t w0 = ProcWriteBytes();
  auto phases = RunThreads(1, keys.size(), 0, Timing::kAuto, nullptr, [&](int) {
    return [&](uint64_t i) { return sys_->Delete(keys.Key(i), BenchDurability::kBuffered); };
  });
  if (!sys_->Sync()) return Fail("delete: sync failed");
  if (Want("delete")) {
    EmitPhases(Base("delete", 1, "buffered"), phases, ProcWriteBytes() - w0,
               WithStats("half the keys, shuffled, one delete per op"));
  }
  return ok_;
}

// Gets while idle, then a full compaction with one thread getting meanwhile.
bool Runner::CompactPhase(const std::string& tag, uint64_t first_live, uint64_t stride) {
  uint64_t before = DiskUsageBytes(dir_);
  if (std::string(sys_->name()) == "lmdb") {
    if (Want("compact_" + tag)) {
      Row r = Base("compact_" + tag, 1, "");
      r.note = "n/a: LMDB has no compaction; freed pages are reused in place, the file never shrinks";
      Emit(r);
    }
    return ok_;
  }
  OpKeys keys;
  keys.Fill(ds_, UniformStrided(ds_.n, first_live, stride, std::min<uint64_t>(opt_.get_ops, 1u << 20), Seed(9)));
  double idle_secs = std::min(opt_.seconds, 1.0);
  auto idle = RunThreads(1, UINT64_MAX, idle_secs, Timing::kPerOp, nullptr, [&](int) { return GetOp(&keys); });
  Latencies idle_lat;
  idle_lat.Merge(idle[0].lat);
  uint64_t idle_p99 = idle_lat.Percentile(99);

  std::atomic<bool> stop{false};
  std::vector<Phase> during;
  std::thread reader([&] {
    during = RunThreads(1, UINT64_MAX, 0, Timing::kPerOp, &stop, [&](int) { return GetOp(&keys); });
  });
  uint64_t w0 = ProcWriteBytes();
  uint64_t t0 = NowNanos();
  bool compacted = sys_->Compact();
  uint64_t ns = NowNanos() - t0;
  uint64_t written = ProcWriteBytes() - w0;
  stop = true;
  reader.join();
  if (!compacted) return Fail("compact failed");
  uint64_t after = DiskUsageBytes(dir_);
  Latencies during_lat;
  during_lat.Merge(during[0].lat);
  uint64_t during_p99 = during_lat.Percentile(99);

  const char* what = tag == "overwrite" ? "after overwriting half the keys" : "after deleting half the keys";
  if (Want("compact_" + tag)) {
    EmitSingle(Base("compact_" + tag, 1, ""), ns, written,
               Format("%s; %.2f s; disk %.1f -> %.1f MiB when Compact() returned, reclaimed %.1f MiB", what, static_cast<double>(ns) / 1e9,
                      static_cast<double>(before) / kMiB, static_cast<double>(after) / kMiB,
                      (static_cast<double>(before) - static_cast<double>(after)) / kMiB));
  }
  if (Want("get_idle_" + tag)) EmitPhases(Base("get_idle_" + tag, 1, ""), idle, 0, std::string("before compaction, ") + what);
  if (Want("get_during_compact_" + tag)) {
    EmitPhases(Base("get_during_compact_" + tag, 1, ""), during, 0,
               Format("p99 %.2fx idle p99 (%" PRIu64 " ns)",
                      idle_p99 > 0 ? static_cast<double>(during_p99) / static_cast<double>(idle_p99) : 0.0, idle_p99));
  }
  return ok_;
}

bool Runner::Run() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::filesystem::create_directories(dir_, ec);
  rss_base_ = CurrentRssBytes();
  const uint64_t n = ds_.n;
  if (!Open()) return false;
  if (!BulkInsert() || !WarmUp()) return false;
  auto uniform = [&](uint64_t count) {
    return [n, count](uint64_t seed) { return UniformIds(n, count, seed); };
  };
  auto zipfian = [&](uint64_t count) {
    return [this, count](uint64_t seed) {
      Rng rng(seed);
      std::vector<uint64_t> ids(count);
      for (auto& id : ids) id = ds_.zipf.Next(rng);
      return ids;
    };
  };
  const uint64_t ops = opt_.get_ops;
  if (!GetPhase("get_uniform_warm", 1, ops, PhaseCap(), uniform(ops), "warm") ||
      !GetPhase("get_zipfian_warm", 1, ops, PhaseCap(), zipfian(ops), "warm; zipfian theta 0.99") || !Scan()) {
    return false;
  }
  if (ds_.full_sequence) {
    if (!GetPhase("get_uniform_warm", 2, ops, PhaseCap(), uniform(ops), "warm; per thread as many ops as 1 thread") ||
        !ReadersWithWriter(1) || !ReadersWithWriter(2) || !Mixed() || !PutBuffered() || !DurablePuts(1) ||
        !DurablePuts(4) || !DurablePuts(16)) {
      return false;
    }
  }
  if (Want("reopen_warm") && !Reopen(false)) return false;
  if (!opt_.no_cold && WantAny({"reopen_cold", "get_uniform_cold"})) {
    if (!Reopen(true)) return false;
    if (!ColdGets()) return false;
  }
  if (ds_.full_sequence) {
    if (WantAny({"compact_overwrite", "get_idle_overwrite", "get_during_compact_overwrite"})) {
      if (!OverwriteHalf() || !CompactPhase("overwrite", 0, 1)) return false;
    }
    if (WantAny({"delete", "compact_delete", "get_idle_delete", "get_during_compact_delete"})) {
      if (!DeleteHalf() || !CompactPhase("delete", 1, 2)) return false;
    }
  }
  sys_->Close();
  if (!opt_.keep) std::filesystem::remove_all(dir_, ec);
  return ok_;
}

// ---------------------------------------------------------------------------
// The parent: data sets, runs, children, medians, the table and the targets.

bool ParseRow(const std::string& line, Row* r) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, '\t')) f.push_back(field);
  if (f.size() == 17) f.emplace_back();  // empty note
  if (f.size() != 18 || f[0] != "R") return false;
  r->suite = f[1];
  r->workload = f[2];
  r->system = f[3];
  r->keys = std::stoull(f[4]);
  r->key_bytes = std::stoull(f[5]);
  r->value_bytes = std::stoull(f[6]);
  r->threads = std::stoi(f[7]);
  r->durability = f[8];
  r->ops_per_s = std::stod(f[9]);
  r->p50_ns = std::stoull(f[10]);
  r->p99_ns = std::stoull(f[11]);
  r->p999_ns = std::stoull(f[12]);
  r->memory_bytes = std::stoull(f[13]);
  r->rss_bytes = std::stoull(f[14]);
  r->disk_bytes = std::stoull(f[15]);
  r->bytes_written = std::stoull(f[16]);
  r->note = f.size() > 17 ? f[17] : "";
  return true;
}

// Runs one (data set, system, run) in a child process; appends its rows.
bool RunChild(const Options& opt, const Dataset& ds, const std::string& system, int run,
              std::vector<Row>* rows) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    return false;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return false;
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::FILE* out = ::fdopen(fds[1], "w");
    auto sys = MakeSystem(system);
    std::string dir = opt.dir + "/" + system + "-" + ds.kind + "-" + std::to_string(ds.value_bytes);
    Runner runner(opt, ds, sys.get(), dir, run, out);
    bool ok = runner.Run();
    sys.reset();
    std::fflush(out);
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  std::FILE* in = ::fdopen(fds[0], "r");
  bool ok = true;
  char* line = nullptr;
  size_t cap = 0;
  ssize_t len;
  while ((len = ::getline(&line, &cap, in)) > 0) {
    std::string s(line, static_cast<size_t>(len));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    Row r;
    if (ParseRow(s, &r)) {
      std::fprintf(stderr, "  run %d/%d %-10s %-12s %-30s t=%-2d %12.0f ops/s p50 %8" PRIu64 " p99 %9" PRIu64
                           " ns  %s\n",
                   run + 1, opt.runs, ds.Label().c_str(), r.system.c_str(), r.workload.c_str(), r.threads,
                   r.ops_per_s, r.p50_ns, r.p99_ns, r.note.c_str());
      r.note = Format("run %d/%d; ", run + 1, opt.runs) + r.note;
      rows->push_back(std::move(r));
    } else {
      std::fprintf(stderr, "alexfs-bench engine: %s\n", s.c_str() + (s.rfind("E\t", 0) == 0 ? 2 : 0));
      ok = false;
    }
  }
  std::free(line);
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "alexfs-bench engine: %s on %s run %d failed (status %d)\n", system.c_str(),
                 ds.Label().c_str(), run + 1, status);
    ok = false;
  }
  return ok;
}

using GroupKey = std::tuple<uint64_t, uint64_t, std::string, std::string, int, std::string>;

GroupKey KeyOf(const Row& r) {
  return {r.key_bytes, r.value_bytes, r.workload, r.system, r.threads, r.durability};
}

// For every (data set, workload, system, threads, durability): the median run by ops/s.
std::vector<Row> Medians(const std::vector<Row>& rows, int runs) {
  std::map<GroupKey, std::vector<const Row*>> groups;
  std::vector<GroupKey> order;
  for (const Row& r : rows) {
    auto [it, inserted] = groups.try_emplace(KeyOf(r));
    if (inserted) order.push_back(it->first);
    it->second.push_back(&r);
  }
  std::vector<Row> out;
  for (const GroupKey& k : order) {
    auto g = groups[k];
    std::stable_sort(g.begin(), g.end(), [](const Row* a, const Row* b) { return a->ops_per_s < b->ops_per_s; });
    Row r = *g[(g.size() - 1) / 2];
    if (runs > 1) r.note = Format("median of %zu: ", g.size()) + r.note;
    out.push_back(std::move(r));
  }
  return out;
}

const Row* Find(const std::vector<Row>& rows, uint64_t key_bytes, uint64_t value_bytes, const std::string& workload,
                const std::string& system, int threads) {
  for (const Row& r : rows) {
    if (r.key_bytes == key_bytes && r.value_bytes == value_bytes && r.workload == workload && r.system == system &&
        r.threads == threads) {
      return &r;
    }
  }
  return nullptr;
}

void PrintMarkdown(const std::vector<Row>& rows) {
  std::printf("\n| keys | value B | workload | system | thr | durability | ops/s | p50 ns | p99 ns | p99.9 ns "
              "| RSS MiB | index B/key | disk MiB | written MiB | note |\n");
  std::printf("|---|--:|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s %" PRIu64 "B | %" PRIu64 " | %s | %s | %d | %s | %.0f | %" PRIu64 " | %" PRIu64 " | %" PRIu64
                " | %.1f | %.1f | %.1f | %.1f | %s |\n",
                r.key_bytes == 8 ? "u64" : "path", r.key_bytes, r.value_bytes, r.workload.c_str(), r.system.c_str(),
                r.threads, r.durability.c_str(), r.ops_per_s, r.p50_ns, r.p99_ns, r.p999_ns,
                static_cast<double>(r.rss_bytes) / kMiB,
                r.keys > 0 ? static_cast<double>(r.memory_bytes) / static_cast<double>(r.keys) : 0.0,
                static_cast<double>(r.disk_bytes) / kMiB,
                static_cast<double>(r.bytes_written) / kMiB, r.note.c_str());
  }
  std::fflush(stdout);
}

// The issue's targets, on the u64 keys / 100 B values data set.
void PrintTargets(const std::vector<Row>& rows) {
  const uint64_t kb = 8, vb = 100;
  auto get = [&](const char* w, const char* s, int t = 1) { return Find(rows, kb, vb, w, s, t); };
  const char* a = "alexstorage";
  std::printf("\nTargets (u64 keys, 100 B values; median rows):\n");
  auto line = [](const char* what, bool have, bool met, const std::string& detail) {
    std::printf("  %-7s %-58s %s\n", !have ? "n/a" : met ? "MET" : "MISSED", what, detail.c_str());
  };
  {
    const Row *x = get("get_uniform_warm", a), *r = get("get_uniform_warm", "rocksdb"),
              *l = get("get_uniform_warm", "lmdb");
    bool have = x && r && l && x->p50_ns > 0;
    double fr = have ? static_cast<double>(r->p50_ns) / static_cast<double>(x->p50_ns) : 0;
    double fl = have ? static_cast<double>(l->p50_ns) / static_cast<double>(x->p50_ns) : 0;
    line("get p50 >= 4x faster than RocksDB", have, fr >= 4,
         have ? Format("%.2fx (%" PRIu64 " vs %" PRIu64 " ns)", fr, x->p50_ns, r->p50_ns) : "");
    line("get p50 >= 1.5x faster than LMDB", have, fl >= 1.5,
         have ? Format("%.2fx (%" PRIu64 " vs %" PRIu64 " ns)", fl, x->p50_ns, l->p50_ns) : "");
  }
  {
    const Row *x = get("mixed_80_20", a), *r = get("mixed_80_20", "rocksdb");
    bool have = x && r && r->ops_per_s > 0;
    double f = have ? x->ops_per_s / r->ops_per_s : 0;
    line("mixed 80/20 >= 5x RocksDB throughput", have, f >= 5,
         have ? Format("%.2fx (%.0f vs %.0f ops/s)", f, x->ops_per_s, r->ops_per_s) : "");
  }
  auto per_op = [&](const char* w, const char* what, double limit_ns) {
    const Row* x = get(w, a);
    double ns = x && x->ops_per_s > 0 ? 1e9 / x->ops_per_s : 0;
    line(what, x != nullptr, x && ns < limit_ns, x ? Format("%.0f ns/op (p50 %" PRIu64 " ns)", ns, x->p50_ns) : "");
  };
  per_op("bulk_insert", "bulk insert < 1.5 us/key", 1500);
  per_op("delete", "delete < 2.5 us", 2500);
  {
    const Row* x = get("scan_100", a);
    double ns = x && x->ops_per_s > 0 ? 1e9 / x->ops_per_s / kScanLength : 0;
    line("scan < 100 ns/key", x != nullptr, x && ns < 100, x ? Format("%.1f ns/key (scans of 100)", ns) : "");
  }
  {
    const Row *c = get("compact_overwrite", a), *i = get("get_idle_overwrite", a),
              *d = get("get_during_compact_overwrite", a);
    line("compaction of 1M keys < 2 s", c != nullptr, c && c->p50_ns < 2'000'000'000ULL,
         c ? Format("%.2f s (%" PRIu64 " keys live, after overwriting half)", static_cast<double>(c->p50_ns) / 1e9,
                    c->keys)
           : "");
    bool have = i && d && i->p99_ns > 0;
    double f = have ? static_cast<double>(d->p99_ns) / static_cast<double>(i->p99_ns) : 0;
    line("get p99 during compaction < 3x idle p99", have, f < 3,
         have ? Format("%.2fx (%" PRIu64 " vs %" PRIu64 " ns)", f, d->p99_ns, i->p99_ns) : "");
  }
  {
    const Row *x = get("durable_put", a, 16), *r = get("durable_put", "rocksdb", 16);
    bool have = x && r && r->ops_per_s > 0;
    double f = have ? x->ops_per_s / r->ops_per_s : 0;
    line("durable puts, 16 writers >= 2x RocksDB", have, f >= 2,
         have ? Format("%.2fx (%.0f vs %.0f ops/s)", f, x->ops_per_s, r->ops_per_s) : "");
  }
  {
    const Row *one = get("get_with_writer", a, 1), *two = get("get_with_writer", a, 2);
    bool have = one && two && one->ops_per_s > 0;
    double f = have ? two->ops_per_s / one->ops_per_s : 0;
    line("2 reader threads >= 1.8x one (1 writer running)", have, f >= 1.8,
         have ? Format("%.2fx (%.0f vs %.0f ops/s)", f, two->ops_per_s, one->ops_per_s) : "");
    const Row *u1 = get("get_uniform_warm", a, 1), *u2 = get("get_uniform_warm", a, 2);
    if (u1 && u2 && u1->ops_per_s > 0) {
      std::printf("  %-7s %-58s %.2fx\n", "info", "2 reader threads vs one, no writer", u2->ops_per_s / u1->ops_per_s);
    }
  }
  std::fflush(stdout);
}

// "int8-100" -> ("u64", 100); "path35-1k" -> ("path", 1024).
bool ParseDataset(const std::string& name, std::string* kind, uint32_t* value_bytes) {
  size_t dash = name.find('-');
  if (dash == std::string::npos) return false;
  std::string keys = name.substr(0, dash), value = name.substr(dash + 1);
  if (keys == "int8") {
    *kind = "u64";
  } else if (keys == "path35") {
    *kind = "path";
  } else {
    return false;
  }
  uint64_t scale = 1;
  if (!value.empty() && (value.back() == 'k' || value.back() == 'K')) {
    scale = 1024;
    value.pop_back();
  }
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 6) return false;
  uint64_t vb = std::stoull(value) * scale;
  if (vb < 16 || vb > 65536) return false;  // values carry a 16-byte id + version header
  *value_bytes = static_cast<uint32_t>(vb);
  return true;
}

int RunSuite(Options opt, bool keys_given) {
  if (opt.quick) {
    if (!keys_given) opt.keys = 100'000;
    opt.runs = 1;
    opt.seconds = std::min(opt.seconds, 0.5);
  }
  if (opt.keys < 100) {
    std::fprintf(stderr, "alexfs-bench engine: --keys must be at least 100\n");
    return 2;
  }
  opt.get_ops = std::min<uint64_t>(300'000, std::max<uint64_t>(20'000, opt.keys));
  opt.cold_ops = opt.quick ? 1'000 : 5'000;

  std::vector<std::string> systems;
  for (const auto& s : opt.systems) {
    auto sys = MakeSystem(s);
    if (sys == nullptr) {
      std::fprintf(stderr, "alexfs-bench engine: system '%s' is not available in this build%s\n", s.c_str(),
                   s == "alexstorage" ? " (engine/ has no Store implementation yet)" : "");
      continue;
    }
    systems.push_back(s);
  }
  if (systems.empty()) return 2;

  // Data sets: (key kind, value bytes, every workload?).
  std::vector<std::tuple<std::string, uint32_t, bool>> specs;
  if (!opt.datasets.empty()) {
    for (const std::string& name : opt.datasets) {
      std::string kind;
      uint32_t vb = 0;
      if (!ParseDataset(name, &kind, &vb)) {
        std::fprintf(stderr,
                     "alexfs-bench engine: unknown data set '%s' (want int8-N or path35-N, N = value bytes "
                     "from 16 to 65536 with an optional k suffix, e.g. int8-100, path35-1k)\n",
                     name.c_str());
        return 2;
      }
      specs.emplace_back(kind, vb, opt.full || (kind == "u64" && vb == 100));
    }
  } else if (opt.full) {
    for (uint32_t vb : {100u, 1024u, 4096u}) {
      for (const char* kind : {"u64", "path"}) specs.emplace_back(kind, vb, true);
    }
  } else if (opt.quick) {
    specs = {{"u64", 100, true}, {"path", 100, false}};
  } else {
    specs = {{"u64", 100, true}, {"path", 100, false}, {"u64", 1024, false}};
  }

  std::fprintf(stderr, "alexfs-bench engine: %" PRIu64 " keys, %d run(s), systems:", opt.keys, opt.runs);
  for (const auto& s : systems) std::fprintf(stderr, " %s", s.c_str());
  std::fprintf(stderr, ", dir %s\n", opt.dir.c_str());

  std::vector<Row> rows;
  bool ok = true;
  uint64_t t0 = NowNanos();
  for (const auto& [kind, vb, full] : specs) {
    Dataset ds;
    ds.kind = kind;
    ds.value_bytes = vb;
    ds.n = opt.keys;
    ds.full_sequence = full;
    ds.Build();
    for (int run = 0; run < opt.runs; ++run) {
      for (size_t s = 0; s < systems.size(); ++s) {
        const std::string& system = systems[(s + static_cast<size_t>(run)) % systems.size()];
        std::fprintf(stderr, "[%.0f s] %s run %d/%d: %s\n", static_cast<double>(NowNanos() - t0) / 1e9,
                     ds.Label().c_str(), run + 1, opt.runs, system.c_str());
        ok &= RunChild(opt, ds, system, run, &rows);
      }
    }
  }
  std::error_code ec;
  if (!opt.keep) std::filesystem::remove(opt.dir, ec);  // only if empty

  std::vector<Row> medians = Medians(rows, opt.runs);
  Report report;
  std::printf("\nalexfs-bench engine: %" PRIu64 " keys, %d run(s) per row, %s, in %.0f s\n", opt.keys, opt.runs,
              opt.runs > 1 ? "each row is the median run by ops/s" : "single run",
              static_cast<double>(NowNanos() - t0) / 1e9);
  for (Row& r : medians) report.Add(r);
  PrintMarkdown(medians);
  PrintTargets(medians);
  if (!opt.json.empty() && !report.WriteJson(opt.json)) ok = false;
  return ok ? 0 : 1;
}

void AddEngineSuite(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto keys_given = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "engine",
      "AlexStorage vs RocksDB vs LMDB: same keys, values, machine and directory; each system in its own "
      "process per run, systems interleaved with the order rotated each run, median run reported. Latency is "
      "timed per op with steady_clock when ops average >= 300 ns, else per batch of 16 (the note says which).");
  cmd->add_option("--keys", opt->keys, "keys per data set (default 1000000; 10000000 for the big runs)")
      ->each([keys_given](const std::string&) { *keys_given = true; });
  cmd->add_option("--runs", opt->runs, "runs per row; the median run is reported")->check(CLI::Range(1, 99));
  cmd->add_flag("--quick", opt->quick, "smoke run: 100K keys (unless --keys), 1 run, small matrix, 0.5 s phases");
  cmd->add_flag("--full", opt->full,
                "everything: u64 and path keys x 100 B, 1 KiB, 4 KiB values, every workload on each");
  cmd->add_flag("--no-cold", opt->no_cold, "skip cold rows (they drop the page cache; need root)");
  cmd->add_flag("--keep", opt->keep, "keep the store directories");
  cmd->add_option("--dir", opt->dir, "where the stores live (all systems use the same filesystem)");
  cmd->add_option("--seconds", opt->seconds, "duration of time-bounded phases (durable puts, readers+writer)");
  cmd->add_option("--writer-rate", opt->writer_rate, "puts/s of the background writer in get_with_writer");
  cmd->add_option("--workloads", opt->workloads,
                  "comma-separated workload name prefixes (bulk_insert, get_uniform_warm, get_zipfian_warm, "
                  "scan_100, get_with_writer, mixed_80_20, put, durable_put, reopen_warm, reopen_cold, "
                  "get_uniform_cold, compact_overwrite, get_idle_*, get_during_compact_*, delete, compact_delete)")
      ->delimiter(',');
  cmd->add_option("--systems", opt->systems, "comma-separated: alexstorage,rocksdb,lmdb")->delimiter(',');
  cmd->add_option("--datasets", opt->datasets,
                  "comma-separated key/value sets, e.g. int8-100,path35-100,path35-1k (int8 = 8-byte keys, "
                  "path35 = 35-byte path keys, then value bytes; int8-100 runs every workload, the others the "
                  "read side, or all with --full); default int8-100,path35-100,int8-1k")
      ->delimiter(',');
  cmd->add_option("--json", opt->json, "write the reported (median) rows to FILE as JSON");
  cmd->callback([opt, keys_given] {
    int rc = RunSuite(*opt, *keys_given);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace
}  // namespace alexfs::bench::engine

ALEXFS_BENCH_SUITE(engine, alexfs::bench::engine::AddEngineSuite);
