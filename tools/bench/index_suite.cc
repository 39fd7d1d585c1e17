// alexfs-bench index: AlexIndex against std::map, absl::btree_map and a sorted
// std::vector (lookups only), all in one run, on the same keys held the same
// way.
//
// Fairness: every key lives once in one arena, as a log-like record
// [u16 length][bytes]. AlexIndex stores the record offset (its "location") and
// reads keys through a KeyReader over the arena; std::map, btree_map and the
// vector store a std::string_view into the same arena plus a uint64 value.
// Latency: ops are timed in batches of 32 with steady_clock, one sample per
// batch = batch time / 32 (see TimeOps).
// memory_bytes: malloc'd bytes in use after building minus before (glibc
// mallinfo2), i.e. the structure's own memory, not the arena's key bytes.
#include <absl/container/btree_map.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/epoch.h"
#include "engine/index/alex_index.h"
#include "tools/bench/report.h"

namespace alexfs::bench {
namespace {

class Arena final : public index::KeyReader {
 public:
  explicit Arena(size_t bytes) { buf_.reserve(bytes); }
  uint64_t Add(std::string_view k) {
    const uint64_t off = buf_.size();
    const uint16_t len = static_cast<uint16_t>(k.size());
    buf_.append(reinterpret_cast<const char*>(&len), 2);
    buf_.append(k);
    return off;
  }
  std::string_view KeyAt(uint64_t location) const override {
    if (counting_) ++key_reads_;
    uint16_t len;
    std::memcpy(&len, buf_.data() + location, 2);
    return std::string_view(buf_.data() + location + 2, len);
  }
  // KeyAt call counting, for single-threaded measurement passes only (never
  // enabled while other threads use the arena).
  void StartCounting() {
    key_reads_ = 0;
    counting_ = true;
  }
  uint64_t StopCounting() {
    counting_ = false;
    return key_reads_;
  }

