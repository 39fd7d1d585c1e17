// alexfs-bench compression: zstd value compression (engine/compression.h) on
// a real tree of this machine and on synthetic values, each figure measured
// with compression on and off in the same run.
//
//  * corpus: every regular file under each --corpus directory, stored as the
//    filesystem stores it (a file of up to 64 KiB as one value, a larger one
//    as 64 KiB blocks), key = its path; then Compact() (which retrains the
//    dictionary and re-encodes the small values). Reported: the store's
//    segment bytes vs the sum of each file compressed alone by libzstd at
//    level 3 (`zstd -3` per file, less its 4-byte checksum) and vs
//    `tar -cf - DIR | zstd -3` (one solid stream, run as a command).
//  * get_1KiB_cold: random point gets of 1 KiB config-like text values right
//    after the store's files were evicted from the page cache (needs root).
//  * put_1KiB: buffered puts of 1 KiB text values over a filled store, ops/s;
//    put_1KiB_first_fill: the same into an empty store (with compression the
//    first dictionary is trained meanwhile, on the background thread).
//  * put_64KiB_random: buffered puts of incompressible 64 KiB values (file
//    blocks), ops/s.
#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/store.h"
#include "tools/bench/page_cache.h"
#include "tools/bench/report.h"

namespace alexfs::bench::compressionbench {
namespace {

namespace stdfs = std::filesystem;

struct Options {
  std::vector<std::string> corpus{"/usr/include"};
  std::string dir = "/var/tmp";
  std::string json;
  int level = 3;
  uint64_t small_values = 50000;
  uint64_t cold_gets = 3000;
  uint64_t random_values = 2000;
  uint32_t dictionary_kib = StoreOptions().compression_dictionary_bytes >> 10;
};

constexpr uint64_t kBlockBytes = 64 << 10;

std::string ConfigText(uint64_t i, size_t n) {
  static const char* words[] = {"server", "listen", "timeout", "retries", "enabled", "path",
                                "/etc/alexfs", "true", "false", "level", "workers", "cache"};
  std::mt19937 rng(static_cast<uint32_t>(i));
  std::string s = "# generated config " + std::to_string(i) + "\n";
  while (s.size() < n) {
    s += words[rng() % 12];
    s += " = ";
    s += std::to_string(rng() % 1000);
    s += "\n";
  }
  s.resize(n);
  return s;
}

std::string Key(uint64_t i) {
  char b[64];
  std::snprintf(b, sizeof b, "etc/app%03llu/conf-%08llu", static_cast<unsigned long long>(i % 500),
                static_cast<unsigned long long>(i));
  return b;
}

StoreOptions StoreOpts(const Options& opt, int level) {
  StoreOptions o;
  o.compaction_garbage_ratio = 0;
  o.compression_level = level;
  o.compression_dictionary_bytes = opt.dictionary_kib << 10;
  return o;
}

std::string FreshDir(const Options& opt, const std::string& name) {
  const std::string d = opt.dir + "/alexfs-bench-compression-" + name;
  stdfs::remove_all(d);
  return d;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

uint64_t SolidTarZstd(const std::string& dir, int level) {
  const std::string cmd = "tar -cf - -C '" + dir + "' . 2>/dev/null | zstd -q -" + std::to_string(level) +
                          " -c | wc -c";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  unsigned long long n = 0;
  if (std::fscanf(p, "%llu", &n) != 1) n = 0;
  ::pclose(p);
  return n;
}

void Corpus(const Options& opt, Report* report) {
  for (const std::string& root : opt.corpus) {
    std::vector<std::string> files;
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(root, stdfs::directory_options::skip_permission_denied, ec);
         it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    uint64_t raw = 0, per_file = 0;
    std::string data;
    std::string out;
    for (const std::string& f : files) {
      if (!ReadFile(f, &data)) continue;
      raw += data.size();
      out.resize(ZSTD_compressBound(data.size()));
      const size_t r = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), opt.level);
      if (!ZSTD_isError(r)) per_file += r;
    }
    const uint64_t solid = SolidTarZstd(root, opt.level);
    std::printf("corpus %s: %zu files, %llu bytes; per-file zstd -%d %llu; tar | zstd -%d %llu\n", root.c_str(),
                files.size(), static_cast<unsigned long long>(raw), opt.level,
                static_cast<unsigned long long>(per_file), opt.level, static_cast<unsigned long long>(solid));
    for (int level : {0, opt.level}) {
      const std::string dir = FreshDir(opt, level > 0 ? "corpus-zstd" : "corpus-none");
      std::unique_ptr<Store> store;
      Status s = Store::Open(dir, StoreOpts(opt, level), &store);
      if (!s.ok()) {
        std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.ToString().c_str());
        return;
      }
      const uint64_t t0 = NowNanos();
      uint64_t values = 0;
      for (const std::string& f : files) {
        if (!ReadFile(f, &data)) continue;
        const std::string key = f.substr(root.size());
        if (data.size() <= kBlockBytes) {
          s = store->Put(key, data);
          ++values;
        } else {
          for (uint64_t b = 0; s.ok() && b * kBlockBytes < data.size(); ++b) {
            s = store->Put(key + "#" + std::to_string(b), std::string_view(data).substr(b * kBlockBytes, kBlockBytes));
            ++values;
          }
        }
        if (!s.ok()) break;
      }
      if (s.ok()) s = store->Compact();
      const double secs = static_cast<double>(NowNanos() - t0) / 1e9;
      if (!s.ok()) {
        std::fprintf(stderr, "corpus store: %s\n", s.ToString().c_str());
        return;
      }
      const StoreStats st = store->GetStats();
      store->Close();
      Row r;
      r.suite = "compression";
      r.workload = "corpus:" + root;
      r.system = level > 0 ? "alexfs zstd:" + std::to_string(level) : "alexfs none";
      r.keys = values;
      r.value_bytes = raw;
      r.ops_per_s = static_cast<double>(values) / secs;
      // Bytes of records (a segment file may be longer: the active one is
      // preallocated).
      r.disk_bytes = st.log_bytes;
      char note[256];
      std::snprintf(note, sizeof note,
                    "store/per-file-zstd %.3f, store/solid-tar-zstd %.3f, ratio %.2f, %llu dictionaries",
                    static_cast<double>(r.disk_bytes) / static_cast<double>(per_file),
                    static_cast<double>(r.disk_bytes) / static_cast<double>(solid),
                    static_cast<double>(raw) / static_cast<double>(r.disk_bytes),
                    static_cast<unsigned long long>(st.dictionaries));
      r.note = note;
      report->Add(r);
      stdfs::remove_all(dir);
    }
  }
}

