// The offline tools (dump, load, compact, stats) on real store directories,
// through the real `alexfs` binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "engine/store.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

// Fills a store with keys shaped like the filesystem's: files, directory
// markers, an internal key, binary values.
std::map<std::string, std::string> Populate(const std::string& dir) {
  std::map<std::string, std::string> model;
  std::unique_ptr<Store> store;
  EXPECT_TRUE(Store::Open(dir, StoreOptions(), &store).ok());
  std::mt19937_64 rng(42);
  WriteBatch batch;
  for (int i = 0; i < 3000; ++i) {
    std::string key = "etc/app" + std::to_string(i % 17) + "/conf-" + std::to_string(i);
    std::string value(rng() % 2000, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    batch.Put(key, value);
    model[key] = value;
  }
  for (int d = 0; d < 17; ++d) {
    batch.Put("etc/app" + std::to_string(d) + "/", "dir-header");
    model["etc/app" + std::to_string(d) + "/"] = "dir-header";
  }
  batch.Put("etc/", "dir-header");
  model["etc/"] = "dir-header";
  batch.Put(std::string("\0link/1", 7), "shared body");
  model[std::string("\0link/1", 7)] = "shared body";
  EXPECT_TRUE(store->Write(batch, Durability::kDurable).ok());
  EXPECT_TRUE(store->Delete("etc/app3/conf-3", Durability::kDurable).ok());
  model.erase("etc/app3/conf-3");
  EXPECT_TRUE(store->Close().ok());
  return model;
}

std::map<std::string, std::string> ReadAll(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::unique_ptr<Store> store;
  Status s = Store::Open(dir, StoreOptions(), &store);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return out;
  auto it = store->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) out[std::string(it->key())] = std::string(it->value());
  return out;
}

TEST(OfflineTools, DumpThenLoadReproducesEveryKeyAndValue) {
  TempDir dir;
  auto model = Populate(dir.Sub("a"));
  std::string out;
  ASSERT_EQ(RunShell(std::string(AlexfsBinary()) + " dump " + dir.Sub("a") + " > " +
                         dir.Sub("dump"), &out), 0) << out;
  ASSERT_EQ(RunShell(std::string(AlexfsBinary()) + " load " + dir.Sub("b") + " < " +
                         dir.Sub("dump"), &out), 0) << out;
  EXPECT_EQ(ReadAll(dir.Sub("b")), model);
  // From a pipe (not seekable) too.
  ASSERT_EQ(RunShell("cat " + dir.Sub("dump") + " | " + AlexfsBinary() + " load " + dir.Sub("c"),
                     &out), 0) << out;
  EXPECT_EQ(ReadAll(dir.Sub("c")), model);
  // Dumps of equal stores are equal, byte for byte.
  ASSERT_EQ(RunShell(std::string(AlexfsBinary()) + " dump " + dir.Sub("b") + " -o " +
                         dir.Sub("dump2"), &out), 0) << out;
  std::string d1, d2;
  ASSERT_TRUE(ReadFile(dir.Sub("dump"), &d1));
  ASSERT_TRUE(ReadFile(dir.Sub("dump2"), &d2));
  EXPECT_EQ(d1, d2);
}

// The filesystem allows paths of up to 4095 bytes: a directory's key is one
// byte longer (its trailing '/'), and such a store must load back.
TEST(OfflineTools, DumpOfTheLongestPathsLoadsBack) {
  TempDir dir;
  std::map<std::string, std::string> model;
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(dir.Sub("a"), StoreOptions(), &store).ok());
    std::string path;
    for (int i = 0; i < 20; ++i) {
      path += std::string(200, static_cast<char>('a' + i));
      model[path + "/"] = "dir-header";
      path += "/";
    }
    std::string deepest_dir = path + std::string(4095 - path.size(), 'd');
    std::string deepest_file = path + std::string(4095 - path.size(), 'f');
    ASSERT_EQ(deepest_dir.size(), 4095u);
    model[deepest_dir + "/"] = "dir-header";
    model[deepest_file] = "file";
    for (const auto& [key, value] : model) ASSERT_TRUE(store->Put(key, value, Durability::kBuffered).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "dump", dir.Sub("a"), "-o", dir.Sub("dump")}, &out), 0)
      << out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "load", dir.Sub("b"), dir.Sub("dump")}, &out), 0) << out;
  EXPECT_EQ(ReadAll(dir.Sub("b")), model);
}