 private:
  std::string buf_;  // reserved up front: never reallocates while readers run
  bool counting_ = false;
  mutable uint64_t key_reads_ = 0;
};

struct KeySetSpec {
  const char* name;
  size_t key_bytes;
};

std::string MakeKey(const KeySetSpec& spec, std::mt19937_64& rng) {
  char buf[128];
  if (spec.key_bytes == 8) {
    uint64_t v = rng();
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
    return s;
  }
  if (spec.key_bytes == 35) {  // srv/cluster-NN/node-NNNN/file-NNNNN
    std::snprintf(buf, sizeof buf, "srv/cluster-%02u/node-%04u/file-%05u", static_cast<unsigned>(rng() % 16),
                  static_cast<unsigned>(rng() % 10000), static_cast<unsigned>(rng() % 100000));
    return buf;
  }
  // 80-byte URL-like
  std::snprintf(buf, sizeof buf, "https://www.site-%04u.example.com/articles/20%02u/%02u/%02u/post-%010llu",
                static_cast<unsigned>(rng() % 5000), static_cast<unsigned>(rng() % 25),
                static_cast<unsigned>(rng() % 12 + 1), static_cast<unsigned>(rng() % 28 + 1),
                static_cast<unsigned long long>(rng() % 10000000000ull));
  std::string s(buf);
  s.resize(80, 'x');
  return s;
}

size_t MallocInUse() { return mallinfo2().uordblks; }

struct Options {
  uint64_t keys = 1000000;
  uint64_t ops = 1000000;
  std::string json;
  std::string sets = "int8,path35,url80";
  std::vector<std::string> structures = {"alex", "absl-btree", "std-map", "sorted-vector"};
  bool full_key_compares = false;
};

struct Setup {
  KeySetSpec spec;
  Arena* arena;
  std::vector<std::pair<std::string_view, uint64_t>> present;  // sorted
  std::vector<std::pair<std::string_view, uint64_t>> missing;  // not loaded, shuffled
  std::vector<uint32_t> probe;                                 // random indexes into present
};

// Runs `op(i)` for i in [0, n) in batches of kBatch ops; each batch is timed
// with steady_clock and contributes its mean per-op time as one sample (a
// clock read costs ~250 ns on this VM, too much to time single ops), so the
// percentiles are over batch means and understate single-op tails.
constexpr size_t kBatch = 32;
template <typename Op>
void TimeOps(size_t n, Row* row, Op&& op) {
  Latencies lat;
  lat.Reserve(n / kBatch + 1);
  const uint64_t start = NowNanos();
  uint64_t t = start;
  for (size_t i = 0; i < n; i += kBatch) {
    const size_t end = std::min(n, i + kBatch);
    for (size_t j = i; j < end; ++j) op(j);
    const uint64_t now = NowNanos();
    lat.Add((now - t) / (end - i));
    t = now;
  }
  row->ops_per_s = static_cast<double>(n) * 1e9 / static_cast<double>(t - start);
  lat.FillRow(row);
}

uint64_t TimerOverheadNanos() {
  const uint64_t a = NowNanos();
  for (int i = 0; i < 100000; ++i) (void)NowNanos();
  return (NowNanos() - a) / 100000;
}

// Lookup / insert / erase / scan for one ordered-map-like system holding
// string_view keys. `Map` is std::map or absl::btree_map.
template <typename Map>
void RunOrderedMap(const char* system, const Setup& s, const Options& o, Report* report, const Row& base) {
  const size_t before = MallocInUse();
  auto* m = new Map();
  for (const auto& [k, v] : s.present) m->emplace_hint(m->end(), k, v);
  const size_t mem = MallocInUse() - before;
  const size_t n = std::min<size_t>(o.ops, s.probe.size());
  uint64_t sink = 0;
  auto row = [&](const char* workload) {
    Row r = base;
    r.workload = workload;
    r.system = system;
    r.memory_bytes = mem;
    return r;
  };
  Row r = row("lookup-hit");
  TimeOps(n, &r, [&](size_t i) { sink += m->find(s.present[s.probe[i]].first)->second; });
  report->Add(r);
  r = row("lookup-miss");
  TimeOps(std::min(n, s.missing.size()), &r, [&](size_t i) { sink += m->count(s.missing[i].first); });
  report->Add(r);
  r = row("seek+scan100");
  TimeOps(n / 10, &r, [&](size_t i) {
    auto it = m->lower_bound(s.present[s.probe[i]].first);
    for (int j = 0; j < 100 && it != m->end(); ++j, ++it) sink += it->second;
  });
  r.note = "ns/key=" + std::to_string(r.p50_ns / 100);
  report->Add(r);
  const size_t ins = std::min(s.missing.size(), s.present.size() / 10);
  r = row("insert");
  TimeOps(ins, &r, [&](size_t i) { m->emplace(s.missing[i].first, s.missing[i].second); });
  report->Add(r);
  r = row("erase");
  TimeOps(ins, &r, [&](size_t i) { sink += m->erase(s.missing[i].first); });
  report->Add(r);
  // 2 reader threads + 1 inserting writer, behind a shared_mutex.
  {
    std::shared_mutex mu;
    std::atomic<bool> stop{false};
    Latencies all;
    std::mutex all_mu;
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> hits{0};
    auto reader = [&](uint64_t seed) {
      Latencies lat;
      std::mt19937_64 rng(seed);
      uint64_t local = 0, t = NowNanos(), batch = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto& k = s.present[rng() % s.present.size()].first;
        {
          std::shared_lock<std::shared_mutex> l(mu);
          local += m->count(k);
        }
        if (++batch == kBatch) {
          const uint64_t now = NowNanos();
          lat.Add((now - t) / kBatch);
          t = now;
          batch = 0;
        }
      }
      reads.fetch_add(lat.count() * kBatch);
      hits.fetch_add(local);  // keeps the lookups from being optimised away
      std::lock_guard<std::mutex> l(all_mu);
      all.Merge(lat);
    };
    const uint64_t t0 = NowNanos();
    std::thread r1(reader, 1), r2(reader, 2);
    // glibc's rwlock prefers readers and starves the writer (~1k ins/s), so
    // the locked baselines insert only 5000 keys here.
    const size_t locked_ins = std::min<size_t>(ins, 5000);
    for (size_t i = 0; i < locked_ins; ++i) {
      std::unique_lock<std::shared_mutex> l(mu);
      m->emplace(s.missing[i].first, s.missing[i].second);
    }
    stop.store(true);
    r1.join();
    r2.join();
    const uint64_t t1 = NowNanos();
    r = row("lookup-2r+1w");
    r.threads = 3;
    r.ops_per_s = static_cast<double>(reads.load()) * 1e9 / static_cast<double>(t1 - t0);
    all.FillRow(&r);
    r.note = "readers; writer " + std::to_string(static_cast<uint64_t>(ins * 1e9 / (t1 - t0))) + " ins/s";
    sink += hits.load();
    report->Add(r);
  }
  delete m;
  if (sink == 42) std::printf(" ");
}

void RunSortedVector(const Setup& s, const Options& o, Report* report, const Row& base) {
  const size_t before = MallocInUse();
  auto* v = new std::vector<std::pair<std::string_view, uint64_t>>(s.present);
  const size_t mem = MallocInUse() - before;
  const size_t n = std::min<size_t>(o.ops, s.probe.size());
  uint64_t sink = 0;
  auto lb = [&](std::string_view k) {
    return std::lower_bound(v->begin(), v->end(), k, [](const auto& e, std::string_view t) { return e.first < t; });
  };
  Row r = base;
  r.system = "sorted-vector";
  r.memory_bytes = mem;
  r.workload = "lookup-hit";
  TimeOps(n, &r, [&](size_t i) { sink += lb(s.present[s.probe[i]].first)->second; });
  report->Add(r);
  r.workload = "lookup-miss";
  TimeOps(std::min(n, s.missing.size()), &r, [&](size_t i) {
    auto it = lb(s.missing[i].first);
    sink += it != v->end() && it->first == s.missing[i].first;
  });
  report->Add(r);
  r.workload = "seek+scan100";
  TimeOps(n / 10, &r, [&](size_t i) {
    auto it = lb(s.present[s.probe[i]].first);
    for (int j = 0; j < 100 && it != v->end(); ++j, ++it) sink += it->second;
  });
  r.note = "ns/key=" + std::to_string(r.p50_ns / 100);
  report->Add(r);
  delete v;
  if (sink == 42) std::printf(" ");
}

// Mean KeyReader::KeyAt calls per op over (up to) the first 100k ops, in a
// separate untimed single-threaded pass.
template <typename Op>
std::string KeyReadsPerOp(const Setup& s, size_t n, Op&& op) {
  n = std::min<size_t>(n, 100000);
  s.arena->StartCounting();
  for (size_t i = 0; i < n; ++i) op(i);
  const uint64_t reads = s.arena->StopCounting();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", n ? static_cast<double>(reads) / static_cast<double>(n) : 0.0);
  return buf;
}

void RunAlex(const Setup& s, const Options& o, Report* report, const Row& base) {
  EpochManager epochs;
  const size_t before = MallocInUse();
  auto* idx = new index::AlexIndex(s.arena, &epochs);
  idx->SetFullKeyComparesForBenchmark(o.full_key_compares);
  const uint64_t load_start = NowNanos();
  idx->BulkLoad(s.present);
  const uint64_t load_ns = NowNanos() - load_start;
  const size_t mem = MallocInUse() - before;
  const size_t n = std::min<size_t>(o.ops, s.probe.size());
  uint64_t sink = 0;
  const char* system = o.full_key_compares ? "alex-fullkey" : "alex";
  auto row = [&](const char* workload) {
    Row r = base;
    r.workload = workload;
    r.system = system;
    r.memory_bytes = mem;
    r.note = "index=" + std::to_string(idx->memory_bytes()) + "B";
    return r;
  };
  Row r = row("bulk-load");
  r.ops_per_s = static_cast<double>(s.present.size()) * 1e9 / static_cast<double>(load_ns);
  r.p50_ns = r.p99_ns = r.p999_ns = load_ns / std::max<size_t>(1, s.present.size());
  r.note = "total " + std::to_string(load_ns / 1000000) + " ms (ns/key in p50); " + idx->DebugShape();
  report->Add(r);
  r = row("lookup-hit");
  TimeOps(n, &r, [&](size_t i) {
    EpochManager::Guard g = epochs.Enter();
    uint64_t loc = 0;
    idx->Find(s.present[s.probe[i]].first, &loc);
    sink += loc;
  });
  r.note += " keyreads/op=" + KeyReadsPerOp(s, n, [&](size_t i) {
              uint64_t loc = 0;
              idx->Find(s.present[s.probe[i]].first, &loc);
              sink += loc;
            });
  report->Add(r);
  r = row("lookup-miss");
  TimeOps(std::min(n, s.missing.size()), &r, [&](size_t i) {
    EpochManager::Guard g = epochs.Enter();
    uint64_t loc = 0;
    sink += idx->Find(s.missing[i].first, &loc);
  });
  r.note += " keyreads/op=" + KeyReadsPerOp(s, std::min(n, s.missing.size()), [&](size_t i) {
              uint64_t loc = 0;
              sink += idx->Find(s.missing[i].first, &loc);
            });
  report->Add(r);
  r = row("seek+scan100");
  TimeOps(n / 10, &r, [&](size_t i) {
    EpochManager::Guard g = epochs.Enter();
    auto it = idx->LowerBound(s.present[s.probe[i]].first);
    for (int j = 0; j < 100 && it.Valid(); ++j, it.Next()) sink += it.location();
  });
  r.note += " ns/key=" + std::to_string(r.p50_ns / 100);
  report->Add(r);
  const size_t ins = std::min(s.missing.size(), s.present.size() / 10);
  r = row("insert");
  TimeOps(ins, &r, [&](size_t i) { idx->Upsert(s.missing[i].first, s.missing[i].second); });
  r.note = "index=" + std::to_string(idx->memory_bytes()) + "B after";
  report->Add(r);
  r = row("erase");
  TimeOps(ins, &r, [&](size_t i) { sink += idx->Erase(s.missing[i].first); });
  report->Add(r);
  {
    std::atomic<bool> stop{false};
    Latencies all;
    std::mutex all_mu;
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> hits{0};
    auto reader = [&](uint64_t seed) {
      Latencies lat;
      std::mt19937_64 rng(seed);
      uint64_t local = 0, t = NowNanos(), batch = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto& k = s.present[rng() % s.present.size()].first;
        {
          EpochManager::Guard g = epochs.Enter();
          uint64_t loc = 0;
          local += idx->Find(k, &loc);
        }
        if (++batch == kBatch) {
          const uint64_t now = NowNanos();
          lat.Add((now - t) / kBatch);
          t = now;
          batch = 0;
        }
      }
      reads.fetch_add(lat.count() * kBatch);
      hits.fetch_add(local);  // keeps the lookups from being optimised away
      std::lock_guard<std::mutex> l(all_mu);
      all.Merge(lat);
    };
    const uint64_t t0 = NowNanos();
    std::thread r1(reader, 1), r2(reader, 2);
    for (size_t i = 0; i < ins; ++i) idx->Upsert(s.missing[i].first, s.missing[i].second);
    stop.store(true);
    r1.join();
    r2.join();
    const uint64_t t1 = NowNanos();
    r = row("lookup-2r+1w");
    r.threads = 3;
    r.ops_per_s = static_cast<double>(reads.load()) * 1e9 / static_cast<double>(t1 - t0);
    all.FillRow(&r);
    r.note = "readers; writer " + std::to_string(static_cast<uint64_t>(ins * 1e9 / (t1 - t0))) + " ins/s";
    sink += hits.load();
    report->Add(r);
  }
  delete idx;
  epochs.ReclaimNow();
  if (sink == 42) std::printf(" ");
}

