// Reads of mapped segment bytes that can fail.
//
// Segments are read through their mappings (engine/log/segment.h). A page
// whose backing is gone -- the file truncated under the mapping, a disk error
// on a page not in memory -- makes the kernel raise SIGBUS in the thread that
// touches it. GuardMappedRead runs fn with a per-thread recovery point: a
// SIGBUS inside fn returns to it (siglongjmp) and GuardMappedRead returns
// false, so the caller reports an I/O error for that one request instead of
// the process dying. A SIGBUS outside any guarded region keeps its default
// action (the process dies, with a core).
//
// The handler is installed on first use (sigaction; a handler installed
// before is called for SIGBUS outside guarded regions).
//
// REQUIRES of fn: a SIGBUS abandons it at a read of mapped bytes, so at every
// such read no lock may be held or being taken and no allocation in progress
// (allocating between reads is fine: an iterator's refill grows its vectors
// under the guard), and nothing whose destructor must run may live in fn's
// frames: open epoch guards, pins, locks and the containers the caller keeps
// belong outside, around the call. (Deeper frames may own memory -- a scan's
// callback wrapper, the key list of an index node being split -- which a fault
// then leaks: the price of a fault instead of a dead process.) Guarded
// regions nest.
//
// Thread-safety: thread-safe (the recovery point is per thread).
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

namespace alexfs {

namespace mapped_read_internal {
// Runs fn(arg) under the recovery point; false if it faulted.
bool Run(void (*fn)(void*), void* arg);
}  // namespace mapped_read_internal

template <typename Fn>
bool GuardMappedRead(Fn&& fn) {
  return mapped_read_internal::Run(
      [](void* f) { (*static_cast<std::remove_reference_t<Fn>*>(f))(); }, &fn);
}

// Reads one byte of every page `bytes` spans: inside a guard, a view about to
// be handed out is then known to have been readable when it was.
inline void TouchMappedPages(std::string_view bytes) {
  if (bytes.empty()) return;
  constexpr size_t kPage = 4096;
  const volatile char* p = bytes.data();
  const volatile char* const last = bytes.data() + bytes.size() - 1;
  for (; p < last; p += kPage) (void)*p;
  (void)*last;
}

}  // namespace alexfs
