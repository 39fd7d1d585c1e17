// StoreImpl: the Store of engine/store.h = log segments + learned index +
// committer (group commit) + compactor.
//
// Write path (Write, Sync): appending and syncing are pipelined.
//  * Appending: a writer queues itself on writers_; the writer at the front is
//    the commit leader. It takes the queued batches that follow it (the
//    group), encodes them as records, appends them to the active segment
//    (one memcpy into the mapping of the zero-filled region ahead; pwritev
//    for large groups), applies the group to the index in sequence order (under
//    index_mu_, shared with the compactor's CompareAndSwap; readers never take
//    it), publishes appended_seq_ and hands the leadership on. It never
//    fdatasyncs for a writer: buffered writes never wait for a sync.
//  * Syncing: a durable writer (or Sync()) then waits until synced_seq_ covers
//    its sequence (SyncThrough). One fdatasync runs at a time; a waiter that
//    arrives while one runs waits for it and, if still not covered, the first
//    of them runs the next one, which covers everything appended meanwhile.
//  * Rolling: the leader seals the active segment by syncing it (through the
//    same SyncThrough) before the next segment takes appends, so only the
//    newest log segment holding data can have a torn tail.
// A group holding a multi-op batch is first published as an overlay (key ->
// new location or tombstone) that Get/Contains consult before the index, so a
// reader sees a batch all or nothing while the leader applies it key by key.
//
// Read path (Get, Contains, iterators): an epoch guard, an index lookup, a
// lock-free load of the segment table, a view into the segment's mapping. The
// returned value pins its segment (shared_ptr), never the epoch.
//
// Lock order: compaction_mu_ -> index_mu_ -> table_mu_ -> mu_ (mu_ is never
// held while taking another).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/dictionary.h"
#include "engine/epoch.h"
#include "engine/file_lock.h"
#include "engine/index/alex_index.h"
#include "engine/log/record.h"
#include "engine/log/segment.h"
#include "engine/manifest.h"
#include "engine/segment_table.h"
#include "engine/stats_counters.h"
#include "engine/sync_point.h"
#include "engine/store.h"

namespace alexfs {

struct PinnedValue::Pin {
  std::shared_ptr<const log::Segment> segment;
  std::string buffer;  // the decoded value of a kPutEncoded entry
};

class StoreImpl final : public Store, private index::KeyReader {
 public:
  StoreImpl(std::string dir, const StoreOptions& options);
  ~StoreImpl() override;

  // Locks the directory and recovers. Called once, before any other method.
  Status Open();

  Status Get(std::string_view key, PinnedValue* value) const override;
  bool Contains(std::string_view key) const override;
  Status Write(const WriteBatch& batch, Durability durability) override;
  std::unique_ptr<Iterator> NewIterator() const override;
  Status Sync() override;
  Status Compact() override;
  StoreStats GetStats() const override;
  uint64_t WritableBytes() override;
  Status Close() override;

  // index::KeyReader. REQUIRES: the caller holds an epoch guard.
  std::string_view KeyAt(uint64_t location) const override;

 private:
  friend class StoreIterator;

  // A queued Write() (or a roll). Lives on its caller's stack.
  struct Writer {
    const WriteBatch* batch = nullptr;  // nullptr: nothing to log (roll)
    const std::vector<std::string>* encoded = nullptr;  // per op, see RecordEncoder::AddBatch
    bool sync = false;                  // wait for fdatasync before returning
    bool roll = false;                  // seal the active segment (Compact)
    bool done = false;                  // protected by mu_
    uint64_t sequence = 0;              // of the batch's record, set by the leader
    Status status;                      // protected by mu_
    std::condition_variable cv;
  };

  // Keys of a group being applied to the index, published for readers so a
  // multi-op batch is seen all or nothing. Immutable once published; retired
  // through the epochs. Entries are sorted by hash; a key's newest op wins.
  struct Overlay {
    struct Item {
      uint64_t hash;
      uint64_t location;  // of the entry (put or delete) in the log
      bool tombstone;
    };
    std::vector<Item> items;
  };