TEST(OfflineTools, LoadRefusesADamagedOrTruncatedDumpAndWritesNothing) {
  TempDir dir;
  Populate(dir.Sub("a"));
  std::string out, dump;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "dump", dir.Sub("a"), "-o", dir.Sub("dump")}, &out), 0) << out;
  ASSERT_TRUE(ReadFile(dir.Sub("dump"), &dump));

  std::string flipped = dump;
  flipped[dump.size() / 2] ^= 0x10;
  ASSERT_TRUE(WriteFile(dir.Sub("flipped"), flipped));
  EXPECT_EQ(RunCommand({AlexfsBinary(), "load", dir.Sub("b"), dir.Sub("flipped")}, &out), 1);
  EXPECT_NE(out.find("checksum"), std::string::npos) << out;

  ASSERT_TRUE(WriteFile(dir.Sub("cut"), dump.substr(0, dump.size() - 5)));
  EXPECT_EQ(RunCommand({AlexfsBinary(), "load", dir.Sub("c"), dir.Sub("cut")}, &out), 1);
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;

  // Nothing was written: loading the good dump into those stores still works.
  EXPECT_EQ(RunCommand({AlexfsBinary(), "load", dir.Sub("b"), dir.Sub("dump")}, &out), 0) << out;
}

TEST(OfflineTools, LoadListsKeysThatCannotBeFiles) {
  TempDir dir;
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(dir.Sub("a"), StoreOptions(), &store).ok());
    WriteBatch batch;
    batch.Put("ok/file", "v");
    batch.Put("a//b", "empty component");
    batch.Put("x/../y", "dot-dot");
    batch.Put(std::string(300, 'n'), "long name");
    batch.Put(std::string("nul\0inside", 10), "nul");
    batch.Put("both", "file");
    batch.Put("both/child", "and a directory");
    ASSERT_TRUE(store->Write(batch, Durability::kDurable).ok());
  }
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "dump", dir.Sub("a"), "-o", dir.Sub("dump")}, &out), 0) << out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "load", dir.Sub("b"), dir.Sub("dump")}, &out), 1);
  for (const char* expected : {"5 keys cannot be files", "a//b: empty path component",
                               "x/../y: '..' component", "name longer than 255 bytes",
                               "nul\\x00inside: NUL byte", "both: is a file and a directory"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << expected << "\n" << out;
  }
  EXPECT_EQ(out.find("ok/file"), std::string::npos) << out;
}

TEST(OfflineTools, CompactReclaimsSpaceAndKeepsEveryKey) {
  TempDir dir;
  auto model = Populate(dir.Sub("a"));
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(dir.Sub("a"), StoreOptions(), &store).ok());
    for (auto& [key, value] : model) {
      if (key[0] == 'e' && key.back() != '/') {
        value = "overwritten " + key;
        ASSERT_TRUE(store->Put(key, value).ok());
      }
    }
  }
  auto log_bytes = [&] {
    std::unique_ptr<Store> store;
    EXPECT_TRUE(Store::Open(dir.Sub("a"), StoreOptions(), &store).ok());
    return store ? store->GetStats().log_bytes : 0;
  };
  uint64_t before = log_bytes();
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "compact", dir.Sub("a")}, &out), 0) << out;
  // Half the records were dead: at least that much is gone.
  EXPECT_LT(log_bytes(), before / 2) << out;
  EXPECT_EQ(ReadAll(dir.Sub("a")), model);
}

TEST(OfflineTools, StatsPrintsPrometheusText) {
  TempDir dir;
  Populate(dir.Sub("a"));
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "stats", dir.Sub("a")}, &out), 0) << out;
  EXPECT_NE(out.find("# TYPE alexfs_keys gauge"), std::string::npos) << out;
  EXPECT_NE(out.find("alexfs_keys{store=\"" + dir.Sub("a") + "\"} 3018"), std::string::npos) << out;
  EXPECT_NE(out.find("alexfs_get_seconds_bucket{store=\"" + dir.Sub("a") + "\",le=\"+Inf\"}"),
            std::string::npos) << out;
}

TEST(OfflineTools, RefuseAMountedStoreNamingTheDaemon) {
  MountedStore mounted;
  ASSERT_TRUE(mounted.Mount()) << mounted.last_output();
  std::string pid = std::to_string(mounted.pid());
  std::string out;
  for (std::vector<std::string> argv : {std::vector<std::string>{"dump", mounted.data_dir(), "-o", "/dev/null"},
                                        std::vector<std::string>{"compact", mounted.data_dir()}}) {
    argv.insert(argv.begin(), AlexfsBinary());
    EXPECT_EQ(RunCommand(argv, &out), 1) << argv[1];
    EXPECT_NE(out.find("pid " + pid), std::string::npos) << argv[1] << ": " << out;
  }
  EXPECT_EQ(mounted.Unmount(), 0);
}

