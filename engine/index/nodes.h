// The two node kinds of the ALEX tree.
//
// ModelNode: a linear model over the key chunk routes to one of `fanout`
// (a power of two) child pointers. Several adjacent pointers may name the same
// child; the pointers naming one child are always contiguous. Routing is
// monotone, so children hold disjoint, ordered key ranges.
//
// DataNode: a gapped array. `capacity` slots, a bitmap of occupied slots, and a
// linear model predicting the slot of a chunk. Each slot holds (chunk,
// location). A gap holds a copy of the next occupied slot to its right (or
// (UINT64_MAX, kNoLocation) after the last key), so the whole slot array is
// sorted and exponential search needs no bitmap. Data nodes are linked to
// their siblings in key order for scans.
//
// Thread safety: the tree has ONE writer and many optimistic readers. Fields
// marked "const after publish" are written before the node is published with
// a release store and never again. Slot, bitmap, sibling and child fields are
// std::atomic, written by the writer and read relaxed by readers, who then
// validate the data node's `version` (seqlock: odd = being modified; a node
// replaced by a structural change stays odd forever, "obsolete").
#pragma once

#include <atomic>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/index/alex_index.h"
#include "engine/index/key_chunk.h"
#include "engine/index/linear_model.h"

namespace alexfs::index {

// Seqlock read validation: true if `version` still equals v. The acquire
// fence orders the preceding relaxed slot reads before the re-read.
// ThreadSanitizer does not model fences, so TSan builds use a read-modify-write
// (Boehm's "read-dont-modify-write"), which it understands.
inline bool VersionUnchanged(const std::atomic<uint64_t>& version, uint64_t v) {
#if defined(__SANITIZE_THREAD__)
  return const_cast<std::atomic<uint64_t>&>(version).fetch_add(0, std::memory_order_acq_rel) == v;
#else
  std::atomic_thread_fence(std::memory_order_acquire);
  return version.load(std::memory_order_relaxed) == v;
#endif
}

// Location stored in tail gaps. Callers must never store this location.
constexpr uint64_t kNoLocation = UINT64_MAX;

// A node's prefix, followed by its chunk selection's template bytes
// (key_chunk.h): held inside the node up to kInline bytes (no pointer chase to
// a separate heap block on the lookup path: path-key prefixes are 20-30
// bytes, beyond std::string's 15-byte small-string buffer), on the heap
// beyond.
class NodePrefix {
 public:
  static constexpr size_t kInline = 36;
  // bytes = prefix + template; the prefix is its first prefix_len bytes.
  NodePrefix(std::string_view bytes, size_t prefix_len)
      : size_(static_cast<uint32_t>(prefix_len)), total_(static_cast<uint32_t>(bytes.size())) {
    char* d = buf_;
    if (total_ > kInline) {
      d = new char[total_];
      std::memcpy(buf_, &d, sizeof d);
    }
    if (total_ != 0) std::memcpy(d, bytes.data(), total_);
  }
  ~NodePrefix() {
    if (total_ > kInline) delete[] heap();
  }
  NodePrefix(const NodePrefix&) = delete;
  NodePrefix& operator=(const NodePrefix&) = delete;

  const char* data() const { return total_ > kInline ? heap() : buf_; }
  size_t size() const { return size_; }
  std::string_view view() const { return std::string_view(data(), size_); }
  operator std::string_view() const { return view(); }
  const char* tmpl() const { return data() + size_; }
  size_t HeapBytes() const { return total_ > kInline ? total_ : 0; }

 private:
  char* heap() const {
    char* p;
    std::memcpy(&p, buf_, sizeof p);
    return p;
  }
  uint32_t size_;
  uint32_t total_;
  char buf_[kInline];
};

// 64-byte aligned: a lookup reads prefix, selection, model and (data nodes)
// capacity, version and the slot pointer, which then span 3 cache lines.
struct alignas(64) Node {
  enum class Kind : uint8_t { kModel, kData };
  // bytes: the prefix (prefix_len bytes) followed by sel's template.
  Node(Kind k, std::string_view bytes, size_t prefix_len, const ChunkSelection& s)
      : kind(k), prefix(bytes, prefix_len), sel(s) {}
  virtual ~Node() = default;
  bool is_data() const { return kind == Kind::kData; }

  // The chunk of `key` in this node (prefix + selection; key_chunk.h).
  uint64_t KeyChunk(std::string_view key) const {
    return sel.count == 0 ? ChunkOf(key, prefix.view()) : ChunkOf(key, prefix.view(), sel, prefix.tmpl());
  }

