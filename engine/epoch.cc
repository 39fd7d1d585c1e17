#include "engine/epoch.h"

#include <unordered_map>

namespace alexfs {

namespace {

// Live managers by id, so that a thread exiting can hand its slots back only to
// managers that still exist. Touched on slot claim, thread exit and manager
// construction/destruction, never on the Enter() fast path.
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<uint64_t, EpochManager*>& Registry() {
  static std::unordered_map<uint64_t, EpochManager*> managers;
  return managers;
}
std::atomic<uint64_t> next_manager_id{1};

}  // namespace

// Per-thread list of (manager id, slot). Looked up linearly on Enter(); a
// thread rarely uses more than two managers.
struct EpochThreadCache {
  struct Entry {
    uint64_t manager_id;
    uint32_t slot;
  };
  std::vector<Entry> entries;

  ~EpochThreadCache() {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    for (const Entry& e : entries) {
      auto it = Registry().find(e.manager_id);
      if (it != Registry().end()) it->second->ReleaseSlot(e.slot);
    }
  }
};

namespace {
thread_local EpochThreadCache thread_cache;
}  // namespace

EpochManager::EpochManager()
    : id_(next_manager_id.fetch_add(1, std::memory_order_relaxed)),
      slots_(new Slot[kMaxThreads + 1]) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[id_] = this;
}

EpochManager::~EpochManager() {
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry().erase(id_);
  }
  std::vector<Retired> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(retired_);
  }
  for (Retired& r : all) r.free_fn();
}

uint32_t EpochManager::ClaimSlot() {
  // Slow path: once per thread per manager.
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (uint32_t i = 0; i < kMaxThreads; ++i) {
    bool expected = false;
    if (!slots_[i].claimed.load(std::memory_order_relaxed) &&
        slots_[i].claimed.compare_exchange_strong(expected, true)) {
      slots_[i].depth = 0;
      uint32_t hw = high_water_.load(std::memory_order_relaxed);
      if (i + 1 > hw) high_water_.store(i + 1, std::memory_order_seq_cst);
      // Forget entries of managers that no longer exist.
      auto& entries = thread_cache.entries;
      for (size_t j = 0; j < entries.size();) {
        if (Registry().count(entries[j].manager_id) == 0) {
          entries[j] = entries.back();
          entries.pop_back();
        } else {
          ++j;
        }
      }
      entries.push_back({id_, i});
      return i;
    }
  }
  // Every own slot is taken: share the overflow slot (see epoch.h).
  high_water_.store(kMaxThreads + 1, std::memory_order_seq_cst);
  thread_cache.entries.push_back({id_, kOverflowSlot});
  return kOverflowSlot;
}

void EpochManager::EnterOverflow() {
  std::lock_guard<std::mutex> lock(overflow_mu_);
  if (overflow_readers_++ == 0) {
    // The first reader's epoch stays while any overflow reader is inside:
    // never newer than any of theirs.
    slots_[kOverflowSlot].epoch.exchange(global_epoch_.load(std::memory_order_seq_cst),
                                         std::memory_order_seq_cst);
#if !defined(__SANITIZE_THREAD__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }
}

void EpochManager::LeaveOverflow() {
  std::lock_guard<std::mutex> lock(overflow_mu_);
  if (--overflow_readers_ == 0) slots_[kOverflowSlot].epoch.store(0, std::memory_order_release);
}

void EpochManager::ReleaseSlot(uint32_t slot) {
  // REQUIRES: RegistryMutex() held; the slot's thread is exiting.
  if (slot == kOverflowSlot) return;  // shared; its readers have all left
  slots_[slot].epoch.store(0, std::memory_order_release);
  slots_[slot].depth = 0;
  slots_[slot].claimed.store(false, std::memory_order_release);
}

uint32_t EpochManager::SlotForThisThread() {
  for (const EpochThreadCache::Entry& e : thread_cache.entries) {
    if (e.manager_id == id_) return e.slot;
  }
  return ClaimSlot();
}

EpochManager::Guard EpochManager::Enter() {
  uint32_t s = SlotForThisThread();
  if (s == kOverflowSlot) {
    EnterOverflow();
    return Guard(this, s);
  }
  Slot& slot = slots_[s];
  if (slot.depth++ == 0) {
    // seq_cst store + fence pairs with the fence in ReclaimNow(): either the
    // reclaimer sees this epoch, or this thread sees every unlink that
    // preceded the reclaimer's scan.
    // (An exchange is what a seq_cst store compiles to on x86 anyway.)
    slot.epoch.exchange(global_epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
#if !defined(__SANITIZE_THREAD__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }
  return Guard(this, s);
}

void EpochManager::Guard::Release() {
  if (mgr_ == nullptr) return;
  if (slot_ == kOverflowSlot) {
    mgr_->LeaveOverflow();
    mgr_ = nullptr;
    return;
  }
  Slot& slot = mgr_->slots_[slot_];
  if (--slot.depth == 0) slot.epoch.store(0, std::memory_order_release);
  mgr_ = nullptr;
}

void EpochManager::Retire(std::function<void()> free_fn) {
  bool reclaim = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t e = global_epoch_.fetch_add(1, std::memory_order_seq_cst);
    retired_.push_back({e, std::move(free_fn)});
    size_t n = num_retired_.fetch_add(1, std::memory_order_relaxed) + 1;
    reclaim = n >= 256 && (n & 255) == 0;
  }
  if (reclaim) ReclaimNow();
}

void EpochManager::ReclaimNow() {
  if (num_retired_.load(std::memory_order_relaxed) == 0) return;
  std::vector<std::function<void()>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
#if defined(__SANITIZE_THREAD__)
    global_epoch_.fetch_add(0, std::memory_order_seq_cst);  // TSan does not model fences
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    uint64_t min_busy = UINT64_MAX;
    uint32_t hw = high_water_.load(std::memory_order_seq_cst);
    for (uint32_t i = 0; i < hw; ++i) {
      uint64_t e = slots_[i].epoch.load(std::memory_order_seq_cst);
      if (e != 0 && e < min_busy) min_busy = e;
    }
    size_t n = 0;
    while (n < retired_.size() && retired_[n].epoch < min_busy) ++n;
    due.reserve(n);
    for (size_t i = 0; i < n; ++i) due.push_back(std::move(retired_[i].free_fn));
    retired_.erase(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(n));
    num_retired_.store(retired_.size(), std::memory_order_relaxed);
  }
  for (auto& fn : due) fn();
}

size_t EpochManager::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retired_.size();
}

}  // namespace alexfs
