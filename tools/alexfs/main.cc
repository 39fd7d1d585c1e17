// alexfs: mount and operate AlexFS stores.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

#include "tools/alexfs/commands.h"

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries data (dump, stats).
  spdlog::set_default_logger(spdlog::stderr_color_mt("console"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  CLI::App app{"AlexFS: a key-value store mounted as a directory (FUSE over the AlexStorage "
               "engine)"};
  app.set_version_flag("--version", std::string("alexfs ") + ALEXFS_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });

  int exit_code = 0;
  alexfs::tools::AddMountCommand(app, &exit_code);
  alexfs::tools::AddUnmountCommand(app, &exit_code);
  alexfs::tools::AddOfflineCommands(app, &exit_code);
  alexfs::tools::AddCheckCommand(app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
