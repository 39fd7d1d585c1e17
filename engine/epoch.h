// EpochManager: epoch-based memory reclamation for one-writer / many-reader
// structures (the index's retired nodes, the store's retired log segments).
//
// Readers bracket every use of shared memory with a Guard:
//
//   EpochManager::Guard g = epochs.Enter();
//   ... read nodes, views into log segments ...
//   // g's destructor unpins
//
// A writer that unlinks memory calls Retire(free_fn); free_fn runs once no
// Guard that was alive at the time of the Retire call remains (guards entered
// later cannot reach the unlinked memory). ReclaimNow() runs whatever is due;
// the destructor runs everything still pending.
//
// Design: a global epoch counter and a fixed array of cache-line-padded per-
// thread slots. A thread claims a slot lazily on its first Enter() on a given
// manager (one mutex acquisition per thread per manager, then never again);
// Enter() stores the current global epoch into the slot, Guard destruction
// stores 0 (idle). Retire() tags the free function with the current epoch and
// advances the epoch; a function tagged E is due when every busy slot holds an
// epoch > E. Guards nest: an inner Enter() on the same thread is a counter
// increment and keeps the outer (older, hence safer) epoch.
//
// Thread safety: Enter() / Guard are lock-free (no mutex, no allocation after
// the thread's first Enter). Retire() and ReclaimNow() take a mutex and may be
// called from any threads. A Guard must be destroyed on the thread that
// created it (moving it within the thread is fine). Up to kMaxThreads threads
// hold slots of their own; a thread's slots are released when it exits. Threads
// beyond that share one overflow slot (a reader count under a mutex; its epoch
// is the oldest of their entries while any of them is inside), so they are
// slower and may delay reclamation while they overlap, but never fail.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace alexfs {

class EpochManager {
 public:
  static constexpr size_t kMaxThreads = 1024;

  EpochManager();
  ~EpochManager();  // runs all pending free functions
  EpochManager(const EpochManager&) = delete;
  EpochManager& operator=(const EpochManager&) = delete;

  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept : mgr_(other.mgr_), slot_(other.slot_) {
      other.mgr_ = nullptr;
    }
    Guard& operator=(Guard&& other) noexcept {
      if (this != &other) {
        Release();
        mgr_ = other.mgr_;
        slot_ = other.slot_;
        other.mgr_ = nullptr;
      }
      return *this;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { Release(); }

   private:
    friend class EpochManager;
    Guard(EpochManager* mgr, uint32_t slot) : mgr_(mgr), slot_(slot) {}
    void Release();
    EpochManager* mgr_ = nullptr;
    uint32_t slot_ = 0;
  };

  // Pins the current epoch for this thread while the Guard lives.
  Guard Enter();

  // Runs free_fn once no Guard alive now remains. Never runs it inline.
  void Retire(std::function<void()> free_fn);

  // Runs the free functions that are due. Cheap when nothing is pending.
  void ReclaimNow();

  // Number of free functions not yet run (for tests and stats).
  size_t pending() const;

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> epoch{0};  // 0 = not in a read section
    uint32_t depth = 0;              // nesting; touched only by the owning thread
    std::atomic<bool> claimed{false};
  };
  struct Retired {
    uint64_t epoch;
    std::function<void()> free_fn;
  };

  // Slot index of the shared overflow slot (slots_ has kMaxThreads + 1).
  static constexpr uint32_t kOverflowSlot = kMaxThreads;

  uint32_t SlotForThisThread();
  uint32_t ClaimSlot();  // kOverflowSlot when every own slot is taken
  void EnterOverflow();
  void LeaveOverflow();
  void ReleaseSlot(uint32_t slot);  // at thread exit
  friend struct EpochThreadCache;

  const uint64_t id_;  // unique per manager, never reused (thread caches key on it)
  std::atomic<uint64_t> global_epoch_{1};
  std::atomic<uint32_t> high_water_{0};  // slots [0, high_water_) may be claimed
  std::unique_ptr<Slot[]> slots_;

  std::mutex overflow_mu_;
  uint32_t overflow_readers_ = 0;  // GUARDED_BY(overflow_mu_)

  mutable std::mutex mu_;
  std::vector<Retired> retired_;  // GUARDED_BY(mu_), epochs ascending
  std::atomic<size_t> num_retired_{0};
};

}  // namespace alexfs
