// MountedStore: a real AlexFS mount of a fresh store, for tests.
//
// The constructor creates TEMP/data and TEMP/mnt and starts the real `alexfs`
// binary as `alexfs mount TEMP/data TEMP/mnt --foreground` in a child process,
// then waits until the kernel lists the mount. The destructor unmounts, waits for
// the daemon to exit and removes everything, even after a failed assertion.
// Kill() sends SIGKILL (crash tests); Remount() starts a new daemon on the same
// data directory, replacing a dead mount.
//
// MountTest is a fixture holding one MountedStore in `store_`.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace alexfs::testing {

// The alexfs binary under test.
inline const char* AlexfsBinary() { return ALEXFS_BINARY; }

// True if `path` (canonical) is a mount point now.
bool IsMounted(const std::string& path);

class MountedStore {
 public:
  // extra_args go after the mountpoint, e.g. {"-o", "allow_other"}.
  explicit MountedStore(std::vector<std::string> extra_args = {});
  ~MountedStore();
  MountedStore(const MountedStore&) = delete;
  MountedStore& operator=(const MountedStore&) = delete;

  // Starts the daemon and waits (up to 10 s) for the mount; false on failure,
  // with the daemon's output in last_output().
  bool Mount();
  // Unmounts (fusermount3 -u) and waits for the daemon to exit; returns its
  // exit status (0 for a clean stop), or -1 if it did not exit within 20 s.
  int Unmount();
  // SIGKILLs the daemon and reaps it. The dead mount stays until Remount or
  // the destructor.
  void Kill();
  // Mount() again on the same data directory.
  bool Remount() { return Mount(); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& mountpoint() const { return mountpoint_; }
  // mountpoint + "/" + relative
  std::string Path(const std::string& relative) const { return mountpoint_ + "/" + relative; }
  std::string last_output() const;

 private:
  TempDir temp_;
  std::string data_dir_;
  std::string mountpoint_;
  std::string log_path_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<MountedStore>();
    ASSERT_TRUE(store_->Mount()) << store_->last_output();
  }
  void TearDown() override { store_.reset(); }

  std::string Path(const std::string& relative) const { return store_->Path(relative); }

  std::unique_ptr<MountedStore> store_;
};

}  // namespace alexfs::testing
