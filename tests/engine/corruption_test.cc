// Damage on disk: a torn tail of the newest segment is truncated (at every byte
// offset of its last records); damage anywhere else refuses to open with a
// Status naming file and offset; a bad record is never served.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

namespace fs = std::filesystem;
using testing::GetOr;
using testing::ScratchDir;

StoreOptions Opts() {
  StoreOptions o;
  o.segment_bytes = 16 << 10;
  o.compaction_garbage_ratio = 0;
  return o;
}

std::string Value(int i) { return "value-" + std::to_string(i) + std::string(i % 97, 'v'); }

// Segment files, ascending.
std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") v.push_back(e.path().string());
  }
  std::sort(v.begin(), v.end());
  return v;
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

void FlipBit(const std::string& file, uint64_t offset, int bit) {
  int fd = ::open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(offset)), 1);
  c = static_cast<char>(c ^ (1 << bit));
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

void ZeroRange(const std::string& file, uint64_t from, uint64_t to) {
  int fd = ::open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::string zeros(to - from, '\0');
  ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(from)),
            static_cast<ssize_t>(zeros.size()));
  ::close(fd);
}

// Writes `n` keys into a store with one big segment; returns each record's end
// offset in the segment.
std::vector<uint64_t> WriteKeys(const std::string& dir, int n) {
  StoreOptions o = Opts();
  o.segment_bytes = 1 << 20;
  auto s = testing::OpenOrDie(dir, o);
  std::vector<uint64_t> ends;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(s->Put("key" + std::to_string(i), Value(i), Durability::kDurable).ok());
    ends.push_back(s->GetStats().log_bytes);
  }
  return ends;
}

TEST(CorruptionTest, TornTailIsTruncatedAtEveryOffset) {
  ScratchDir dir;
  const std::string golden = dir.Sub("golden");
  const int n = 20;
  std::vector<uint64_t> ends = WriteKeys(golden, n);
  const std::string seg_name = fs::path(Segments(golden).back()).filename();
  const uint64_t start = ends[n - 4];
  for (uint64_t cut = start; cut < ends[n - 1]; ++cut) {
    const std::string work = dir.Sub("work");
    CopyDir(golden, work);
    // The crash this models came before any sync point past `start` was
    // recorded (the one Close recorded would make every cut damage).
    fs::remove(work + "/SYNCPOINT");
    const std::string seg = work + "/" + seg_name;
    if (cut % 2 == 0) {
      fs::resize_file(seg, cut);  // the file ends mid-record
    } else {
      ZeroRange(seg, cut, ends[n - 1]);  // preallocated space: zeros after the cut
    }
    std::unique_ptr<Store> s;
    Status st = Store::Open(work, Opts(), &s);
    ASSERT_TRUE(st.ok()) << "cut " << cut << ": " << st.ToString();
    for (int i = 0; i < n; ++i) {
      const bool whole = ends[i] <= cut;
      ASSERT_EQ(GetOr(*s, "key" + std::to_string(i)), whole ? Value(i) : "<missing>")
          << "cut " << cut << " key " << i;
    }
    if (cut != ends[n - 4] && cut != ends[n - 3] && cut != ends[n - 2]) {
      EXPECT_GT(s->GetStats().recovered_torn_bytes, 0u) << "cut " << cut;
    }
    if (cut % 16 != 0) continue;
    // The store goes on from the cut.
    ASSERT_TRUE(s->Put("later", "x", Durability::kDurable).ok());
    s.reset();
    s = testing::OpenOrDie(work, Opts());
    EXPECT_EQ(GetOr(*s, "later"), "x");
    EXPECT_EQ(s->GetStats().recovered_torn_bytes, 0u);
  }
}

TEST(CorruptionTest, DamageInSealedSegmentRefusesToOpen) {
  ScratchDir dir;
  {
    auto s = testing::OpenOrDie(dir.path(), Opts());
    for (int i = 0; i < 600; ++i) ASSERT_TRUE(s->Put("key" + std::to_string(i), Value(i)).ok());
  }
  auto segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 3u);
  FlipBit(segs[0], 100, 3);
  std::unique_ptr<Store> s;
  Status st = Store::Open(dir.path(), Opts(), &s);
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find(fs::path(segs[0]).filename().string()), std::string::npos);
  EXPECT_NE(st.message().find("offset"), std::string::npos);
}

