// AlexIndex: an updatable adaptive learned index (ALEX, Ding et al., SIGMOD 2020)
// over byte-string keys, mapping each key to a 64-bit location.
//
// CONTRACT (the implementation may add private members and public helpers, but
// keeps these signatures; the store is written against them):
//
//  * Keys are byte strings of 1..4096 bytes, any byte values, compared as
//    unsigned bytes (memcmp order, shorter prefix first).
//  * The index does not keep its own copy of full keys unless it chooses to
//    (the choice and its measurements are documented in this header). Where it
//    needs a full key it asks the KeyReader with the stored location; the log
//    keeps every key in its record, so the store's KeyReader reads it there.
//  * Concurrency: ONE writer at a time (Upsert, Erase, CompareAndSwap,
//    BulkLoad — externally serialised by the caller) and any number of
//    concurrent readers (Find, LowerBound, iteration). Readers never wait on a
//    lock held for longer than one node update; structural changes publish new
//    nodes and retire old ones through the EpochManager (engine/epoch.h).
//    Readers must hold an EpochGuard (from the same EpochManager) while they
//    use the index and any key view the KeyReader returned.
//
// DESIGN (engine/index/nodes.h has the node layouts):
//
//  * Tree. Model nodes route with a linear model to a power-of-two child
//    array (adjacent pointers may share a child); data nodes are gapped arrays
//    (bitmap + slots) with a linear model predicting the slot and exponential
//    search from the (clamped) prediction. Gaps hold a copy of the next key,
//    so the slot array is sorted without consulting the bitmap.
//  * Bulk load builds the tree top-down from sorted keys; a cost model
//    (ChooseFanoutLog in alex_index.cc: exponential-search steps, extra model
//    levels, pointer bytes, with named weights) picks each model node's
//    fanout; adjacent small children are grouped into one data node.
//  * Inserts go to the predicted slot inside the gap run, or shift toward the
//    nearest gap. A data node past 80% density expands (retrain at 50%
//    density) up to 4096 slots, then splits sideways (halving its slot range
//    in the parent) or, if it owns one parent slot, splits downwards (a new
//    model node over its keys). Below 40% density it shrinks (retrain at 70%,
//    the bulk-load density); small neighbours in the same parent merge. So
//    deleting half the keys keeps memory per live key near a fresh bulk
//    load's (1M keys: 28.5 B/key after, 24.1 B/key fresh, 1.18x; with the
//    earlier 2x expand / 20% shrink it stayed at 48.2, 2.0x). Data nodes never exceed 4096 slots (64 KiB), so
//    no insert rewrites more than that — except keys the chunk model cannot
//    tell apart (same 8 bytes after the prefix and beyond: keys differing only
//    in trailing 0x00 bytes), which share one node that grows as needed.
//  * Keys. Each node keeps the common prefix of the keys it was built from
//    and turns a key into a 64-bit chunk for its model (key_chunk.h). When
//    the 8 bytes right after the prefix all vary among the node's keys
//    (8-byte integers), the chunk is those bytes, big-endian. Otherwise the
//    node chose at build time a *selection*: the offsets after the prefix
//    where its keys differ (bytes they all share are skipped, and checked
//    against a template), each packed as a mixed-radix digit (byte - lowest
//    byte seen there, radix = observed range), as many as fit in 64 bits
//    (11 decimal digits; up to 16 offsets). A key outside that shape clamps
//    the rest of its chunk up or down, which keeps chunks monotone; ties are
//    resolved by full-key compares, so the selection only affects speed.
//    A slot is 16 bytes: that chunk + the location. Searches compare chunks
//    and call KeyReader::KeyAt only to break chunk ties (normally exactly one
//    call: the hit check). Keys outside a node's prefix clamp to chunk 0 /
//    UINT64_MAX, which keeps routing monotone.
//    Why: path keys of one directory share "12/file-" inside the 8-byte window
//    after a data node's prefix, so a hit read ~3 keys from the log to
//    binary-search the tie run, and ASCII digits (10 of 256 byte values) made
//    the linear models route badly (4 levels for 1M keys). Measured
//    (alexfs-bench index --keys 1000000 --sets path35; keyreads/op is an
//    untimed counting pass; wall times from a 2-core machine at load average
//    7-9, so noisy; D1 misses from valgrind --tool=callgrind --cache-sim=yes
//    over 100k Finds, repeatable):
//      plain 8-byte chunk:  3.17 key reads per hit, 3.02 per miss, depth 2.34
//                           model levels, 18.3 D1 misses/Find, hit p50 ~1.0-1.25 us
//      selection (data nodes only): 1.05 / 0.00 key reads
//      selection everywhere + radix digits: 1.11 / 0.00 key reads, depth 1.00
//                           (root -> 4,747 data nodes), 8.4 D1 misses/Find
//      + prefix/template inside the node (up to 36 bytes), 64-byte aligned
//                           headers: 6.6 D1 misses/Find
//    Lookup-hit p50 now, 6 runs of the command above: 550-1017 ns vs
//    absl::btree_map 1480-2140 ns in the same runs (1.8-2.9x, median ~2.5x;
//    before: 1026 vs 1883 ns). 10M keys (--keys 10000000): 1471 vs 3818 ns,
//    24.5 B/key.
//    Alternatives measured earlier: full-key compares at every search step
//    2.74 us vs 1.25 us for plain chunks (--full-key-compares); owned key
//    copies would add ~35 B key + 8-16 B pointer per key. A second 8-byte
//    chunk per slot (24 B slots, ~36 B/key) was not needed: the selection
//    gives distinct chunks at 16 B slots (24.5 B/key). Cost: bulk load reads
//    each data node's keys once more to choose its selection (model nodes
//    sample 2,048 keys).
//  * Concurrency. One writer, optimistic readers. Every data node has a
//    seqlock version (odd while the writer changes it in place: insert with
//    shifts, erase, location update). Structural changes (expand, split,
//    merge, shrink, bulk load) build new nodes, mark the old ones obsolete
//    (odd forever), publish with release stores of child / root / sibling
//    pointers, and retire the old nodes through the EpochManager. Readers
//    read slots with relaxed atomic loads, validate the version, and retry
//    (from the root if the node became obsolete). Iterators revalidate their
//    node on Next() and otherwise re-seek past the current key.
//  * Location kNoLocation (UINT64_MAX) is reserved (marks tail gaps): callers
//    must not store it. KeyAt may be called with any location the index held
//    during the reader's epoch (an optimistic read may be torn and later
//    discarded), so the KeyReader must accept every such location.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alexfs {

