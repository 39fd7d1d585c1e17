// `alexfs unmount MOUNTPOINT [--timeout SECONDS]`
//
// Unmounts with `fusermount3 -u` and returns only when the daemon has committed
// everything and released the store's LOCK (and has exited), so `alexfs mount`,
// `alexfs check` or a backup of DATA_DIR can follow at once. `fusermount3 -u`
// alone returns while the daemon is still committing.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "fs/mount.h"
#include "tools/alexfs/commands.h"
#include "tools/alexfs/store_owner.h"


namespace alexfs::tools {
namespace {

int RunUnmount(const std::string& mountpoint, int timeout_seconds) {
  std::string data_dir = DataDirOfMount(mountpoint);
  if (data_dir.empty()) {
    std::fprintf(stderr, "alexfs unmount: %s is not an AlexFS mount\n", mountpoint.c_str());
    return 1;
  }
  pid_t holder = LockHolder(data_dir);
  int rc = fs::RunFusermount({"-u", "--", mountpoint}, /*quiet=*/false);
  if (rc < 0) {
    std::fprintf(stderr, "alexfs unmount: cannot run fusermount3: %s\n", std::strerror(errno));
    return 1;
  }
  if (rc != 0) {
    std::fprintf(stderr, "alexfs unmount: fusermount3 -u %s failed (exit %d); still mounted\n",
                 mountpoint.c_str(), rc);
    return 1;
  }
  auto limit = std::chrono::seconds(timeout_seconds);
  auto start = std::chrono::steady_clock::now();
  if (!WaitForLockRelease(data_dir, "unmount", limit, std::chrono::seconds(2))) {
    std::fprintf(stderr,
                 "alexfs unmount: unmounted, but pid %d still holds %s/LOCK after %ds: its "
                 "final commit has not finished (see %s/LOG)\n",
                 static_cast<int>(LockHolder(data_dir)), data_dir.c_str(), timeout_seconds,
                 data_dir.c_str());
    return 1;
  }
  // The LOCK goes just before the daemon exits; wait for the exit itself too.
  while (!ProcessExited(holder)) {
    if (std::chrono::steady_clock::now() - start >= limit) {
      std::fprintf(stderr, "alexfs unmount: the store is committed and released, but pid %d has "
                           "not exited after %ds\n",
                   static_cast<int>(holder), timeout_seconds);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

}  // namespace

void AddUnmountCommand(CLI::App& app, int* exit_code) {
  auto mountpoint = std::make_shared<std::string>();
  auto timeout = std::make_shared<int>(60);
  CLI::App* cmd = app.add_subcommand(
      "unmount", "Unmount an AlexFS mount and return once its daemon has committed everything "
                 "and exited (the store's LOCK is free)");
  cmd->add_option("MOUNTPOINT", *mountpoint, "Where the store is mounted")->required();
  cmd->add_option("--timeout", *timeout, "Seconds to wait for the daemon's final commit")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([=] { *exit_code = RunUnmount(*mountpoint, *timeout); });
}

}  // namespace alexfs::tools
