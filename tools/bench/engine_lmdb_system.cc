// LMDB behind KvSystem. One environment, the unnamed database, a map size that
// fits the data set several times over (the file is sparse and grows as
// needed). Durable phases commit with LMDB's default sync (fdatasync of data
// pages, then of the meta page); buffered phases set MDB_NOSYNC on the
// environment. Readers keep one read-only transaction each (MDB_NOTLS) that is
// reset and renewed at every get or scan, so a snapshot is pinned only until
// the reader's next call (values are read in place until then).
#include <lmdb.h>

#include <algorithm>
#include <filesystem>

#include "tools/bench/engine_systems.h"

namespace alexfs::bench {
namespace {

MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

class LmdbReader final : public Reader {
 public:
  LmdbReader(MDB_env* env, MDB_dbi dbi) : dbi_(dbi) {
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_) == 0) {
      if (mdb_cursor_open(txn_, dbi_, &cursor_) != 0) cursor_ = nullptr;
      mdb_txn_reset(txn_);
    } else {
      txn_ = nullptr;
    }
  }
  ~LmdbReader() override {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }

  bool Get(std::string_view key, ValueView* value) override {
    if (!Renew()) return false;
    MDB_val k = ToVal(key), v;
    bool found = mdb_get(txn_, dbi_, &k, &v) == 0;
    if (found) *value = FromVal(v);
    // The snapshot stays pinned until the next call, so the view stays valid
    // as long as the other systems' views do.
    return found;
  }

 protected:
  size_t DoScan(std::string_view start, size_t n, const ScanVisitor& visit) override {
    if (!Renew()) return 0;
    size_t visited = 0;
    if (mdb_cursor_renew(txn_, cursor_) == 0) {
      MDB_val k = ToVal(start), v;
      int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
      while (rc == 0 && visited < n) {
        visit(FromVal(k), FromVal(v));
        ++visited;
        rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
      }
    }
    return visited;
  }

 private:
  bool Renew() {
    if (txn_ == nullptr) return false;
    if (active_) mdb_txn_reset(txn_);
    active_ = mdb_txn_renew(txn_) == 0;
    return active_;
  }

  MDB_dbi dbi_;
  MDB_txn* txn_ = nullptr;
  MDB_cursor* cursor_ = nullptr;
  bool active_ = false;
};

class LmdbSystem final : public KvSystem {
 public:
  ~LmdbSystem() override { Close(); }
  const char* name() const override { return "lmdb"; }

  bool Open(const std::string& dir, const SystemConfig& config, std::string* error) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    int rc = mdb_env_create(&env_);
    if (rc == 0) {
      uint64_t map = std::max<uint64_t>(config.data_bytes * 4, uint64_t{1} << 30);
      rc = mdb_env_set_mapsize(env_, map);
    }
    if (rc == 0) rc = mdb_env_set_maxreaders(env_, 126);
    if (rc == 0) rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0644);
    MDB_txn* txn = nullptr;
    if (rc == 0) rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) {
      rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
      rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    }
    if (rc != 0) {
      *error = mdb_strerror(rc);
      Close();
      return false;
    }
    durability_ = BenchDurability::kBuffered;
    return true;
  }

  void Close() override {
    if (env_ != nullptr) {
      mdb_env_sync(env_, 1);
      mdb_env_close(env_);
      env_ = nullptr;
    }
  }

  void SetDurability(BenchDurability d) override {
    durability_ = d;
    mdb_env_set_flags(env_, MDB_NOSYNC, d == BenchDurability::kBuffered ? 1 : 0);
  }

  bool Put(std::string_view key, std::string_view value, BenchDurability d) override {
    MDB_txn* txn = Begin(d);
    if (txn == nullptr) return false;
    MDB_val k = ToVal(key), v = ToVal(value);
    if (mdb_put(txn, dbi_, &k, &v, 0) != 0) {
      mdb_txn_abort(txn);
      return false;
    }
    return mdb_txn_commit(txn) == 0;
  }
  bool Delete(std::string_view key, BenchDurability d) override {
    MDB_txn* txn = Begin(d);
    if (txn == nullptr) return false;
    MDB_val k = ToVal(key);
    if (mdb_del(txn, dbi_, &k, nullptr) != 0) {
      mdb_txn_abort(txn);
      return false;
    }
    return mdb_txn_commit(txn) == 0;
  }
  bool WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& puts,
                  BenchDurability d) override {
    MDB_txn* txn = Begin(d);
    if (txn == nullptr) return false;
    for (const auto& [key, value] : puts) {
      MDB_val k = ToVal(key), v = ToVal(value);
      if (mdb_put(txn, dbi_, &k, &v, 0) != 0) {
        mdb_txn_abort(txn);
        return false;
      }
    }
    return mdb_txn_commit(txn) == 0;
  }
  bool Sync() override { return mdb_env_sync(env_, 1) == 0; }
  bool Compact() override { return false; }
  std::unique_ptr<Reader> NewReader() override { return std::make_unique<LmdbReader>(env_, dbi_); }

 private:
  MDB_txn* Begin(BenchDurability d) {
    // A durability the phase did not announce would silently be the wrong one.
    if (d != durability_) return nullptr;
    MDB_txn* txn = nullptr;
    return mdb_txn_begin(env_, nullptr, 0, &txn) == 0 ? txn : nullptr;
  }

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  BenchDurability durability_ = BenchDurability::kBuffered;
};

}  // namespace

std::unique_ptr<KvSystem> NewLmdbSystem() { return std::make_unique<LmdbSystem>(); }

}  // namespace alexfs::bench
