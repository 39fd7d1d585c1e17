// CRC32C (Castagnoli), the checksum of every log record and of the MANIFEST.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
// time) and a slicing table otherwise; both give identical results.
//
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace alexfs::crc32c {

// Returns the crc32c of concat(A, data[0,n-1]) where init_crc is the crc32c of
// some string A. Extend(0, data, n) is the crc32c of data.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

// True if the hardware (SSE4.2) path is in use.
bool IsHardwareAccelerated();

// The table-driven path, whatever the CPU (for tests).
uint32_t ExtendPortableForTest(uint32_t init_crc, const char* data, size_t n);

// A CRC stored next to the data it covers is masked: computing the CRC of a
// string that contains embedded CRCs (a record copied into another, a segment
// CRC'd whole) would otherwise be weak. Mask rotates and adds a constant.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace alexfs::crc32c
