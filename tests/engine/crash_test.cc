// Crash tests with real processes: a forked child writes durable batches and
// reports each acknowledged one to the parent over a pipe; the parent SIGKILLs
// it at a random moment (fixed seeds), reopens the store and checks that every
// acknowledged batch is there, nothing deleted came back, and each batch is all
// or nothing: each writer's keys must equal the model after exactly n or n+1 of
// its batches, where n is the number it saw acknowledged.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

using testing::ScratchDir;

using Model = std::map<std::string, std::string>;

struct CrashConfig {
  int threads = 1;
  int rounds = 40;
  int keys_per_thread = 40;
  int max_value = 1500;
  int compact_every = 0;   // thread 0 calls Compact() every N batches (0: never)
  bool mixed_durability = false;  // every other batch buffered, then a durable one
  uint64_t seed = 1;
  int max_kill_ms = 40;
};

// Batch `idx` of thread `t`: deterministic from (seed, t, idx).
WriteBatch MakeBatch(const CrashConfig& c, int t, uint64_t idx) {
  std::mt19937_64 rng(c.seed * 1000003u + static_cast<uint64_t>(t) * 7919u + idx);
  WriteBatch b;
  int ops = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < ops; ++i) {
    std::string key = "t" + std::to_string(t) + "/" + std::to_string(rng() % c.keys_per_thread);
    if (rng() % 4 == 0) {
      b.Delete(key);
    } else {
      std::string v = std::to_string(idx) + ":";
      v.append(rng() % c.max_value, static_cast<char>('a' + idx % 26));
      b.Put(key, v);
    }
  }
  return b;
}

void Apply(const WriteBatch& b, Model* m) {
  for (const auto& op : b.ops()) {
    if (op.type == WriteBatch::OpType::kPut) {
      (*m)[op.key] = op.value;
    } else {
      m->erase(op.key);
    }
  }
}

StoreOptions CrashOptions() {
  StoreOptions o;
  o.segment_bytes = 32 << 10;
  o.compaction_garbage_ratio = 0;
  return o;
}

// The child: never returns.
[[noreturn]] void RunChild(const CrashConfig& c, const std::string& dir,
                           const std::vector<uint64_t>& start, int report_fd) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(dir, CrashOptions(), &store);
  if (!s.ok()) {
    std::fprintf(stderr, "child open: %s\n", s.ToString().c_str());
    ::_exit(2);
  }
  std::vector<std::thread> ts;
  for (int t = 0; t < c.threads; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t idx = start[t];; ++idx) {
        WriteBatch b = MakeBatch(c, t, idx);
        Durability d = (c.mixed_durability && idx % 2 == 0) ? Durability::kBuffered
                                                            : Durability::kDurable;
        Status ws = store->Write(b, d);
        if (!ws.ok()) {
          std::fprintf(stderr, "child write: %s\n", ws.ToString().c_str());
          ::_exit(3);
        }
        if (d == Durability::kDurable) {
          // Everything up to idx is durable now.
          char msg[64];
          int n = std::snprintf(msg, sizeof(msg), "%d %llu\n", t,
                                static_cast<unsigned long long>(idx + 1));
          if (::write(report_fd, msg, static_cast<size_t>(n)) != n) ::_exit(4);
        }
        if (c.compact_every > 0 && t == 0 && idx % c.compact_every == 0) {
          Status cs = store->Compact();
          if (!cs.ok()) ::_exit(5);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  ::_exit(0);
}

void RunCrashRounds(const CrashConfig& c) {
  ScratchDir dir;
  const std::string path = dir.Sub("store");
  std::vector<uint64_t> committed(c.threads, 0);  // batches known applied
  std::vector<Model> models(c.threads);           // after `committed` batches
  std::mt19937_64 rng(c.seed);
  uint64_t total_acked = 0;
  for (int round = 0; round < c.rounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      RunChild(c, path, committed, fds[1]);
    }
    ::close(fds[1]);
    std::string reports;
    if (round % 5 != 0) {
      // Most rounds: let the child get going (a loaded machine can take a
      // while to open and sync), then kill at a random moment. Every fifth
      // round kills blind, possibly during open or recovery.
      struct pollfd pfd = {fds[0], POLLIN, 0};
      if (::poll(&pfd, 1, 5000) == 1) {
        char first[256];
        ssize_t got = ::read(fds[0], first, sizeof(first));
        if (got > 0) reports.append(first, static_cast<size_t>(got));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % c.max_kill_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) reports.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    std::vector<uint64_t> acked = committed;
    std::istringstream in(reports);
    int t;
    unsigned long long upto;
    while (in >> t >> upto) acked[t] = std::max<uint64_t>(acked[t], upto);

    std::unique_ptr<Store> store;
    Status s = Store::Open(path, CrashOptions(), &store);
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.ToString();
    Model all = testing::Dump(*store);
    for (int th = 0; th < c.threads; ++th) {
      std::string prefix = "t" + std::to_string(th) + "/";
      Model got(all.lower_bound(prefix), all.lower_bound("t" + std::to_string(th) + "0"));
      // Advance the model to the acknowledged count, then allow a few more
      // batches that were logged but whose acknowledgement was lost (buffered
      // ones since the last durable one, plus the one in flight).
      Model m = models[th];
      for (uint64_t i = committed[th]; i < acked[th]; ++i) Apply(MakeBatch(c, th, i), &m);
      uint64_t matched = UINT64_MAX;
      uint64_t i = acked[th];
      for (int extra = 0; extra <= 3; ++extra, ++i) {
        if (got == m) {
          matched = i;
          break;
        }
        Apply(MakeBatch(c, th, i), &m);
      }
      ASSERT_NE(matched, UINT64_MAX)
          << "round " << round << " thread " << th << ": store matches no prefix of batches "
          << "from " << acked[th] << " (" << got.size() << " keys)";
      total_acked += matched - committed[th];
      committed[th] = matched;
      models[th] = got;
    }
    store.reset();
  }
  ::testing::Test::RecordProperty("batches_recovered", static_cast<int>(total_acked));
  EXPECT_GT(total_acked, 0u);
}

TEST(CrashTest, DurableBatchesSurviveSigkill) {
  CrashConfig c;
  c.seed = 11;
  c.rounds = 60;
  RunCrashRounds(c);
}

TEST(CrashTest, ConcurrentWritersSurviveSigkill) {
  CrashConfig c;
  c.seed = 23;
  c.threads = 4;
  c.rounds = 50;
  RunCrashRounds(c);
}

TEST(CrashTest, BufferedThenDurableSurviveSigkill) {
  CrashConfig c;
  c.seed = 37;
  c.threads = 2;
  c.mixed_durability = true;
  c.rounds = 40;
  RunCrashRounds(c);
}

TEST(CrashTest, KillDuringCompaction) {
  CrashConfig c;
  c.seed = 53;
  c.threads = 2;
  c.compact_every = 7;
  c.rounds = 60;
  c.max_kill_ms = 60;
  RunCrashRounds(c);
}

}  // namespace
}  // namespace alexfs
