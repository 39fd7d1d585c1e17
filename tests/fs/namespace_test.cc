// Names through a real mount: mkdir, rmdir, unlink, symlink, mknod, and the
// errnos tools rely on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using NamespaceTest = MountTest;

TEST_F(NamespaceTest, MkdirRmdirAndDirectoryLinkCounts) {
  EXPECT_EQ(StatOf(store_->mountpoint()).st_nlink, 2u);
  ASSERT_EQ(::mkdir(Path("a").c_str(), 0750), 0);
  struct stat st = StatOf(Path("a"));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(StatOf(store_->mountpoint()).st_nlink, 3u);
  ASSERT_EQ(::mkdir(Path("a/b").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("a/c").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("a/file"), "x"));
  EXPECT_EQ(StatOf(Path("a")).st_nlink, 4u);  // 2 + two subdirectories, files do not count
  EXPECT_EQ(ErrnoOf(::rmdir(Path("a").c_str())), ENOTEMPTY);
  ASSERT_EQ(::rmdir(Path("a/b").c_str()), 0);
  EXPECT_EQ(StatOf(Path("a")).st_nlink, 3u);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("a/file").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("a/nope").c_str())), ENOENT);
}

TEST_F(NamespaceTest, ErrnosForCommonMistakes) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  EXPECT_EQ(ErrnoOf(::mkdir(Path("d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(::mkdir(Path("f").c_str(), 0755)), EEXIST);  // file and dir share no name
  EXPECT_EQ(ErrnoOf(::open(Path("d").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 ? -1 : 0),
            EEXIST);
  EXPECT_EQ(ErrnoOf(::open(Path("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 ? -1 : 0),
            EEXIST);
  EXPECT_EQ(ErrnoOf(::unlink(Path("d").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(::unlink(Path("nope").c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(::open(Path("nope").c_str(), O_RDONLY) < 0 ? -1 : 0), ENOENT);
  EXPECT_EQ(ErrnoOf(::open(Path("f/x").c_str(), O_RDONLY) < 0 ? -1 : 0), ENOTDIR);
  EXPECT_EQ(ErrnoOf(::mkdir(Path("f/x").c_str(), 0755)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(::mkdir(Path("nope/x").c_str(), 0755)), ENOENT);
}

TEST_F(NamespaceTest, NameTooLong) {
  std::string ok(255, 'n'), too_long(256, 'n');
  ASSERT_TRUE(PutFile(Path(ok), "x"));
  EXPECT_EQ(GetFile(Path(ok)), "x");
  EXPECT_EQ(ErrnoOf(::open(Path(too_long).c_str(), O_CREAT | O_WRONLY, 0644) < 0 ? -1 : 0),
            ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::mkdir(Path(too_long).c_str(), 0755)), ENAMETOOLONG);
  // A path key over 4095 bytes: nest directories until it no longer fits.
  std::string rel;
  int err = 0;
  for (int i = 0; i < 40 && err == 0; ++i) {
    rel += (rel.empty() ? "" : "/") + std::string(200, 'a' + i % 26);
    err = ErrnoOf(::mkdir(Path(rel).c_str(), 0755));
  }
  EXPECT_EQ(err, ENAMETOOLONG);
  EXPECT_GT(rel.size(), 4000u);
}

TEST_F(NamespaceTest, SymlinksStoreTheirTarget) {
  ASSERT_TRUE(PutFile(Path("target"), "through the link"));
  ASSERT_EQ(::symlink("target", Path("link").c_str()), 0);
  char buf[64] = {};
  ASSERT_EQ(::readlink(Path("link").c_str(), buf, sizeof buf), 6);
  EXPECT_STREQ(buf, "target");
  struct stat st = StatOf(Path("link"));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 6);
  EXPECT_EQ(GetFile(Path("link")), "through the link");
  ASSERT_EQ(::symlink("/nowhere/at/all", Path("dangling").c_str()), 0);
  EXPECT_EQ(ErrnoOf(::open(Path("dangling").c_str(), O_RDONLY) < 0 ? -1 : 0), ENOENT);
  // A symlink loop.
  ASSERT_EQ(::symlink("loop2", Path("loop1").c_str()), 0);
  ASSERT_EQ(::symlink("loop1", Path("loop2").c_str()), 0);
  EXPECT_EQ(ErrnoOf(::open(Path("loop1").c_str(), O_RDONLY) < 0 ? -1 : 0), ELOOP);
  EXPECT_EQ(ErrnoOf(::symlink("x", Path("target").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(::readlink(Path("target").c_str(), buf, sizeof buf) < 0 ? -1 : 0), EINVAL);
  ASSERT_EQ(::unlink(Path("link").c_str()), 0);
  EXPECT_EQ(GetFile(Path("target")), "through the link");
}

TEST_F(NamespaceTest, SpecialFilesAreMetadataOnly) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0640), 0);
  EXPECT_TRUE(S_ISFIFO(StatOf(Path("fifo")).st_mode));
  EXPECT_EQ(StatOf(Path("fifo")).st_mode & 07777, 0640u);
  ASSERT_EQ(::mknod(Path("chr").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  struct stat st = StatOf(Path("chr"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  ASSERT_EQ(::mknod(Path("blk").c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
  EXPECT_TRUE(S_ISBLK(StatOf(Path("blk")).st_mode));
  EXPECT_EQ(StatOf(Path("blk")).st_rdev, makedev(7, 0));
  // A unix socket bound on the mount.
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sp = Path("sock");
  if (sp.size() < sizeof addr.sun_path) {
    std::strcpy(addr.sun_path, sp.c_str());
    ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_TRUE(S_ISSOCK(StatOf(sp).st_mode));
  }
  ::close(sock);
  // A fifo works (the kernel serves it).
  pid_t child = ::fork();
  if (child == 0) {
    int w = ::open(Path("fifo").c_str(), O_WRONLY);
    (void)!::write(w, "ping", 4);
    _exit(0);
  }
  int r = ::open(Path("fifo").c_str(), O_RDONLY);
  char buf[8] = {};
  EXPECT_EQ(::read(r, buf, sizeof buf), 4);
  ::close(r);
  int status;
  ::waitpid(child, &status, 0);
  EXPECT_STREQ(buf, "ping");
  std::vector<std::string> names = ListDir(store_->mountpoint());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"blk", "chr", "fifo", "sock"}));
}

TEST_F(NamespaceTest, NewFilesInheritTheGroupOfASetgidDirectory) {
  ASSERT_EQ(::mkdir(Path("shared").c_str(), 0775), 0);
  ASSERT_EQ(::chown(Path("shared").c_str(), 0, 4242), 0);
  ASSERT_EQ(::chmod(Path("shared").c_str(), 02775), 0);
  ASSERT_TRUE(PutFile(Path("shared/f"), "x"));
  EXPECT_EQ(StatOf(Path("shared/f")).st_gid, 4242u);
  ASSERT_EQ(::mkdir(Path("shared/sub").c_str(), 0755), 0);
  struct stat st = StatOf(Path("shared/sub"));
  EXPECT_EQ(st.st_gid, 4242u);
  EXPECT_TRUE(st.st_mode & S_ISGID);
}

TEST_F(NamespaceTest, DeepTreesAndManyNames) {
  std::string rel = "x";
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(::mkdir(Path(rel).c_str(), 0755), 0) << rel;
    rel += "/x";
  }
  ASSERT_TRUE(PutFile(Path(rel), "deep"));
  EXPECT_EQ(GetFile(Path(rel)), "deep");
}

}  // namespace
}  // namespace alexfs::testing
