// The value and key layout (fs/value_format.h), without a mount.
#include "fs/value_format.h"

#include <gtest/gtest.h>

namespace alexfs::fs {
namespace {

TEST(ValueFormat, ObjectRoundTripsEveryField) {
  Attr a;
  a.mode = S_IFREG | 04755;
  a.uid = 12345;
  a.gid = 54321;
  a.nlink = 3;
  a.rdev = 0x1234567890ull;
  a.atime_ns = -5;  // before the epoch
  a.mtime_ns = 1700000000123456789;
  a.ctime_ns = 42;
  std::string value = EncodeObject(a, "hello");
  ASSERT_EQ(value.size(), kHeaderBytes + 5);
  EXPECT_EQ(static_cast<uint8_t>(value[0]), kFormatVersion);
  auto d = DecodeValue(value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, DecodedValue::Kind::kObject);
  EXPECT_EQ(d->attr.mode, a.mode);
  EXPECT_EQ(d->attr.uid, a.uid);
  EXPECT_EQ(d->attr.gid, a.gid);
  EXPECT_EQ(d->attr.nlink, a.nlink);
  EXPECT_EQ(d->attr.rdev, a.rdev);
  EXPECT_EQ(d->attr.atime_ns, a.atime_ns);
  EXPECT_EQ(d->attr.mtime_ns, a.mtime_ns);
  EXPECT_EQ(d->attr.ctime_ns, a.ctime_ns);
  EXPECT_EQ(d->bytes, "hello");
}

TEST(ValueFormat, LinkPointerRoundTrips) {
  auto d = DecodeValue(EncodeLinkPointer(0xabcdef0123ull));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, DecodedValue::Kind::kLinkPointer);
  EXPECT_EQ(d->link_id, 0xabcdef0123ull);
}

TEST(ValueFormat, UnknownVersionOrKindOrShortValueIsRejected) {
  std::string v = EncodeObject(Attr(), "x");
  v[0] = 9;
  EXPECT_FALSE(DecodeValue(v));
  v = EncodeObject(Attr(), "x");
  v[1] = 7;
  EXPECT_FALSE(DecodeValue(v));
  EXPECT_FALSE(DecodeValue(EncodeObject(Attr(), "").substr(0, 20)));
  EXPECT_FALSE(DecodeValue(""));
}

TEST(ValueFormat, InternalKeysSortBeforeEveryPathAndSubtreesAreContiguous) {
  EXPECT_LT(RootKey(), std::string("\x01"));
  EXPECT_LT(LinkBodyKey(~0ull), std::string("\x01"));
  EXPECT_LT(NextLinkIdKey(), std::string("\x01"));
  EXPECT_EQ(DirKey("a/b"), "a/b/");
  EXPECT_EQ(DirKey(""), RootKey());
  EXPECT_EQ(ChildPath("", "x"), "x");
  EXPECT_EQ(ChildPath("a", "x"), "a/x");
  // Everything under "a/sub/" sorts between "a/sub/" and "a/sub0".
  EXPECT_LT(std::string("a/sub/"), std::string("a/sub/zzz"));
  EXPECT_LT(std::string("a/sub/\xff\xff"), std::string("a/sub0"));
  // Link body keys of increasing ids sort in order.
  EXPECT_LT(LinkBodyKey(1), LinkBodyKey(256));
}

TEST(ValueFormat, TimesConvertBothWays) {
  timespec ts{.tv_sec = -2, .tv_nsec = 500};
  EXPECT_EQ(FromTimespec(ToTimespec(FromTimespec(ts))), FromTimespec(ts));
  timespec back = ToTimespec(FromTimespec(ts));
  EXPECT_EQ(back.tv_sec, -2);
  EXPECT_EQ(back.tv_nsec, 500);
}

TEST(ValueFormat, BlockedFileRoundTripsAndVersionOneStillReads) {
  Attr a;
  a.mode = S_IFREG | 0640;
  a.nlink = 2;
  a.mtime_ns = 123;
  auto d = DecodeValue(EncodeBlockedFile(a, 0x0102030405ull, uint64_t{1} << 40));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, DecodedValue::Kind::kObject);
  EXPECT_TRUE(d->in_blocks);
  EXPECT_EQ(d->file_id, 0x0102030405ull);
  EXPECT_EQ(d->size, uint64_t{1} << 40);
  EXPECT_EQ(d->attr.mode, a.mode);
  EXPECT_EQ(d->attr.nlink, 2u);
  EXPECT_EQ(d->attr.mtime_ns, 123);
  // A value written before blocks existed (version 1, inline) still reads.
  std::string v1 = EncodeObject(a, "old bytes");
  v1[0] = 1;
  d = DecodeValue(v1);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->in_blocks);
  EXPECT_EQ(d->bytes, "old bytes");
  EXPECT_EQ(d->size, 9u);
  // Version 1 had no blocked kind.
  std::string bad = EncodeBlockedFile(a, 1, 1);
  bad[0] = 1;
  EXPECT_FALSE(DecodeValue(bad));
}