// Fills two stores (compression off and on) with 1 KiB text values.
// Fills a store with 1 KiB text values (*first_fill: that rate, which with
// compression includes training the first dictionary), compacts, then
// overwrites every value once more (*ops_per_s: the steady rate) and compacts.
bool FillSmall(const Options& opt, int level, const std::string& dir, double* ops_per_s,
               double* first_fill, uint64_t* log_bytes) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(dir, StoreOpts(opt, level), &store);
  if (!s.ok()) return false;
  std::vector<std::string> values;
  values.reserve(opt.small_values);
  for (uint64_t i = 0; i < opt.small_values; ++i) values.push_back(ConfigText(i, 1024));
  uint64_t t0 = NowNanos();
  for (uint64_t i = 0; i < opt.small_values && s.ok(); ++i) s = store->Put(Key(i), values[i]);
  *first_fill = static_cast<double>(opt.small_values) / (static_cast<double>(NowNanos() - t0) / 1e9);
  if (s.ok()) s = store->Compact();
  for (uint64_t i = 0; i < opt.small_values; ++i) values[i] = ConfigText(i + opt.small_values, 1024);
  t0 = NowNanos();
  for (uint64_t i = 0; i < opt.small_values && s.ok(); ++i) s = store->Put(Key(i), values[i]);
  *ops_per_s = static_cast<double>(opt.small_values) / (static_cast<double>(NowNanos() - t0) / 1e9);
  if (s.ok()) s = store->Compact();
  *log_bytes = store->GetStats().log_bytes;
  if (s.ok()) s = store->Close();
  return s.ok();
}

