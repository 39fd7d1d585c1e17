#include "engine/store_impl.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/mapped_read.h"

namespace alexfs {
namespace {

// A group grows by at most this much beyond its leader's batch.
constexpr uint64_t kMaxGroupExtraBytes = uint64_t{1} << 20;

uint64_t NowNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Status ValidateBatch(const WriteBatch& batch) {
  for (const auto& op : batch.ops()) {
    if (op.key.empty() || op.key.size() > kMaxKeyBytes) {
      return Status::InvalidArgument("key length " + std::to_string(op.key.size()) +
                                     " outside 1.." + std::to_string(kMaxKeyBytes));
    }
    if (op.value.size() > kMaxValueBytes) {
      return Status::InvalidArgument("value of " + std::to_string(op.value.size()) +
                                     " bytes exceeds the limit");
    }
  }
  if (log::RecordEncoder::EncodedSize(batch) > log::kMaxRecordSize) {
    return Status::InvalidArgument("batch too large for one record");
  }
  return Status::OK();
}

}  // namespace

StoreImpl::StoreImpl(std::string dir, const StoreOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      epochs_(std::make_unique<EpochManager>()),
      counters_(std::make_unique<Counters>()) {
  index_ = std::make_unique<index::AlexIndex>(static_cast<const index::KeyReader*>(this),
                                              epochs_.get());
}

StoreImpl::~StoreImpl() {
  bool need_close;
  {
    std::lock_guard<std::mutex> l(mu_);
    need_close = !closed_ && !closing_;
  }
  if (need_close && lock_.held()) {
    Status s = Close();
    if (!s.ok()) spdlog::error("alexfs: closing store {}: {}", dir_, s.ToString());
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  epochs_->ReclaimNow();
  index_.reset();
  delete overlay_.exchange(nullptr);  // left published by a write that failed to index
  delete table_.exchange(nullptr);
  active_.reset();
  epochs_.reset();
}

std::string_view StoreImpl::KeyAt(uint64_t location) const {
  const auto& seg = SegmentOf(location);
  return log::EntryAtUnchecked(seg->base() + log::LocationOffset(location)).key;
}

const std::shared_ptr<log::Segment>& StoreImpl::SegmentOf(uint64_t location) const {
  return table_.load(std::memory_order_acquire)->Find(log::LocationSegment(location));
}

void StoreImpl::MarkLive(uint64_t location) {
  const auto& seg = SegmentOf(location);
  const log::Entry e = log::EntryAtUnchecked(seg->base() + log::LocationOffset(location));
  const uint64_t n = e.size();
  NoteEncoding(e, +1);
  seg->live_bytes.fetch_add(n, std::memory_order_relaxed);
  counters_->live_bytes.fetch_add(n, std::memory_order_relaxed);
}

void StoreImpl::MarkDead(uint64_t location) {
  const auto& seg = SegmentOf(location);
  if (!seg) return;
  const log::Entry e = log::EntryAtUnchecked(seg->base() + log::LocationOffset(location));
  const uint64_t n = e.size();
  NoteEncoding(e, -1);
  seg->live_bytes.fetch_sub(n, std::memory_order_relaxed);
  counters_->live_bytes.fetch_sub(n, std::memory_order_relaxed);
}

void StoreImpl::PublishTable(std::unique_ptr<SegmentTable> t) {
  std::vector<uint32_t> due;
  for (auto it = pending_removals_.begin(); it != pending_removals_.end();) {
    if (it->due->load(std::memory_order_acquire)) {
      due.insert(due.end(), it->ids.begin(), it->ids.end());
      it = pending_removals_.erase(it);
    } else {
      ++it;
    }
  }
  if (!due.empty()) t = t->Without(due);
  const SegmentTable* old = table_.exchange(t.release(), std::memory_order_acq_rel);
  // The callback must not take locks: Retire may run due callbacks inline.
  if (old != nullptr) epochs_->Retire([old] { delete old; });
}

void StoreImpl::RemoveSegmentsLater(std::vector<uint32_t> ids) {
  auto due = std::make_shared<std::atomic<bool>>(false);
  epochs_->Retire([due] { due->store(true, std::memory_order_release); });
  pending_removals_.push_back(PendingRemoval{std::move(ids), std::move(due)});
}

bool StoreImpl::PruneTable() {
  bool any = false;
  for (const auto& p : pending_removals_) any |= p.due->load(std::memory_order_acquire);
  if (any) PublishTable(std::make_unique<SegmentTable>(*table_.load(std::memory_order_relaxed)));
  return any;
}

bool StoreImpl::ReclaimPending(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  // Due once every free function retired before it is: the tables retired so
  // far are then freed by the same ReclaimNow.
  auto retire_marker = [this] {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    epochs_->Retire([flag] { flag->store(true, std::memory_order_release); });
    return flag;
  };
  std::shared_ptr<std::atomic<bool>> marker;
  {
    std::lock_guard<std::mutex> tl(table_mu_);
    marker = retire_marker();
  }
  for (int round = 0;; ++round) {
    epochs_->ReclaimNow();
    bool done;
    {
      std::lock_guard<std::mutex> tl(table_mu_);
      if (PruneTable()) marker = retire_marker();
      done = pending_removals_.empty() && marker->load(std::memory_order_acquire);
    }
    if (done) return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (round < 20) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!reclaim_wanted_) {
    reclaim_wanted_ = true;
    bg_cv_.notify_all();
  }
  return false;
}

// ---------------------------------------------------------------- reads

Status StoreImpl::Get(std::string_view key, PinnedValue* value) const {
  // Time one get in kGetSampleEvery per thread: two clock reads cost about as
  // much as the lookup itself.
  constexpr uint32_t kGetSampleEvery = 64;
  thread_local uint32_t tick = 0;
  const bool sample = ++tick % kGetSampleEvery == 0;
  const uint64_t t0 = sample ? NowNanos() : 0;
  counters_->gets.Add(1);
  Status s;
  log::Entry entry{log::RecordType::kPut, {}, {}};
  {
    EpochManager::Guard guard = epochs_->Enter();
    uint64_t loc = 0;
    bool found = false;
    // The lookup compares keys in the mapped log and reads the entry header,
    // then touches every page of the value it hands out: a page gone under
    // the mapping fails this one Get (engine/mapped_read.h).
    const bool readable = GuardMappedRead([&] {
      found = !key.empty() && key.size() <= kMaxKeyBytes && FindLocation(key, &loc);
      if (found) {
        entry = log::EntryAtUnchecked(SegmentOf(loc)->base() + log::LocationOffset(loc));
        TouchMappedPages(entry.value);
      }
    });
    if (!readable || !found) {
      value->value_ = std::string_view();
      if (value->pin_) value->pin_->segment.reset();
      s = readable ? Status::NotFound(std::string()) : MappedReadError(key);
    } else {
      const auto& seg = SegmentOf(loc);
      value->value_ = entry.value;
      if (!value->pin_) value->pin_ = std::make_unique<PinnedValue::Pin>();
      // A reused PinnedValue often pins this segment already: skip the two
      // reference-count RMWs on the segment's shared control block.
      if (value->pin_->segment != seg) value->pin_->segment = seg;
    }
  }
  // An encoded value is copied out of the log under a guard of its own (the
  // buffer sized first: nothing allocates inside a guard), then decoded from
  // the copy. A value that does not decode is never served.
  if (s.ok() && entry.type == log::RecordType::kPutEncoded) {
    thread_local std::string encoded;
    encoded.resize(entry.value.size());
    const char* from = entry.value.data();
    if (GuardMappedRead([&] { std::memcpy(encoded.data(), from, encoded.size()); })) {
      entry.value = encoded;
      s = EntryValue(entry, &value->pin_->buffer, &value->value_);
    } else {
      s = MappedReadError(key);
    }
    if (!s.ok()) {
      value->value_ = std::string_view();
      value->pin_->segment.reset();
    }
  }
  if (sample) counters_->get_latency.Record(NowNanos() - t0);
  return s;
}

bool StoreImpl::Contains(std::string_view key) const {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  EpochManager::Guard guard = epochs_->Enter();
  uint64_t loc;
  bool found = false;
  if (!GuardMappedRead([&] { found = FindLocation(key, &loc); })) (void)MappedReadError(key);
  return found;
}

Status StoreImpl::MappedPageError(std::string_view what, std::string_view then) {
  std::string message(what);
  message += ": a mapped page is unreadable (SIGBUS: a segment file truncated or a disk error)";
  if (!then.empty()) message.append("; ").append(then);
  return Status::FromErrno(EIO, message);
}

Status StoreImpl::MappedReadError(std::string_view key) const {
  Status s = MappedPageError("reading key '" + std::string(key.substr(0, 200)) + "' from the log of " + dir_);
  spdlog::error("alexfs: {}", s.ToString());
  return s;
}

int StoreImpl::FindInOverlay(std::string_view key, uint64_t* loc) const {
  const Overlay* ov = overlay_.load(std::memory_order_acquire);
  if (ov == nullptr) return -1;
  const uint64_t h = std::hash<std::string_view>{}(key);
  auto it = std::lower_bound(ov->items.begin(), ov->items.end(), h,
                             [](const Overlay::Item& i, uint64_t v) { return i.hash < v; });
  for (; it != ov->items.end() && it->hash == h; ++it) {
    if (KeyAt(it->location) != key) continue;
    if (it->tombstone) return 0;
    *loc = it->location;
    return 1;
  }
  return -1;
}

bool StoreImpl::FindLocation(std::string_view key, uint64_t* loc) const {
  // The overlay is checked first: while it is published the index may hold
  // some of its keys' new locations and not yet the others.
  const int o = FindInOverlay(key, loc);
  if (o >= 0) return o == 1;
  return index_->Find(key, loc);
}

// ---------------------------------------------------------------- writes

Status StoreImpl::WriteImpl(const WriteBatch& batch, Durability durability, bool encode) {
  if (batch.empty()) {
    return durability == Durability::kDurable ? Sync() : Status::OK();
  }
  Status s = ValidateBatch(batch);
  if (!s.ok()) return s;
  const uint64_t t0 = NowNanos();
  Writer w;
  w.batch = &batch;
  w.sync = durability == Durability::kDurable;
  std::vector<std::string> encoded;
  std::shared_ptr<const Dictionary> dict;
  if (encode && options_.compression_level > 0) {
    if (sampling_.load(std::memory_order_relaxed)) SampleForDictionary(batch);
    EncodeBatch(batch, &encoded, &dict);
    if (!encoded.empty()) w.encoded = &encoded;
  }
  s = Enqueue(&w);
  if (dict != nullptr) dict->EndEncoding();
  if (s.ok() && w.sync) s = SyncThrough(w.sequence);
  counters_->write_latency.Record(NowNanos() - t0);
  if (!s.ok()) counters_->write_errors.fetch_add(1, std::memory_order_relaxed);
  return s;
}

Status StoreImpl::Sync() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::InvalidArgument("store " + dir_ + " is closed");
  }
  return SyncThrough(kSyncAllAppended);
}

Status StoreImpl::SyncThrough(uint64_t target) {
  std::unique_lock<std::mutex> l(mu_);
  if (target == kSyncAllAppended) target = appended_seq_;
  // Wait for the fdatasync in flight: it may cover us.
  while (synced_seq_ < target && syncing_ && sync_error_.ok()) sync_cv_.wait(l);
  if (synced_seq_ >= target) return Status::OK();
  if (!sync_error_.ok()) return sync_error_;
  // Run the next one; it covers everything appended so far.
  syncing_ = true;
  const uint64_t upto = appended_seq_;
  const uint64_t upto_end = appended_end_;
  std::shared_ptr<log::Segment> seg = sync_seg_;
  l.unlock();
  const uint64_t t0 = NowNanos();
  Status s = seg->Sync();
  const uint64_t t1 = NowNanos();
  last_sync_nanos_.store(t1, std::memory_order_relaxed);
  counters_->sync_latency.Record(t1 - t0);
  counters_->syncs.fetch_add(1, std::memory_order_relaxed);
  l.lock();
  syncing_ = false;
  if (s.ok()) {
    synced_seq_ = std::max(synced_seq_, upto);
  } else if (sync_error_.ok()) {
    sync_error_ = s;
    spdlog::error("alexfs: {}; the store refuses further writes", s.ToString());
  }
  l.unlock();
  sync_cv_.notify_all();
  if (s.ok()) sync_point_.Record(SyncPoint{seg->id(), upto_end}, /*now=*/false);
  return s.ok() ? s : sync_error_;
}

Status StoreImpl::Enqueue(Writer* w) {
  std::unique_lock<std::mutex> l(mu_);
  if (closed_ || (closing_ && w->batch != nullptr)) {
    return Status::InvalidArgument("store " + dir_ + " is closed");
  }
  writers_.push_back(w);
  while (!w->done && w != writers_.front()) w->cv.wait(l);
  if (w->done) return w->status;

  // This writer leads: take the writers queued behind it into the group.
  group_.clear();
  group_.push_back(w);
  bool roll = w->roll;
  uint64_t bytes = w->batch != nullptr ? log::RecordEncoder::EncodedSize(*w->batch) : 0;
  const uint64_t limit = bytes + kMaxGroupExtraBytes;
  // A group's batches either all may use the reserve or none does (a roll
  // joins either), so a write refused for space fails no reserve batch.
  std::optional<bool> reserve;
  if (w->batch != nullptr) reserve = w->batch->uses_reserve();
  for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
    Writer* o = *it;
    uint64_t n = o->batch != nullptr ? log::RecordEncoder::EncodedSize(*o->batch) : 0;
    if (bytes + n > limit) break;
    if (o->batch != nullptr) {
      if (reserve.has_value() && *reserve != o->batch->uses_reserve()) break;
      reserve = o->batch->uses_reserve();
    }
    group_.push_back(o);
    roll |= o->roll;
    bytes += n;
  }
  group_uses_reserve_ = reserve.value_or(true);
  Status s = sync_error_;
  l.unlock();

