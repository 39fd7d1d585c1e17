// libFuzzer target: a store directory whose newest log segment holds the
// fuzzer's bytes. Store::Open must either refuse with Corruption or open, and
// then every key it serves must be readable and the store writable.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "engine/manifest.h"
#include "engine/store.h"

namespace {

std::string ScratchDir() {
  static std::string dir = [] {
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string d = base + "/alexfs-recovery-fuzz-" + std::to_string(::getpid());
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spdlog::set_level(spdlog::level::off);
  const std::string dir = ScratchDir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // First byte picks the layout: the bytes as the only (newest) log segment,
  // as a sealed log segment before an empty newest one, or as a sorted segment.
  const int layout = size > 0 ? data[0] % 3 : 0;
  const char* bytes = reinterpret_cast<const char*>(data) + (size > 0 ? 1 : 0);
  const size_t n = size > 0 ? size - 1 : 0;
  alexfs::Manifest m;
  m.next_file = 3;
  m.segments[1] = layout == 2 ? alexfs::log::SegmentKind::kSorted : alexfs::log::SegmentKind::kLog;
  if (layout == 1) m.segments[2] = alexfs::log::SegmentKind::kLog;
  {
    std::ofstream f(dir + "/000001.log", std::ios::binary);
    f.write(bytes, static_cast<std::streamsize>(n));
  }
  if (layout == 1) std::ofstream(dir + "/000002.log", std::ios::binary);
  if (!alexfs::WriteManifest(alexfs::Env::Default(), dir, m).ok()) std::abort();

  alexfs::StoreOptions o;
  o.segment_bytes = 4096;
  o.compaction_garbage_ratio = 0;
  std::unique_ptr<alexfs::Store> store;
  alexfs::Status s = alexfs::Store::Open(dir, o, &store);
  if (!s.ok()) {
    if (!s.IsCorruption()) std::abort();
    return 0;
  }
  auto it = store->NewIterator();
  for (it->Seek(std::string_view("\0", 1)); it->Valid(); it->Next()) {
    alexfs::PinnedValue v;
    if (!store->Get(it->key(), &v).ok()) std::abort();
  }
  if (!store->Put("fuzz-after", "x").ok()) std::abort();
  if (!store->Close().ok()) std::abort();
  return 0;
}
