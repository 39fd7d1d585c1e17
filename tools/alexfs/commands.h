// The alexfs program's subcommands. Each Add*Command registers a CLI11
// subcommand on `app`; its callback runs the command and sets *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace alexfs::tools {

void AddMountCommand(CLI::App& app, int* exit_code);
// unmount MOUNTPOINT: returns once the daemon has committed and exited.
void AddUnmountCommand(CLI::App& app, int* exit_code);
// dump, load, compact, stats.
void AddOfflineCommands(CLI::App& app, int* exit_code);
// check [--repair].
void AddCheckCommand(CLI::App& app, int* exit_code);

}  // namespace alexfs::tools