  if (s.ok()) s = CommitGroup(roll);
  if (s.ok() && bytes > 0) last_write_nanos_.store(NowNanos(), std::memory_order_relaxed);

  l.lock();
  if (s.ok() && bytes > 0) {
    appended_seq_ = next_sequence_ - 1;
    appended_end_ = active_end_;
    if (sync_seg_ != active_) sync_seg_ = active_;
  }
  for (Writer* g : group_) {
    writers_.pop_front();  // the group is the front of the queue, in order
    g->status = s;
    g->done = true;
    if (g != w) g->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  l.unlock();
  if (s.ok() && bytes > 0) MaybeScheduleCompaction();
  return s;
}

Status StoreImpl::CommitGroup(bool roll) {
  encoder_.Clear();
  entry_offsets_.clear();
  const uint64_t first_seq = next_sequence_;
  bool multi_op = false;
  for (Writer* w : group_) {
    if (w->batch == nullptr) continue;
    w->sequence = next_sequence_;
    multi_op |= w->batch->count() > 1;
    encoder_.AddBatch(*w->batch, next_sequence_++, &entry_offsets_, w->encoded);
  }
  Status s;
  if (roll && active_ != nullptr && active_end_ > 0) {
    s = RollSegment(0, /*use_reserve=*/true);
    if (!s.ok()) {
      next_sequence_ = first_seq;
      return s;
    }
  }
  uint64_t base = active_end_;
  const uint64_t size = encoder_.size();
  if (size == 0) return s;
  if (active_ == nullptr || active_end_ + size > active_->capacity()) {
    s = RollSegment(size, group_uses_reserve_);
    if (!s.ok()) {
      next_sequence_ = first_seq;
      // A full disk is an answer, not a fault: the caller gets kNoSpace.
      if (s.IsNoSpace()) {
        spdlog::debug("alexfs: cannot start a new log segment in {}: {}", dir_, s.ToString());
      } else {
        spdlog::error("alexfs: cannot start a new log segment in {}: {}", dir_, s.ToString());
      }
      return s;
    }
  }
  base = active_end_;
  if (size <= (uint64_t{1} << 20)) {
    // Small appends: zero the space ahead so fdatasync need not touch
    // metadata (a large append converts its extents by itself).
    active_->NoteWritten(base);
    s = active_->PrefillZeros(base + size);
    if (!s.ok()) {
      next_sequence_ = first_seq;
      return s;
    }
  }
  // Copy into the mapping (no system call) unless the log is being synced
  // often: fdatasync must then write-protect the pages stored into through the
  // mapping, and the next store faults them writable again, which measured ~1 ms
  // more per write + fdatasync than pwrite (kernel 6.18, ext4). With no
  // fdatasync in the last 50 ms, the buffered-write path wins.
  constexpr uint64_t kMapAfterSyncNanos = 50'000'000;
  const bool may_map =
      NowNanos() > last_sync_nanos_.load(std::memory_order_relaxed) + kMapAfterSyncNanos;
  s = active_->Append(encoder_, base, may_map);
  if (!s.ok()) {
    next_sequence_ = first_seq;
    spdlog::error("alexfs: log write failed: {}", s.ToString());
    return s;
  }
  active_end_ += size;
  NoteActiveSpare();
  active_->NoteWritten(active_end_);
  active_->data_bytes.fetch_add(size, std::memory_order_relaxed);
  active_->NoteSequence(first_seq);
  counters_->log_bytes.fetch_add(size, std::memory_order_relaxed);
  counters_->bytes_logged.fetch_add(size, std::memory_order_relaxed);
  counters_->commits.fetch_add(1, std::memory_order_relaxed);

  // The records are in the log (and mapped): now the index may point at them.
  std::lock_guard<std::mutex> il(index_mu_);
  EpochManager::Guard guard = epochs_->Enter();
  const uint32_t seg_id = active_->id();
  const Overlay* overlay = nullptr;
  if (multi_op) {
    // Readers see the whole group through the overlay while the index takes
    // it key by key. Items newest first, then stably sorted by hash: the
    // first match of a key is its newest op.
    overlay_items_.clear();
    size_t k = entry_offsets_.size();
    for (auto g = group_.rbegin(); g != group_.rend(); ++g) {
      if ((*g)->batch == nullptr) continue;
      const auto& ops = (*g)->batch->ops();
      for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
        overlay_items_.push_back({std::hash<std::string_view>{}(op->key),
                                  log::PackLocation(seg_id, base + entry_offsets_[--k]),
                                  op->type == WriteBatch::OpType::kDelete});
      }
    }
    std::stable_sort(overlay_items_.begin(), overlay_items_.end(),
                     [](const Overlay::Item& a, const Overlay::Item& b) { return a.hash < b.hash; });
    auto* o = new Overlay;
    o->items = overlay_items_;
    overlay = o;
    overlay_.store(overlay, std::memory_order_release);
  }
  size_t k = 0;
  uint64_t puts = 0, deletes = 0, batches = 0;
  // The index compares the keys with keys in the log (and reads them all when
  // a node grows or splits): under a guard, so a page gone under the mapping
  // fails this write instead of the process (engine/mapped_read.h). The reads
  // come before each change to the index's nodes, so the index stays whole.
  const bool indexed = GuardMappedRead([&] {
    for (Writer* w : group_) {
      if (w->batch == nullptr) continue;
      ++batches;
      for (const auto& op : w->batch->ops()) {
        const uint64_t loc = log::PackLocation(seg_id, base + entry_offsets_[k++]);
        uint64_t old = 0;
        if (op.type == WriteBatch::OpType::kPut) {
          ++puts;
          if (index_->Upsert(op.key, loc, &old)) old = UINT64_MAX;  // the key was new
          MarkLive(loc);
          if (old != UINT64_MAX) MarkDead(old);
        } else {
          ++deletes;
          if (index_->Erase(op.key, &old)) MarkDead(old);
        }
      }
    }
  });
  if (!indexed) {
    // Part of the group may be in the index. The overlay (if any) stays
    // published, so readers keep seeing the group whole; the store refuses
    // further writes, as after a failed fdatasync: reopening rebuilds the
    // index from the log (or names the damaged segment).
    Status f = MappedPageError("indexing a write in " + dir_,
                               "the store refuses further writes until it is reopened");
    spdlog::error("alexfs: {}", f.ToString());
    counters_->write_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> l(mu_);
    if (sync_error_.ok()) sync_error_ = f;
    return f;
  }
  if (overlay != nullptr) {
    overlay_.store(nullptr, std::memory_order_release);
    epochs_->Retire([overlay] { delete overlay; });
  }
  counters_->puts.fetch_add(puts, std::memory_order_relaxed);
  counters_->deletes.fetch_add(deletes, std::memory_order_relaxed);
  counters_->batches.fetch_add(batches, std::memory_order_relaxed);
  return Status::OK();
}

