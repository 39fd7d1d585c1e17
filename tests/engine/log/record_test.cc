// The record format: encoding, decoding, and the segment reader's view of
// torn tails and damage.
#include "engine/log/record.h"

#include <string>

#include <gtest/gtest.h>

#include "engine/log/reader.h"

namespace alexfs::log {
namespace {

std::string Flatten(const RecordEncoder& enc) {
  std::string s;
  for (const auto& v : enc.Iovecs()) s.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return s;
}

TEST(RecordTest, SinglePutRoundTrips) {
  RecordEncoder enc;
  WriteBatch b;
  b.Put("key", std::string(5000, 'v'));  // large: referenced, not copied
  std::vector<uint64_t> offs;
  enc.AddBatch(b, 7, &offs);
  std::string bytes = Flatten(enc);
  ASSERT_EQ(bytes.size(), enc.size());
  ASSERT_EQ(bytes.size(), RecordEncoder::EncodedSize(b));
  DecodedRecord rec;
  ASSERT_EQ(DecodeRecord(bytes.data(), bytes.size(), true, &rec), DecodeResult::kOk);
  EXPECT_EQ(rec.sequence, 7u);
  EXPECT_EQ(rec.type, RecordType::kPut);
  EXPECT_EQ(rec.entry.key, "key");
  EXPECT_EQ(rec.entry.value, std::string(5000, 'v'));
  ASSERT_EQ(offs.size(), 1u);
  EXPECT_EQ(EntryAtUnchecked(bytes.data() + offs[0]).key, "key");
}

TEST(RecordTest, BatchIsOneRecordWithAllEntries) {
  RecordEncoder enc;
  WriteBatch b;
  b.Put("a", "1");
  b.Delete("b");
  b.Put("c", std::string(10000, 'c'));
  std::vector<uint64_t> offs;
  enc.AddBatch(b, 9, &offs);
  std::string bytes = Flatten(enc);
  DecodedRecord rec;
  ASSERT_EQ(DecodeRecord(bytes.data(), bytes.size(), true, &rec), DecodeResult::kOk);
  EXPECT_EQ(rec.type, RecordType::kBatch);
  std::vector<std::string> keys;
  std::vector<uint64_t> got_offs;
  ASSERT_TRUE(ForEachEntry(rec, [&](const Entry& e, uint64_t off) {
    keys.emplace_back(e.key);
    got_offs.push_back(off);
  }));
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(got_offs, offs);
  EXPECT_EQ(EntryAtUnchecked(bytes.data() + offs[2]).value.size(), 10000u);
}

TEST(RecordTest, EveryTruncationAndFlipIsDetected) {
  RecordEncoder enc;
  std::vector<uint64_t> offs;
  WriteBatch b;
  b.Put("key", "value");
  b.Put("key2", "value2");
  enc.AddBatch(b, 1, &offs);
  std::string bytes = Flatten(enc);
  for (size_t n = 1; n < bytes.size(); ++n) {
    DecodedRecord rec;
    EXPECT_NE(DecodeRecord(bytes.data(), n, true, &rec), DecodeResult::kOk) << n;
  }
  for (size_t i = 0; i < bytes.size() * 8; ++i) {
    std::string c = bytes;
    c[i / 8] = static_cast<char>(c[i / 8] ^ (1 << (i % 8)));
    DecodedRecord rec;
    EXPECT_NE(DecodeRecord(c.data(), c.size(), true, &rec), DecodeResult::kOk) << i;
  }
  DecodedRecord rec;
  std::string zeros(64, '\0');
  EXPECT_EQ(DecodeRecord(zeros.data(), zeros.size(), true, &rec), DecodeResult::kEndOfData);
}

std::string ThreeRecords(std::vector<uint64_t>* ends) {
  std::string seg;
  for (int i = 0; i < 3; ++i) {
    RecordEncoder enc;
    enc.AddEntry(RecordType::kPut, static_cast<uint64_t>(i + 1), "k" + std::to_string(i),
                 std::string(20, 'x'));
    seg += Flatten(enc);
    ends->push_back(seg.size());
  }
  return seg;
}

TEST(ReaderTest, ZeroTailIsACleanEnd) {
  std::vector<uint64_t> ends;
  std::string seg = ThreeRecords(&ends) + std::string(4096, '\0');
  ScanResult r;
  int n = 0;
  ASSERT_TRUE(ScanLogSegment("000001.log", seg.data(), 0, seg.size(), kNoTornTail,
                             [&](const DecodedRecord&, uint64_t) { ++n; }, &r)
                  .ok());
  EXPECT_EQ(n, 3);
  EXPECT_EQ(r.valid_end, ends[2]);
  EXPECT_EQ(r.torn_bytes, 0u);
}

TEST(ReaderTest, TruncatedTrailingRecordIsATornTail) {
  std::vector<uint64_t> ends;
  std::string seg = ThreeRecords(&ends);
  std::string cut = seg.substr(0, ends[2] - 5) + std::string(100, '\0');
  ScanResult r;
  ASSERT_TRUE(ScanLogSegment("000001.log", cut.data(), 0, cut.size(), 0,
                             [](const DecodedRecord&, uint64_t) {}, &r)
                  .ok());
  EXPECT_EQ(r.valid_end, ends[1]);
  EXPECT_EQ(r.torn_bytes, ends[2] - 5 - ends[1]);
  Status s = ScanLogSegment("000001.log", cut.data(), 0, cut.size(), kNoTornTail,
                            [](const DecodedRecord&, uint64_t) {}, &r);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message().rfind("000001.log offset " + std::to_string(ends[1]) + ": ", 0), 0u)
      << s.message();
}

TEST(ReaderTest, DamageFollowedByAGoodRecordIsCorruption) {
  std::vector<uint64_t> ends;
  std::string seg = ThreeRecords(&ends);
  seg[ends[0] + 20] ^= 1;  // in the middle record
  ScanResult r;
  Status s = ScanLogSegment("000002.log", seg.data(), 0, seg.size(), 0,
                            [](const DecodedRecord&, uint64_t) {}, &r);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("offset " + std::to_string(ends[0])), std::string::npos);
}

TEST(ReaderTest, SortedSegmentFooterIsVerified) {
  RecordEncoder enc;
  enc.AddEntry(RecordType::kPut, 5, "a", "1");
  enc.AddEntry(RecordType::kPut, 3, "b", "2");
  enc.AddFooter(2, enc.ExtendCrc(0));
  std::string seg = Flatten(enc);
  ScanResult r;
  int n = 0;
  ASSERT_TRUE(ScanSortedSegment("000003.log", seg.data(), seg.size(),
                                [&](const DecodedRecord&, uint64_t) { ++n; }, &r)
                  .ok());
  EXPECT_EQ(n, 2);
  seg[3] ^= 0x10;
  EXPECT_TRUE(ScanSortedSegment("000003.log", seg.data(), seg.size(),
                                [](const DecodedRecord&, uint64_t) {}, &r)
                  .IsCorruption());
}

}  // namespace
}  // namespace alexfs::log
