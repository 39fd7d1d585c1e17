/// @file write_batch.h
/// @brief WriteBatch: puts and deletes that Store::Write applies atomically.
///
/// A batch is logged as one record, so after a crash either every operation in it
/// is visible or none is. The filesystem uses this for rename (delete the old key,
/// put the new one) and for committing a file's data with its metadata.
///
/// Operations apply in the order added; a later operation on the same key wins.
/// Thread-safety: not thread-safe; build a batch on one thread, then hand it over.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alexfs {

/// Puts and deletes that Store::Write() applies atomically, in order.
class WriteBatch {
 public:
  /// The kind of an operation.
  enum class OpType : uint8_t { kPut = 1, kDelete = 2 };
  /// One operation of the batch.
  struct Op {
    OpType type;        ///< put or delete
    std::string key;    ///< the key it writes
    std::string value;  ///< the value put; empty for kDelete
  };

  /// Adds a put of @p key with @p value.
  void Put(std::string_view key, std::string_view value) {
    bytes_ += key.size() + value.size();
    ops_.push_back(Op{OpType::kPut, std::string(key), std::string(value)});
  }
  /// Moves the value in: the filesystem commits file bodies this way without a copy.
  void Put(std::string_view key, std::string&& value) {
    bytes_ += key.size() + value.size();
    ops_.push_back(Op{OpType::kPut, std::string(key), std::move(value)});
  }
  /// Disambiguates Put("k", "v") between the two overloads above.
  void Put(std::string_view key, const char* value) { Put(key, std::string_view(value)); }
  /// Adds a delete of @p key.
  void Delete(std::string_view key) {
    bytes_ += key.size();
    ops_.push_back(Op{OpType::kDelete, std::string(key), std::string()});
  }
  /// Removes every operation.
  void Clear() {
    ops_.clear();
    bytes_ = 0;
  }

  /// Lets the batch use the store's reserve (StoreOptions::reserve_bytes): for
  /// deletes and small metadata changes that must work on a full disk, and for
  /// data the caller already counted against Store::WritableBytes().
  void UseReserve(bool yes = true) { use_reserve_ = yes; }
  /// See UseReserve().
  bool uses_reserve() const { return use_reserve_; }

  /// True if the batch holds no operation.
  bool empty() const { return ops_.empty(); }
  /// The number of operations.
  size_t count() const { return ops_.size(); }
  /// Sum of key and value bytes (an estimate of the logged size).
  size_t payload_bytes() const { return bytes_; }
  /// The operations, in the order added.
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
  bool use_reserve_ = false;
};

}  // namespace alexfs
