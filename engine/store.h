/// @file store.h
/// @brief AlexStorage: a durable, ordered key-value store.
///
/// Keys are byte strings of 1..kMaxKeyBytes bytes (any byte values); values are
/// byte strings of 0..kMaxValueBytes bytes. Data lives in append-only log
/// segments of checksummed records (engine/log/); an ALEX learned index
/// (engine/index/) maps each live key to where its newest record lies. Reads are
/// served straight from the memory mapping of the log: Get() hands out
/// a view, not a copy.
///
/// Thread-safety: every method may be called from any number of threads at once.
/// Readers (Get, iterators) never wait for a writer's commit, for fsync, or for
/// compaction: they traverse the index optimistically and pin what they read
/// through epochs. Writers are grouped: concurrent Write() calls are appended to
/// the log together, as one copy into the log's mapping or one pwritev(2)
/// (group commit). Appending and syncing are pipelined:
/// a buffered write never waits for an fdatasync(2), and durable writes and
/// Sync() calls share them -- one runs at a time, and the next one covers every
/// write appended while it ran.
///
/// Batch visibility: if a Get() or Contains() observes any operation of a
/// batch, every Get()/Contains() that starts after it returned, on any thread,
/// observes every operation of that batch (or a later write of the same key).
/// Point reads never see a batch half applied, and never wait for the writer to
/// finish applying it. Iterators are not snapshots (see Iterator): a scan that
/// runs while a batch is applied may see some of its keys and not others.
///
/// On disk (one directory per store): LOCK (flock'd for the store's lifetime,
/// holds the owner's pid), MANIFEST (the set of segments), NNNNNN.log segments.
/// Every file operation goes through StoreOptions::env (engine/env.h).
/// Open() recovers: it replays the log in sequence order, verifying every
/// checksum. The newest log segment may end in a torn tail (writes never
/// acknowledged as durable, possibly with pages lost in a power cut: zeros
/// followed by intact later records). It is truncated at the first bad record
/// and logged with file, offset and bytes. Any other damage, including in
/// segments synced before newer ones were written, makes Open() fail with a
/// Status naming the file and offset. Segment creation, MANIFEST swaps and
/// the removal of unpublished segments are followed by a directory fsync.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "env.h"
#include "stats.h"
#include "status.h"
#include "write_batch.h"

namespace alexfs {

/// The longest key, in bytes.
inline constexpr size_t kMaxKeyBytes = 4096;
/// The longest value, in bytes (1 GiB).
inline constexpr size_t kMaxValueBytes = size_t{1} << 30;

/// How Store::Open() opens a store and how the store runs.
struct StoreOptions {
  /// Create the directory and an empty store if none exists.
  bool create_if_missing = true;
  /// Target size of a log segment. A record larger than this gets a segment of its own.
  /// On a small filesystem the store uses less: at most 1/16 of the space free at
  /// Open (whole MiB, at least 1 MiB), so a data dir of a few MiB works.
  uint64_t segment_bytes = uint64_t{64} << 20;
  /// Bytes of the filesystem kept free for compaction and for batches marked
  /// WriteBatch::UseReserve() (deletes, metadata, data a caller already
  /// admitted): a write that needs a new segment and would leave less fails
  /// with kNoSpace. 0: twice the segment size in use.
  uint64_t reserve_bytes = 0;
  /// If non-zero, buffered writes are made durable at least this often by a
  /// background thread. Zero: only by Sync(), a durable Write(), or Close().
  std::chrono::milliseconds commit_interval{0};
  /// Compact automatically in the background when dead bytes exceed this fraction
  /// of the log and at least min_garbage_bytes. <= 0 turns automatic compaction off.
  double compaction_garbage_ratio = 0.5;
  /// See compaction_garbage_ratio. Capped at twice the segment size in use.
  uint64_t compaction_min_garbage_bytes = uint64_t{64} << 20;
  /// Idle compaction: once no write has come for this long, compact every
  /// sealed segment (and the active one, sealing it) whose dead fraction
  /// reaches idle_compaction_ratio, most dead first, once per quiet period.
  /// So dead space falls under that ratio soon after writes stop. Zero turns
  /// it off; so does compaction_garbage_ratio <= 0.
  std::chrono::milliseconds idle_compaction_after{10000};
  /// See idle_compaction_after.
  double idle_compaction_ratio = 0.25;
  /// Every file operation of the store goes through this Env (env.h);
  /// nullptr: Env::Default(), the POSIX one. Not owned; must outlive the store.
  Env* env = nullptr;
  /// How new values are stored: 0 as they are; 1..19 compressed with zstd at
  /// that level, a value kept compressed only when that saves at least 1/8
  /// of it (incompressible data is detected on a sample and stored as it
  /// is). Either way a store reads every record it holds, whatever setting
  /// wrote it; Get() of a compressed value decompresses it into a buffer the
  /// PinnedValue owns. Parse "none" / "zstd" / "zstd:N" with
  /// alexfs::ParseCompression (engine/compression.h).
  int compression_level = 0;
  /// With compression on: the size of the zstd dictionary each Compact()
  /// trains from the store's values of at most 72 KiB (re-encoding the values
  /// it moves with it), given about 100x this many bytes of them. Before the
  /// first compaction, writers train a first dictionary of at most 64 KiB once
  /// about 100x its size was written. Dictionaries are records under keys the
  /// engine reserves (see Write()). 0: no dictionaries. 512 KiB: on
  /// /usr/include it stores 0.825x of per-file `zstd -3` (256 KiB: 0.851x,
  /// 1 MiB: 0.816x), for ~51 MB of samples held while a compaction trains.
  uint32_t compression_dictionary_bytes = 512 << 10;
};

/// How long Write() waits.
enum class Durability {
  kBuffered,  ///< returns once logged to the page cache and visible to readers
  kDurable,   ///< returns once fdatasync'd; survives a crash of the machine
};

/// A value returned by Get(): a view into the mapped log. The bytes stay valid and
/// unchanged while this object lives, even if the key is overwritten, deleted or
/// compacted meanwhile. Hold it briefly: a pinned value delays the freeing of old
/// segments and index nodes. Move-only.
class PinnedValue {
 public:
  PinnedValue();
  ~PinnedValue();
  /// Takes over the pin of another value, which is left empty.
  PinnedValue(PinnedValue&&) noexcept;
  /// Releases this value's pin and takes over the other's.
  PinnedValue& operator=(PinnedValue&&) noexcept;
  PinnedValue(const PinnedValue&) = delete;
  PinnedValue& operator=(const PinnedValue&) = delete;