TEST(CorruptionTest, DamageBeforeGoodRecordsInNewestSegmentRefusesToOpen) {
  ScratchDir dir;
  std::vector<uint64_t> ends = WriteKeys(dir.path(), 10);
  auto segs = Segments(dir.path());
  FlipBit(segs.back(), ends[4] + 30, 0);  // inside record 5, records 6..9 follow
  std::unique_ptr<Store> s;
  Status st = Store::Open(dir.path(), Opts(), &s);
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("offset " + std::to_string(ends[4])), std::string::npos)
      << st.message();
}

std::string ReadFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

// The sync point (engine/sync_point.h) separates damage from a torn tail in
// the newest segment: a page of zeros followed by intact records (what a
// power cut leaves of an unsynced tail) is truncated if it lies past the
// sync point, and refuses to open, naming file and offset, if before it.
TEST(CorruptionTest, ALostPageBeforeTheSyncPointIsDamageAfterItATornTail) {
  ScratchDir dir;
  const std::string golden = dir.Sub("golden");
  StoreOptions o = Opts();
  o.segment_bytes = 1 << 20;
  std::vector<uint64_t> ends;
  std::string early_sync_point;
  int i = 0;
  for (uint64_t until : {uint64_t{5000}, uint64_t{20000}}) {
    auto s = testing::OpenOrDie(golden, o);
    for (; s->GetStats().log_bytes < until; ++i) {
      ASSERT_TRUE(s->Put("key" + std::to_string(i), Value(i)).ok());
      ends.push_back(s->GetStats().log_bytes);
    }
    ASSERT_TRUE(s->Close().ok());  // records the sync point: the end
    if (early_sync_point.empty()) early_sync_point = ReadFile(golden + "/SYNCPOINT");
  }
  ASSERT_EQ(early_sync_point.size(), 16u);
  ASSERT_EQ(Segments(golden).size(), 1u);
  const std::string seg_name = fs::path(Segments(golden).back()).filename();
  // The record that the aligned page [8192, 12288) starts in.
  size_t hit = 0;
  while (ends[hit] <= 8192) ++hit;
  const uint64_t damaged_at = ends[hit - 1];

  // Sync point at the end (Close): damage.
  const std::string work = dir.Sub("work");
  CopyDir(golden, work);
  ZeroRange(work + "/" + seg_name, 8192, 12288);
  {
    std::unique_ptr<Store> s;
    Status st = Store::Open(work, o, &s);
    ASSERT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_NE(st.message().find(seg_name + " offset " + std::to_string(damaged_at) + ": "),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("before the sync point"), std::string::npos) << st.message();
  }

  // Sync point at ~5000 (the first Close): a torn tail from the lost page on.
  CopyDir(golden, work);
  ZeroRange(work + "/" + seg_name, 8192, 12288);
  WriteFile(work + "/SYNCPOINT", early_sync_point);
  {
    std::unique_ptr<Store> s;
    Status st = Store::Open(work, o, &s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_GT(s->GetStats().recovered_torn_bytes, 0u);
    for (int k = 0; k < i; ++k) {
      ASSERT_EQ(GetOr(*s, "key" + std::to_string(k)),
                ends[static_cast<size_t>(k)] <= damaged_at ? Value(k) : "<missing>")
          << k;
    }
  }
}

// A segment file truncated under a live store: reading a key whose record is
// gone fails that Get with EIO (SIGBUS caught, engine/mapped_read.h), again
// and again, and the process lives on.
TEST(CorruptionTest, ASegmentTruncatedUnderALiveStoreFailsReadsWithEIO) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), Opts());
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(s->Put("key" + std::to_string(i), Value(i)).ok());
  ASSERT_TRUE(s->Sync().ok());
  auto segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 3u);
  fs::resize_file(segs[0], 0);
  for (int round = 0; round < 3; ++round) {
    PinnedValue v;
    Status st = s->Get("key0", &v);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.errno_value(), EIO) << st.ToString();
    EXPECT_NE(st.message().find("SIGBUS"), std::string::npos) << st.ToString();
    EXPECT_TRUE(v.value().empty());
  }
  EXPECT_GT(s->GetStats().gets, 0u);
}

// One segment holding "a" (small) then "big" (300,000 bytes), cut to its
// first 64 KiB under the live store: "a" stays readable, most of "big" not.
StoreOptions BigValueOptions() {
  StoreOptions o = Opts();
  o.segment_bytes = 1 << 20;
  return o;
}

void PutSmallAndBigThenCutAt64KiB(const std::string& dir, Store* s) {
  ASSERT_TRUE(s->Put("a", "small").ok());
  ASSERT_TRUE(s->Put("big", std::string(300000, 'b')).ok());
  ASSERT_TRUE(s->Sync().ok());
  auto segs = Segments(dir);
  ASSERT_EQ(segs.size(), 1u);
  fs::resize_file(segs[0], 64 << 10);
}

