// RocksDB behind KvSystem, configured for point lookups as RocksDB's tuning guide
// says (Options::OptimizeForPointLookup, spelled out here): a bloom filter of 10
// bits per key, a hash index inside data blocks, a block cache big enough for the
// whole data set, index and filter blocks held in memory, all table files open,
// compression off. The WAL is always on; sync=true for durable writes.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "tools/bench/engine_systems.h"

namespace alexfs::bench {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

class RocksDbReader final : public Reader {
 public:
  explicit RocksDbReader(rocksdb::DB* db) : db_(db) {}

  bool Get(std::string_view key, ValueView* value) override {
    slice_.Reset();
    rocksdb::Status s = db_->Get(read_options_, db_->DefaultColumnFamily(), ToSlice(key), &slice_);
    if (!s.ok()) return false;
    *value = std::string_view(slice_.data(), slice_.size());
    return true;
  }

 protected:
  size_t DoScan(std::string_view start, size_t n, const ScanVisitor& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options_));
    size_t visited = 0;
    for (it->Seek(ToSlice(start)); visited < n && it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key(), v = it->value();
      visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()));
      ++visited;
    }
    return visited;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ReadOptions read_options_;
  rocksdb::PinnableSlice slice_;
};

class RocksDbSystem final : public KvSystem {
 public:
  ~RocksDbSystem() override { Close(); }
  const char* name() const override { return "rocksdb"; }

  bool Open(const std::string& dir, const SystemConfig& config, std::string* error) override {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.IncreaseParallelism(2);
    o.max_background_jobs = 2;
    o.max_open_files = -1;
    // Point lookups (what OptimizeForPointLookup does, with our cache size).
    rocksdb::BlockBasedTableOptions t;
    uint64_t cache = std::min<uint64_t>(config.data_bytes + config.data_bytes / 2 + (64u << 20),
                                        uint64_t{8} << 30);
    t.block_cache = rocksdb::NewLRUCache(cache);
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
    t.data_block_hash_table_util_ratio = 0.75;
    t.cache_index_and_filter_blocks = false;  // index and filters stay in memory
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
    o.optimize_filters_for_hits = true;  // every get in the suite hits
    // No compression anywhere, as for the other systems.
    o.compression = rocksdb::kNoCompression;
    o.compression_per_level.clear();
    o.bottommost_compression = rocksdb::kDisableCompressionOption;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    db_.reset(db);
    return true;
  }

  void Close() override {
    if (db_) {
      db_->Close().PermitUncheckedError();
      db_.reset();
    }
  }

  bool Put(std::string_view key, std::string_view value, BenchDurability d) override {
    return db_->Put(Options(d), ToSlice(key), ToSlice(value)).ok();
  }
  bool Delete(std::string_view key, BenchDurability d) override {
    return db_->Delete(Options(d), ToSlice(key)).ok();
  }
  bool WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& puts,
                  BenchDurability d) override {
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : puts) batch.Put(ToSlice(k), ToSlice(v)).PermitUncheckedError();
    return db_->Write(Options(d), &batch).ok();
  }
  bool Sync() override { return db_->FlushWAL(/*sync=*/true).ok(); }
  bool Compact() override {
    rocksdb::CompactRangeOptions c;
    c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    return db_->CompactRange(c, nullptr, nullptr).ok();
  }
  std::unique_ptr<Reader> NewReader() override { return std::make_unique<RocksDbReader>(db_.get()); }
  uint64_t IndexBytes() override {
    uint64_t bytes = 0;
    return db_->GetIntProperty("rocksdb.estimate-table-readers-mem", &bytes) ? bytes : 0;
  }

 private:
  static rocksdb::WriteOptions Options(BenchDurability d) {
    rocksdb::WriteOptions w;
    w.sync = d == BenchDurability::kSync;
    return w;
  }

  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

std::unique_ptr<KvSystem> NewRocksDbSystem() { return std::make_unique<RocksDbSystem>(); }

}  // namespace alexfs::bench
