#include "engine/compression.h"

#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "engine/dictionary.h"
#include "engine/log/log_format.h"

namespace alexfs {
namespace {

constexpr int kMaxLevel = 19;
// Values longer than this are probed with a sample before full compression.
constexpr size_t kProbeAbove = 16 << 10;
constexpr size_t kProbeBytes = 4 << 10;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> c(ZSTD_createCCtx());
  return c.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> d(ZSTD_createDCtx());
  return d.get();
}

// The saving the 1/8 rule asks for: encoded size must be <= this.
size_t Budget(size_t n) { return n - n / 8; }

// Compresses src into dst[0, cap) as a bare frame; 0 on error or if it does
// not fit.
size_t CompressFrame(const char* src, size_t n, int level, const Dictionary* dict, char* dst,
                     size_t cap) {
  ZSTD_CCtx* c = ThreadCCtx();
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
  if (dict != nullptr) ZSTD_CCtx_refCDict(c, dict->cdict());
  const size_t r = ZSTD_compress2(c, dst, cap, src, n);
  return ZSTD_isError(r) ? 0 : r;
}

}  // namespace

Status ParseCompression(std::string_view text, int* level) {
  if (text == "none") {
    *level = 0;
    return Status::OK();
  }
  if (text == "zstd") {
    *level = 3;
    return Status::OK();
  }
  if (text.substr(0, 5) == "zstd:") {
    const std::string_view n = text.substr(5);
    int v = 0;
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (ec == std::errc() && p == n.data() + n.size() && v >= 1 && v <= kMaxLevel) {
      *level = v;
      return Status::OK();
    }
  }
  return Status::InvalidArgument("compression '" + std::string(text) +
                                 "': expected none, zstd or zstd:LEVEL (1.." +
                                 std::to_string(kMaxLevel) + ")");
}

std::string CompressionName(int level) {
  return level <= 0 ? "none" : "zstd:" + std::to_string(level);
}

bool EncodeValue(std::string_view value, int level, const Dictionary* dict, std::string* out) {
  out->clear();
  const size_t n = value.size();
  if (n < kMinCompressBytes || n > UINT32_MAX) return false;
  if (n > kProbeAbove) {
    // A cheap probe: a sample from the middle at level 1, no dictionary.
    char probe[ZSTD_COMPRESSBOUND(kProbeBytes)];
    const size_t at = (n - kProbeBytes) / 2;
    const size_t r = CompressFrame(value.data() + at, kProbeBytes, 1, nullptr, probe, sizeof(probe));
    if (r == 0 || r > Budget(kProbeBytes)) return false;
  }
  const size_t header = dict != nullptr ? 9 : 5;
  const size_t budget = Budget(n);
  if (budget <= header) return false;
  // Room for the frame up to the budget only: zstd stops early (and fails)
  // when the output would not fit, which is exactly the 1/8 rule.
  out->resize(budget);
  const size_t r = CompressFrame(value.data(), n, level, dict, out->data() + header, budget - header);
  if (r == 0) {
    out->clear();
    return false;
  }
  char* h = out->data();
  if (dict != nullptr) {
    h[0] = static_cast<char>(Codec::kZstdDictionary);
    log::EncodeFixed32(h + 1, dict->id());
    log::EncodeFixed32(h + 5, static_cast<uint32_t>(n));
  } else {
    h[0] = static_cast<char>(Codec::kZstd);
    log::EncodeFixed32(h + 1, static_cast<uint32_t>(n));
  }
  out->resize(header + r);
  return true;
}

bool ParseEncodedHeader(std::string_view encoded, EncodedHeader* h) {
  if (encoded.empty()) return false;
  const auto codec = static_cast<Codec>(encoded[0]);
  if (codec == Codec::kZstd) {
    if (encoded.size() < 5) return false;
    *h = EncodedHeader{codec, 0, log::DecodeFixed32(encoded.data() + 1), 5};
    return true;
  }
  if (codec == Codec::kZstdDictionary) {
    if (encoded.size() < 9) return false;
    *h = EncodedHeader{codec, log::DecodeFixed32(encoded.data() + 1),
                       log::DecodeFixed32(encoded.data() + 5), 9};
    return true;
  }
  return false;
}

Status DecodeValue(std::string_view encoded, const Dictionary* dict, std::string* out) {
  EncodedHeader h;
  if (!ParseEncodedHeader(encoded, &h)) return Status::Corruption("encoded value: bad header");
  // Values are at most 1 GiB (kMaxValueBytes).
  if (h.logical_size > (size_t{1} << 30)) {
    return Status::Corruption("encoded value: logical size " + std::to_string(h.logical_size) +
                              " over the limit");
  }
  if (h.codec == Codec::kZstdDictionary && (dict == nullptr || dict->id() != h.dict_id)) {
    return Status::Corruption("encoded value: dictionary " + std::to_string(h.dict_id) + " missing");
  }
  ZSTD_DCtx* d = ThreadDCtx();
  // No dictionary of an earlier streaming decode stays referenced.
  ZSTD_DCtx_reset(d, ZSTD_reset_session_and_parameters);
  const char* src = encoded.data() + h.header_bytes;
  const size_t n = encoded.size() - h.header_bytes;
  auto fail = [&](const char* why) {
    out->clear();
    return Status::Corruption(std::string("encoded value: zstd frame does not decode: ") + why);
  };
  // A size a frame this long plausibly decodes to is decoded in one call into
  // a buffer of that size. A larger claim (only very repetitive data, or a
  // hostile header) is decoded streaming into a buffer that grows as output
  // actually comes, so a lying header cannot make us allocate 1 GiB.
  if (h.logical_size <= n * 64 + (256 << 10)) {
    out->resize(h.logical_size);
    const size_t r = h.codec == Codec::kZstdDictionary
                         ? ZSTD_decompress_usingDDict(d, out->data(), out->size(), src, n, dict->ddict())
                         : ZSTD_decompressDCtx(d, out->data(), out->size(), src, n);
    if (ZSTD_isError(r)) return fail(ZSTD_getErrorName(r));
    if (r != h.logical_size) return fail("wrong size");
    return Status::OK();
  }
  if (dict != nullptr) ZSTD_DCtx_refDDict(d, dict->ddict());
  out->resize(size_t{256} << 10);
  ZSTD_inBuffer in{src, n, 0};
  size_t have = 0;
  for (;;) {
    ZSTD_outBuffer ob{out->data(), out->size(), have};
    const size_t r = ZSTD_decompressStream(d, &ob, &in);
    have = ob.pos;
    if (ZSTD_isError(r)) return fail(ZSTD_getErrorName(r));
    if (r == 0) break;  // the frame is complete
    if (have == out->size()) {
      if (out->size() == h.logical_size) return fail("longer than its header says");
      out->resize(std::min<size_t>(h.logical_size, out->size() * 2));
    } else if (in.pos == in.size) {
      return fail("truncated");
    }
  }
  if (have != h.logical_size || in.pos != n) return fail("wrong size");
  return Status::OK();
}

}  // namespace alexfs
