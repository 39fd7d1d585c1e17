// Power loss at the engine level: a store runs over a FaultEnv
// (tests/support/fault_env.h) doing random batches, durable and buffered,
// across segment rolls, compactions and reopens; the power is cut at a random
// instant, the crash image (synced bytes kept; unsynced pages kept,
// zero-filled or lost; directory entries no fsync covered undone) replaces
// the files, and the store is reopened. After every cut:
//  * it opens with no manual step;
//  * every batch acknowledged as durable before the cut is there;
//  * the contents equal the state after some prefix of the batches written
//    (buffered batches all or nothing and in order; nothing torn is served).
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/engine/engine_test_util.h"
#include "tests/support/fault_env.h"

namespace alexfs {
namespace {

using testing::Dump;
using testing::FaultEnv;
using testing::ScratchDir;

using State = std::map<std::string, std::string>;

struct Op {
  std::string key;
  std::string value;  // empty: delete
};
using Batch = std::vector<Op>;

void Apply(const Batch& b, State* s) {
  for (const Op& op : b) {
    if (op.value.empty()) {
      s->erase(op.key);
    } else {
      (*s)[op.key] = op.value;
    }
  }
}

// A random batch over keys "<prefix>NN"; values name the batch (so a value
// from the wrong batch or a torn one never matches the model).
Batch RandomBatch(std::mt19937_64* rng, const std::string& prefix, uint64_t id) {
  Batch b;
  const int ops = 1 + static_cast<int>((*rng)() % 4);
  for (int i = 0; i < ops; ++i) {
    std::string key = prefix + std::to_string((*rng)() % 40);
    if ((*rng)() % 8 == 0) {
      b.push_back({key, ""});
    } else {
      const size_t pad = (*rng)() % 3 == 0 ? (*rng)() % 3000 : (*rng)() % 60;
      b.push_back({key, "batch" + std::to_string(id) + ":" + key + ":" + std::string(pad, 'v')});
    }
  }
  return b;
}

Status WriteBatchOf(Store* s, const Batch& b, Durability d) {
  WriteBatch wb;
  for (const Op& op : b) {
    if (op.value.empty()) {
      wb.Delete(op.key);
    } else {
      wb.Put(op.key, op.value);
    }
  }
  return s->Write(wb, d);
}

// The keys of `all` starting with `prefix`.
State Only(const State& all, const std::string& prefix) {
  State s;
  for (const auto& [k, v] : all) {
    if (k.compare(0, prefix.size(), prefix) == 0) s.emplace(k, v);
  }
  return s;
}

// Index of the prefix of `batches` (applied to `base`) that gives `got`, at
// least `min_prefix` batches long; -1 if none.
int MatchingPrefix(State base, const std::vector<Batch>& batches, size_t min_prefix,
                   const State& got) {
  for (size_t i = 0; i < min_prefix; ++i) Apply(batches[i], &base);
  for (size_t k = min_prefix;; ++k) {
    if (base == got) return static_cast<int>(k);
    if (k == batches.size()) return -1;
    Apply(batches[k], &base);
  }
}

// For a failure message: how `got` differs from the state after the longest
// prefix whose batches it shows.
std::string Explain(State base, const std::vector<Batch>& batches, const State& got) {
  size_t longest = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    for (const Op& op : batches[i]) {
      auto it = got.find(op.key);
      if (!op.value.empty() && it != got.end() && it->second == op.value) longest = i + 1;
    }
  }
  for (size_t i = 0; i < longest; ++i) Apply(batches[i], &base);
  std::string out = "; the newest batch seen is #" + std::to_string(longest) + " of " +
                    std::to_string(batches.size()) + "; differences from that prefix:";
  for (const auto& [k, v] : base) {
    auto it = got.find(k);
    if (it == got.end()) out += " " + k + " missing (want " + v.substr(0, 20) + ");";
    else if (it->second != v) out += " " + k + "=" + it->second.substr(0, 20) + " (want " + v.substr(0, 20) + ");";
  }
  for (const auto& [k, v] : got) {
    if (base.count(k) == 0) out += " " + k + "=" + v.substr(0, 20) + " (want none);";
  }
  return out;
}

StoreOptions PowerLossOptions(FaultEnv* env) {
  StoreOptions o;
  o.env = env;
  o.segment_bytes = 32 << 10;  // rolls every few dozen batches
  o.compaction_garbage_ratio = 0;
  return o;
}

// Cuts the power, closes the store, writes the crash image and reopens: it
// must open with no manual step.
void CutAndReopen(FaultEnv* env, const std::string& dir, const StoreOptions& o, uint64_t seed,
                  std::unique_ptr<Store>* store) {
  env->SimulatePowerCut(seed);
  store->reset();  // whatever it does now reaches no disk
  ASSERT_TRUE(env->MaterializeCrashImage().ok());
  Status st = Store::Open(dir, o, store);
  ASSERT_TRUE(st.ok()) << "seed " << seed << ": " << st.ToString();
}

// One writer, random batches; some durable, some buffered then Sync()ed,
// some left buffered; compactions now and then; a cut at a random point.
void RunSingleWriterCuts(int cuts, bool fallocate, uint64_t seed0) {
  ScratchDir dir;
  FaultEnv env;
  env.SetFallocateSupported(fallocate);
  const StoreOptions o = PowerLossOptions(&env);
  std::unique_ptr<Store> s = testing::OpenOrDie(dir.path(), o);
  ASSERT_NE(s, nullptr);
  State durable_state;  // what the store held at the last reopen
  uint64_t batch_id = 0;
  uint64_t kept = 0, zeroed = 0, dropped = 0, undone = 0;
  for (int cut = 0; cut < cuts; ++cut) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(cut);
    std::mt19937_64 rng(seed);
    std::vector<Batch> batches;
    size_t must_have = 0;  // batches [0, must_have) were acknowledged durable
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      batches.push_back(RandomBatch(&rng, "k", ++batch_id));
      const int kind = static_cast<int>(rng() % 10);
      const Durability d = kind < 3 ? Durability::kDurable : Durability::kBuffered;
      ASSERT_TRUE(WriteBatchOf(s.get(), batches.back(), d).ok());
      if (d == Durability::kDurable) must_have = batches.size();
      if (kind == 3) {
        ASSERT_TRUE(s->Sync().ok());
        must_have = batches.size();
      }
      if (rng() % 40 == 0) {
        ASSERT_TRUE(s->Compact().ok());
      }
    }
    ASSERT_NO_FATAL_FAILURE(CutAndReopen(&env, dir.path(), o, seed, &s));
    const FaultEnv::CutStats cs = env.last_cut();
    kept += cs.pages_kept;
    zeroed += cs.pages_zeroed;
    dropped += cs.pages_dropped;
    undone += cs.names_undone;
    const State got = Dump(*s);
    const int k = MatchingPrefix(durable_state, batches, must_have, got);
    ASSERT_GE(k, 0) << "seed " << seed << ": after the cut the store holds no prefix of the "
                    << batches.size() << " batches that includes the " << must_have
                    << " acknowledged durable ones" << Explain(durable_state, batches, got);
    durable_state = got;
  }
  std::printf("%d power cuts: unsynced pages kept %llu, zero-filled %llu, lost %llu; "
              "directory entries undone %llu\n",
              cuts, static_cast<unsigned long long>(kept), static_cast<unsigned long long>(zeroed),
              static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(undone));
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(zeroed, 0u);
}