  const Kind kind;
  const NodePrefix prefix;   // const after publish
  const ChunkSelection sel;  // const after publish
  LinearModel model;         // const after publish
};

struct ModelNode final : Node {
  ModelNode(std::string_view bytes, size_t prefix_len, const ChunkSelection& sel, uint32_t fanout_in);
  size_t MemoryBytes() const {
    return sizeof(*this) + prefix.HeapBytes() + fanout * sizeof(void*);
  }
  uint32_t ChildIndex(std::string_view key) const { return model.PredictClamped(KeyChunk(key), fanout); }

  const uint32_t fanout;  // power of two
  std::unique_ptr<std::atomic<Node*>[]> children;
};

// A key with its location, as handed to the node builders.
struct KeyLoc {
  std::string_view key;
  uint64_t location;
};

struct DataNode final : Node {
  struct Slot {
    std::atomic<uint64_t> chunk;
    std::atomic<uint64_t> location;
  };

  DataNode(std::string_view bytes, size_t prefix_len, const ChunkSelection& sel, uint32_t capacity_in);

  // Builds a data node of `capacity` slots holding items[0, n) (sorted,
  // unique), trained on them. REQUIRES: n <= capacity.
  static DataNode* Build(const KeyLoc* items, size_t n, uint32_t capacity);

  // Out of line: GCC 12 -Warray-bounds misfires when this is inlined next to
  // a ModelNode allocation.
  size_t MemoryBytes() const;
  size_t BitmapWords() const { return (capacity + 63) / 64; }

  bool Occupied(uint32_t i) const {
    return (bitmap[i / 64].load(std::memory_order_relaxed) >> (i % 64)) & 1;
  }
  // First occupied slot >= i, or capacity.
  uint32_t NextOccupied(uint32_t i) const;
  // Last occupied slot < i, or -1.
  int64_t PrevOccupied(uint32_t i) const;

  // First slot whose key >= key (capacity if none). *exact is set if that
  // slot's key equals `key`. Safe for optimistic readers (bounded, only calls
  // keys->KeyAt on locations this node held); readers must validate after.
  uint32_t LowerBound(std::string_view key, const KeyReader* keys, bool* exact) const;
  // First slot whose chunk >= tc (capacity if none): the model-predicted
  // exponential search, without any key reads.
  uint32_t LowerBoundChunk(uint64_t tc) const;
  // The same result as LowerBound, but every search step compares full keys (no chunk
  // compares): models "slots keep full keys" for the design measurement.
  uint32_t LowerBoundFullKeys(std::string_view key, const KeyReader* keys, bool* exact) const;

  // Writer only; each brackets its change in a version begin/end.
  // Sets the location of occupied slot i (and of the gaps copying it).
  void SetLocation(uint32_t i, uint64_t location);
  // Inserts (key, location) before the key at slot `pos` (first slot >= key).
  // REQUIRES: num_keys < capacity, key not present.
  void Insert(std::string_view key, uint64_t location, uint32_t pos);
  // Removes the key at occupied slot i.
  void Erase(uint32_t i);
  // Appends this node's keys in order (views from keys->KeyAt).
  void Collect(const KeyReader* keys, std::vector<KeyLoc>* out) const;
  // Marks the node obsolete: odd version forever, readers retry from the root.
  void MarkObsolete() { version.store(version.load(std::memory_order_relaxed) | 1, std::memory_order_release); }

  // Debug check of the node's local invariants; returns an empty string if OK.
  std::string Check(const KeyReader* keys) const;

  const uint32_t capacity;  // const after publish
  uint32_t num_keys = 0;    // writer only
  std::atomic<uint64_t> version{2};  // never 0: readers use 0 as "no expectation"
  std::unique_ptr<Slot[]> slots;     // (the lookup path's fields end here)
  std::atomic<DataNode*> prev{nullptr};
  std::atomic<DataNode*> next{nullptr};
  std::unique_ptr<std::atomic<uint64_t>[]> bitmap;

 private:
  void BeginWrite() {
#if defined(__SANITIZE_THREAD__)
    version.fetch_add(1, std::memory_order_acq_rel);
#else
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
#endif
  }
  void EndWrite() { version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  void SetBit(uint32_t i, bool on);
  // Gaps (g, i) copy slot i's (chunk, location); i == capacity means the tail.
  void RefillGapsBefore(uint32_t i);
  uint64_t ChunkAt(uint32_t i) const { return slots[i].chunk.load(std::memory_order_relaxed); }
  // Locations are stored with release and loaded with acquire: an optimistic
  // reader that sees a new location may read the record's key at once (before
  // validating the version), and the writer wrote that record (e.g. copied
  // it into the log's mapping) before storing the location. On x86 both are
  // plain moves.
  uint64_t LocAt(uint32_t i) const { return slots[i].location.load(std::memory_order_acquire); }
  void Put(uint32_t i, uint64_t chunk, uint64_t loc) {
    slots[i].chunk.store(chunk, std::memory_order_relaxed);
    slots[i].location.store(loc, std::memory_order_release);
  }
};

}  // namespace alexfs::index
