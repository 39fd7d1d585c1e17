// InodeMutex: a reader-writer lock in 4 bytes, for the one per cached inode
// (std::shared_mutex is 56). It meets the standard SharedMutex requirements
// used here (lock / try_lock / unlock, lock_shared / try_lock_shared /
// unlock_shared), so std::unique_lock and std::shared_lock work with it.
//
// One 32-bit word: bit 31 = held exclusively, bit 30 = someone may be blocked,
// bits 0..29 = readers. Uncontended lock and unlock are one atomic each; a
// blocked thread sleeps in a futex (C++20 atomic wait) and is woken only if
// it said so with bit 30. Like glibc's default pthread_rwlock (what
// std::shared_mutex is), readers are preferred: a writer waits while readers
// keep coming. Not recursive; not timed.
#pragma once

#include <atomic>
#include <cstdint>

namespace alexfs::fs {

class InodeMutex {
 public:
  InodeMutex() = default;
  InodeMutex(const InodeMutex&) = delete;
  InodeMutex& operator=(const InodeMutex&) = delete;

  void lock() {
    uint32_t s = 0;
    if (state_.compare_exchange_strong(s, kWriter, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
    for (;;) {
      if ((s & (kWriter | kReaders)) == 0) {
        // Free. Keep kWaiting: other threads may still be blocked.
        if (state_.compare_exchange_weak(s, s | kWriter, std::memory_order_acquire, std::memory_order_relaxed)) {
          return;
        }
        continue;
      }
      Block(s);
      s = state_.load(std::memory_order_relaxed);
    }
  }

  bool try_lock() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    return (s & (kWriter | kReaders)) == 0 &&
           state_.compare_exchange_strong(s, s | kWriter, std::memory_order_acquire, std::memory_order_relaxed);
  }

  void unlock() {
    if (state_.exchange(0, std::memory_order_release) & kWaiting) state_.notify_all();
  }

  void lock_shared() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & kWriter) == 0) {
        if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
        continue;
      }
      Block(s);
      s = state_.load(std::memory_order_relaxed);
    }
  }

  bool try_lock_shared() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    while ((s & kWriter) == 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  void unlock_shared() {
    uint32_t s = state_.fetch_sub(1, std::memory_order_release) - 1;
    // The last reader out wakes the blocked, unless a new reader or a writer
    // came in meanwhile (then its unlock does).
    if (s == kWaiting && state_.compare_exchange_strong(s, 0, std::memory_order_relaxed)) state_.notify_all();
  }

 private:
  static constexpr uint32_t kWriter = 1u << 31;
  static constexpr uint32_t kWaiting = 1u << 30;
  static constexpr uint32_t kReaders = kWaiting - 1;

  // Sleeps until the word changes from `s` (as seen, plus kWaiting); returns
  // at once if it already did.
  void Block(uint32_t s) {
    if ((s & kWaiting) == 0 &&
        !state_.compare_exchange_strong(s, s | kWaiting, std::memory_order_relaxed, std::memory_order_relaxed)) {
      return;  // changed: look again
    }
    state_.wait(s | kWaiting, std::memory_order_relaxed);
  }

  std::atomic<uint32_t> state_{0};
};

static_assert(sizeof(InodeMutex) == 4);

}  // namespace alexfs::fs