void SmallValues(const Options& opt, Report* report) {
  const int levels[2] = {0, opt.level};
  std::string dirs[2];
  double put_rate[2] = {0, 0};
  double first_fill[2] = {0, 0};
  uint64_t log_bytes[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    dirs[k] = FreshDir(opt, k == 0 ? "small-none" : "small-zstd");
    if (!FillSmall(opt, levels[k], dirs[k], &put_rate[k], &first_fill[k], &log_bytes[k])) {
      std::fprintf(stderr, "filling %s failed\n", dirs[k].c_str());
      return;
    }
  }
  // Cold gets, the two stores alternating in rounds so drift hits both.
  Latencies lat[2];
  std::mt19937_64 rng(7);
  std::vector<uint64_t> keys(opt.cold_gets);
  for (auto& k : keys) k = rng() % opt.small_values;
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      std::unique_ptr<Store> store;
      if (!Store::Open(dirs[k], StoreOpts(opt, levels[k]), &store).ok()) return;
      std::string err;
      if (!EvictFiles(dirs[k], &err)) {
        std::fprintf(stderr, "cold gets need root: %s\n", err.c_str());
        return;
      }
      PinnedValue v;
      for (size_t i = round; i < keys.size(); i += kRounds) {
        const uint64_t t0 = NowNanos();
        Status s = store->Get(Key(keys[i]), &v);
        lat[k].Add(NowNanos() - t0);
        if (!s.ok() || v.value().size() != 1024) std::abort();
      }
      store->Close();
    }
  }
  for (int k = 0; k < 2; ++k) {
    Row r;
    r.suite = "compression";
    r.workload = "get_1KiB_cold";
    r.system = levels[k] > 0 ? "alexfs zstd:" + std::to_string(levels[k]) : "alexfs none";
    r.keys = opt.small_values;
    r.value_bytes = 1024;
    r.disk_bytes = log_bytes[k];
    lat[k].FillRow(&r);
    r.ops_per_s = 1e9 / static_cast<double>(std::max<uint64_t>(1, lat[k].Percentile(50)));
    r.note = "page cache dropped; ops/s = 1/p50";
    report->Add(r);
    Row w = r;
    w.workload = "put_1KiB";
    w.ops_per_s = put_rate[k];
    w.p50_ns = w.p99_ns = w.p999_ns = 0;
    w.note = "buffered, one thread; overwrites of a filled store";
    report->Add(w);
    Row f = w;
    f.workload = "put_1KiB_first_fill";
    f.ops_per_s = first_fill[k];
    f.note = "buffered, one thread; an empty store (with compression: trains the first dictionary meanwhile)";
    report->Add(f);
    stdfs::remove_all(dirs[k]);
  }
}

void RandomValues(const Options& opt, Report* report) {
  std::mt19937_64 rng(11);
  std::vector<std::string> values(opt.random_values);
  for (auto& v : values) {
    v.resize(kBlockBytes);
    for (size_t i = 0; i < v.size(); i += 8) {
      const uint64_t x = rng();
      std::memcpy(v.data() + i, &x, 8);
    }
  }
  double rate[2] = {0, 0};
  const int levels[2] = {0, opt.level};
  // Alternate twice so both sides see the same disk state; best of the two.
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < 2; ++k) {
      const std::string dir = FreshDir(opt, "random");
      std::unique_ptr<Store> store;
      if (!Store::Open(dir, StoreOpts(opt, levels[k]), &store).ok()) return;
      const uint64_t t0 = NowNanos();
      Status s;
      for (uint64_t i = 0; i < values.size() && s.ok(); ++i) s = store->Put(Key(i), values[i]);
      const double r = static_cast<double>(values.size()) / (static_cast<double>(NowNanos() - t0) / 1e9);
      rate[k] = std::max(rate[k], r);
      store->Close();
      stdfs::remove_all(dir);
    }
  }
  for (int k = 0; k < 2; ++k) {
    Row r;
    r.suite = "compression";
    r.workload = "put_64KiB_random";
    r.system = levels[k] > 0 ? "alexfs zstd:" + std::to_string(levels[k]) : "alexfs none";
    r.keys = values.size();
    r.value_bytes = kBlockBytes;
    r.ops_per_s = rate[k];
    r.note = "buffered, incompressible; best of 2";
    report->Add(r);
  }
}