void RunIndexSuite(const Options& o) {
  Report report;
  const uint64_t timer = TimerOverheadNanos();
  std::printf("index suite: %llu keys, timer overhead %llu ns per sample\n",
              static_cast<unsigned long long>(o.keys), static_cast<unsigned long long>(timer));
  const KeySetSpec specs[] = {{"int8", 8}, {"path35", 35}, {"url80", 80}};
  for (const KeySetSpec& spec : specs) {
    if (o.sets.find(spec.name) == std::string::npos) continue;
    std::mt19937_64 rng(7);
    std::vector<std::string> keys;
    const size_t want = o.keys + o.keys / 5;
    keys.reserve(want);
    for (size_t i = 0; i < want; ++i) keys.push_back(MakeKey(spec, rng));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::shuffle(keys.begin(), keys.end(), rng);
    Arena arena(keys.size() * (spec.key_bytes + 2) + 16);
    Setup s{spec, &arena, {}, {}, {}};
    const size_t np = std::min<size_t>(o.keys, keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const uint64_t loc = arena.Add(keys[i]);
      (i < np ? s.present : s.missing).emplace_back(arena.KeyAt(loc), loc);
    }
    keys.clear();
    keys.shrink_to_fit();
    std::sort(s.present.begin(), s.present.end());
    s.probe.resize(std::min<size_t>(o.ops, s.present.size()));
    for (auto& p : s.probe) p = static_cast<uint32_t>(rng() % s.present.size());
    Row base;
    base.suite = "index";
    base.keys = s.present.size();
    base.key_bytes = spec.key_bytes;
    base.value_bytes = 8;
    auto wanted = [&o](const char* name) {
      return std::find(o.structures.begin(), o.structures.end(), name) != o.structures.end();
    };
    if (wanted("alex")) RunAlex(s, o, &report, base);
    if (wanted("absl-btree")) RunOrderedMap<absl::btree_map<std::string_view, uint64_t>>("absl-btree", s, o, &report, base);
    if (wanted("std-map")) RunOrderedMap<std::map<std::string_view, uint64_t>>("std-map", s, o, &report, base);
    if (wanted("sorted-vector")) RunSortedVector(s, o, &report, base);
  }
  report.PrintTable();
  if (!o.json.empty()) report.WriteJson(o.json);
}

void RegisterIndexSuite(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("index", "AlexIndex vs std::map, absl::btree_map, sorted vector");
  sub->add_option("--keys", opts->keys, "keys loaded per key set (default 1M)");
  sub->add_option("--ops", opts->ops, "timed lookups per workload (default 1M)");
  sub->add_option("--sets", opts->sets, "key sets: int8,path35,url80");
  sub->add_option("--json", opts->json, "also write rows as JSON to FILE");
  sub->add_option("--structures", opts->structures,
                  "comma-separated: alex,absl-btree,std-map,sorted-vector (default all; at 50M keys std::map "
                  "alone needs ~4 GB)")
      ->delimiter(',')
      ->check(CLI::IsMember({"alex", "absl-btree", "std-map", "sorted-vector"}));
  sub->add_flag("--full-key-compares", opts->full_key_compares,
                "AlexIndex compares full keys at every search step (design measurement)");
  sub->callback([opts] { RunIndexSuite(*opts); });
}

}  // namespace

ALEXFS_BENCH_SUITE(index, RegisterIndexSuite);

}  // namespace alexfs::bench
