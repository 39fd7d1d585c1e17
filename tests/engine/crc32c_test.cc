#include "engine/crc32c.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace alexfs::crc32c {
namespace {

TEST(Crc32cTest, KnownValues) {
  // RFC 3720 B.4 and the classic check value.
  EXPECT_EQ(Value("123456789", 9), 0xe3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros.data(), zeros.size()), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones.data(), ones.size()), 0x62a8ab43u);
}

TEST(Crc32cTest, HardwareAndTableAgreeAndExtendComposes) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 300; ++n) {
    std::string s(static_cast<size_t>(n), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    const uint32_t whole = Value(s.data(), s.size());
    EXPECT_EQ(whole, ExtendPortableForTest(0, s.data(), s.size()));
    const size_t cut = n == 0 ? 0 : rng() % static_cast<size_t>(n);
    EXPECT_EQ(whole, Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut));
  }
}

TEST(Crc32cTest, MaskRoundTripsAndDiffers) {
  const uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

}  // namespace
}  // namespace alexfs::crc32c
