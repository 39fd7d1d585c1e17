// Compressed values (StoreOptions::compression_level): round trip, the 1/8
// rule, incompressible data stored raw, dictionaries trained from the store's
// values, kept while used and retrained by compaction, damage never served,
// stores written without compression read with it and back.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "engine/compression.h"
#include "engine/dictionary.h"
#include "engine/log/log_format.h"
#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

namespace fs = std::filesystem;
using testing::Dump;
using testing::GetOr;
using testing::OpenOrDie;
using testing::ScratchDir;

StoreOptions Opts(int level, uint32_t dict_bytes = 0) {
  StoreOptions o;
  o.segment_bytes = 4 << 20;
  o.compaction_garbage_ratio = 0;
  o.compression_level = level;
  o.compression_dictionary_bytes = dict_bytes;
  return o;
}

// A config-file-like text of about `n` bytes; `i` varies the contents.
std::string ConfigText(int i, size_t n) {
  static const char* words[] = {"server", "listen", "timeout", "retries", "enabled", "path",
                                "/etc/alexfs", "true", "false", "level", "workers", "cache"};
  std::mt19937 rng(static_cast<uint32_t>(i));
  std::string s = "# config " + std::to_string(i) + "\n";
  while (s.size() < n) {
    s += words[rng() % 12];
    s += " = ";
    s += std::to_string(rng() % 1000);
    s += rng() % 3 == 0 ? "\n" : "; ";
  }
  s.resize(n);
  return s;
}

std::string Random(size_t n, uint32_t seed, int alphabet = 256) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % static_cast<uint32_t>(alphabet));
  return s;
}

TEST(CompressionTest, ParsesSettings) {
  int level = -1;
  ASSERT_TRUE(ParseCompression("none", &level).ok());
  EXPECT_EQ(level, 0);
  ASSERT_TRUE(ParseCompression("zstd", &level).ok());
  EXPECT_EQ(level, 3);
  ASSERT_TRUE(ParseCompression("zstd:7", &level).ok());
  EXPECT_EQ(level, 7);
  EXPECT_FALSE(ParseCompression("zstd:0", &level).ok());
  EXPECT_FALSE(ParseCompression("zstd:x", &level).ok());
  EXPECT_FALSE(ParseCompression("lz4", &level).ok());
  EXPECT_EQ(CompressionName(0), "none");
  EXPECT_EQ(CompressionName(5), "zstd:5");
}

TEST(CompressionTest, OneEighthRule) {
  std::string out;
  // ~7.3 bits of entropy per byte: zstd saves less than 1/8.
  EXPECT_FALSE(EncodeValue(Random(8000, 1, 160), 3, nullptr, &out));
  EXPECT_TRUE(out.empty());
  // ~6 bits per byte: saves about 1/4.
  ASSERT_TRUE(EncodeValue(Random(8000, 2, 64), 3, nullptr, &out));
  EXPECT_LE(out.size(), 8000u - 8000u / 8);
  std::string back;
  ASSERT_TRUE(DecodeValue(out, nullptr, &back).ok());
  EXPECT_EQ(back, Random(8000, 2, 64));
  // Too short to bother.
  EXPECT_FALSE(EncodeValue(std::string(kMinCompressBytes - 1, 'a'), 3, nullptr, &out));
  // A long incompressible value is refused on its sample.
  EXPECT_FALSE(EncodeValue(Random(1 << 20, 3), 3, nullptr, &out));
}

