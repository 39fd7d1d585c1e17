// AlexStorage (engine/store.h) behind KvSystem, with default StoreOptions:
// automatic (background) compaction is on, as RocksDB's is, in every phase; the
// suite's explicit Compact() then measures the garbage that is left (LMDB has
// no compaction).
#include "tools/bench/engine_systems.h"

#ifdef ALEXFS_BENCH_HAVE_STORE

#include <cstdio>

#include "engine/store.h"
#include "engine/write_batch.h"

namespace alexfs::bench {
namespace {

Durability ToDurability(BenchDurability d) {
  return d == BenchDurability::kSync ? Durability::kDurable : Durability::kBuffered;
}

class AlexReader final : public Reader {
 public:
  explicit AlexReader(const Store* store) : store_(store) {}

  bool Get(std::string_view key, ValueView* value) override {
    // No Reset() first: Get() replaces the view and the pin in place (Reset
    // would free the pin and make Get allocate a new one every call).
    if (!store_->Get(key, &pinned_).ok()) return false;
    *value = pinned_.value();
    return true;
  }

 protected:
  size_t DoScan(std::string_view start, size_t n, const ScanVisitor& visit) override {
    pinned_.Reset();
    iterator_ = store_->NewIterator();  // the last one lives until the next call
    size_t visited = 0;
    for (iterator_->Seek(start); visited < n && iterator_->Valid(); iterator_->Next()) {
      visit(iterator_->key(), iterator_->value());
      ++visited;
    }
    return visited;
  }

 private:
  const Store* store_;
  PinnedValue pinned_;
  std::unique_ptr<Iterator> iterator_;
};

class AlexSystem final : public KvSystem {
 public:
  ~AlexSystem() override { Close(); }
  const char* name() const override { return "alexstorage"; }

  bool Open(const std::string& dir, const SystemConfig&, std::string* error) override {
    StoreOptions options;
    options.create_if_missing = true;
    Status s = Store::Open(dir, options, &store_);
    if (!s.ok()) {
      *error = s.ToString();
      store_.reset();
      return false;
    }
    return true;
  }

  void Close() override {
    if (store_) {
      Status s = store_->Close();
      if (!s.ok()) std::fprintf(stderr, "alexstorage: close: %s\n", s.ToString().c_str());
      store_.reset();
    }
  }

  bool Put(std::string_view key, std::string_view value, BenchDurability d) override {
    return store_->Put(key, value, ToDurability(d)).ok();
  }
  bool Delete(std::string_view key, BenchDurability d) override {
    return store_->Delete(key, ToDurability(d)).ok();
  }
  bool WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& puts,
                  BenchDurability d) override {
    alexfs::WriteBatch batch;
    for (const auto& [k, v] : puts) batch.Put(k, v);
    return store_->Write(batch, ToDurability(d)).ok();
  }
  bool Sync() override { return store_->Sync().ok(); }
  bool Compact() override { return store_->Compact().ok(); }
  std::unique_ptr<Reader> NewReader() override { return std::make_unique<AlexReader>(store_.get()); }

  uint64_t IndexBytes() override { return store_->GetStats().index_bytes; }

  std::string StatsNote() override {
    StoreStats st = store_->GetStats();
    char buf[200];
    std::snprintf(buf, sizeof buf, "alex: commits=%llu syncs=%llu segments=%llu compactions=%llu",
                  static_cast<unsigned long long>(st.commits),
                  static_cast<unsigned long long>(st.syncs),
                  static_cast<unsigned long long>(st.segments),
                  static_cast<unsigned long long>(st.compactions));
    return buf;
  }

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace

std::unique_ptr<KvSystem> NewAlexSystem() { return std::make_unique<AlexSystem>(); }

}  // namespace alexfs::bench

#else  // !ALEXFS_BENCH_HAVE_STORE

namespace alexfs::bench {
std::unique_ptr<KvSystem> NewAlexSystem() { return nullptr; }
}  // namespace alexfs::bench

#endif
