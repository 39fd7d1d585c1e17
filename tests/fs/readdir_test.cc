// Listing directories through a real mount.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using ReadDirTest = MountTest;

TEST_F(ReadDirTest, ListsFilesAndSubdirectoriesOnceEach) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("d/sub").c_str(), 0755), 0);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(PutFile(Path("d/sub/f" + std::to_string(i)), "x"));
  ASSERT_EQ(::mkdir(Path("d/sub/deeper").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("d/sub.txt"), "neighbour"));
  ASSERT_TRUE(PutFile(Path("d/sub-1"), "neighbour"));
  ASSERT_TRUE(PutFile(Path("d/a"), "a"));
  ASSERT_EQ(::symlink("a", Path("d/z").c_str()), 0);
  std::vector<std::string> names = ListDir(Path("d"));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "sub", "sub-1", "sub.txt", "z"}));
  // d_type is right.
  DIR* dir = ::opendir(Path("d").c_str());
  ASSERT_NE(dir, nullptr);
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n == "sub" || n == "." || n == "..") {
      EXPECT_EQ(e->d_type, DT_DIR) << n;
    }
    if (n == "a" || n == "sub.txt") {
      EXPECT_EQ(e->d_type, DT_REG) << n;
    }
    if (n == "z") {
      EXPECT_EQ(e->d_type, DT_LNK) << n;
    }
  }
  ::closedir(dir);
  EXPECT_TRUE(ListDir(Path("d/sub/deeper")).empty());
  EXPECT_EQ(ListDir(Path("d/sub")).size(), 51u);
}

TEST_F(ReadDirTest, TwentyThousandEntriesAreListedExactly) {
  ASSERT_EQ(::mkdir(Path("many").c_str(), 0755), 0);
  std::set<std::string> expected;
  for (int i = 0; i < 20000; ++i) {
    std::string name = "entry-" + std::to_string(i * 7919 % 20000);
    int fd = ::open(Path("many/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << name;
    ::close(fd);
    expected.insert(name);
  }
  for (int round = 0; round < 2; ++round) {  // the second listing may come from the cache
    std::vector<std::string> names = ListDir(Path("many"));
    EXPECT_EQ(names.size(), 20000u);
    std::set<std::string> got(names.begin(), names.end());
    EXPECT_EQ(got, expected);
  }
  // A change invalidates the cached listing.
  ASSERT_EQ(::unlink(Path("many/entry-0").c_str()), 0);
  ASSERT_TRUE(PutFile(Path("many/zzz-new"), ""));
  std::vector<std::string> names = ListDir(Path("many"));
  std::set<std::string> got(names.begin(), names.end());
  EXPECT_EQ(names.size(), 20000u);
  EXPECT_EQ(got.count("entry-0"), 0u);
  EXPECT_EQ(got.count("zzz-new"), 1u);
}

TEST_F(ReadDirTest, ListingWhileNamesChangeNeitherRepeatsNorSkipsUnchangedNames) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  for (int i = 0; i < 3000; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "k%05d", i);
    ASSERT_TRUE(PutFile(Path(std::string("d/") + name), ""));
  }
  DIR* dir = ::opendir(Path("d").c_str());
  ASSERT_NE(dir, nullptr);
  std::vector<std::string> seen;
  int n = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    seen.push_back(name);
    if (++n == 100) {
      // Mid-listing: remove names before and after the cursor, add new ones.
      for (int i = 0; i < 3000; i += 10) {
        char victim[32];
        std::snprintf(victim, sizeof victim, "d/k%05d", i + 5);
        ::unlink(Path(victim).c_str());
      }
      ASSERT_TRUE(PutFile(Path("d/a-before"), ""));
      ASSERT_TRUE(PutFile(Path("d/z-after"), ""));
    }
  }
  ::closedir(dir);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a name was returned twice";
  for (int i = 0; i < 3000; ++i) {
    if (i % 10 == 5) continue;  // removed
    char name[32];
    std::snprintf(name, sizeof name, "k%05d", i);
    EXPECT_EQ(unique.count(name), 1u) << name << " was skipped";
  }
}

TEST_F(ReadDirTest, EmptyRootListsNothing) {
  EXPECT_TRUE(ListDir(store_->mountpoint()).empty());
  ASSERT_EQ(::mkdir(Path("only").c_str(), 0755), 0);
  EXPECT_EQ(ListDir(store_->mountpoint()), std::vector<std::string>{"only"});
}

}  // namespace
}  // namespace alexfs::testing