  // Live counters behind GetStats(); relaxed atomics, sharded where readers
  // bump them.
  struct Counters {
    ShardedCounter gets;  // bumped by every reader thread
    std::atomic<uint64_t> puts{0}, deletes{0}, batches{0}, commits{0}, syncs{0};
    std::atomic<uint64_t> bytes_logged{0}, compactions{0}, compaction_bytes_reclaimed{0};
    std::atomic<uint64_t> idle_compactions{0};
    std::atomic<uint64_t> write_errors{0}, recovered_torn_bytes{0};
    std::atomic<uint64_t> log_bytes{0};   // sum of segments' data_bytes
    std::atomic<uint64_t> live_bytes{0};  // sum of segments' live_bytes
    std::atomic<int64_t> logical_extra{0};  // logical_bytes - live_bytes (NoteEncoding)
    LatencyHistogram get_latency, write_latency, sync_latency, compaction_latency;
  };

  // --- recovery (recovery.cc) ---
  Status Recover();

  // --- values and dictionaries (store_values.cc) ---
  // Write() minus the reserved-key check; `encode`: compress the values
  // (options_.compression_level), false for the engine's own records.
  Status WriteImpl(const WriteBatch& batch, Durability durability, bool encode);
  // The encoded form of each put of `batch` worth compressing (empty: raw),
  // in *encoded (left empty if nothing is). *dict: the dictionary used, if any,
  // its encoders count raised (the caller lowers it once committed).
  void EncodeBatch(const WriteBatch& batch, std::vector<std::string>* encoded,
                   std::shared_ptr<const Dictionary>* dict);
  // While no dictionary exists: keeps samples of small values and asks the
  // background thread to train once there are enough.
  void SampleForDictionary(const WriteBatch& batch);
  // Trains on samples_ and installs the result (background thread).
  void TrainFromSamples();
  // Trains a dictionary of at most `max_bytes` on `samples`, stores it under
  // its key, and makes it the one new values use. *out: the dictionary.
  Status InstallDictionary(const std::vector<std::string_view>& samples, size_t max_bytes,
                           std::shared_ptr<const Dictionary>* out);
  // Compaction: trains a dictionary on the put entries entry_at(0..n) (values
  // of up to kDictionaryValueBytes, spread over the range) and installs it;
  // *out stays null when there are too few to train on.
  Status TrainForCompaction(size_t n, const std::function<log::Entry(size_t)>& entry_at,
                            std::shared_ptr<const Dictionary>* out);
  // Compaction: the put entry `in` re-encoded with `dict` (values small
  // enough), into *out; its bytes may live in *logical or *encoded. Other
  // entries come out unchanged.
  Status RecodeEntry(const log::Entry& in, const Dictionary& dict, std::string* logical,
                     std::string* encoded, log::Entry* out) const;
  // Loads every stored dictionary; the newest becomes current (Open).
  Status LoadDictionaries();
  // Deletes the key of each dictionary no live record uses and no writer is
  // encoding with, except the current one (end of compaction).
  Status DropUnusedDictionaries();
  // The value of the put entry `e`: e.value itself, or decoded into *buf
  // (then *value views *buf). Corruption if an encoded value does not decode.
  Status EntryValue(const log::Entry& e, std::string* buf, std::string_view* value) const;
  // Bookkeeping of an entry becoming live (sign +1) or dead (-1): logical
  // bytes and dictionary references. REQUIRES: index_mu_ held (or Open).
  void NoteEncoding(const log::Entry& e, int sign);

