// Hard links through a real mount: one shared body, nlink correct everywhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using HardLinkTest = MountTest;

TEST_F(HardLinkTest, NamesShareOneFile) {
  ASSERT_TRUE(PutFile(Path("a"), "shared"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::link(Path("a").c_str(), Path("d/b").c_str()), 0);
  ASSERT_EQ(::link(Path("a").c_str(), Path("c").c_str()), 0);
  struct stat a = StatOf(Path("a")), b = StatOf(Path("d/b")), c = StatOf(Path("c"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(b.st_nlink, 3u);
  // A write through one name shows through the others.
  int fd = ::open(Path("d/b").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "+more", 5), 5);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("a")), "shared+more");
  EXPECT_EQ(GetFile(Path("c")), "shared+more");
  ASSERT_EQ(::chmod(Path("c").c_str(), 0600), 0);
  EXPECT_EQ(StatOf(Path("a")).st_mode & 07777, 0600u);

  // Unlinking one name keeps the others.
  ASSERT_EQ(::unlink(Path("a").c_str()), 0);
  EXPECT_EQ(StatOf(Path("c")).st_nlink, 2u);
  EXPECT_EQ(GetFile(Path("d/b")), "shared+more");
  // Renaming a name keeps the link.
  ASSERT_EQ(::rename(Path("d/b").c_str(), Path("e").c_str()), 0);
  EXPECT_EQ(StatOf(Path("e")).st_ino, c.st_ino);
  EXPECT_EQ(StatOf(Path("e")).st_nlink, 2u);
  // Renaming one name over another of the same file does nothing.
  ASSERT_EQ(::rename(Path("e").c_str(), Path("c").c_str()), 0);
  EXPECT_EQ(GetFile(Path("e")), "shared+more");
  ASSERT_EQ(::unlink(Path("e").c_str()), 0);
  EXPECT_EQ(StatOf(Path("c")).st_nlink, 1u);
  EXPECT_EQ(GetFile(Path("c")), "shared+more");
  ASSERT_EQ(::unlink(Path("c").c_str()), 0);
  EXPECT_EQ(ListDir(store_->mountpoint()), std::vector<std::string>{"d"});
}

TEST_F(HardLinkTest, LinkErrnos) {
  ASSERT_TRUE(PutFile(Path("a"), "x"));
  ASSERT_TRUE(PutFile(Path("b"), "y"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(::link(Path("a").c_str(), Path("b").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(::link(Path("a").c_str(), Path("d").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(::link(Path("d").c_str(), Path("d2").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(::link(Path("nope").c_str(), Path("x").c_str())), ENOENT);
}

TEST_F(HardLinkTest, ReplacingALinkedNameByRenameDropsOneLink) {
  ASSERT_TRUE(PutFile(Path("a"), "linked"));
  ASSERT_EQ(::link(Path("a").c_str(), Path("b").c_str()), 0);
  ASSERT_TRUE(PutFile(Path("new"), "new"));
  ASSERT_EQ(::rename(Path("new").c_str(), Path("b").c_str()), 0);
  EXPECT_EQ(GetFile(Path("b")), "new");
  EXPECT_EQ(StatOf(Path("a")).st_nlink, 1u);
  EXPECT_EQ(GetFile(Path("a")), "linked");
}

TEST_F(HardLinkTest, LinksSurviveRemount) {
  ASSERT_TRUE(PutFile(Path("a"), "persist"));
  ASSERT_EQ(::link(Path("a").c_str(), Path("b").c_str()), 0);
  ASSERT_EQ(::link(Path("a").c_str(), Path("c").c_str()), 0);
  ASSERT_EQ(::unlink(Path("c").c_str()), 0);
  ASSERT_EQ(store_->Unmount(), 0) << store_->last_output();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(StatOf(Path("a")).st_ino, StatOf(Path("b")).st_ino);
  EXPECT_EQ(StatOf(Path("a")).st_nlink, 2u);
  EXPECT_EQ(GetFile(Path("b")), "persist");
  // New links after a remount get a fresh body.
  ASSERT_TRUE(PutFile(Path("x"), "other"));
  ASSERT_EQ(::link(Path("x").c_str(), Path("y").c_str()), 0);
  EXPECT_EQ(GetFile(Path("y")), "other");
  EXPECT_EQ(GetFile(Path("b")), "persist");
}

}  // namespace
}  // namespace alexfs::testing