TEST(CompressionTest, RoundTripAndStats) {
  ScratchDir d;
  std::map<std::string, std::string> want;
  {
    auto s = OpenOrDie(d.path(), Opts(3));
    want["a-text"] = ConfigText(1, 4000);
    want["b-short"] = "tiny";
    want["c-random"] = Random(100 << 10, 5);
    want["d-big-text"] = ConfigText(2, 300 << 10);
    want["e-empty"] = "";
    WriteBatch b;
    b.Put("f-batch-1", ConfigText(3, 2000));
    b.Put("f-batch-2", Random(3000, 6));
    want["f-batch-1"] = ConfigText(3, 2000);
    want["f-batch-2"] = Random(3000, 6);
    for (const auto& [k, v] : want) {
      if (k.rfind("f-", 0) != 0) {
        ASSERT_TRUE(s->Put(k, v).ok());
      }
    }
    ASSERT_TRUE(s->Write(b, Durability::kBuffered).ok());
    for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*s, k), v) << k;
    EXPECT_EQ(Dump(*s), want);
    const StoreStats st = s->GetStats();
    // The texts shrink; the random values are stored as they are.
    EXPECT_LT(st.live_bytes + 200000, st.logical_bytes);
    ASSERT_TRUE(s->Close().ok());
  }
  // Reopened without compression: every value reads, the figures agree.
  auto s = OpenOrDie(d.path(), Opts(0));
  EXPECT_EQ(Dump(*s), want);
  const StoreStats st = s->GetStats();
  EXPECT_LT(st.live_bytes + 200000, st.logical_bytes);
  // Overwritten raw: the logical bytes follow.
  ASSERT_TRUE(s->Put("d-big-text", "x").ok());
  EXPECT_LT(s->GetStats().logical_bytes, st.logical_bytes - 200000);
  ASSERT_TRUE(s->Compact().ok());
  want["d-big-text"] = "x";
  EXPECT_EQ(Dump(*s), want);
}

TEST(CompressionTest, IncompressibleDataIsStoredRaw) {
  ScratchDir d;
  auto s = OpenOrDie(d.path(), Opts(3));
  const std::string v = Random(64 << 10, 9);
  ASSERT_TRUE(s->Put("k", v).ok());
  const StoreStats st = s->GetStats();
  EXPECT_EQ(st.live_bytes, st.logical_bytes);
  EXPECT_EQ(GetOr(*s, "k"), v);
}

TEST(CompressionTest, StoreWithoutCompressionOpensWithIt) {
  ScratchDir d;
  {
    auto s = OpenOrDie(d.path(), Opts(0));
    ASSERT_TRUE(s->Put("old", ConfigText(1, 5000)).ok());
    EXPECT_EQ(s->GetStats().live_bytes, s->GetStats().logical_bytes);
  }
  {
    auto s = OpenOrDie(d.path(), Opts(3));
    EXPECT_EQ(GetOr(*s, "old"), ConfigText(1, 5000));
    ASSERT_TRUE(s->Put("new", ConfigText(2, 5000)).ok());
  }
  auto s = OpenOrDie(d.path(), Opts(0));
  EXPECT_EQ(GetOr(*s, "old"), ConfigText(1, 5000));
  EXPECT_EQ(GetOr(*s, "new"), ConfigText(2, 5000));
}

TEST(CompressionTest, ReservedKeysAreRefusedAndHidden) {
  ScratchDir d;
  auto s = OpenOrDie(d.path(), Opts(3));
  EXPECT_TRUE(s->Put(std::string(4, '\xff') + "dict", "x").code() == Status::Code::kInvalidArgument);
  EXPECT_TRUE(s->Put(std::string(3, '\xff'), "fine").ok());
}

// True if some segment file holds `bytes`.
bool StoreFilesHold(const std::string& dir, const std::string& bytes) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".log") continue;
    std::string data(fs::file_size(e.path()), '\0');
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    const ssize_t n = ::pread(fd, data.data(), data.size(), 0);
    ::close(fd);
    if (n > 0 && data.find(bytes) != std::string::npos) return true;
  }
  return false;
}

