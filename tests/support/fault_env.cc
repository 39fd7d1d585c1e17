#include "tests/support/fault_env.h"

#include <algorithm>
#include <thread>

#include "engine/syncs_dropped.h"

namespace alexfs::testing {
namespace {

constexpr uint64_t kPage = 4096;

}  // namespace

void FaultEnv::Inode::MarkDirty(uint64_t from, uint64_t to) {
  for (uint64_t p = from / kPage; p * kPage < to; ++p) dirty.insert(p);
}

// Forwards to the base file and mirrors every change into the Inode.
class FaultEnv::FaultFile final : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base, std::shared_ptr<Inode> inode)
      : env_(env), base_(std::move(base)), inode_(std::move(inode)) {}

  const std::string& path() const override { return base_->path(); }
  Status ReadAt(uint64_t offset, char* buf, size_t n, size_t* got) override {
    return base_->ReadAt(offset, buf, n, got);
  }

  Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt,
                 uint64_t* written) override {
    Status s = base_->WriteAt(offset, iov, iovcnt, written);
    std::lock_guard<std::mutex> l(env_->mu_);
    if (env_->cut_.load()) return s;
    std::string& c = inode_->cached;
    if (c.size() < offset + *written) c.resize(offset + *written, '\0');
    uint64_t pos = offset, left = *written;
    for (int i = 0; i < iovcnt && left > 0; ++i) {
      const uint64_t n = std::min<uint64_t>(left, iov[i].iov_len);
      std::copy_n(static_cast<const char*>(iov[i].iov_base), n, c.begin() + static_cast<std::ptrdiff_t>(pos));
      pos += n;
      left -= n;
    }
    inode_->MarkDirty(offset, offset + *written);
    return s;
  }

  Status Allocate(uint64_t size) override {
    if (!env_->fallocate_supported_.load()) {
      return Status::NotSupported("fallocate " + path() + ": not supported (injected)");
    }
    Status s = base_->Allocate(size);
    if (s.ok()) Resize(std::max<uint64_t>(size, CachedSize()));
    return s;
  }

  Status Truncate(uint64_t size) override {
    Status s = base_->Truncate(size);
    if (s.ok()) Resize(size);
    return s;
  }

  // The real file is not synced: only the model's durability counts.
  Status DataSync() override { return Synced(env_->BeforeSync()); }
  Status Sync() override { return Synced(env_->BeforeSync()); }

  Status GetSize(uint64_t* size, uint64_t* allocated_bytes) override {
    return base_->GetSize(size, allocated_bytes);
  }

  Status Map(uint64_t len, bool writable, char** base) override {
    if (writable) {
      return Status::NotSupported("FaultEnv: a writable mapping of " + path() + " would bypass it");
    }
    return base_->Map(len, false, base);
  }
  void Unmap(char* base, uint64_t len) override { base_->Unmap(base, len); }

 private:
  uint64_t CachedSize() {
    std::lock_guard<std::mutex> l(env_->mu_);
    return inode_->cached.size();
  }
  void Resize(uint64_t size) {
    std::lock_guard<std::mutex> l(env_->mu_);
    if (env_->cut_.load()) return;
    const uint64_t old = inode_->cached.size();
    if (size == old) return;
    inode_->cached.resize(size, '\0');
    inode_->MarkDirty(std::min(old, size), std::max(old, size));
  }
  Status Synced(Status s) {
    if (s.ok()) env_->AfterSync(inode_.get());
    return s;
  }

  FaultEnv* const env_;
  const std::unique_ptr<File> base_;
  const std::shared_ptr<Inode> inode_;
};

FaultEnv::Dir* FaultEnv::DirOf(const std::string& path, std::string* name) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  *name = slash == std::string::npos ? path : path.substr(slash + 1);
  auto [it, fresh] = dirs_.try_emplace(dir);
  if (fresh) {
    // First use: what is there now counts as durable.
    std::vector<std::string> names;
    if (base_->ListDir(dir, &names).ok()) {
      for (const std::string& n : names) {
        const std::string p = dir + "/" + n;
        if (base_->IsDirectory(p)) continue;
        auto inode = std::make_shared<Inode>();
        if (!ReadWholeFile(base_, p, &inode->cached).ok()) continue;
        inode->durable = inode->cached;
        it->second.now[n] = inode;
        it->second.durable[n] = inode;
      }
    }
  }
  return &it->second;
}

void FaultEnv::ReadInDirOf(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  std::string name;
  DirOf(path, &name);
}

Status FaultEnv::OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) {
  ReadInDirOf(path);  // before the base Env creates anything there
  std::unique_ptr<File> f;
  Status s = base_->OpenFile(path, mode, &f);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  std::string name;
  Dir* d = DirOf(path, &name);
  std::shared_ptr<Inode>& inode = d->now[name];
  if (inode == nullptr) {
    inode = std::make_shared<Inode>();  // created now (or read in just above)
    if (mode != OpenMode::kCreate) (void)ReadWholeFile(base_, path, &inode->cached);
  } else if (mode == OpenMode::kCreate && !cut_.load()) {
    inode->MarkDirty(0, inode->cached.size());  // O_TRUNC
    inode->cached.clear();
  }
  *out = std::make_unique<FaultFile>(this, std::move(f), inode);
  return Status::OK();
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  ReadInDirOf(from);
  ReadInDirOf(to);
  Status s = base_->Rename(from, to);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (cut_.load()) return s;
  std::string from_name, to_name;
  Dir* fd = DirOf(from, &from_name);
  Dir* td = DirOf(to, &to_name);
  auto it = fd->now.find(from_name);
  if (it != fd->now.end()) {
    std::shared_ptr<Inode> inode = it->second;
    fd->now.erase(it);
    td->now[to_name] = std::move(inode);
  }
  return s;
}