TEST(ValueFormat, BlockKeysAreInternalOrderedAndParse) {
  EXPECT_LT(BlockKey(~0ull, ~0ull), std::string("\x01"));
  EXPECT_LT(BlockKey(7, 1), BlockKey(7, 2));
  EXPECT_LT(BlockKey(7, 255), BlockKey(7, 256));  // big-endian: offset order
  EXPECT_LT(BlockKey(7, ~0ull), BlockRangeEnd(7));
  EXPECT_LE(BlockRangeEnd(7), BlockKey(8, 0));
  uint64_t id = 0, index = 0;
  ASSERT_TRUE(ParseBlockKey(BlockKey(42, 99), &id, &index));
  EXPECT_EQ(id, 42u);
  EXPECT_EQ(index, 99u);
  EXPECT_FALSE(ParseBlockKey(RootKey(), &id, &index));
  EXPECT_FALSE(ParseBlockKey(LinkBodyKey(3), &id, &index));
  EXPECT_FALSE(ParseBlockKey(NextFileIdKey(), &id, &index));
}

TEST(ValueFormat, SliceKeysSortRightAfterTheirBlockInOrder) {
  EXPECT_LT(BlockKey(7, 1), SliceKey(7, 1, 1));
  EXPECT_LT(SliceKey(7, 1, 1), SliceKey(7, 1, 2));
  EXPECT_LT(SliceKey(7, 1, 255), SliceKey(7, 1, 256));
  EXPECT_LT(SliceKey(7, 1, ~0u), BlockKey(7, 2));
  EXPECT_LT(SliceKey(7, ~0ull, ~0u), BlockRangeEnd(7));
  uint64_t id = 0, index = 0;
  uint32_t seq = 9;
  ASSERT_TRUE(ParseBlockKey(BlockKey(42, 99), &id, &index, &seq));
  EXPECT_EQ(seq, 0u);
  ASSERT_TRUE(ParseBlockKey(SliceKey(42, 99, 300), &id, &index, &seq));
  EXPECT_EQ(id, 42u);
  EXPECT_EQ(index, 99u);
  EXPECT_EQ(seq, 300u);
  EXPECT_FALSE(ParseBlockKey(BlockKey(42, 99) + std::string(4, '\0'), &id, &index, &seq));

  uint32_t offset = 0;
  std::string_view bytes;
  const std::string slice = EncodeSlice(65000, "abc");  // `bytes` views into it
  ASSERT_TRUE(DecodeSlice(slice, &offset, &bytes));
  EXPECT_EQ(offset, 65000u);
  EXPECT_EQ(bytes, "abc");
  EXPECT_TRUE(DecodeSlice(EncodeSlice(0, std::string(kBlockBytes, 'x')), &offset, &bytes));
  EXPECT_FALSE(DecodeSlice(EncodeSlice(65535, "ab"), &offset, &bytes));  // past the block
  EXPECT_FALSE(DecodeSlice("abc", &offset, &bytes));
}

}  // namespace
}  // namespace alexfs::fs
