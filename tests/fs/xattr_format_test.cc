// Extended attributes in values (fs/value_format.h version 3), their section
// (fs/xattr_format.h) and the POSIX ACL rules (fs/posix_acl.h), without a mount.
#include <gtest/gtest.h>

#include "fs/posix_acl.h"
#include "fs/value_format.h"
#include "fs/xattr_format.h"

namespace alexfs::fs {
namespace {

TEST(XattrFormat, RecordsCarryThemAfterTheirBody) {
  XattrMap map{{"user.a", "1"}, {"security.selinux", std::string("x\0y", 3)}};
  Attr a;
  a.mode = S_IFREG | 0644;
  a.xattrs = EncodeXattrs(map);
  // Inline file: the contents are unchanged and the section follows them.
  std::string value = EncodeObject(a, "contents");
  EXPECT_EQ(value[0], static_cast<char>(kXattrFormatVersion));
  auto d = DecodeValue(value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->bytes, "contents");
  EXPECT_EQ(d->size, 8u);
  XattrMap back;
  ASSERT_TRUE(DecodeXattrs(d->attr.xattrs, &back));
  EXPECT_EQ(back, map);
  // File in blocks.
  d = DecodeValue(EncodeBlockedFile(a, 77, 1 << 20));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->in_blocks);
  EXPECT_EQ(d->file_id, 77u);
  EXPECT_EQ(d->size, uint64_t{1} << 20);
  EXPECT_EQ(d->attr.xattrs, a.xattrs);
  // Without attributes a record is version 2, byte for byte as before.
  a.xattrs.clear();
  value = EncodeObject(a, "contents");
  EXPECT_EQ(value[0], static_cast<char>(kFormatVersion));
  EXPECT_EQ(value.size(), kHeaderBytes + 8);
  // A section length past the value's end is refused.
  a.xattrs = EncodeXattrs(map);
  value = EncodeObject(a, "");
  value[20] = static_cast<char>(value.size());
  EXPECT_FALSE(DecodeValue(value));
}

TEST(XattrFormat, SectionFindAndMalformed) {
  XattrMap map{{"user.b", "two"}, {"user.a", ""}, {"trusted.z", std::string(300, 'z')}};
  std::string section = EncodeXattrs(map);
  std::string_view v;
  EXPECT_TRUE(FindXattr(section, "user.b", &v));
  EXPECT_EQ(v, "two");
  EXPECT_TRUE(FindXattr(section, "user.a", &v));
  EXPECT_EQ(v, "");
  EXPECT_FALSE(FindXattr(section, "user.c", &v));
  EXPECT_EQ(XattrPayloadBytes(map), 6 + 3 + 6 + 9 + 300u);
  XattrMap out;
  EXPECT_FALSE(DecodeXattrs(section.substr(0, section.size() - 1), &out));
  EXPECT_TRUE(DecodeXattrs("", &out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(ClassifyXattr("user.x"), XattrNamespace::kUser);
  EXPECT_EQ(ClassifyXattr("user."), XattrNamespace::kUnsupported);
  EXPECT_EQ(ClassifyXattr("trusted.x"), XattrNamespace::kTrusted);
  EXPECT_EQ(ClassifyXattr("security.capability"), XattrNamespace::kSecurity);
  EXPECT_EQ(ClassifyXattr("system.posix_acl_access"), XattrNamespace::kAclAccess);
  EXPECT_EQ(ClassifyXattr("system.posix_acl_default"), XattrNamespace::kAclDefault);
  EXPECT_EQ(ClassifyXattr("system.nfs4_acl"), XattrNamespace::kUnsupported);
}

std::vector<AclEntry> Acl(std::initializer_list<AclEntry> entries) { return entries; }

TEST(PosixAcl, ModeBitsChmodAndCreate) {
  // user::rw- user:1000:r-- group::r-x mask::r-- other::---
  auto acl = Acl({{kAclUserObj, 6, 0}, {kAclUser, 4, 1000}, {kAclGroupObj, 5, 0},
                  {kAclMask, 4, 0}, {kAclOther, 0, 0}});
  std::vector<AclEntry> parsed;
  ASSERT_TRUE(ParseAcl(EncodeAcl(acl), &parsed));
  ASSERT_EQ(parsed.size(), 5u);
  EXPECT_EQ(parsed[1].id, 1000u);
  uint32_t bits = 0;
  EXPECT_FALSE(AclModeBits(acl, &bits));  // named user: not equivalent
  EXPECT_EQ(bits, 0640u);                 // the group class is the mask
  EXPECT_TRUE(AclModeBits(Acl({{kAclUserObj, 7, 0}, {kAclGroupObj, 5, 0}, {kAclOther, 1, 0}}),
                          &bits));
  EXPECT_EQ(bits, 0751u);
  // chmod 0705: owner rwx, mask ---, other r-x; the named user and group stay.
  AclChmod(0705, &acl);
  EXPECT_EQ(acl[0].perm, 7);
  EXPECT_EQ(acl[1].perm, 4);
  EXPECT_EQ(acl[2].perm, 5);
  EXPECT_EQ(acl[3].perm, 0);
  EXPECT_EQ(acl[4].perm, 5);
  // create with mode 0644 under default user::rwx user:1000:rwx group::r-x mask::rwx other::r-x
  auto def = Acl({{kAclUserObj, 7, 0}, {kAclUser, 7, 1000}, {kAclGroupObj, 5, 0},
                  {kAclMask, 7, 0}, {kAclOther, 5, 0}});
  uint32_t mode = S_IFREG | 0644;
  EXPECT_TRUE(AclCreate(&def, &mode));
  EXPECT_EQ(mode, S_IFREG | 0644u);
  EXPECT_EQ(def[0].perm, 6);
  EXPECT_EQ(def[1].perm, 7);  // named entries keep theirs; the mask limits them
  EXPECT_EQ(def[3].perm, 4);
  EXPECT_EQ(def[4].perm, 4);
  // Malformed: no other entry; named user without a mask; bad version.
  EXPECT_FALSE(ParseAcl(EncodeAcl(Acl({{kAclUserObj, 7, 0}, {kAclGroupObj, 5, 0}})), &parsed));
  EXPECT_FALSE(ParseAcl(EncodeAcl(Acl({{kAclUserObj, 7, 0}, {kAclUser, 7, 1}, {kAclGroupObj, 5, 0},
                                       {kAclOther, 5, 0}})),
                        &parsed));
  std::string v = EncodeAcl(Acl({{kAclUserObj, 7, 0}, {kAclGroupObj, 5, 0}, {kAclOther, 5, 0}}));
  v[0] = 1;
  EXPECT_FALSE(ParseAcl(v, &parsed));
}

TEST(PosixAcl, InheritAndChmodInTheSection) {
  auto def = Acl({{kAclUserObj, 7, 0}, {kAclUser, 7, 1000}, {kAclGroupObj, 5, 0},
                  {kAclMask, 7, 0}, {kAclOther, 5, 0}});
  std::string parent = EncodeXattrs({{std::string(kAclDefaultXattr), EncodeAcl(def)}});
  uint32_t mode = S_IFDIR | 0777;
  std::string xattrs;
  ASSERT_TRUE(InheritDefaultAcl(parent, /*is_dir=*/true, &mode, &xattrs));
  EXPECT_EQ(mode, S_IFDIR | 0775u);
  XattrMap map;
  ASSERT_TRUE(DecodeXattrs(xattrs, &map));
  EXPECT_EQ(map.size(), 2u);  // the access ACL and, for a directory, the default
  EXPECT_EQ(map[std::string(kAclDefaultXattr)], EncodeAcl(def));
  mode = S_IFREG | 0666;
  xattrs.clear();
  ASSERT_TRUE(InheritDefaultAcl(parent, /*is_dir=*/false, &mode, &xattrs));
  ASSERT_TRUE(DecodeXattrs(xattrs, &map));
  EXPECT_EQ(map.count(std::string(kAclDefaultXattr)), 0u);
  ChmodAccessAcl(0600, &xattrs);
  std::string_view access;
  ASSERT_TRUE(FindXattr(xattrs, kAclAccessXattr, &access));
  std::vector<AclEntry> acl;
  ASSERT_TRUE(ParseAcl(access, &acl));
  EXPECT_EQ(acl[3].tag, kAclMask);
  EXPECT_EQ(acl[3].perm, 0);
  // No default ACL: nothing inherited.
  mode = S_IFREG | 0666;
  xattrs.clear();
  EXPECT_FALSE(InheritDefaultAcl(EncodeXattrs({{"user.a", "1"}}), false, &mode, &xattrs));
  EXPECT_EQ(mode, S_IFREG | 0666u);
  EXPECT_TRUE(xattrs.empty());
}

}  // namespace
}  // namespace alexfs::fs