  /// The value's bytes; empty after Reset().
  std::string_view value() const { return value_; }
  /// Releases the pin early; value() is empty afterwards.
  void Reset();

 private:
  friend class StoreImpl;
  std::string_view value_;  // into the log's mapping, or the pin's buffer
  struct Pin;
  std::unique_ptr<Pin> pin_;
};

/// Iterates live keys in ascending byte order. A snapshot of nothing: it sees a
/// consistent view of each key at the moment it reaches it, never a torn value,
/// and never blocks writers. Not thread-safe itself; use one per thread.
class Iterator {
 public:
  virtual ~Iterator() = default;
  /// Positions at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  /// True while positioned at a key; false past the last one or on error.
  virtual bool Valid() const = 0;
  /// Moves to the next key. REQUIRES: Valid().
  virtual void Next() = 0;
  /// REQUIRES: Valid(). Views stay valid until the next Seek/Next or destruction.
  virtual std::string_view key() const = 0;
  /// The current key's value. REQUIRES: Valid().
  virtual std::string_view value() const = 0;
  /// OK, or the error that ended the scan: e.g. EIO when a page of the log
  /// it reached is unreadable (a segment truncated under the store, a disk
  /// error); the scan then ends before that entry, and the process lives on.
  virtual Status status() const = 0;
};

/// An open store. Get one from Open(); every method is thread-safe.
class Store {
 public:
  /// Opens (and recovers) the store in `dir`. Fails with kBusy, naming the pid,
  /// if another process holds the directory's LOCK.
  static Status Open(const std::string& dir, const StoreOptions& options,
                     std::unique_ptr<Store>* store);

  /// Closes the store (see Close()); errors are logged.
  virtual ~Store() = default;

  /// OK and *value set, or NotFound.
  virtual Status Get(std::string_view key, PinnedValue* value) const = 0;
  /// True if the key exists; cheaper than Get when the value is not needed.
  virtual bool Contains(std::string_view key) const = 0;

  /// Applies the batch atomically (see "Batch visibility" above). Keys
  /// starting with four 0xff bytes are the engine's own (InvalidArgument);
  /// iterators never show them. A buffered
  /// write returns once logged and visible; a durable one then waits until it
  /// is fdatasync'ed. On error nothing of the batch is visible, and everything
  /// acknowledged before stays; kNoSpace when the disk is full, and the store
  /// accepts writes again once space returns. One exception: if fdatasync fails
  /// (kIOError), the batch is already visible (as are buffered writes appended
  /// meanwhile), it may or may not survive a crash, and the store refuses every
  /// later write and Sync() -- reopen it to see what reached the disk.
  virtual Status Write(const WriteBatch& batch, Durability durability) = 0;
  /// Write() of a batch holding this one put.
  Status Put(std::string_view key, std::string_view value, Durability d = Durability::kBuffered);
  /// Write() of a batch holding this one delete.
  Status Delete(std::string_view key, Durability d = Durability::kBuffered);

  /// A new iterator over the live keys, not yet positioned: Seek() first.
  virtual std::unique_ptr<Iterator> NewIterator() const = 0;

  /// Makes every write acknowledged so far durable. Free (no system call) when
  /// nothing was written since the last fdatasync.
  virtual Status Sync() = 0;

  /// Reclaims the space of overwritten and deleted records now, online: readers
  /// and writers go on meanwhile. A crash at any point leaves the old or the new
  /// segment set, never a mix.
  virtual Status Compact() = 0;

  /// A copy of the store's current figures.
  virtual StoreStats GetStats() const = 0;

  /// Bytes that writes not using the reserve can still add before kNoSpace:
  /// the filesystem's free space, plus the unused preallocated part of the
  /// active segment, minus the reserve (StoreOptions::reserve_bytes) and room
  /// for a MANIFEST rewrite; 0 below it; UINT64_MAX if the Env cannot tell.
  /// One statvfs(2) per call. A batch never spans segments, so one larger
  /// than the active segment's rest needs that much in a new one.
  /// Below one segment's worth it also starts a compaction that frees space,
  /// if garbage has grown since the last one (automatic compaction on).
  virtual uint64_t WritableBytes() = 0;

  /// Syncs, stops background work and releases the LOCK. Later calls fail.
  virtual Status Close() = 0;
};

}  // namespace alexfs
