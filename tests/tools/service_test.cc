// Running AlexFS as a service: the systemd unit, sd_notify, and mount(8) / fstab.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

const std::string kBuildSystemdDir = ALEXFS_BUILD_DIR "/systemd";

TEST(Service, UnitPassesSystemdAnalyzeVerify) {
  TempDir dir;
  // verify wants a concrete instance of the template.
  std::string unit = dir.Sub("alexfs@demo.service");
  std::filesystem::copy_file(kBuildSystemdDir + "/alexfs@.service", unit);
  std::string out;
  int rc = RunCommand({"systemd-analyze", "verify", "--man=no", unit}, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("alexfs@demo.service:"), std::string::npos) << out;

  std::string text;
  ASSERT_TRUE(ReadFile(unit, &text));
  EXPECT_NE(text.find("Type=notify"), std::string::npos);
  for (const char* breaks_fuse : {"\nPrivateDevices=", "\nPrivateMounts=", "\nNoNewPrivileges="}) {
    EXPECT_EQ(text.find(breaks_fuse), std::string::npos) << breaks_fuse;
  }
}

// A NOTIFY_SOCKET of our own, as systemd would give a Type=notify service.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  // The next datagram, or "" after `timeout`.
  std::string Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Service, NotifiesReadyOnlyOnceMountedAndStoppingOnSigterm) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  NotifySocket notify(dir.Sub("notify.sock"));

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
    ::execl(AlexfsBinary(), AlexfsBinary(), "mount", data.c_str(), mnt.c_str(), "--foreground",
            static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string msg = notify.Receive(std::chrono::seconds(10));
  EXPECT_NE(msg.find("READY=1"), std::string::npos) << msg;
  // READY=1 promises a live mount: it must already be there, and answer.
  EXPECT_TRUE(IsMounted(mnt));
  struct statfs sfs;
  EXPECT_EQ(::statfs(mnt.c_str(), &sfs), 0);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  std::string stopping = notify.Receive(std::chrono::seconds(10));
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(IsMounted(mnt));
}

// mount(8) runs /sbin/mount.fuse.<subtype>; install ours there for the test if
// `cmake --install` has not.
class MountHelper : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSbinHelper)) {
      std::filesystem::copy_file(kBuildSystemdDir + "/mount.fuse.alexfs", kSbinHelper);
      std::filesystem::permissions(kSbinHelper, std::filesystem::perms(0755));
      installed_ = true;
    }
  }
  void TearDown() override {
    if (installed_) std::filesystem::remove(kSbinHelper);
  }
  static constexpr const char* kSbinHelper = "/sbin/mount.fuse.alexfs";
  bool installed_ = false;
};

TEST_F(MountHelper, MountDashTFuseAlexfs) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(RunCommand({"mount", "-t", "fuse.alexfs", data, mnt, "-o", "rw,nosuid,nodev"}, &out), 0)
      << out;
  EXPECT_TRUE(IsMounted(mnt));
  std::string fstype;
  EXPECT_EQ(RunCommand({"findmnt", "-n", "-o", "FSTYPE", mnt}, &fstype), 0);
  EXPECT_EQ(fstype, "fuse.alexfs\n");
  EXPECT_EQ(RunCommand({"umount", mnt}, &out), 0) << out;
  EXPECT_FALSE(IsMounted(mnt));
}

// noexec, nosuid and nodev reach the kernel's mount flags (they were dropped).
TEST_F(MountHelper, PassesNoexecNosuidNodev) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(RunCommand({"mount", "-t", "fuse.alexfs", data, mnt, "-o", "noexec,nosuid,nodev"}, &out),
            0)
      << out;
  ASSERT_TRUE(IsMounted(mnt));
  std::string options;
  EXPECT_EQ(RunCommand({"findmnt", "-n", "-o", "VFS-OPTIONS", mnt}, &options), 0);
  EXPECT_NE(options.find("noexec"), std::string::npos) << options;
  EXPECT_NE(options.find("nosuid"), std::string::npos) << options;
  EXPECT_NE(options.find("nodev"), std::string::npos) << options;
  std::string script = mnt + "/script.sh";
  ASSERT_TRUE(WriteFile(script, "#!/bin/sh\nexit 0\n"));
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  EXPECT_NE(RunCommand({script}, &out), 0) << "a script ran on a noexec mount";
  EXPECT_EQ(RunCommand({"umount", mnt}, &out), 0) << out;

  // And the opposite: exec given explicitly, the script runs. (Another data
  // dir: the first daemon may still be releasing its LOCK after umount.)
  ASSERT_EQ(RunCommand({"mount", "-t", "fuse.alexfs", dir.Sub("data2"), mnt, "-o", "exec"}, &out), 0)
      << out;
  ASSERT_TRUE(WriteFile(script, "#!/bin/sh\nexit 0\n"));
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  EXPECT_EQ(RunCommand({script}, &out), 0) << out;
  EXPECT_EQ(RunCommand({"umount", mnt}, &out), 0) << out;
}

TEST_F(MountHelper, FstabLine) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string fstab = dir.Sub("fstab");
  ASSERT_TRUE(WriteFile(fstab, data + " " + mnt + " fuse.alexfs defaults,nofail,x-systemd.requires=local-fs.target 0 0\n"));
  std::string out;
  ASSERT_EQ(RunCommand({"mount", "--fstab", fstab, mnt}, &out), 0) << out;
  EXPECT_TRUE(IsMounted(mnt));
  EXPECT_EQ(RunCommand({"umount", mnt}, &out), 0) << out;
}

}  // namespace
}  // namespace alexfs::testing
