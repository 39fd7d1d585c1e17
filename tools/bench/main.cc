// alexfs-bench: benchmarks that print a table and, with --json FILE, JSON rows.
// Each suite is a subcommand registered by its own file (see report.h).
#include <CLI/CLI.hpp>

#include <algorithm>

#include "tools/bench/report.h"

int main(int argc, char** argv) {
  CLI::App app{"alexfs-bench: AlexFS benchmarks, side by side with their peers"};
  app.require_subcommand(1);
  auto& suites = alexfs::bench::Suites();
  std::sort(suites.begin(), suites.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, factory] : suites) factory(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
