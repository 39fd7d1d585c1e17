// libFuzzer target: arbitrary bytes into the record decoder and the segment
// scanners. Nothing may crash, read out of bounds or report an entry outside
// the input; whatever decodes must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/log/reader.h"
#include "engine/log/record.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alexfs::log;  // NOLINT: a fuzz harness, one function
  const char* p = reinterpret_cast<const char*>(data);
  const char* end = p + size;

  for (bool verify : {true, false}) {
    DecodedRecord rec;
    if (DecodeRecord(p, size, verify, &rec) == DecodeResult::kOk) {
      Check(rec.size <= size);
      ForEachEntry(rec, [&](const Entry& e, uint64_t off) {
        Check(off < rec.size);
        Check(e.key.data() >= p && e.key.data() + e.key.size() <= end);
        Check(e.value.data() >= p && e.value.data() + e.value.size() <= end);
      });
      if (verify && rec.type != RecordType::kBatch && rec.type != RecordType::kFooter) {
        // Re-encode: the same bytes come out.
        RecordEncoder enc;
        enc.AddEntry(rec.type, rec.sequence, rec.entry.key, rec.entry.value);
        std::string again;
        for (const auto& v : enc.Iovecs()) {
          again.append(static_cast<const char*>(v.iov_base), v.iov_len);
        }
        Check(again == std::string(p, rec.size));
      }
    }
  }

  ScanResult r;
  for (uint64_t torn_from : {uint64_t{0}, size / 2, alexfs::log::kNoTornTail}) {
    uint64_t last_end = 0;
    alexfs::Status s = ScanLogSegment(
        "fuzz.log", p, 0, size, torn_from,
        [&](const DecodedRecord& rec, uint64_t off) {
          Check(off >= last_end && off + rec.size <= size);
          last_end = off + rec.size;
        },
        &r);
    if (s.ok()) Check(r.valid_end <= size && r.valid_end + r.torn_bytes <= size);
  }
  (void)ScanSortedSegment("fuzz.log", p, size, [&](const DecodedRecord& rec, uint64_t off) {
    Check(off + rec.size <= size);
  }, &r);
  return 0;
}