bool StoreImpl::FreeBytes(uint64_t* bytes) const { return env_->FreeSpace(dir_, bytes).ok(); }

uint64_t StoreImpl::WritableNow() const {
  uint64_t free = 0;
  if (!FreeBytes(&free)) return UINT64_MAX;
  // The active segment's preallocated tail is taken by the next appends, or
  // given back when it is sealed.
  free += active_spare_.load(std::memory_order_relaxed);
  const uint64_t keep = reserve_bytes_ + kManifestRoomBytes;  // as RollSegment keeps
  return free > keep ? free - keep : 0;
}

uint64_t StoreImpl::WritableBytes() {
  const uint64_t w = WritableNow();
  if (w < segment_bytes_) AskCompactionForSpace();
  return w;
}

void StoreImpl::AskCompactionForSpace() {
  const uint64_t lb = counters_->log_bytes.load(std::memory_order_relaxed);
  const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
  const uint64_t dead = lb > live ? lb - live : 0;
  if (options_.compaction_garbage_ratio <= 0 ||
      dead < space_compaction_dead_.load(std::memory_order_relaxed) + segment_bytes_ / 4) {
    return;
  }
  space_compaction_dead_.store(dead, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  space_compaction_wanted_ = true;
  bg_cv_.notify_all();
}

Status StoreImpl::RollSegment(uint64_t needed, bool use_reserve) {
  // A sealed segment never has a torn tail: make it durable before starting
  // the next one (waiting for an fdatasync in flight, which may cover it).
  if (active_ != nullptr && active_end_ > 0) {
    Status s = SyncThrough(kSyncAllAppended);
    bool appended_here;
    {
      std::lock_guard<std::mutex> l(mu_);
      appended_here = sync_seg_ == active_;
    }
    // Nothing appended since Open: what an earlier process left in the page
    // cache may not be on disk yet.
    if (s.ok() && !appended_here) s = active_->Sync();
    if (!s.ok()) return s;
  }
  if (active_ != nullptr && active_end_ < active_->capacity()) {
    // Give back the unused preallocated space of the segment being sealed
    // before taking the new one: on a nearly full disk that tail is the room
    // the new segment needs. Should no new segment start, the old one stays
    // active; appends past its end extend the file with pwrite (Truncate
    // drops the mapped-store path). Failure only wastes space: zeros after
    // the data read as a clean end.
    Status s = active_->Truncate(active_end_);
    if (!s.ok()) spdlog::warn("alexfs: {}", s.ToString());
    NoteActiveSpare();
  }
  uint64_t capacity = std::max<uint64_t>(segment_bytes_, needed);
  if (uint64_t free = 0; FreeBytes(&free)) {
    // The MANIFEST naming the new segment is rewritten (to a temporary file,
    // then renamed) after the segment is allocated: keep room for it.
    const uint64_t keep = (use_reserve ? 0 : reserve_bytes_) + kManifestRoomBytes;
    const uint64_t room = free > keep ? free - keep : 0;
    if (room < std::max<uint64_t>(needed, 1)) {
      AskCompactionForSpace();
      return Status::NoSpace(dir_ + ": no space for a new log segment (" + std::to_string(free) +
                             " bytes free, " + std::to_string(keep) + " kept for the reserve and the MANIFEST, " +
                             std::to_string(needed) + " needed)");
    }
    // Short of space: a smaller segment (whole pages), never less than needed.
    if (room < capacity) capacity = std::max(needed, room / 4096 * 4096);
  }
  std::shared_ptr<log::Segment> seg;
  {
    std::lock_guard<std::mutex> tl(table_mu_);
    const uint32_t id = manifest_.next_file;
    if (id > log::kMaxSegmentId) return Status::NotSupported("segment ids exhausted");
    Status s = log::Segment::Create(env_, dir_, id, log::SegmentKind::kLog, capacity, &seg);
    if (!s.ok()) return s;
    Manifest m = manifest_;
    m.next_file = id + 1;
    m.segments[id] = log::SegmentKind::kLog;
    s = WriteManifest(env_, dir_, m);
    if (!s.ok()) {
      seg->MarkObsolete();  // unlinked when `seg` dies
      return s;
    }
    manifest_ = std::move(m);
    PublishTable(table_.load(std::memory_order_relaxed)->With(seg));
    active_id_.store(id, std::memory_order_relaxed);
  }
  active_ = std::move(seg);
  active_end_ = 0;
  NoteActiveSpare();
  return Status::OK();
}

void StoreImpl::NoteActiveSpare() {
  const uint64_t spare = active_ != nullptr && active_->allocated() && active_->capacity() > active_end_
                             ? active_->capacity() - active_end_
                             : 0;
  active_spare_.store(spare, std::memory_order_relaxed);
}

void StoreImpl::MaybeScheduleCompaction() {
  if (options_.compaction_garbage_ratio <= 0) return;
  const uint64_t log_bytes = counters_->log_bytes.load(std::memory_order_relaxed);
  const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
  const uint64_t dead = log_bytes > live ? log_bytes - live : 0;
  if (dead < min_garbage_bytes_ ||
      dead < next_compaction_dead_.load(std::memory_order_relaxed) ||
      static_cast<double>(dead) < options_.compaction_garbage_ratio * static_cast<double>(log_bytes)) {
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!compaction_wanted_) {
    compaction_wanted_ = true;
    bg_cv_.notify_all();
  }
}

// ---------------------------------------------------------------- misc

StoreStats StoreImpl::GetStats() const {
  StoreStats st;
  {
    EpochManager::Guard guard = epochs_->Enter();
    for (const auto& seg : table_.load(std::memory_order_acquire)->All()) {
      if (!seg->obsolete()) ++st.segments;
    }
    st.keys = index_->size();
    st.index_bytes = index_->memory_bytes();
  }
  st.writable_bytes = WritableNow();
  st.reserve_bytes = reserve_bytes_;
  st.segment_bytes = segment_bytes_;
  const Counters& c = *counters_;
  st.log_bytes = c.log_bytes.load(std::memory_order_relaxed);
  st.live_bytes = c.live_bytes.load(std::memory_order_relaxed);
  st.logical_bytes = st.live_bytes + static_cast<uint64_t>(c.logical_extra.load(std::memory_order_relaxed));
  {
    EpochManager::Guard guard = epochs_->Enter();
    for (uint32_t id : dicts_.ids()) {
      uint64_t loc;
      if (index_->Find(DictionaryKey(id), &loc)) ++st.dictionaries;
    }
  }
  st.gets = c.gets.Load();
  st.puts = c.puts.load(std::memory_order_relaxed);
  st.deletes = c.deletes.load(std::memory_order_relaxed);
  st.batches = c.batches.load(std::memory_order_relaxed);
  st.commits = c.commits.load(std::memory_order_relaxed);
  st.syncs = c.syncs.load(std::memory_order_relaxed);
  st.bytes_logged = c.bytes_logged.load(std::memory_order_relaxed);
  st.compactions = c.compactions.load(std::memory_order_relaxed);
  st.compaction_bytes_reclaimed = c.compaction_bytes_reclaimed.load(std::memory_order_relaxed);
  st.idle_compactions = c.idle_compactions.load(std::memory_order_relaxed);
  st.write_errors = c.write_errors.load(std::memory_order_relaxed);
  st.recovered_torn_bytes = c.recovered_torn_bytes.load(std::memory_order_relaxed);
  st.get_latency = c.get_latency.Take();
  st.write_latency = c.write_latency.Take();
  st.sync_latency = c.sync_latency.Take();
  st.compaction_latency = c.compaction_latency.Take();
  return st;
}

Status StoreImpl::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_ || closing_) return Status::InvalidArgument("store " + dir_ + " is closed");
    closing_ = true;
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  std::lock_guard<std::mutex> cl(compaction_mu_);  // let a running Compact() finish
  Status s = Sync();
  SyncPoint synced;
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    if (s.ok() && sync_seg_ != nullptr) synced = SyncPoint{sync_seg_->id(), appended_end_};
  }
  sync_point_.Record(synced, /*now=*/true);
  lock_.Release();
  if (s.ok()) {
    spdlog::info("alexfs: closed store {}", dir_);
  } else {
    spdlog::error("alexfs: closing store {}: {}", dir_, s.ToString());
  }
  return s;
}

