// libFuzzer target: damaged compressed values and dictionaries into the
// codec (engine/compression.h, engine/dictionary.h). The record CRC stops
// random damage on disk; this covers what a CRC-valid but hostile record
// could hold. Nothing may crash or overrun; a value that decodes has exactly
// the logical size its header names; whatever is encoded decodes back.
//
// Input: u16 dictionary length L (little-endian), L bytes of dictionary
// (none if L is 0 or zstd refuses them), then an encoded value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/compression.h"
#include "engine/dictionary.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alexfs;  // NOLINT: a fuzz harness, one function
  if (size < 2) return 0;
  const size_t dict_len = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
  const char* p = reinterpret_cast<const char*>(data) + 2;
  std::shared_ptr<const Dictionary> dict;
  if (dict_len > 0) {
    EncodedHeader probe;
    const std::string_view rest(p + dict_len, size - 2 - dict_len);
    const uint32_t id = ParseEncodedHeader(rest, &probe) ? probe.dict_id : 1;
    if (!Dictionary::Create(id, std::string(p, dict_len), 1, &dict).ok()) dict.reset();
  }
  const std::string_view encoded(p + dict_len, size - 2 - dict_len);

  std::string out;
  Status s = DecodeValue(encoded, dict.get(), &out);
  if (s.ok()) {
    EncodedHeader h;
    Check(ParseEncodedHeader(encoded, &h));
    Check(out.size() == h.logical_size);
  } else {
    Check(out.empty() || s.IsCorruption());
  }

  // Whatever the bytes are, as a value they round-trip.
  std::string enc, back;
  if (EncodeValue(encoded, 1, dict.get(), &enc)) {
    Check(enc.size() <= encoded.size() - encoded.size() / 8);
    Check(DecodeValue(enc, dict.get(), &back).ok());
    Check(back == encoded);
  }
  return 0;
}
