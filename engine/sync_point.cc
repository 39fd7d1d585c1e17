#include "engine/sync_point.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "engine/crc32c.h"
#include "engine/log/log_format.h"

namespace alexfs {
namespace {

constexpr size_t kSize = 16;
constexpr uint64_t kMinIntervalNanos = 1'000'000'000;

uint64_t Nanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

SyncPoint ReadSyncPoint(Env* env, const std::string& dir) {
  const std::string path = dir + "/SYNCPOINT";
  std::string text;
  Status s = ReadWholeFile(env, path, &text);
  if (!s.ok()) {
    if (!s.IsNotFound()) spdlog::warn("alexfs: ignoring {}: {}", path, s.ToString());
    return SyncPoint();
  }
  if (text.size() != kSize ||
      crc32c::Unmask(log::DecodeFixed32(text.data() + 12)) != crc32c::Value(text.data(), 12)) {
    spdlog::warn("alexfs: ignoring {}: torn or damaged ({} bytes)", path, text.size());
    return SyncPoint();
  }
  return SyncPoint{log::DecodeFixed32(text.data()), log::DecodeFixed64(text.data() + 4)};
}

Status SyncPointWriter::Open(Env* env, const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string path = dir + "/SYNCPOINT";
  Status s = env->OpenFile(path, OpenMode::kReadWrite, &file_);
  if (s.IsNotFound()) {
    s = env->OpenFile(path, OpenMode::kCreate, &file_);
    if (s.ok()) s = env->SyncDir(dir);
  }
  if (!s.ok()) file_.reset();
  return s;
}

void SyncPointWriter::Record(const SyncPoint& p, bool now) {
  std::lock_guard<std::mutex> l(mu_);
  if (file_ == nullptr || p.segment == 0) return;
  if (p.segment < last_.segment || (p.segment == last_.segment && p.offset <= last_.offset)) return;
  const uint64_t t = Nanos();
  if (!now && t - last_nanos_ < kMinIntervalNanos) return;
  char buf[kSize];
  log::EncodeFixed32(buf, p.segment);
  log::EncodeFixed64(buf + 4, p.offset);
  log::EncodeFixed32(buf + 12, crc32c::Mask(crc32c::Value(buf, 12)));
  Status s = WriteFileAt(file_.get(), 0, buf, kSize);
  if (s.ok()) s = file_->DataSync();
  if (!s.ok()) {
    spdlog::warn("alexfs: recording the sync point in {}: {}", file_->path(), s.ToString());
    return;
  }
  last_ = p;
  last_nanos_ = t;
}

}  // namespace alexfs