void StoreImpl::BackgroundThread() {
  const bool idle = options_.compaction_garbage_ratio > 0 && options_.idle_compaction_after.count() > 0;
  // How long to sleep when nothing is asked for: the commit interval and the
  // idle period, whichever comes first (forever if neither applies).
  std::chrono::milliseconds period{0};
  if (options_.commit_interval.count() > 0) period = options_.commit_interval;
  if (idle && (period.count() == 0 || options_.idle_compaction_after < period)) {
    period = options_.idle_compaction_after;
  }
  std::unique_lock<std::mutex> l(mu_);
  while (!closing_) {
    // A compaction asked for while the last round ran was notified with
    // nobody waiting: it is taken at once, not at the next wake-up.
    auto wanted = [this] {
      return closing_ || compaction_wanted_ || space_compaction_wanted_ || reclaim_wanted_ ||
             train_wanted_;
    };
    if (reclaim_wanted_) {
      // Retire old segments as soon as their last readers have gone: poll.
      auto wait = std::chrono::milliseconds(10);
      if (period.count() > 0) wait = std::min(wait, period);
      bg_cv_.wait_for(l, wait, [this] {
        return closing_ || compaction_wanted_ || space_compaction_wanted_ || train_wanted_;
      });
    } else if (period.count() > 0) {
      bg_cv_.wait_for(l, period, wanted);
    } else {
      bg_cv_.wait(l, wanted);
    }
    if (closing_) break;
    const bool compact = compaction_wanted_;
    compaction_wanted_ = false;
    const bool space = space_compaction_wanted_;
    space_compaction_wanted_ = false;
    const bool reclaim = reclaim_wanted_;
    reclaim_wanted_ = false;
    const bool train = train_wanted_;
    train_wanted_ = false;
    l.unlock();
    if (train) TrainFromSamples();
    if (reclaim) ReclaimPending(std::chrono::milliseconds(0));  // re-arms itself if not done
    if (options_.commit_interval.count() > 0) {
      Status s = Sync();  // no syscall if everything is synced
      if (!s.ok()) spdlog::error("alexfs: background sync of {}: {}", dir_, s.ToString());
    }
    if (space) {
      Status s = CompactImpl(CompactMode::kSpace);
      if (!s.ok()) spdlog::warn("alexfs: compaction to free space in {}: {}", dir_, s.ToString());
    }
    if (compact) {
      Status s = CompactImpl(CompactMode::kBackground);
      if (!s.ok()) spdlog::error("alexfs: background compaction of {}: {}", dir_, s.ToString());
    }
    if (idle) MaybeCompactIdle();
    l.lock();
  }
}

void StoreImpl::MaybeCompactIdle() {
  const uint64_t quiet = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.idle_compaction_after).count());
  if (NowNanos() < last_write_nanos_.load(std::memory_order_relaxed) + quiet) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (appended_seq_ == idle_checked_seq_) return;  // nothing written since the last check
    idle_checked_seq_ = appended_seq_;
  }
  const uint64_t lb = counters_->log_bytes.load(std::memory_order_relaxed);
  const uint64_t live = counters_->live_bytes.load(std::memory_order_relaxed);
  const uint64_t dead = lb > live ? lb - live : 0;
  if (dead == 0 || static_cast<double>(dead) < options_.idle_compaction_ratio * static_cast<double>(lb)) {
    return;
  }
  Status s = CompactImpl(CompactMode::kIdle);
  if (!s.ok()) spdlog::warn("alexfs: idle compaction of {}: {}", dir_, s.ToString());
}

}  // namespace alexfs
