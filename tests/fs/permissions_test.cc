// Permissions with -o allow_other: the kernel checks the stored mode, uid and
// gid whether or not the mount asked for default_permissions (alexfs always
// turns it on). Every test runs with both option sets. The test runs as root
// and drops to uid/gid 12345 in a forked child.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

constexpr uid_t kUser = 12345;
constexpr gid_t kGroup = 12345;

class PermissionsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    store_ = std::make_unique<MountedStore>(std::vector<std::string>{"-o", GetParam()});
    ASSERT_TRUE(store_->Mount()) << store_->last_output();
    // The other user must be able to reach the mountpoint (mkdtemp made 0700).
    std::string parent = store_->mountpoint().substr(0, store_->mountpoint().rfind('/'));
    ASSERT_EQ(::chmod(parent.c_str(), 0711), 0);
  }
  std::string Path(const std::string& rel) const { return store_->Path(rel); }

  // Runs `body` as kUser:kGroup in a child; returns what it returned.
  std::string AsUser(const std::function<std::string()>& body) { return RunAs(kUser, kGroup, body); }

  std::unique_ptr<MountedStore> store_;
};

std::string Errno(int rc) { return rc >= 0 ? "ok" : std::string(strerrorname_np(errno)); }

TEST_P(PermissionsTest, StoredModeAndOwnerAreEnforced) {
  ASSERT_TRUE(PutFile(Path("secret"), "root only"));
  ASSERT_EQ(::chmod(Path("secret").c_str(), 0600), 0);
  ASSERT_TRUE(PutFile(Path("public"), "everyone"));
  ASSERT_EQ(::chmod(Path("public").c_str(), 0644), 0);
  ASSERT_EQ(::mkdir(Path("home").c_str(), 0755), 0);
  ASSERT_EQ(::chown(Path("home").c_str(), kUser, kGroup), 0);

  std::string out = AsUser([&] {
    std::string r;
    r += "read-secret=" + Errno(::open(Path("secret").c_str(), O_RDONLY)) + ";";
    r += "read-public=" + std::string(GetFile(Path("public")) == "everyone" ? "ok" : "bad") + ";";
    r += "write-public=" + Errno(::open(Path("public").c_str(), O_WRONLY)) + ";";
    r += "create-in-root=" + Errno(::open(Path("mine").c_str(), O_CREAT | O_WRONLY, 0644)) + ";";
    r += "chmod-secret=" + Errno(::chmod(Path("secret").c_str(), 0777)) + ";";
    r += "unlink-in-root=" + Errno(::unlink(Path("public").c_str())) + ";";
    r += "create-in-home=" + std::string(PutFile(Path("home/mine"), "mine") ? "ok" : "fail") + ";";
    r += "chmod-own=" + Errno(::chmod(Path("home/mine").c_str(), 0600)) + ";";
    r += "chown-own=" + Errno(::chown(Path("home/mine").c_str(), 0, 0)) + ";";
    r += "mkdir-in-home=" + Errno(::mkdir(Path("home/sub").c_str(), 0700)) + ";";
    return r;
  });
  EXPECT_EQ(out,
            "read-secret=EACCES;read-public=ok;write-public=EACCES;create-in-root=EACCES;"
            "chmod-secret=EPERM;unlink-in-root=EACCES;create-in-home=ok;chmod-own=ok;"
            "chown-own=EPERM;mkdir-in-home=ok;");
  // New objects belong to the caller.
  struct stat st = StatOf(Path("home/mine"));
  EXPECT_EQ(st.st_uid, kUser);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(StatOf(Path("home/sub")).st_uid, kUser);
  EXPECT_EQ(GetFile(Path("home/mine")), "mine");
}

TEST_P(PermissionsTest, StickyDirectoryProtectsOthersFiles) {
  ASSERT_EQ(::mkdir(Path("tmp").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(Path("tmp").c_str(), 01777), 0);
  ASSERT_TRUE(PutFile(Path("tmp/roots"), "r"));
  std::string out = AsUser([&] {
    std::string r;
    r += "unlink-others=" + Errno(::unlink(Path("tmp/roots").c_str())) + ";";
    r += "create=" + std::string(PutFile(Path("tmp/users"), "u") ? "ok" : "fail") + ";";
    r += "unlink-own=" + Errno(::unlink(Path("tmp/users").c_str())) + ";";
    return r;
  });
  EXPECT_EQ(out, "unlink-others=EPERM;create=ok;unlink-own=ok;");
}

TEST_P(PermissionsTest, WriteByOtherUserClearsSetuid) {
  ASSERT_TRUE(PutFile(Path("prog"), "#!"));
  ASSERT_EQ(::chmod(Path("prog").c_str(), 04777), 0);
  std::string out = AsUser([&] {
    int fd = ::open(Path("prog").c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) return Errno(fd);
    std::string r = ::write(fd, "x", 1) == 1 ? "ok" : "write failed";
    ::close(fd);
    return r;
  });
  EXPECT_EQ(out, "ok");
  EXPECT_EQ(StatOf(Path("prog")).st_mode & 07777, 0777u);
  EXPECT_EQ(GetFile(Path("prog")), "#!x");
}

// Without default_permissions in the options (the fstab example's form) the
// same checks hold: any user reading root's 0600 files was the hole this closes.
INSTANTIATE_TEST_SUITE_P(Options, PermissionsTest,
                         ::testing::Values("allow_other,default_permissions", "allow_other"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "allow_other" ? std::string("AllowOtherOnly")
                                                              : std::string("DefaultPermissions");
                         });

}  // namespace
}  // namespace alexfs::testing