class EpochManager;

namespace index {

// Returns the full key stored at `location`. Called concurrently from readers;
// the view must stay valid while the caller holds an epoch guard.
class KeyReader {
 public:
  virtual ~KeyReader() = default;
  virtual std::string_view KeyAt(uint64_t location) const = 0;
};

struct DataNode;

class AlexIndex {
  struct Impl;

 public:
  AlexIndex(const KeyReader* keys, EpochManager* epochs);
  ~AlexIndex();
  AlexIndex(const AlexIndex&) = delete;
  AlexIndex& operator=(const AlexIndex&) = delete;

  // Replaces the contents with `sorted` (strictly ascending, unique keys).
  // Writer only.
  void BulkLoad(const std::vector<std::pair<std::string_view, uint64_t>>& sorted);

  // Reader. True and *location set if the key is present.
  bool Find(std::string_view key, uint64_t* location) const;

  // Writer. Inserts or replaces. Returns true if the key was new; otherwise
  // *old_location (if given) receives the replaced location.
  bool Upsert(std::string_view key, uint64_t location, uint64_t* old_location = nullptr);

  // Writer. Sets the key's location to `desired` only if it is currently
  // `expected` (compaction moving a record). True if swapped.
  bool CompareAndSwap(std::string_view key, uint64_t expected, uint64_t desired);

  // Writer. Batched CompareAndSwap for compaction: requests[0, n) sorted by
  // key, ascending (equal keys allowed; they are applied in order). For each
  // request, sets the key's location to `desired` if it is currently
  // `expected`; swapped[i] (if swapped is given) says whether request i
  // swapped. Returns the number swapped.
  //
  // REQUIRES: each request's `expected` is a location whose record holds that
  // request's key (compaction's old locations do). The index then never reads
  // a key through the KeyReader: a slot whose chunk matches and whose location
  // equals `expected` must hold that key, since a location names one record.
  // (Only when a key's chunk ties the last key of a data node is that last
  // key read, once per node.)
  //
  // Walks the data nodes in key order along the sibling links: one descent
  // from the root for the first request, and again only when a request lies
  // several nodes further on; no structural change happens, so a batch only
  // bumps the version of the nodes it changes (once per changed slot).
  struct SwapRequest {
    std::string_view key;
    uint64_t expected;
    uint64_t desired;
  };
  size_t CompareAndSwapSorted(const SwapRequest* requests, size_t n, bool* swapped = nullptr);
  size_t CompareAndSwapSorted(const std::vector<SwapRequest>& sorted_requests, std::vector<bool>* swapped = nullptr);

  // Writer. Removes the key; true if it was present (*old_location set if given).
  bool Erase(std::string_view key, uint64_t* old_location = nullptr);

  // Reader. Ordered forward iteration over (key, location) from any key.
  // An Iterator sees each key at the moment it reaches it; it must not outlive
  // the EpochGuard its thread holds.
  class Iterator {
   public:
    bool Valid() const;
    void Next();
    std::string_view key() const;  // read through the KeyReader
    uint64_t location() const;
    // implementation-defined state, held inline (copies are independent;
    // creating one allocates nothing)
   private:
    friend class AlexIndex;
    struct State {
      const Impl* impl = nullptr;
      DataNode* node = nullptr;  // null: past the end
      uint32_t slot = 0;
      uint64_t version = 0;  // node's version when slot/location were read
      uint64_t location = 0;
    };
    State state_;
  };
  // First entry with key >= target.
  Iterator LowerBound(std::string_view target) const;
  Iterator Begin() const;

  size_t size() const;          // live keys
  size_t memory_bytes() const;  // bytes of memory the index holds (not the keys in the log)

  // Helper for tests and debug builds: walks the whole tree and returns a
  // description of the first broken invariant (order, bitmaps, gap copies,
  // chunks, model slopes, sibling links, routing, size), or "" if none.
  // Writer only (not concurrently with writes).
  std::string CheckInvariants() const;

  // Helper for tests and benchmarks: tree shape (model nodes per level, data
  // nodes, key-weighted mean depth, mean keys per data node). Writer only.
  std::string DebugShape() const;

  // Design measurement only (alexfs-bench index --full-key-compares): Find
  // compares full keys at every search step instead of slot chunks, which is
  // what a data node keeping (pointers to) full keys would do. Call before
  // any reader starts.
  void SetFullKeyComparesForBenchmark(bool on);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace index
}  // namespace alexfs