Status FaultEnv::Remove(const std::string& path) {
  ReadInDirOf(path);
  Status s = base_->Remove(path);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (cut_.load()) return s;
  std::string name;
  DirOf(path, &name)->now.erase(name);
  return s;
}

Status FaultEnv::SyncDir(const std::string& dir) {
  Status s;  // the real directory is not synced: only the model counts
  if (kSyncsDropped) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (cut_.load()) return s;
  std::string name;
  Dir* d = DirOf(dir + "/.", &name);
  d->durable = d->now;
  return s;
}

Status FaultEnv::BeforeSync() {
  if (const int64_t ms = sync_delay_ms_.load(); ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  if (const int err = sync_errno_.load(); err != 0) {
    return Status::FromErrno(err, "sync (injected failure)");
  }
  return Status::OK();
}

void FaultEnv::AfterSync(Inode* inode) {
  if (kSyncsDropped) return;
  std::lock_guard<std::mutex> l(mu_);
  if (cut_.load()) return;
  syncs_.fetch_add(1);
  inode->durable.resize(inode->cached.size(), '\0');
  for (uint64_t p : inode->dirty) {
    const uint64_t from = p * kPage;
    if (from >= inode->cached.size()) break;
    const uint64_t n = std::min<uint64_t>(kPage, inode->cached.size() - from);
    std::copy_n(inode->cached.begin() + static_cast<std::ptrdiff_t>(from), n,
                inode->durable.begin() + static_cast<std::ptrdiff_t>(from));
  }
  inode->dirty.clear();
}

std::string FaultEnv::CrashContent(const Inode& inode, std::mt19937_64* rng, CutStats* stats) {
  std::string out = inode.durable;
  const std::string& now = inode.cached;
  for (uint64_t p : inode.dirty) {
    const uint64_t from = p * kPage;
    const uint64_t to = std::min<uint64_t>(from + kPage, now.size());
    const int choice = static_cast<int>((*rng)() % 3);
    if (choice == 2 || from >= to) {
      ++stats->pages_dropped;
      continue;
    }
    if (out.size() < to) out.resize(to, '\0');
    for (uint64_t i = from; i < to; ++i) {
      if (choice == 0) {
        out[i] = now[i];
      } else if (i >= inode.durable.size() || inode.durable[i] != now[i]) {
        out[i] = '\0';  // the unsynced bytes of a zero-filled page
      }
    }
    ++(choice == 0 ? stats->pages_kept : stats->pages_zeroed);
  }
  return out;
}

void FaultEnv::SimulatePowerCut(uint64_t seed) {
  std::lock_guard<std::mutex> l(mu_);
  if (cut_.load()) return;
  cut_.store(true);
  std::mt19937_64 rng(seed);
  last_cut_ = CutStats();
  image_.clear();
  for (const auto& [path, dir] : dirs_) {
    auto& files = image_[path];
    for (const auto& [name, inode] : dir.durable) {
      files[name] = CrashContent(*inode, &rng, &last_cut_);
      ++last_cut_.files;
      auto it = dir.now.find(name);
      if (it == dir.now.end() || it->second != inode) ++last_cut_.names_undone;
    }
    for (const auto& [name, inode] : dir.now) {
      auto it = dir.durable.find(name);
      if (it == dir.durable.end()) ++last_cut_.names_undone;
    }
  }
}

FaultEnv::CutStats FaultEnv::last_cut() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_cut_;
}

Status FaultEnv::MaterializeCrashImage() {
  std::lock_guard<std::mutex> l(mu_);
  if (!cut_.load()) return Status::InvalidArgument("MaterializeCrashImage before a power cut");
  for (const auto& [dir, files] : image_) {
    // A directory removed after the cut is still there in the image.
    Status s = base_->CreateDirs(dir);
    if (!s.ok()) return s;
    std::vector<std::string> names;
    s = base_->ListDir(dir, &names);
    if (!s.ok()) return s;
    for (const std::string& n : names) {
      const std::string p = dir + "/" + n;
      if (base_->IsDirectory(p)) continue;
      s = base_->Remove(p);
      if (!s.ok() && !s.IsNotFound()) return s;
    }
    for (const auto& [name, bytes] : files) {
      std::unique_ptr<File> f;
      s = base_->OpenFile(dir + "/" + name, OpenMode::kCreate, &f);
      if (s.ok()) s = WriteFileAt(f.get(), 0, bytes.data(), bytes.size());
      if (!s.ok()) return s;
    }
  }
  image_.clear();
  dirs_.clear();  // read in afresh, all durable, on next use
  cut_.store(false);
  return Status::OK();
}

}  // namespace alexfs::testing
