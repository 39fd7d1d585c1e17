// Progress lines for long offline work (load, check, compact): at most one line
// a second on stderr with the count, the rate and, when the total is known, the
// percentage and an ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace alexfs::tools {

class Progress {
 public:
  // total == 0: unknown.
  Progress(std::string what, uint64_t total, std::string unit = "entries");
  // Adds n done; prints if a second has passed since the last line.
  void Add(uint64_t n);
  // Prints the final line.
  void Finish();

 private:
  void Print(bool final_line);
  std::string what_, unit_;
  uint64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace alexfs::tools
