// `alexfs check [--repair]` on real store directories with injected damage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "engine/store.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

constexpr int kKeys = 2000;

std::string ValueOf(int i) { return "value-" + std::to_string(i) + std::string(i % 97, 'x'); }

// One record per key, so damage to one record costs one key.
void Populate(const std::string& dir) {
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(dir, StoreOptions(), &store).ok());
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(store->Put("k/" + std::to_string(i), ValueOf(i)).ok());
  }
  ASSERT_TRUE(store->Delete("k/7").ok());
  ASSERT_TRUE(store->Close().ok());
}

std::string OnlySegment(const std::string& dir) {
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") {
      EXPECT_TRUE(found.empty()) << "expected one segment";
      found = e.path();
    }
  }
  return found;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x40));
}

TEST(Check, CleanStorePasses) {
  TempDir dir;
  Populate(dir.Sub("s"));
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 0) << out;
  EXPECT_NE(out.find("0 damaged ranges"), std::string::npos) << out;
}

TEST(Check, FindsInjectedDamageAndRepairSalvagesTheRest) {
  TempDir dir;
  Populate(dir.Sub("s"));
  std::string segment = OnlySegment(dir.Sub("s"));
  uint64_t damaged_at = 40000;  // well inside the ~150 KB of records
  FlipByte(segment, damaged_at);

  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 1) << out;
  std::string name = std::filesystem::path(segment).filename();
  EXPECT_NE(out.find("damage: " + name + " offset "), std::string::npos) << out;
  EXPECT_NE(out.find("1 damaged ranges"), std::string::npos) << out;

  // The store refuses to open damaged (damage is not a torn tail).
  {
    std::unique_ptr<Store> store;
    Status s = Store::Open(dir.Sub("s"), StoreOptions(), &store);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }

  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", "--repair", dir.Sub("s")}, &out), 0) << out;
  EXPECT_NE(out.find("repaired:"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 0) << out;

  std::unique_ptr<Store> store;
  Status s = Store::Open(dir.Sub("s"), StoreOptions(), &store);
  ASSERT_TRUE(s.ok()) << s.ToString();
  int missing = 0;
  for (int i = 0; i < kKeys; ++i) {
    PinnedValue v;
    Status g = store->Get("k/" + std::to_string(i), &v);
    if (i == 7) {
      EXPECT_TRUE(g.IsNotFound()) << "a deleted key came back";
    } else if (g.IsNotFound()) {
      ++missing;
    } else {
      ASSERT_TRUE(g.ok());
      EXPECT_EQ(v.value(), ValueOf(i)) << i;  // never a damaged value
    }
  }
  EXPECT_EQ(missing, 1) << "exactly the damaged record is lost";
}

TEST(Check, RefusesAStoreInUse) {
  TempDir dir;
  Populate(dir.Sub("s"));
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(dir.Sub("s"), StoreOptions(), &store).ok());
  // The lock is per open file description, so a child process sees it held.
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 1);
  EXPECT_NE(out.find("pid " + std::to_string(::getpid())), std::string::npos) << out;
}

}  // namespace
}  // namespace alexfs::testing