int Run(const Options& opt) {
  Report report;
  Corpus(opt, &report);
  SmallValues(opt, &report);
  RandomValues(opt, &report);
  report.PrintTable();
  auto find = [&](const std::string& w, bool on) -> const Row* {
    for (const Row& r : report.rows()) {
      if (r.workload == w && (r.system != "alexfs none") == on) return &r;
    }
    return nullptr;
  };
  std::printf("\nTargets:\n");
  for (const Row& r : report.rows()) {
    if (r.workload.rfind("corpus:", 0) == 0 && r.system != "alexfs none") {
      std::printf("  %-30s store <= 0.85x per-file zstd: %s\n", r.workload.c_str(), r.note.c_str());
    }
  }
  auto ratio = [&](const char* w, const char* what, double goal, bool lower_is_better) {
    const Row* on = find(w, true);
    const Row* off = find(w, false);
    if (on == nullptr || off == nullptr) {
      std::printf("  %-30s not measured\n", w);
      return;
    }
    const double x = lower_is_better ? static_cast<double>(on->p50_ns) / static_cast<double>(off->p50_ns)
                                     : on->ops_per_s / off->ops_per_s;
    const bool met = lower_is_better ? x <= goal : x >= goal;
    std::printf("  %-30s %s %s %.2fx: %.2fx %s\n", w, what, lower_is_better ? "<=" : ">=", goal, x,
                met ? "met" : "MISSED");
  };
  ratio("get_1KiB_cold", "p50 on/off", 1.3, true);
  ratio("put_1KiB", "rate on/off", 0.9, false);
  ratio("put_1KiB_first_fill", "rate on/off", 0.9, false);
  ratio("put_64KiB_random", "rate on/off", 0.9, false);
  if (!opt.json.empty() && !report.WriteJson(opt.json)) return 1;
  return 0;
}

void AddCompressionSuite(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "compression",
      "zstd value compression, on vs off in one run: a real tree (--corpus) stored as the filesystem "
      "stores it then compacted, vs per-file zstd and one tar|zstd stream; cold 1 KiB gets (root: drops "
      "the page cache); 1 KiB puts; incompressible 64 KiB puts");
  cmd->add_option("--corpus", opt->corpus, "directories to store (default /usr/include)")->delimiter(',');
  cmd->add_option("--dir", opt->dir, "where the stores live (default /var/tmp)");
  cmd->add_option("--level", opt->level, "zstd level (default 3)")->check(CLI::Range(1, 19));
  cmd->add_option("--small-values", opt->small_values, "1 KiB values per store (default 50000)");
  cmd->add_option("--cold-gets", opt->cold_gets, "cold gets per store (default 3000)");
  cmd->add_option("--random-values", opt->random_values, "64 KiB random values per run (default 2000)");
  cmd->add_option("--dictionary-kib", opt->dictionary_kib,
                  "dictionary size compaction trains, KiB (default: the engine's, 256)");
  cmd->add_option("--json", opt->json, "write the rows to FILE as JSON");
  cmd->callback([opt] {
    int rc = Run(*opt);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace
}  // namespace alexfs::bench::compressionbench

ALEXFS_BENCH_SUITE(compression, alexfs::bench::compressionbench::AddCompressionSuite);
