#include "tools/alexfs/progress.h"

#include <algorithm>
#include <cstdio>

namespace alexfs::tools {

Progress::Progress(std::string what, uint64_t total, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::Add(uint64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ >= std::chrono::seconds(1)) {
    last_ = now;
    Print(false);
  }
}

void Progress::Finish() { Print(true); }

void Progress::Print(bool final_line) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  if (total_ > 0 && !final_line) {
    double eta = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
    std::fprintf(stderr, "%s: %llu/%llu %s (%.0f%%), %.0f/s, ETA %.0fs\n", what_.c_str(),
                 static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
                 unit_.c_str(), 100.0 * static_cast<double>(done_) / static_cast<double>(total_),
                 rate, eta);
  } else {
    std::fprintf(stderr, "%s: %llu %s%s, %.0f/s, %.1fs\n", what_.c_str(),
                 static_cast<unsigned long long>(done_), unit_.c_str(),
                 final_line ? " done" : "", rate, secs);
  }
}

}  // namespace alexfs::tools