// `alexfs stats MOUNTPOINT` asks the daemon (DATA_DIR/stats.sock): figures of
// the moment, not of the last 10 s metrics file.
TEST(OfflineTools, StatsOfAMountedStoreAreCurrent) {
  MountedStore mounted;
  ASSERT_TRUE(mounted.Mount()) << mounted.last_output();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(WriteFile(mounted.Path("f" + std::to_string(i)), "x"));
  }
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "stats", mounted.mountpoint()}, &out), 0) << out;
  std::string keys = "alexfs_keys{store=\"" + mounted.data_dir() + "\"} ";
  size_t at = out.find(keys);
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GE(std::stoull(out.substr(at + keys.size())), 100u) << out;
  EXPECT_EQ(mounted.Unmount(), 0);
  EXPECT_FALSE(std::filesystem::exists(mounted.data_dir() + "/stats.sock"));
}

TEST(OfflineTools, StatsOfAMountedStoreComeFromItsDaemon) {
  MountedStore mounted;
  ASSERT_TRUE(mounted.Mount()) << mounted.last_output();
  ASSERT_TRUE(WriteFile(mounted.Path("hello"), "world"));
  std::string out;
  // The daemon writes DATA_DIR/metrics.prom when mounted and every 10 s.
  for (int i = 0; i < 200 && !std::filesystem::exists(mounted.data_dir() + "/metrics.prom"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(RunCommand({AlexfsBinary(), "stats", mounted.mountpoint()}, &out), 0) << out;
  EXPECT_NE(out.find("alexfs_keys{store=\"" + mounted.data_dir() + "\"}"), std::string::npos) << out;
  // At a clean stop the daemon writes its last figures, which count the write.
  EXPECT_EQ(mounted.Unmount(), 0);
  ASSERT_TRUE(ReadFile(mounted.data_dir() + "/metrics.prom", &out));
  std::string puts = "alexfs_puts_total{store=\"" + mounted.data_dir() + "\"} ";
  size_t at = out.find(puts);
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GT(std::stoull(out.substr(at + puts.size())), 0u) << out;
  // And the FUSE requests behind it, per operation: the file was created and
  // written through the kernel; nothing was renamed.
  auto requests = [&](const std::string& op) -> uint64_t {
    std::string sample = "alexfs_fs_requests_total{store=\"" + mounted.data_dir() + "\",op=\"" + op + "\"} ";
    size_t p = out.find(sample);
    EXPECT_NE(p, std::string::npos) << op << "\n" << out;
    return p == std::string::npos ? 0 : std::stoull(out.substr(p + sample.size()));
  };
  EXPECT_GE(requests("create"), 1u);
  EXPECT_GE(requests("write"), 1u);
  EXPECT_EQ(requests("rename"), 0u);
}

// A dump holds logical values: a store loaded with compression dumps the same
// bytes as the one it came from, and its dump loads into a store without.
TEST(OfflineTools, DumpsAreLogicalWithOrWithoutCompression) {
  TempDir dir;
  std::map<std::string, std::string> model;
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(dir.Sub("a"), StoreOptions(), &store).ok());
    for (int i = 0; i < 500; ++i) {
      std::string v;
      for (int j = 0; v.size() < 3000; ++j) v += "option_" + std::to_string((i * 7 + j) % 50) + " = on\n";
      model["etc/f" + std::to_string(i)] = v;
      ASSERT_TRUE(store->Put("etc/f" + std::to_string(i), v).ok());
    }
    ASSERT_TRUE(store->Close().ok());
  }
  const std::string alexfs = AlexfsBinary();
  std::string out;
  ASSERT_EQ(RunShell(alexfs + " dump " + dir.Sub("a") + " > " + dir.Sub("dump-a"), &out), 0) << out;
  ASSERT_EQ(RunShell(alexfs + " load --compression zstd:5 " + dir.Sub("b") + " " + dir.Sub("dump-a"), &out), 0)
      << out;
  EXPECT_EQ(ReadAll(dir.Sub("b")), model);
  ASSERT_EQ(RunShell(alexfs + " stats " + dir.Sub("b"), &out), 0) << out;
  const size_t at = out.find("\nalexfs_compression_ratio{");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(out.find("} ", at) + 2)), 3.0) << out;
  ASSERT_EQ(RunShell(alexfs + " dump " + dir.Sub("b") + " > " + dir.Sub("dump-b"), &out), 0) << out;
  ASSERT_EQ(RunShell("cmp " + dir.Sub("dump-a") + " " + dir.Sub("dump-b"), &out), 0) << out;
  ASSERT_EQ(RunShell(alexfs + " load " + dir.Sub("c") + " " + dir.Sub("dump-b"), &out), 0) << out;
  EXPECT_EQ(ReadAll(dir.Sub("c")), model);
  EXPECT_NE(RunShell(alexfs + " load --compression gzip " + dir.Sub("d") + " " + dir.Sub("dump-b"), &out), 0);
}

}  // namespace
}  // namespace alexfs::testing