  // --- commit (store_impl.cc) ---
  // Enqueues w and waits until its batch is appended and applied (not
  // synced); runs the group if it leads.
  Status Enqueue(Writer* w);
  // REQUIRES: the caller is the commit leader. Appends group_ and applies it.
  Status CommitGroup(bool roll);
  // Returns once every record with sequence <= target is fdatasync'ed (target
  // kSyncAllAppended: everything appended so far), running the fdatasync
  // itself unless one is in flight. A failed fdatasync sets sync_error_.
  // REQUIRES: mu_ not held; target <= the last sequence appended.
  static constexpr uint64_t kSyncAllAppended = UINT64_MAX;
  Status SyncThrough(uint64_t target);
  // Looks `key` up in the published overlay, if any: 1 found (*loc set), 0
  // deleted, -1 not in the overlay. REQUIRES: epoch guard.
  int FindInOverlay(std::string_view key, uint64_t* loc) const;
  // Index lookup behind Get/Contains: overlay first. REQUIRES: epoch guard.
  bool FindLocation(std::string_view key, uint64_t* loc) const;
  // The EIO for a read of the log that met SIGBUS (engine/mapped_read.h):
  // "<what>: a mapped page is unreadable (...)[; <then>]". Not logged.
  static Status MappedPageError(std::string_view what, std::string_view then = {});
  // That error for reading `key` (a Get, an iterator), logged.
  Status MappedReadError(std::string_view key) const;
  // Free space a new segment (log or sorted) leaves for the MANIFEST that
  // names it: a rewrite to a temporary file, then a rename.
  static constexpr uint64_t kManifestRoomBytes = uint64_t{64} << 10;
  // Starts a new active log segment able to hold `needed` bytes: of
  // segment_bytes_, or less when free space is short. kNoSpace if fewer than
  // `needed` bytes would stay above the reserve (above nothing if
  // use_reserve), and then asks for a compaction that frees space.
  // REQUIRES: the caller is the commit leader (or Open).
  Status RollSegment(uint64_t needed, bool use_reserve);
  // Sets active_spare_ from active_ and active_end_. REQUIRES: the leader.
  void NoteActiveSpare();
  // Free bytes of the store's filesystem; false if the Env cannot tell.
  bool FreeBytes(uint64_t* bytes) const;
  // WritableBytes() without its side effect.
  uint64_t WritableNow() const;
  // Asks the background thread for a compaction that frees space (kSpace), if
  // there is more garbage than when it was last asked: no loop on a disk full
  // of live data.
  void AskCompactionForSpace();
  // Publishes `t` as the segment table, retiring the old one, and drops the
  // segments whose deferred removal has become due.
  // REQUIRES: table_mu_ held.
  void PublishTable(std::unique_ptr<SegmentTable> t);
  // Removes segments from the table once no reader can still hold a location
  // inside them: a reader may have read a location from the index just before
  // compaction swapped it, and resolves it through the table afterwards. The
  // removal happens at the first PublishTable after an epoch has passed.
  // REQUIRES: table_mu_ held.
  void RemoveSegmentsLater(std::vector<uint32_t> ids);
  // Publishes the current table minus the segments that are due, if any;
  // true if it published. REQUIRES: table_mu_ held.
  bool PruneTable();
  // Retries epoch reclamation and PruneTable until every pending segment
  // removal is done and the tables retired so far (which hold segments) are
  // freed, for at most `grace`. True if all is done; otherwise asks the
  // background thread to go on retrying. REQUIRES: no lock held.
  bool ReclaimPending(std::chrono::milliseconds grace);
  // The segment holding `location`, with the entry there. REQUIRES: epoch guard.
  const std::shared_ptr<log::Segment>& SegmentOf(uint64_t location) const;
  // Bookkeeping when the index starts / stops pointing at `location`.
  // REQUIRES: epoch guard.
  void MarkLive(uint64_t location);
  void MarkDead(uint64_t location);
  void MaybeScheduleCompaction();

  // --- compaction (compaction.cc) ---
  // Which segments a compaction takes (see compaction.cc).
  enum class CompactMode { kManual, kBackground, kIdle, kSpace };
  // Compacts in rounds, each taking as many inputs as free space allows.
  Status CompactImpl(CompactMode mode);
  // One round; *more: inputs were left out for lack of space, run again.
  Status CompactRound(CompactMode mode, bool* more);
  // The idle check of the background thread: compacts if no write came for
  // options_.idle_compaction_after and nothing was checked since.
  void MaybeCompactIdle();
  void BackgroundThread();

  // Constant after Open().
  uint64_t segment_bytes_ = 0;      // options_.segment_bytes, smaller on a small filesystem
  uint64_t reserve_bytes_ = 0;      // see StoreOptions::reserve_bytes
  uint64_t min_garbage_bytes_ = 0;  // see StoreOptions::compaction_min_garbage_bytes
  const std::string dir_;
  const StoreOptions options_;
  Env* const env_;  // options_.env or Env::Default()
  FileLock lock_;
  std::unique_ptr<EpochManager> epochs_;
  std::unique_ptr<index::AlexIndex> index_;
  std::unique_ptr<Counters> counters_;