// A Get touches every page of the value it hands out: a value whose tail
// pages are gone fails with EIO, never a view that faults where it is read.
TEST(CorruptionTest, AGetOfAValueCutByATruncatedSegmentFailsWithEIO) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), BigValueOptions());
  ASSERT_NO_FATAL_FAILURE(PutSmallAndBigThenCutAt64KiB(dir.path(), s.get()));
  PinnedValue v;
  Status st = s->Get("big", &v);
  EXPECT_EQ(st.errno_value(), EIO) << st.ToString();
  EXPECT_TRUE(v.value().empty());
  EXPECT_EQ(GetOr(*s, "a"), "small");
}

// A compressed value whose compressed bytes run past the truncation (its
// header readable): the Get fails with EIO before anything is decompressed.
TEST(CorruptionTest, ACompressedValueCutByATruncatedSegmentFailsTheGetWithEIO) {
  ScratchDir dir;
  StoreOptions o = Opts();
  o.segment_bytes = 1 << 20;
  o.compression_level = 3;
  o.compression_dictionary_bytes = 0;
  auto s = testing::OpenOrDie(dir.path(), o);
  std::mt19937 rng(7);
  std::string big;
  while (big.size() < 400000) big += "word" + std::to_string(rng() % 100000) + (rng() % 7 ? " " : "\n");
  ASSERT_TRUE(s->Put("a", "small").ok());
  ASSERT_TRUE(s->Put("big", big).ok());
  ASSERT_TRUE(s->Sync().ok());
  EXPECT_LT(s->GetStats().log_bytes, big.size() / 2) << "the value was not stored compressed";
  auto segs = Segments(dir.path());
  ASSERT_EQ(segs.size(), 1u);
  fs::resize_file(segs[0], 16 << 10);
  PinnedValue v;
  Status st = s->Get("big", &v);
  EXPECT_EQ(st.errno_value(), EIO) << st.ToString();
  EXPECT_TRUE(v.value().empty());
  ASSERT_TRUE(s->Get("a", &v).ok());
  EXPECT_EQ(v.value(), "small");
}

// "key1000".."key1599" (Value(0..599)), synced, over three or more segments.
void PutKeysOverSegments(const std::string& dir, Store* s, std::vector<std::string>* segs) {
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(s->Put("key" + std::to_string(1000 + i), Value(i)).ok());
  ASSERT_TRUE(s->Sync().ok());
  *segs = Segments(dir);
  ASSERT_GE(segs->size(), 3u);
}

// A write whose index insert must compare with keys in a truncated segment:
// that write fails with EIO, the store refuses later writes (as after a
// failed fdatasync), reads go on, and the process lives.
TEST(CorruptionTest, AWriteThatCannotReadTheIndexedKeysFailsWithEIOAndLaterWritesAreRefused) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), Opts());
  std::vector<std::string> segs;
  ASSERT_NO_FATAL_FAILURE(PutKeysOverSegments(dir.path(), s.get(), &segs));
  for (size_t i = 0; i + 1 < segs.size(); ++i) fs::resize_file(segs[i], 0);  // all but the active one
  Status st = s->Put("key1000a", "new");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.errno_value(), EIO) << st.ToString();
  EXPECT_NE(st.message().find("SIGBUS"), std::string::npos) << st.ToString();
  EXPECT_FALSE(s->Put("zzz", "later").ok());
  // Reads go on: a key is served, or fails with EIO when its lookup compares
  // with a key in a truncated segment.
  PinnedValue v;
  Status g = s->Get("key1599", &v);
  EXPECT_TRUE(g.ok() ? v.value() == Value(599) : g.errno_value() == EIO) << g.ToString();
}

// Compaction reads every page of its inputs first: a truncated input fails
// the compaction with EIO, and the process lives.
TEST(CorruptionTest, ACompactionOfATruncatedSegmentFailsWithEIO) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), Opts());
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(s->Put("key" + std::to_string(1000 + i % 300), Value(i)).ok());
  ASSERT_TRUE(s->Sync().ok());
  auto segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 3u);
  fs::resize_file(segs[0], 0);
  Status st = s->Compact();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.errno_value(), EIO) << st.ToString();
  EXPECT_NE(st.message().find("SIGBUS"), std::string::npos) << st.ToString();
}

