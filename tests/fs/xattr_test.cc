// Extended attributes and POSIX ACLs on a real mount: the xattr system calls
// and their errors, what keeps them (chmod, rename, remount, SIGKILL after
// fsync, dump + load), the programs that copy them (cp -a, rsync -X, compared
// with a tmpfs), and ACLs the kernel enforces for another user.
#include <gtest/gtest.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

constexpr uid_t kUser = 12345;
constexpr uid_t kStranger = 12346;

std::string Errno(int rc) { return rc >= 0 ? "ok" : std::string(strerrorname_np(errno)); }

// The attribute's value, or "<ERRNO>".
std::string Get(const std::string& path, const std::string& name) {
  char buf[70000];
  ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  if (n < 0) return "<" + std::string(strerrorname_np(errno)) + ">";
  return std::string(buf, static_cast<size_t>(n));
}

int Set(const std::string& path, const std::string& name, const std::string& value,
        int flags = 0) {
  return ::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), flags);
}

// Every name listxattr returns, joined with ','.
std::string List(const std::string& path) {
  char buf[70000];
  ssize_t n = ::llistxattr(path.c_str(), buf, sizeof buf);
  if (n < 0) return "<" + std::string(strerrorname_np(errno)) + ">";
  std::string out;
  for (ssize_t i = 0; i < n;) {
    std::string name(buf + i);
    if (!out.empty()) out += ',';
    out += name;
    i += static_cast<ssize_t>(name.size()) + 1;
  }
  return out;
}


class XattrTest : public MountTest {};

// A mount other users may enter (-o allow_other), for tests that switch users.
class OtherUsersTest : public MountTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    store_ = std::make_unique<MountedStore>(std::vector<std::string>{"-o", "allow_other"});
    ASSERT_TRUE(store_->Mount()) << store_->last_output();
    // The other users must be able to reach the mountpoint (mkdtemp made 0700).
    std::string parent = store_->mountpoint().substr(0, store_->mountpoint().rfind('/'));
    ASSERT_EQ(::chmod(parent.c_str(), 0711), 0);
  }
};
using AclTest = OtherUsersTest;
using XattrUsersTest = OtherUsersTest;

TEST_F(XattrTest, SetGetListRemoveAndTheirErrors) {
  ASSERT_TRUE(PutFile(Path("f"), "data"));
  EXPECT_EQ(Get(Path("f"), "user.a"), "<ENODATA>");
  EXPECT_EQ(List(Path("f")), "");
  ASSERT_EQ(Set(Path("f"), "user.a", "one"), 0) << strerror(errno);
  EXPECT_EQ(Get(Path("f"), "user.a"), "one");
  // XATTR_CREATE on an existing name, XATTR_REPLACE on a missing one.
  EXPECT_EQ(Errno(Set(Path("f"), "user.a", "x", XATTR_CREATE)), "EEXIST");
  EXPECT_EQ(Errno(Set(Path("f"), "user.b", "x", XATTR_REPLACE)), "ENODATA");
  EXPECT_EQ(Set(Path("f"), "user.a", "two", XATTR_REPLACE), 0);
  EXPECT_EQ(Set(Path("f"), "user.b", "", XATTR_CREATE), 0);  // an empty value is a value
  EXPECT_EQ(Set(Path("f"), "trusted.t", "root's"), 0);
  EXPECT_EQ(Set(Path("f"), "security.s", "label"), 0);
  EXPECT_EQ(Get(Path("f"), "user.a"), "two");
  EXPECT_EQ(Get(Path("f"), "user.b"), "");
  EXPECT_EQ(List(Path("f")), "security.s,trusted.t,user.a,user.b");
  // Size queries, and ERANGE for a buffer too small.
  EXPECT_EQ(::getxattr(Path("f").c_str(), "user.a", nullptr, 0), 3);
  char small[2];
  EXPECT_EQ(Errno(static_cast<int>(::getxattr(Path("f").c_str(), "user.a", small, 2))), "ERANGE");
  EXPECT_EQ(::listxattr(Path("f").c_str(), nullptr, 0), 35);  // 4 names, each with its NUL
  EXPECT_EQ(Errno(static_cast<int>(::listxattr(Path("f").c_str(), small, 2))), "ERANGE");
  // Remove.
  EXPECT_EQ(::removexattr(Path("f").c_str(), "user.a"), 0);
  EXPECT_EQ(Errno(::removexattr(Path("f").c_str(), "user.a")), "ENODATA");
  EXPECT_EQ(Get(Path("f"), "user.a"), "<ENODATA>");
  EXPECT_EQ(GetFile(Path("f")), "data");  // the contents are untouched
  // Namespaces that are not stored.
  EXPECT_EQ(Errno(Set(Path("f"), "os2.x", "v")), "EOPNOTSUPP");
  EXPECT_EQ(Errno(Set(Path("f"), "system.other", "v")), "EOPNOTSUPP");
}