  // The published segment table; readers load it (acquire) inside a guard.
  std::atomic<const SegmentTable*> table_{nullptr};

  // Serialises changes to the table and the MANIFEST.
  std::mutex table_mu_;
  Manifest manifest_;             // protected by table_mu_
  struct PendingRemoval {
    std::vector<uint32_t> ids;
    std::shared_ptr<std::atomic<bool>> due;  // set by an epoch callback
  };
  std::vector<PendingRemoval> pending_removals_;  // protected by table_mu_
  std::atomic<uint32_t> active_id_{0};  // id of the active log segment (written under table_mu_)

  // The index writer lock: the commit leader applying a group, the compactor
  // swapping locations. Readers never take it.
  std::mutex index_mu_;

  // One compaction at a time.
  std::mutex compaction_mu_;

  // Committer state.
  std::mutex mu_;
  std::condition_variable bg_cv_;  // wakes the background thread; with mu_
  std::deque<Writer*> writers_;    // protected by mu_
  Status sync_error_;              // protected by mu_; a failed fdatasync fails all later writes
  bool closing_ = false;           // protected by mu_
  bool closed_ = false;            // protected by mu_
  bool compaction_wanted_ = false;  // protected by mu_
  bool space_compaction_wanted_ = false;  // protected by mu_; a write lacked space
  bool reclaim_wanted_ = false;     // protected by mu_; old segments await their last reader
  // Dead bytes at which the background compactor is asked again.
  std::atomic<uint64_t> next_compaction_dead_{0};
  // Dead bytes when a write last lacked space; the next shortage asks for a
  // compaction only if there is more garbage by then.
  std::atomic<uint64_t> space_compaction_dead_{0};
  // When the last batch was appended (NowNanos), for idle compaction.
  std::atomic<uint64_t> last_write_nanos_{0};
  uint64_t idle_checked_seq_ = 0;  // background thread: appended_seq_ at the last idle check
  std::thread bg_thread_;

  // Sync pipeline state, protected by mu_.
  uint64_t appended_seq_ = 0;   // last sequence appended and applied (0: none since Open)
  uint64_t appended_end_ = 0;   // offset in sync_seg_ just past the record of appended_seq_
  uint64_t synced_seq_ = 0;     // every record with sequence <= this is durable
  bool syncing_ = false;        // an fdatasync of sync_seg_ is running
  std::shared_ptr<log::Segment> sync_seg_;  // the segment holding appended_seq_
  std::condition_variable sync_cv_;         // syncing_ went false; with mu_

  // dir_/SYNCPOINT: recorded at Open, Close and (at most once a second)
  // after an fdatasync of the log (engine/sync_point.h).
  SyncPointWriter sync_point_;

  // When the last fdatasync of the log ended (NowNanos); see CommitGroup.
  std::atomic<uint64_t> last_sync_nanos_{0};

  // The group being applied, for readers (see Overlay); usually null.
  std::atomic<const Overlay*> overlay_{nullptr};

  // Dictionaries (engine/dictionary.h), and how many live records use each
  // (protected by index_mu_).
  DictionarySet dicts_;
  std::unordered_map<uint32_t, int64_t> dict_refs_;
  // Samples of small values for the first dictionary; protected by sample_mu_.
  std::mutex sample_mu_;
  std::vector<std::string> samples_;
  size_t sample_bytes_ = 0;
  std::atomic<bool> sampling_{false};  // no dictionary yet, samples wanted
  bool train_wanted_ = false;          // protected by mu_

  // Owned by the commit leader (whoever is at the front of writers_).
  std::shared_ptr<log::Segment> active_;
  uint64_t active_end_ = 0;      // append offset in active_
  // Preallocated bytes of active_ past active_end_ (0 if it is not
  // preallocated): writable, though statvfs counts them as used. Written by
  // the leader (NoteActiveSpare), read by WritableNow.
  std::atomic<uint64_t> active_spare_{0};
  uint64_t next_sequence_ = 1;
  log::RecordEncoder encoder_;
  std::vector<Writer*> group_;            // the group being committed
  bool group_uses_reserve_ = false;       // every batch of group_ may use the reserve
  std::vector<uint64_t> entry_offsets_;   // per op of the group
  std::vector<Overlay::Item> overlay_items_;  // scratch for building an overlay
};

}  // namespace alexfs
