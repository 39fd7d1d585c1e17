// `alexfs check DATA_DIR [--repair]`: verifies every record of every segment.
//
// check holds the store's LOCK from before it reads the first segment until
// the repaired set is published (so it refuses a store a daemon has open, and
// no daemon mounts the store while it runs), and reads the segments with the
// engine's own reader through tools/alexfs/store_check.h: damage is reported
// by file and offset exactly where opening the store would fail, and a torn
// tail of the newest log segment (never acknowledged; opening the store
// truncates it) is reported as a note, not as damage.
//
// --repair salvages every record that verifies into a new segment set and
// publishes it atomically (StoreCheck::Repair: a crash leaves the old store
// or the repaired one); the damaged files are kept in DATA_DIR/damaged-<time>/.
// Then the orphaned blocks are looked for (tools/alexfs/orphan_blocks.h),
// through a Store that takes the LOCK itself.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "engine/env.h"
#include "tools/alexfs/commands.h"
#include "tools/alexfs/orphan_blocks.h"
#include "tools/alexfs/store_check.h"
#include "tools/alexfs/store_owner.h"

namespace alexfs::tools {
namespace {

// The orphaned-block part of check (tools/alexfs/orphan_blocks.h): 0 if there
// are none (or --repair deleted them), else 1.
int ReportOrphanBlocks(const std::string& dir, bool repair) {
  OrphanBlockReport r;
  Status s = CheckOrphanBlocks(dir, repair, &r);
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check: looking for orphaned blocks: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%llu files in blocks, %llu blocks, %llu orphaned (%llu bytes)%s\n",
              static_cast<unsigned long long>(r.files_in_blocks),
              static_cast<unsigned long long>(r.blocks), static_cast<unsigned long long>(r.orphaned),
              static_cast<unsigned long long>(r.orphaned_bytes), r.repaired ? ", deleted" : "");
  if (r.orphaned == 0 || r.repaired) return 0;
  std::printf("run `alexfs check --repair %s` to delete the orphaned blocks\n", dir.c_str());
  return 1;
}

int RunCheck(const std::string& dir, bool repair) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    std::fprintf(stderr, "alexfs check: data directory %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  StoreCheck check(Env::Default(), dir);
  Status s = check.Run(/*show_progress=*/true);  // takes the LOCK
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check: %s\n", s.message().c_str());
    return 1;
  }
  for (const std::string& n : check.notes()) std::printf("note: %s\n", n.c_str());
  std::printf("%s: %zu segments, %llu records verified, %zu damaged ranges\n", dir.c_str(),
              check.segments(), static_cast<unsigned long long>(check.records()),
              check.damage().size());
  for (const std::string& p : check.damage()) std::printf("damage: %s\n", p.c_str());
  if (check.damage().empty()) {
    check.ReleaseLock();  // the block check opens the store, which takes the LOCK
    return ReportOrphanBlocks(dir, repair);
  }
  if (!repair) {
    std::printf("run `alexfs check --repair %s` to salvage every record that verifies\n", dir.c_str());
    return 1;
  }
  uint64_t keys = 0;
  std::string aside;
  s = check.Repair(&keys, &aside);  // under the LOCK throughout
  if (!s.ok()) {
    std::fprintf(stderr, "alexfs check --repair: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "check: the damaged files are kept in %s\n", aside.c_str());
  std::printf("repaired: %llu keys salvaged from %llu verified records; the damaged ranges "
              "above were dropped\n",
              static_cast<unsigned long long>(keys), static_cast<unsigned long long>(check.records()));
  return 0;
}

}  // namespace

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  auto repair = std::make_shared<bool>(false);
  CLI::App* check = app.add_subcommand(
      "check", "Verify every record of a store (offline); exit 1 and report each damaged range by "
               "file and offset");
  check->add_option("DATA_DIR", *dir, "The store's directory")->required();
  check->add_flag("--repair", *repair,
                  "Salvage every record that verifies into a repaired store; the damaged files "
                  "are kept in DATA_DIR/damaged-<time>/");
  check->callback([=] {
    WaitForExitingDaemon(*dir, "check");
    *exit_code = RunCheck(*dir, *repair);
  });
}

}  // namespace alexfs::tools