TEST_F(XattrTest, LimitsOnValueAndTotalSize) {
  ASSERT_TRUE(PutFile(Path("f"), ""));
  // One value may take the whole 64 KiB budget minus its name...
  const std::string name = "user.big";
  EXPECT_EQ(Set(Path("f"), name, std::string(65536 - name.size(), 'v')), 0) << strerror(errno);
  EXPECT_EQ(Get(Path("f"), name).size(), 65536 - name.size());
  // ...after which nothing more fits.
  EXPECT_EQ(Errno(Set(Path("f"), "user.more", "x")), "ENOSPC");
  // A value over 64 KiB is refused (by the kernel, E2BIG), and the file keeps its old value.
  EXPECT_EQ(Errno(Set(Path("f"), name, std::string(65537, 'w'))), "E2BIG");
  EXPECT_EQ(Get(Path("f"), name), std::string(65536 - name.size(), 'v'));
  EXPECT_EQ(List(Path("f")), "user.big");
}

TEST_F(XattrTest, KindsOfObjects) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("d", Path("l").c_str()), 0);
  ASSERT_EQ(::mkfifo(Path("p").c_str(), 0644), 0);
  EXPECT_EQ(Set(Path("d"), "user.d", "dir"), 0);
  EXPECT_EQ(Set(Path(""), "user.root", "root dir"), 0);
  // user.* only on regular files and directories; symlinks take security.*.
  EXPECT_EQ(Errno(Set(Path("l"), "user.l", "x")), "EPERM");
  EXPECT_EQ(Errno(Set(Path("p"), "user.p", "x")), "EPERM");
  EXPECT_EQ(Set(Path("l"), "security.l", "link label"), 0);
  EXPECT_EQ(Set(Path("p"), "security.p", "fifo label"), 0);
  EXPECT_EQ(Get(Path("l"), "security.l"), "link label");
  EXPECT_EQ(Get(Path("d"), "user.d"), "dir");
  // Creating and removing entries rewrites the directory's record: its
  // attributes stay.
  ASSERT_TRUE(PutFile(Path("d/child"), "x"));
  ASSERT_EQ(::mkdir(Path("d/sub").c_str(), 0755), 0);
  ASSERT_EQ(::unlink(Path("d/child").c_str()), 0);
  EXPECT_EQ(Get(Path("d"), "user.d"), "dir");
  EXPECT_EQ(Get(Path(""), "user.root"), "root dir");
  EXPECT_EQ(Get(Path("p"), "security.p"), "fifo label");
}

TEST_F(XattrUsersTest, TrustedIsRootsOnly) {
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  ASSERT_EQ(::chmod(Path("f").c_str(), 0666), 0);
  ASSERT_EQ(Set(Path("f"), "trusted.t", "secret"), 0);
  ASSERT_EQ(Set(Path("f"), "user.u", "public"), 0);
  std::string out = RunAs(kUser, kUser, [&] {
    std::string r = "get=" + Get(Path("f"), "trusted.t");
    r += ";set=" + Errno(Set(Path("f"), "trusted.u", "x"));
    r += ";list=" + List(Path("f"));
    r += ";user=" + Errno(Set(Path("f"), "user.v", "mine"));
    return r;
  });
  EXPECT_EQ(out, "get=<ENODATA>;set=EPERM;list=user.u;user=ok");
  EXPECT_EQ(List(Path("f")), "trusted.t,user.u,user.v");
}

