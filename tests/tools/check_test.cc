// `alexfs check [--repair]` on real store directories with injected damage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "engine/log/reader.h"
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

// check and recovery read segments with the same reader: the torn tail check
// reports (offset and bytes) is the one Open truncates.
TEST(Check, ReportsATornTailAsOpenRecoversIt) {
  TempDir dir;
  Populate(dir.Sub("s"));
  const std::string segment = OnlySegment(dir.Sub("s"));
  std::string bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  log::ScanResult r;
  ASSERT_TRUE(log::ScanLogSegment("s", bytes.data(), 0, bytes.size(), 0,
                                  [](const log::DecodedRecord&, uint64_t) {}, &r)
                  .ok());
  const uint64_t end = r.valid_end;
  ASSERT_GT(end, 1000u);
  // An append cut short: the first 30 bytes of the first record after the end
  // of the data.
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(end));
    f.write(bytes.data(), 30);
  }
  // check (with no damage it then opens the store itself, for the orphaned
  // blocks) on one copy, Open on another.
  std::filesystem::copy(dir.Sub("s"), dir.Sub("copy"), std::filesystem::copy_options::recursive);
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 0) << out;
  const std::string name = std::filesystem::path(segment).filename();
  EXPECT_NE(out.find("note: " + name + " offset " + std::to_string(end) + ": torn tail of 30 bytes"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0 damaged ranges"), std::string::npos) << out;
  {
    std::unique_ptr<Store> store;
    Status s = Store::Open(dir.Sub("copy"), StoreOptions(), &store);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(store->GetStats().recovered_torn_bytes, 30u);
    PinnedValue v;
    EXPECT_TRUE(store->Get("k/" + std::to_string(kKeys - 1), &v).ok());
  }
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", dir.Sub("s")}, &out), 0) << out;
  EXPECT_EQ(out.find("torn tail"), std::string::npos) << out;
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
