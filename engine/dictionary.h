// Dictionary: a zstd dictionary of the store, trained from its own small
// values, with the compression and decompression forms built once.
//
// On disk a dictionary is the value of a reserved key (DictionaryKey(id),
// engine/log/log_format.h's kReservedKeyPrefix): written and compacted like
// any record, hidden from iterators, refused to user writes. A record encoded
// with a dictionary names its id (engine/compression.h).
//
// Thread-safety: a Dictionary is immutable once built; ZSTD_CDict and
// ZSTD_DDict are read-only and shared by every thread. DictionarySet is
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace alexfs {

class Dictionary {
 public:
  // Builds the CDict (at `level`) and DDict of `bytes`. Corruption if zstd
  // refuses them.
  static Status Create(uint32_t id, std::string bytes, int level,
                       std::shared_ptr<const Dictionary>* out);
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  uint32_t id() const { return id_; }
  std::string_view bytes() const { return bytes_; }
  const ZSTD_CDict_s* cdict() const { return cdict_; }
  const ZSTD_DDict_s* ddict() const { return ddict_; }

  // Writers encoding with this dictionary right now (DictionarySet::
  // AcquireCurrent raised it; the writer lowers it with EndEncoding once its
  // records are noted live). The store drops a dictionary only at zero.
  int64_t encoders() const { return encoders_.load(std::memory_order_seq_cst); }
  void EndEncoding() const { encoders_.fetch_sub(1, std::memory_order_seq_cst); }

 private:
  friend class DictionarySet;
  mutable std::atomic<int64_t> encoders_{0};
  Dictionary(uint32_t id, std::string bytes) : id_(id), bytes_(std::move(bytes)) {}
  const uint32_t id_;
  const std::string bytes_;
  ZSTD_CDict_s* cdict_ = nullptr;
  ZSTD_DDict_s* ddict_ = nullptr;
};

// The key a dictionary is stored under, and the inverse (false: not one).
std::string DictionaryKey(uint32_t id);
bool ParseDictionaryKey(std::string_view key, uint32_t* id);

// Trains a dictionary of at most `max_bytes` from `samples` (ZDICT). Fails
// (NotSupported) when the samples are too few or too alike to train on.
Status TrainDictionary(const std::vector<std::string_view>& samples, size_t max_bytes,
                       std::string* out);

// The dictionaries a store knows, by id, and the one new writes use. A
// dictionary, once added, stays in memory until the set dies: a reader that
// found a location just before its record was overwritten may still need it.
// Whether its key stays in the store is the store's business (StoreImpl keeps
// it while any record uses it).
class DictionarySet {
 public:
  void Add(std::shared_ptr<const Dictionary> d);
  // nullptr if unknown.
  std::shared_ptr<const Dictionary> Find(uint32_t id) const;
  // The dictionary new values are encoded with; nullptr: none yet.
  std::shared_ptr<const Dictionary> current() const;
  // current(), with its encoders count raised atomically with respect to
  // SetCurrent: once SetCurrent returns, no writer starts encoding with the
  // dictionary it replaced. nullptr if none.
  std::shared_ptr<const Dictionary> AcquireCurrent() const;
  void SetCurrent(uint32_t id);
  // The highest id ever added (0: none).
  uint32_t max_id() const;
  std::vector<uint32_t> ids() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<uint32_t, std::shared_ptr<const Dictionary>> dicts_;
  std::shared_ptr<const Dictionary> current_;
};

}  // namespace alexfs