// Waits (a bounded poll, not a timing assertion) for the background thread
// to train the first dictionary.
bool WaitForDictionary(const Store& s) {
  for (int i = 0; i < 3000; ++i) {
    if (s.GetStats().dictionaries > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(CompressionTest, DictionaryTrainedFromSmallValuesAndUsed) {
  ScratchDir d;
  ScratchDir plain_dir;
  constexpr int kValues = 1500;
  {
    auto s = OpenOrDie(d.path(), Opts(3, 4 << 10));
    auto plain = OpenOrDie(plain_dir.path(), Opts(3, 0));
    for (int i = 0; i < kValues; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i), ConfigText(i, 600)).ok());
    }
    ASSERT_TRUE(WaitForDictionary(*s));
    // Written after training: with the dictionary, and smaller than alone.
    const uint64_t before = s->GetStats().live_bytes;
    for (int i = kValues; i < 2 * kValues; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i), ConfigText(i, 600)).ok());
      ASSERT_TRUE(plain->Put("k" + std::to_string(i), ConfigText(i, 600)).ok());
    }
    const uint64_t with_dict = s->GetStats().live_bytes - before;
    const uint64_t alone = plain->GetStats().live_bytes;
    EXPECT_LT(with_dict * 10, alone * 7) << with_dict << " vs " << alone;
    // The dictionary's key is the engine's: not listed.
    auto m = Dump(*s);
    EXPECT_EQ(m.size(), 2u * kValues);
    for (int i = 0; i < 2 * kValues; i += 97) EXPECT_EQ(GetOr(*s, "k" + std::to_string(i)), ConfigText(i, 600));
  }
  // Reopened: the dictionary loads from its record.
  auto s = OpenOrDie(d.path(), Opts(3, 4 << 10));
  EXPECT_EQ(s->GetStats().dictionaries, 1u);
  for (int i = 0; i < 2 * kValues; ++i) ASSERT_EQ(GetOr(*s, "k" + std::to_string(i)), ConfigText(i, 600));
}

TEST(CompressionTest, CompactionRetrainsAndKeepsDictionariesInUse) {
  ScratchDir d;
  constexpr int kValues = 1500;
  {
    auto s = OpenOrDie(d.path(), Opts(3, 4 << 10));
    for (int i = 0; i < kValues; ++i) ASSERT_TRUE(s->Put("k" + std::to_string(i), ConfigText(i, 600)).ok());
    ASSERT_TRUE(WaitForDictionary(*s));
    for (int i = 0; i < kValues; ++i) ASSERT_TRUE(s->Put("k" + std::to_string(i), ConfigText(i, 600)).ok());
    const StoreStats before = s->GetStats();
    // Compaction trains dictionary 2 on the live values and re-encodes them
    // all with it: dictionary 1 is used by no record and goes.
    ASSERT_TRUE(s->Compact().ok());
    const StoreStats after = s->GetStats();
    EXPECT_EQ(after.dictionaries, 1u);
    EXPECT_EQ(after.logical_bytes, before.logical_bytes);
    EXPECT_TRUE(StoreFilesHold(d.path(), DictionaryKey(2)));
    for (int i = 0; i < kValues; ++i) ASSERT_EQ(GetOr(*s, "k" + std::to_string(i)), ConfigText(i, 600));
    // Too few values left to train on: the next compaction keeps dictionary
    // 2, which the survivors use.
    for (int i = 20; i < kValues; ++i) ASSERT_TRUE(s->Delete("k" + std::to_string(i)).ok());
    ASSERT_TRUE(s->Compact().ok());
    EXPECT_EQ(s->GetStats().dictionaries, 1u);
  }
  auto s = OpenOrDie(d.path(), Opts(3, 4 << 10));
  EXPECT_EQ(s->GetStats().dictionaries, 1u);
  EXPECT_EQ(Dump(*s).size(), 20u);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(GetOr(*s, "k" + std::to_string(i)), ConfigText(i, 600));
}

// Writers train a first dictionary smaller than the configured size (at most
// 64 KiB, on 100x that); a compaction with more samples than that replaces it
// with a larger one even short of 100x the full size.
TEST(CompressionTest, CompactionReplacesTheSmallerFirstDictionary) {
  ScratchDir d;
  constexpr int kValues = 12000;  // 12 MB: over 100x 64 KiB, under 100x 128 KiB
  auto s = OpenOrDie(d.path(), Opts(3, 128 << 10));
  for (int i = 0; i < kValues; ++i) ASSERT_TRUE(s->Put("k" + std::to_string(i), ConfigText(i, 1000)).ok());
  ASSERT_TRUE(WaitForDictionary(*s));
  ASSERT_TRUE(s->Compact().ok());
  EXPECT_TRUE(StoreFilesHold(d.path(), DictionaryKey(2)));
  EXPECT_EQ(s->GetStats().dictionaries, 1u);
  for (int i = 0; i < kValues; i += 101) ASSERT_EQ(GetOr(*s, "k" + std::to_string(i)), ConfigText(i, 1000));
}