TEST_F(XattrTest, KeptByChmodRenameLinkTruncateAndRemount) {
  ASSERT_TRUE(PutFile(Path("small"), "small file"));
  const std::string big(300 * 1024 + 5, 'b');  // in blocks
  ASSERT_TRUE(PutFile(Path("big"), big));
  ASSERT_EQ(::mkdir(Path("dir").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("dir/inner"), "inner"));
  ASSERT_EQ(Set(Path("small"), "user.s", "S"), 0);
  ASSERT_EQ(Set(Path("big"), "user.b", "B"), 0);
  ASSERT_EQ(Set(Path("dir"), "user.d", "D"), 0);
  ASSERT_EQ(Set(Path("dir/inner"), "user.i", "I"), 0);

  ASSERT_EQ(::chmod(Path("small").c_str(), 0600), 0);
  ASSERT_EQ(::rename(Path("small").c_str(), Path("small2").c_str()), 0);
  ASSERT_EQ(::rename(Path("dir").c_str(), Path("dir2").c_str()), 0);
  ASSERT_EQ(::link(Path("big").c_str(), Path("big-link").c_str()), 0);
  ASSERT_EQ(::truncate(Path("big").c_str(), 200 * 1024), 0);
  // Writes to a file with attributes keep them (the buffer carries them).
  ASSERT_TRUE(PutFile(Path("small2"), "rewritten", /*sync=*/true));
  EXPECT_EQ(Get(Path("big-link"), "user.b"), "B");

  ASSERT_EQ(store_->Unmount(), 0);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(Get(Path("small2"), "user.s"), "S");
  EXPECT_EQ(GetFile(Path("small2")), "rewritten");
  EXPECT_EQ(Get(Path("big"), "user.b"), "B");
  EXPECT_EQ(Get(Path("big-link"), "user.b"), "B");
  EXPECT_EQ(GetFile(Path("big")), big.substr(0, 200 * 1024));
  EXPECT_EQ(Get(Path("dir2"), "user.d"), "D");
  EXPECT_EQ(Get(Path("dir2/inner"), "user.i"), "I");
  struct stat st;
  ASSERT_EQ(::stat(Path("small2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(XattrTest, SurviveSigkillAfterFsync) {
  ASSERT_TRUE(PutFile(Path("f"), "payload"));
  ASSERT_EQ(Set(Path("f"), "user.k", "kept"), 0);
  int fd = ::open(Path("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "P", 1, 0), 1);
  ASSERT_EQ(::fsetxattr(fd, "user.w", "while open", 10, 0), 0);
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
  store_->Kill();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(Get(Path("f"), "user.k"), "kept");
  EXPECT_EQ(Get(Path("f"), "user.w"), "while open");
  EXPECT_EQ(GetFile(Path("f")), "Payload");
}

TEST_F(XattrTest, DumpAndLoadCarryThem) {
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(Set(Path("f"), "user.f", "file"), 0);
  ASSERT_EQ(Set(Path("d"), "trusted.d", "dir"), 0);
  std::string out;
  ASSERT_EQ(RunCommand({"setfacl", "-m", "u:12345:r", Path("f")}, &out), 0) << out;
  ASSERT_EQ(store_->Unmount(), 0);
  TempDir dir;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "dump", store_->data_dir(), "-o", dir.Sub("dump")}, &out),
            0)
      << out;
  MountedStore restored;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "load", restored.data_dir(), dir.Sub("dump")}, &out), 0)
      << out;
  ASSERT_TRUE(restored.Mount()) << restored.last_output();
  EXPECT_EQ(Get(restored.Path("f"), "user.f"), "file");
  EXPECT_EQ(Get(restored.Path("d"), "trusted.d"), "dir");
  ASSERT_EQ(RunCommand({"getfacl", "-cn", restored.Path("f")}, &out), 0) << out;
  EXPECT_NE(out.find("user:12345:r--"), std::string::npos) << out;
}

// The listing getfattr gives of a whole tree (relative names), and of its ACLs.
std::string Attributes(const std::string& root) {
  std::string out, acl;
  EXPECT_EQ(RunShell("cd '" + root + "' && getfattr -R -h -d -m - . | sort && getfacl -R -p -n . | sort",
                     &out),
            0)
      << out;
  return out;
}

TEST_F(XattrTest, CpAndRsyncPreserveThemAsOnTmpfs) {
  TempDir tmpfs("/dev/shm");
  const std::string src = tmpfs.Sub("src");
  std::string out;
  ASSERT_EQ(RunShell("set -e; mkdir '" + src + "'; cd '" + src + "'; echo a > a; mkdir d; "
                     "echo b > d/b; ln -s a l; "
                     "setfattr -n user.one -v 1 a; setfattr -n user.two -v 0x00ff a; "
                     "setfattr -n trusted.t -v t d; setfattr -n user.dir -v yes d; "
                     "setfacl -m u:12345:rw d/b; setfacl -d -m u:12345:rx d",
                     &out),
            0)
      << out;
  const std::string expected = Attributes(src);
  ASSERT_NE(expected.find("user.two=0sAP8="), std::string::npos) << expected;

  // cp -a to a tmpfs and to AlexFS: both see what the source has.
  ASSERT_EQ(RunCommand({"cp", "-a", src, tmpfs.Sub("cp")}, &out), 0) << out;
  ASSERT_EQ(RunCommand({"cp", "-a", src, Path("cp")}, &out), 0) << out;
  EXPECT_EQ(Attributes(tmpfs.Sub("cp")), expected);
  EXPECT_EQ(Attributes(Path("cp")), expected);

  // rsync -aAX the same way.
  ASSERT_EQ(RunCommand({"rsync", "-aAX", src + "/", tmpfs.Sub("rsync")}, &out), 0) << out;
  ASSERT_EQ(RunCommand({"rsync", "-aAX", src + "/", Path("rsync")}, &out), 0) << out;
  EXPECT_EQ(Attributes(tmpfs.Sub("rsync")), expected);
  EXPECT_EQ(Attributes(Path("rsync")), expected);
}

