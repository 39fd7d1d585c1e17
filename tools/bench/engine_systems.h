// The key-value systems that `alexfs-bench engine` compares, behind one small
// interface: AlexStorage (engine/store.h), RocksDB and LMDB.
//
// Every system is driven the same way: the same keys, values and operation
// sequences, values read in place (RocksDB PinnableSlice, LMDB MDB_val,
// AlexStorage PinnedValue) and checked by the harness, one fresh iterator or
// cursor per scan. Durability is chosen per call (LMDB: per phase, see
// SetDurability).
//
// Thread-safety: a KvSystem's Put/Delete/Write/Sync/Compact may be called from
// any number of threads at once; each reading thread uses its own Reader.
// Open/Close/SetDurability are called by one thread while no other runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alexfs::bench {

enum class BenchDurability {
  kBuffered,  // in the page cache / WAL without fsync
  kSync,      // durable before the call returns
};

struct SystemConfig {
  // Raw bytes the data set holds (keys + values); sizes caches and maps.
  uint64_t data_bytes = 0;
};

// A value handed to the harness: where it lies (a view that lives until the
// Reader's next call).
using ValueView = std::string_view;

class Reader {
 public:
  virtual ~Reader() = default;
  // True and *value set if found.
  virtual bool Get(std::string_view key, ValueView* value) = 0;
  // Seeks to the first key >= start and visits up to n keys. `visit(key, value)`
  // sees each; returns how many were visited.
  template <class F>
  size_t Scan(std::string_view start, size_t n, F&& visit) {
    ScanVisitor v(&visit, [](void* f, std::string_view k, std::string_view val) {
      (*static_cast<F*>(f))(k, val);
    });
    return DoScan(start, n, v);
  }

 protected:
  struct ScanVisitor {
    void* fn;
    void (*call)(void*, std::string_view, std::string_view);
    ScanVisitor(void* f, void (*c)(void*, std::string_view, std::string_view)) : fn(f), call(c) {}
    void operator()(std::string_view k, std::string_view v) const { call(fn, k, v); }
  };
  virtual size_t DoScan(std::string_view start, size_t n, const ScanVisitor& visit) = 0;
};

class KvSystem {
 public:
  virtual ~KvSystem() = default;
  virtual const char* name() const = 0;
  // Opens (creating if missing) the store in `dir`. On failure returns false and sets *error.
  virtual bool Open(const std::string& dir, const SystemConfig& config, std::string* error) = 0;
  virtual void Close() = 0;
  // Called before a phase whose writes all use `d` (LMDB's sync mode is per
  // environment, not per transaction). Others ignore it.
  virtual void SetDurability(BenchDurability) {}
  virtual bool Put(std::string_view key, std::string_view value, BenchDurability d) = 0;
  virtual bool Delete(std::string_view key, BenchDurability d) = 0;
  // Applies puts atomically as one batch / transaction.
  virtual bool WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& puts,
                          BenchDurability d) = 0;
  virtual bool Sync() = 0;
  // Full compaction; false if the system has none (LMDB).
  virtual bool Compact() = 0;
  virtual std::unique_ptr<Reader> NewReader() = 0;
  // Extra text for the note of a row (e.g. commits per fsync), may be empty.
  virtual std::string StatsNote() { return std::string(); }
  // Bytes of memory the system reports for its in-memory index (AlexStorage:
  // the learned index; RocksDB: table readers, i.e. index and filter blocks);
  // 0 when it reports none (LMDB: its B+tree lives in the mapped file).
  virtual uint64_t IndexBytes() { return 0; }
};

std::unique_ptr<KvSystem> NewRocksDbSystem();
std::unique_ptr<KvSystem> NewLmdbSystem();
// nullptr when this build has no AlexStorage implementation.
std::unique_ptr<KvSystem> NewAlexSystem();

}  // namespace alexfs::bench
