// A real mount with -o compression=zstd: small files and files in blocks read
// back (uncached, so the daemon decompresses), the store holds fewer bytes
// than it serves (alexfs stats), and everything reads after a remount.
// (Stores read with compression off: tests/engine/compression_test.cc.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <string>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

std::string Text(int i, size_t n) {
  std::mt19937 rng(static_cast<uint32_t>(i));
  static const char* words[] = {"include", "define", "struct", "return", "static", "const",
                                "uint64_t", "namespace", "template", "value", "key", "size"};
  std::string s;
  while (s.size() < n) {
    s += words[rng() % 12];
    s += rng() % 5 == 0 ? "\n" : " ";
  }
  s.resize(n);
  return s;
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// alexfs_<name> from `alexfs stats` of the (unmounted) data directory.
double StatOf(const std::string& data_dir, const std::string& name) {
  std::string out;
  if (RunShell(std::string(AlexfsBinary()) + " stats " + data_dir, &out) != 0) return -1;
  const size_t at = out.find("\nalexfs_" + name + "{");
  const size_t value = at == std::string::npos ? at : out.find("} ", at);
  return value == std::string::npos ? -1 : std::stod(out.substr(value + 2));
}

TEST(CompressionMount, FilesReadBackAndTakeLessSpaceAcrossRemounts) {
  MountedStore store({"-o", "compression=zstd"});
  ASSERT_TRUE(store.Mount()) << store.last_output();
  ASSERT_EQ(::mkdir(store.Path("etc").c_str(), 0755), 0);
  constexpr int kSmall = 200;
  for (int i = 0; i < kSmall; ++i) {
    ASSERT_TRUE(PutFile(store.Path("etc/f" + std::to_string(i)), Text(i, 1500)));
  }
  const std::string big = Text(1000, 1 << 20);         // 16 blocks
  const std::string noise = Random(300 << 10, 7);      // blocks that do not compress
  ASSERT_TRUE(PutFile(store.Path("big"), big, /*sync=*/true));
  ASSERT_TRUE(PutFile(store.Path("noise"), noise, /*sync=*/true));
  for (int i = 0; i < kSmall; i += 7) ASSERT_EQ(ReadUncached(store.Path("etc/f" + std::to_string(i))), Text(i, 1500));
  EXPECT_EQ(ReadUncached(store.Path("big")), big);
  EXPECT_EQ(ReadUncached(store.Path("noise")), noise);
  // A read inside a block, across two.
  {
    int fd = ::open(store.Path("big").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    std::string part(100000, '\0');
    ASSERT_EQ(::pread(fd, part.data(), part.size(), 50000), 100000);
    ::close(fd);
    EXPECT_EQ(part, big.substr(50000, 100000));
  }
  ASSERT_EQ(store.Unmount(), 0) << store.last_output();
  const double live = StatOf(store.data_dir(), "live_bytes");
  const double logical = StatOf(store.data_dir(), "logical_bytes");
  ASSERT_GT(live, 0);
  // The texts compress; the noise does not.
  EXPECT_LT(live, logical - 600000) << live << " stored for " << logical;
  // Remounted (the dictionary, if trained, loads from its record).
  ASSERT_TRUE(store.Remount()) << store.last_output();
  ASSERT_TRUE(PutFile(store.Path("etc/plain"), Text(5, 3000)));
  for (int i = 0; i < kSmall; ++i) ASSERT_EQ(ReadUncached(store.Path("etc/f" + std::to_string(i))), Text(i, 1500));
  EXPECT_EQ(ReadUncached(store.Path("big")), big);
  EXPECT_EQ(ReadUncached(store.Path("noise")), noise);
  EXPECT_EQ(ReadUncached(store.Path("etc/plain")), Text(5, 3000));
}

TEST(CompressionMount, BadCompressionOptionRefusesToMount) {
  MountedStore store({"-o", "compression=lz4"});
  EXPECT_FALSE(store.Mount());
  EXPECT_NE(store.last_output().find("compression"), std::string::npos) << store.last_output();
}

}  // namespace
}  // namespace alexfs::testing