TEST_F(AclTest, AclGrantingASecondUserReadIsEnforced) {
  ASSERT_TRUE(PutFile(Path("secret"), "for 12345"));
  ASSERT_EQ(::chmod(Path("secret").c_str(), 0600), 0);
  auto read_as = [&](uid_t uid) {
    return RunAs(uid, uid, [&] { return GetFile(Path("secret")); });
  };
  EXPECT_EQ(read_as(kUser), "<error 13>");  // EACCES before the ACL
  std::string out;
  ASSERT_EQ(RunCommand({"setfacl", "-m", "u:12345:r", Path("secret")}, &out), 0) << out;
  EXPECT_EQ(read_as(kUser), "for 12345");
  EXPECT_EQ(read_as(kStranger), "<error 13>");
  // The mode shows the mask in its group bits, as on a local disk.
  struct stat st;
  ASSERT_EQ(::stat(Path("secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // chmod narrows the mask: the named user loses read.
  ASSERT_EQ(::chmod(Path("secret").c_str(), 0600), 0);
  EXPECT_EQ(read_as(kUser), "<error 13>");
  ASSERT_EQ(RunCommand({"getfacl", "-cn", Path("secret")}, &out), 0) << out;
  EXPECT_NE(out.find("mask::---"), std::string::npos) << out;
  // Removing the ACL leaves the mode.
  ASSERT_EQ(RunCommand({"setfacl", "-b", Path("secret")}, &out), 0) << out;
  EXPECT_EQ(List(Path("secret")), "");
  ASSERT_EQ(::stat(Path("secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AclTest, DefaultAclIsInheritedByNewObjects) {
  ASSERT_EQ(::mkdir(Path("shared").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("plain").c_str(), 0777), 0);
  std::string out;
  ASSERT_EQ(RunCommand({"setfacl", "-d", "-m", "u:12345:rwx", Path("shared")}, &out), 0) << out;
  ASSERT_EQ(RunCommand({"setfacl", "-m", "u:12345:rwx", Path("shared")}, &out), 0) << out;
  // Created as most programs do (0666, 0777) under umask 022.
  const mode_t old_umask = ::umask(022);
  for (const char* file : {"shared/file", "plain/file"}) {
    int fd = ::open(Path(file).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0666);
    ASSERT_GE(fd, 0) << file;
    ::close(fd);
  }
  ASSERT_EQ(::mkdir(Path("shared/sub").c_str(), 0777), 0);
  ::umask(old_umask);
  // The new file's ACL lets 12345 write it (the umask did not apply); the
  // same file in a directory without a default ACL stays read-only to it.
  std::string as_user = RunAs(kUser, kUser, [&] {
    return "shared=" + Errno(::open(Path("shared/file").c_str(), O_WRONLY)) +
           ";plain=" + Errno(::open(Path("plain/file").c_str(), O_WRONLY)) +
           ";create=" + std::string(PutFile(Path("shared/sub/mine"), "x") ? "ok" : "failed");
  });
  EXPECT_EQ(as_user, "shared=ok;plain=EACCES;create=ok");
  ASSERT_EQ(RunCommand({"getfacl", "-cn", Path("shared/sub")}, &out), 0) << out;
  EXPECT_NE(out.find("default:user:12345:rwx"), std::string::npos) << out;
  ASSERT_EQ(RunCommand({"getfacl", "-cn", Path("shared/file")}, &out), 0) << out;
  EXPECT_NE(out.find("user:12345:rwx"), std::string::npos) << out;
  EXPECT_EQ(out.find("default:"), std::string::npos) << out;  // files get no default ACL
  struct stat st;
  ASSERT_EQ(::stat(Path("plain/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // the umask applied there
  // Under the default ACL the umask is ignored: the group class (the mask) is rw.
  ASSERT_EQ(::stat(Path("shared/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0664u);
  ASSERT_EQ(::stat(Path("shared/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0775u);
}

}  // namespace
}  // namespace alexfs::testing