// Damage inside a compressed payload fails the record's CRC: the value is
// never served (the newest segment's tail is cut there, or Open refuses).
TEST(CompressionTest, DamagedCompressedPayloadIsNeverServed) {
  ScratchDir d;
  const std::string v = ConfigText(7, 20000);
  {
    auto s = OpenOrDie(d.path(), Opts(3));
    ASSERT_TRUE(s->Put("a", ConfigText(1, 3000)).ok());
    ASSERT_TRUE(s->Put("victim", v).ok());
    ASSERT_TRUE(s->Put("z", ConfigText(2, 3000)).ok());
    ASSERT_LT(s->GetStats().live_bytes, 8000u);  // all three compressed
  }
  std::string seg;
  for (const auto& e : fs::directory_iterator(d.path())) {
    if (e.path().extension() == ".log") seg = e.path().string();
  }
  ASSERT_FALSE(seg.empty());
  // Find the victim's frame: after its key in the file.
  std::string data(fs::file_size(seg), '\0');
  int fd = ::open(seg.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pread(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  const size_t at = data.find("victim");
  ASSERT_NE(at, std::string::npos);
  const size_t target = at + 6 + 5 + 40;  // inside the zstd frame
  char c = static_cast<char>(data[target] ^ 0x10);
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(target)), 1);
  ::close(fd);
  std::unique_ptr<Store> s;
  Status st = Store::Open(d.path(), Opts(3), &s);
  if (!st.ok()) {
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    return;
  }
  // Opened by cutting the torn tail at the damaged record: gone, not wrong.
  EXPECT_EQ(GetOr(*s, "victim"), "<missing>");
  EXPECT_EQ(GetOr(*s, "a"), ConfigText(1, 3000));
}

// A frame that passes the CRC but does not decode (the fuzz target's case):
// Corruption, never a short or overlong value.
TEST(CompressionTest, DecodeRejectsBadFramesAndMissingDictionaries) {
  std::string enc;
  ASSERT_TRUE(EncodeValue(ConfigText(1, 5000), 3, nullptr, &enc));
  std::string out;
  std::string cut = enc.substr(0, enc.size() - 10);
  EXPECT_TRUE(DecodeValue(cut, nullptr, &out).IsCorruption());
  std::string bigger = enc;
  log::EncodeFixed32(bigger.data() + 1, 5001);
  EXPECT_TRUE(DecodeValue(bigger, nullptr, &out).IsCorruption());
  std::string with_dict = enc;
  with_dict[0] = static_cast<char>(Codec::kZstdDictionary);
  EXPECT_TRUE(DecodeValue(with_dict, nullptr, &out).IsCorruption());
  EXPECT_TRUE(DecodeValue("", nullptr, &out).IsCorruption());
  // A header claiming 1 GiB for a small frame: refused without allocating it.
  std::string liar = enc;
  log::EncodeFixed32(liar.data() + 1, 1u << 30);
  EXPECT_TRUE(DecodeValue(liar, nullptr, &out).IsCorruption());
  // A genuinely huge ratio (8 MiB of zeros) decodes, streaming.
  const std::string zeros(8 << 20, '\0');
  ASSERT_TRUE(EncodeValue(zeros, 3, nullptr, &enc));
  EXPECT_LT(enc.size(), 8000u);
  ASSERT_TRUE(DecodeValue(enc, nullptr, &out).ok());
  EXPECT_TRUE(out == zeros);
  log::EncodeFixed32(enc.data() + 1, (8u << 20) - 1);
  EXPECT_TRUE(DecodeValue(enc, nullptr, &out).IsCorruption());
  log::EncodeFixed32(enc.data() + 1, (8u << 20) + 1);
  EXPECT_TRUE(DecodeValue(enc, nullptr, &out).IsCorruption());
  EXPECT_TRUE(DecodeValue(std::string("\x07xxxxxxxx", 9), nullptr, &out).IsCorruption());
}

}  // namespace
}  // namespace alexfs