// The same for scans: an iterator whose batch reaches a truncated segment
// (the index's key compares, the pages of each entry it hands out) ends with
// an EIO status() and the process lives on; keys before the damage are served.
TEST(CorruptionTest, AScanIntoATruncatedSegmentEndsWithEIO) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), Opts());
  std::vector<std::string> segs;
  ASSERT_NO_FATAL_FAILURE(PutKeysOverSegments(dir.path(), s.get(), &segs));
  fs::resize_file(segs[1], 0);  // a middle segment: keys before it read fine
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<Iterator> it = s->NewIterator();
    size_t seen = 0;
    for (it->Seek(""); it->Valid(); it->Next()) {
      ASSERT_EQ(it->key(), "key" + std::to_string(1000 + seen));
      ASSERT_EQ(it->value(), Value(static_cast<int>(seen)));
      ++seen;
    }
    EXPECT_LT(seen, 600u);
    ASSERT_FALSE(it->status().ok());
    EXPECT_EQ(it->status().errno_value(), EIO) << it->status().ToString();
    EXPECT_NE(it->status().message().find("SIGBUS"), std::string::npos) << it->status().ToString();
  }
}

// A value whose tail is gone (its key on a readable page, its last pages
// truncated away): the scan ends before that entry, with status() EIO.
TEST(CorruptionTest, AValueCutByATruncatedSegmentEndsTheScanWithEIO) {
  ScratchDir dir;
  auto s = testing::OpenOrDie(dir.path(), BigValueOptions());
  ASSERT_NO_FATAL_FAILURE(PutSmallAndBigThenCutAt64KiB(dir.path(), s.get()));
  std::unique_ptr<Iterator> it = s->NewIterator();
  it->Seek("");
  ASSERT_TRUE(it->Valid()) << it->status().ToString();
  EXPECT_EQ(it->key(), "a");
  EXPECT_EQ(it->value(), "small");
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().errno_value(), EIO) << it->status().ToString();
}

TEST(CorruptionTest, DamageInSortedSegmentRefusesToOpen) {
  ScratchDir dir;
  {
    auto s = testing::OpenOrDie(dir.path(), Opts());
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(s->Put("key" + std::to_string(i), Value(i)).ok());
    ASSERT_TRUE(s->Compact().ok());
  }
  auto segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 2u);
  FlipBit(segs.back(), 50, 5);  // the compaction output has the highest id
  std::unique_ptr<Store> s;
  Status st = Store::Open(dir.path(), Opts(), &s);
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
}

TEST(CorruptionTest, RandomBitFlipsNeverServeABadValue) {
  ScratchDir dir;
  const std::string golden = dir.Sub("golden");
  std::map<std::string, std::string> model;
  std::map<std::string, std::set<std::string>> history;  // every value ever written
  {
    auto s = testing::OpenOrDie(golden, Opts());
    for (int i = 0; i < 400; ++i) {
      std::string k = "key" + std::to_string(i % 250);
      model[k] = Value(i);
      history[k].insert(Value(i));
      ASSERT_TRUE(s->Put(k, model[k]).ok());
      if (i == 200) {
        ASSERT_TRUE(s->Compact().ok());
      }
    }
  }
  std::mt19937_64 rng(99);
  int refused = 0, opened = 0;
  for (int trial = 0; trial < 150; ++trial) {
    const std::string work = dir.Sub("work");
    CopyDir(golden, work);
    auto segs = Segments(work);
    const std::string& seg = segs[rng() % segs.size()];
    // Flip within the data (preallocated zeros after it are covered above).
    uint64_t size = fs::file_size(seg);
    uint64_t data_end = size;
    {
      std::string bytes(size, '\0');
      int fd = ::open(seg.c_str(), O_RDONLY);
      ASSERT_EQ(::pread(fd, bytes.data(), size, 0), static_cast<ssize_t>(size));
      ::close(fd);
      while (data_end > 0 && bytes[data_end - 1] == 0) --data_end;
    }
    if (data_end == 0) continue;
    FlipBit(seg, rng() % data_end, static_cast<int>(rng() % 8));
    std::unique_ptr<Store> s;
    Status st = Store::Open(work, Opts(), &s);
    if (!st.ok()) {
      EXPECT_TRUE(st.IsCorruption()) << st.ToString();
      ++refused;
      continue;
    }
    ++opened;
    // Whatever is served was written (a flip in the last records reads as a
    // torn tail: they are dropped and an older version may show again).
    auto got = testing::Dump(*s);
    for (const auto& [k, v] : got) ASSERT_EQ(history.at(k).count(v), 1u) << "trial " << trial;
    EXPECT_GE(got.size() + 20, model.size());
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace alexfs