TEST(EnginePowerLossTest, DurableWritesSurviveAndBuffersArePrefixes) {
  RunSingleWriterCuts(/*cuts=*/250, /*fallocate=*/true, 1000);
}

// The same on a filesystem without fallocate (NFS, FUSE): the segments are
// sparse files and the store must neither fail nor lose anything.
TEST(EnginePowerLossTest, WithoutFallocate) {
  RunSingleWriterCuts(/*cuts=*/100, /*fallocate=*/false, 5000);
}

// Two writers (one durable, one buffered) and background compaction run
// while the power is cut from another thread: a write counts as
// acknowledged-durable only if it returned before the cut.
TEST(EnginePowerLossTest, ConcurrentWritersAndBackgroundCompaction) {
  ScratchDir dir;
  FaultEnv env;
  StoreOptions o = PowerLossOptions(&env);
  o.compaction_garbage_ratio = 0.3;
  o.compaction_min_garbage_bytes = 16 << 10;
  std::unique_ptr<Store> s = testing::OpenOrDie(dir.path(), o);
  ASSERT_NE(s, nullptr);
  State state;
  uint64_t batch_id = 0;
  constexpr int kCuts = 120;
  for (int cut = 0; cut < kCuts; ++cut) {
    const uint64_t seed = 9000 + static_cast<uint64_t>(cut);
    const std::string prefixes[2] = {"d", "b"};
    std::vector<Batch> batches[2];
    size_t must_have[2] = {0, 0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
      std::mt19937_64 rng(seed * 2 + static_cast<uint64_t>(t));
      for (int i = 0; i < 400; ++i) batches[t].push_back(RandomBatch(&rng, prefixes[t], ++batch_id));
      writers.emplace_back([&, t] {
        const Durability d = t == 0 ? Durability::kDurable : Durability::kBuffered;
        for (size_t i = 0; i < batches[t].size() && !stop.load(); ++i) {
          const bool ok = WriteBatchOf(s.get(), batches[t][i], d).ok();
          // Acknowledged before the cut: then it must survive it.
          if (ok && d == Durability::kDurable && !env.power_cut()) must_have[t] = i + 1;
          if (!ok) break;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::mt19937_64(seed)() % 20000));
    env.SimulatePowerCut(seed);
    stop = true;
    for (auto& w : writers) w.join();
    s.reset();
    ASSERT_TRUE(env.MaterializeCrashImage().ok());
    Status st = Store::Open(dir.path(), o, &s);
    ASSERT_TRUE(st.ok()) << "seed " << seed << ": " << st.ToString();
    const State got = Dump(*s);
    for (int t = 0; t < 2; ++t) {
      const int k = MatchingPrefix(Only(state, prefixes[t]), batches[t], must_have[t],
                                   Only(got, prefixes[t]));
      ASSERT_GE(k, 0) << "seed " << seed << " writer " << t << ": no prefix with the "
                      << must_have[t] << " acknowledged durable batches"
                      << Explain(Only(state, prefixes[t]), batches[t], Only(got, prefixes[t]));
    }
    state = got;
  }
}

}  // namespace
}  // namespace alexfs
