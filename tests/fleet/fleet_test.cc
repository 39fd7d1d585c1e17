// Fleet mode end to end: one etcd member (or three), several real `alexfs
// mount -o etcd=...` daemons of one prefix, each with its own DATA_DIR.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/etcd_cluster.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `ok` for up to `seconds`.
bool Eventually(const std::function<bool()>& ok, int seconds = 10) {
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ok();
}

// Writes `contents` to `path` and fsyncs it: committed to etcd on return.
int WriteSynced(const std::string& path, const std::string& contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  if (::write(fd, contents.data(), contents.size()) != static_cast<ssize_t>(contents.size())) {
    err = errno;
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  return err;
}

std::string Cat(const std::string& path) {
  std::string text;
  if (!ReadFile(path, &text)) return "<unreadable>";
  return text;
}

std::set<std::string> List(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  ::closedir(d);
  return names;
}

// Every path below `root` with its kind, mode and contents.
void Walk(const std::string& root, const std::string& rel, std::map<std::string, std::string>* out) {
  for (const std::string& name : List(root + "/" + rel)) {
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat((root + "/" + path).c_str(), &st) != 0) {
      (*out)[path] = "<lstat failed>";
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      (*out)[path] = "dir " + std::to_string(st.st_mode & 07777);
      Walk(root, path, out);
    } else {
      (*out)[path] = "file " + std::to_string(st.st_mode & 07777) + " " + Cat(root + "/" + path);
    }
  }
}

std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  Walk(root, "", &out);
  return out;
}

// The names of the first getdents64 call: one READDIR answer of the daemon,
// one scan of its store (POSIX lets a listing that takes several calls show a
// name renamed in between twice or not at all, on any filesystem).
std::set<std::string> FirstReaddir(const std::string& dir) {
  std::set<std::string> names;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return names;
  alignas(8) char buf[65536];
  long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
  for (long off = 0; off < n;) {
    auto* d = reinterpret_cast<struct dirent64*>(buf + off);
    std::string name = d->d_name;
    if (name != "." && name != "..") names.insert(name);
    off += d->d_reclen;
  }
  ::close(fd);
  return names;
}

int64_t HeadRevision(const EtcdCluster& etcd) {
  std::string out;
  etcd.Etcdctl({"get", "nothing-here", "-w", "json"}, &out);
  size_t at = out.find("\"revision\":");
  if (at == std::string::npos) return 0;
  return std::stoll(out.substr(at + 11));
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = std::make_unique<EtcdCluster>(members(), tls_);
    ASSERT_TRUE(etcd_->Start()) << etcd_->last_output();
  }
  virtual int members() const { return 1; }
  // A new mount of the shared prefix (its own DATA_DIR), mounted.
  MountedStore* AddMount(const std::string& extra = "") {
    std::string opts = "etcd=" + etcd_->MountUrls() + ",etcd_prefix=/fleet/test/,etcd_timeout_ms=1500";
    if (!extra.empty()) opts += "," + extra;
    mounts_.push_back(std::make_unique<MountedStore>(std::vector<std::string>{"-o", opts}));
    MountedStore* m = mounts_.back().get();
    EXPECT_TRUE(m->Mount()) << m->last_output();
    return m;
  }
  void TearDown() override {
    mounts_.clear();  // unmount before etcd goes
    etcd_.reset();
  }
  EtcdTls tls_;  // set before SetUp for an etcd that serves TLS only
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<MountedStore>> mounts_;
};

TEST_F(FleetTest, WriteOnAIsReadOnBAtOnceThroughKernelCaches) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  ASSERT_EQ(WriteSynced(a->Path("config"), "v1"), 0);
  ASSERT_TRUE(Eventually([&] { return Cat(b->Path("config")) == "v1"; }));
  EXPECT_EQ(List(b->mountpoint()), std::set<std::string>{"config"});
  // B's kernel now caches the entry, attributes, pages and the listing.
  struct stat st;
  ASSERT_EQ(::stat(b->Path("config").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 2);
  ASSERT_EQ(WriteSynced(a->Path("config"), "version 2"), 0);
  ASSERT_EQ(::mkdir(a->Path("dir").c_str(), 0750), 0);
  ASSERT_EQ(WriteSynced(a->Path("dir/inner"), "x"), 0);
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("config")) == "version 2"; }))
      << Cat(b->Path("config"));
  EXPECT_TRUE(Eventually([&] {
    return ::stat(b->Path("config").c_str(), &st) == 0 && st.st_size == 9;
  }));
  EXPECT_TRUE(Eventually([&] { return List(b->mountpoint()) == std::set<std::string>{"config", "dir"}; }));
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("dir/inner")) == "x"; }));
  ASSERT_EQ(::unlink(a->Path("config").c_str()), 0);
  EXPECT_TRUE(Eventually([&] { return ::access(b->Path("config").c_str(), F_OK) != 0; }));
  // And back: B writes, A reads.
  ASSERT_EQ(WriteSynced(b->Path("dir/from_b"), "hello A"), 0);
  EXPECT_TRUE(Eventually([&] { return Cat(a->Path("dir/from_b")) == "hello A"; }));
}

TEST_F(FleetTest, RenameIsNeverSeenHalfDoneFromB) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  ASSERT_EQ(::mkdir(a->Path("d").c_str(), 0755), 0);
  ASSERT_EQ(WriteSynced(a->Path("d/one"), "payload"), 0);
  ASSERT_TRUE(Eventually([&] { return List(b->Path("d")).size() == 1; }));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, listings{0};
  std::thread reader([&] {
    while (!done) {
      std::set<std::string> names = FirstReaddir(b->Path("d"));
      listings++;
      if (names.size() != 1) bad++;
    }
  });
  for (int i = 0; i < 100; ++i) {
    const std::string from = i % 2 ? "d/two" : "d/one", to = i % 2 ? "d/one" : "d/two";
    ASSERT_EQ(::rename(a->Path(from).c_str(), a->Path(to).c_str()), 0) << i;
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << listings.load() << " listings";
  EXPECT_TRUE(Eventually([&] { return List(b->Path("d")) == std::set<std::string>{"one"}; }));
  EXPECT_EQ(Cat(b->Path("d/one")), "payload");
}

TEST_F(FleetTest, ExclusiveCreatesOfOneNameOnTwoMountsExactlyOneWins) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  constexpr int kNames = 40;
  std::atomic<int> wins[kNames] = {};
  std::atomic<int> other_errors{0};
  auto racer = [&](MountedStore* m) {
    for (int i = 0; i < kNames; ++i) {
      int fd = ::open(m->Path("race" + std::to_string(i)).c_str(), O_CREAT | O_EXCL | O_WRONLY,
                      0644);
      if (fd >= 0) {
        wins[i]++;
        ::close(fd);
      } else if (errno != EEXIST) {
        ADD_FAILURE() << "race" << i << ": " << std::strerror(errno);
        other_errors++;
      }
    }
  };
  std::thread ta(racer, a), tb(racer, b);
  ta.join();
  tb.join();
  EXPECT_EQ(other_errors.load(), 0);
  for (int i = 0; i < kNames; ++i) EXPECT_EQ(wins[i].load(), 1) << "race" << i;
  EXPECT_TRUE(Eventually([&] { return List(a->mountpoint()).size() == kNames; }));
  EXPECT_TRUE(Eventually([&] { return List(b->mountpoint()).size() == kNames; }));
}

TEST_F(FleetTest, EtcdDownWritesFailWithEioInTimeReadsGoOnThenConverge) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  ASSERT_EQ(WriteSynced(a->Path("kept"), "before"), 0);
  ASSERT_TRUE(Eventually([&] { return Cat(b->Path("kept")) == "before"; }));
  etcd_->Kill(0);
  const auto start = Clock::now();
  EXPECT_EQ(WriteSynced(a->Path("new"), "x"), EIO);
  const auto took = Clock::now() - start;
  // etcd_timeout_ms=1500: a bound, not a speed figure (a hang would be minutes).
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(Cat(a->Path("kept")), "before");
  EXPECT_EQ(Cat(b->Path("kept")), "before");
  EXPECT_EQ(List(b->mountpoint()), std::set<std::string>{"kept"});
  ASSERT_TRUE(etcd_->Restart(0)) << etcd_->last_output();
  EXPECT_TRUE(Eventually([&] { return WriteSynced(a->Path("after"), "y") == 0; }, 20));
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("after")) == "y"; }, 20));
  EXPECT_EQ(Tree(a->mountpoint()), Tree(b->mountpoint()));
}

TEST_F(FleetTest, RemountResumesAndCompactionWhileAwayRelists) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  ASSERT_EQ(WriteSynced(a->Path("f1"), "1"), 0);
  ASSERT_TRUE(Eventually([&] { return Cat(b->Path("f1")) == "1"; }));
  // B away; A changes things; B resumes from its applied revision.
  ASSERT_EQ(b->Unmount(), 0);
  ASSERT_EQ(WriteSynced(a->Path("f2"), "2"), 0);
  ASSERT_EQ(::unlink(a->Path("f1").c_str()), 0);
  ASSERT_TRUE(b->Remount()) << b->last_output();
  EXPECT_TRUE(Eventually([&] { return List(b->mountpoint()) == std::set<std::string>{"f2"}; }));
  std::string log = b->last_output();
  EXPECT_NE(log.find("resuming the watch"), std::string::npos) << log;
  // B away again; A changes; etcd compacts that history away.
  ASSERT_EQ(b->Unmount(), 0);
  ASSERT_EQ(WriteSynced(a->Path("f3"), "3"), 0);
  ASSERT_EQ(::rename(a->Path("f2").c_str(), a->Path("f2b").c_str()), 0);
  ASSERT_EQ(WriteSynced(a->Path("f3"), "3 again"), 0);
  std::string out;
  ASSERT_EQ(etcd_->Etcdctl({"compact", std::to_string(HeadRevision(*etcd_))}, &out), 0) << out;
  ASSERT_TRUE(b->Remount()) << b->last_output();
  EXPECT_TRUE(Eventually([&] { return Tree(b->mountpoint()) == Tree(a->mountpoint()); }))
      << b->last_output();
  log = b->last_output();
  EXPECT_NE(log.find("listing the prefix again"), std::string::npos) << log;
}

TEST_F(FleetTest, SigkillOfAMountDuringWritesThenRemountConverges) {
  MountedStore* a = AddMount();
  MountedStore* b = AddMount();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done; ++i) WriteSynced(a->Path("w" + std::to_string(i % 50)), std::to_string(i));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  a->Kill();
  done = true;
  writer.join();
  ASSERT_EQ(WriteSynced(b->Path("from_b"), "b"), 0);
  ASSERT_TRUE(a->Remount()) << a->last_output();
  EXPECT_TRUE(Eventually([&] { return Tree(a->mountpoint()) == Tree(b->mountpoint()); }));
  EXPECT_GT(Tree(a->mountpoint()).size(), 1u);
}

// Random operations spread over three mounts; then every mount, and a fresh
// mount listed from etcd alone, show the same tree.
TEST_F(FleetTest, DifferentialRandomOperationsOverThreeMountsConverge) {
  std::vector<MountedStore*> m = {AddMount(), AddMount(), AddMount()};
  std::mt19937 rng(18);
  auto name = [&](const char* p) { return std::string(p) + std::to_string(rng() % 6); };
  for (int i = 0; i < 300; ++i) {
    MountedStore* at = m[rng() % m.size()];
    switch (rng() % 7) {
      case 0: ::mkdir(at->Path(name("d")).c_str(), 0755); break;
      case 1: WriteSynced(at->Path(name("f")), "top " + std::to_string(i)); break;
      case 2: WriteSynced(at->Path(name("d") + "/" + name("f")), "in " + std::to_string(i)); break;
      case 3: ::unlink(at->Path(name("f")).c_str()); break;
      case 4: ::rename(at->Path(name("f")).c_str(), at->Path(name("d") + "/" + name("f")).c_str()); break;
      case 5: ::rmdir(at->Path(name("d")).c_str()); break;
      case 6: ::chmod(at->Path(name("f")).c_str(), 0600 + rng() % 64); break;
    }
  }
  MountedStore* fresh = AddMount();
  const auto expected = Tree(fresh->mountpoint());
  EXPECT_FALSE(expected.empty());
  for (MountedStore* at : m) {
    EXPECT_TRUE(Eventually([&] { return Tree(at->mountpoint()) == expected; }))
        << at->mountpoint();
  }
}

TEST_F(FleetTest, AChangeOverOneTransactionFailsWithEfbigNeverSplit) {
  // No interval commits: the 2 MiB file below reaches etcd as one change at
  // its fsync (a committer running while it is written would send it in
  // parts, each of which fits).
  MountedStore* a = AddMount("commit_interval_ms=600000");
  ASSERT_EQ(::mkdir(a->Path("big").c_str(), 0755), 0);
  for (int i = 0; i < 130; ++i) {
    ASSERT_EQ(WriteSynced(a->Path("big/f" + std::to_string(i)), "x"), 0) << i;
  }
  EXPECT_NE(::rename(a->Path("big").c_str(), a->Path("moved").c_str()), 0);
  EXPECT_EQ(errno, EFBIG);
  EXPECT_EQ(List(a->Path("big")).size(), 130u);
  // 2 MiB of file data cannot commit either.
  EXPECT_EQ(WriteSynced(a->Path("huge"), std::string(2 << 20, 'h')), EFBIG);
  EXPECT_EQ(::unlink(a->Path("huge").c_str()), 0);  // drops the buffer that cannot commit
}

// The rewrite idiom (open with O_TRUNC, write, fsync) is one change: one
// etcd transaction per update, and B never sees the file empty.
TEST_F(FleetTest, AnOTruncRewriteIsOneTransaction) {
  MountedStore* a = AddMount("commit_interval_ms=600000");
  MountedStore* b = AddMount();
  ASSERT_EQ(WriteSynced(a->Path("cfg"), "first"), 0);
  auto txns = [&] {
    std::string out;
    RunCommand({AlexfsBinary(), "stats", a->mountpoint()}, &out);
    const std::string name = "\nalexfs_fleet_txns_total ";
    const size_t at = out.find(name);
    return at == std::string::npos ? -1 : std::stoll(out.substr(at + name.size()));
  };
  const long long before = txns();
  ASSERT_GE(before, 1);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(WriteSynced(a->Path("cfg"), "version " + std::to_string(i)), 0);
    const std::string seen = Cat(b->Path("cfg"));
    EXPECT_FALSE(seen.empty()) << "B saw the file empty after update " << i;
  }
  EXPECT_EQ(txns() - before, 10);
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("cfg")) == "version 9"; })) << Cat(b->Path("cfg"));
}

class FleetClusterTest : public FleetTest {
 protected:
  int members() const override { return 3; }
};

TEST_F(FleetClusterTest, AMemberKilledAndRestartedDuringWrites) {
  // Killing the leader costs an election (about a second, more on a loaded
  // machine): writes wait for it within their timeout.
  MountedStore* a = AddMount("etcd_timeout_ms=8000");
  MountedStore* b = AddMount("etcd_timeout_ms=8000");
  int failed = 0;
  for (int i = 0; i < 60; ++i) {
    if (i == 20) etcd_->Kill(0);
    if (i == 40) {
      ASSERT_TRUE(etcd_->Restart(0)) << etcd_->last_output();
    }
    if (WriteSynced(a->Path("c" + std::to_string(i)), std::to_string(i)) != 0) failed++;
  }
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(Eventually([&] { return Tree(a->mountpoint()) == Tree(b->mountpoint()); }));
  EXPECT_EQ(List(b->mountpoint()).size(), 60u);
}

// etcd serving https only and requiring client certificates: mounts given the
// CA, a client certificate and its key write on A and read on B.
class FleetTlsTest : public FleetTest {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(MakeEtcdTls(certs_.path(), &tls_, &error)) << error;
    FleetTest::SetUp();
  }
  std::string TlsOptions() const {
    return "etcd_cacert=" + tls_.ca_file + ",etcd_cert=" + tls_.client_cert +
           ",etcd_key=" + tls_.client_key;
  }
  TempDir certs_;
};

TEST_F(FleetTlsTest, MountsWithClientCertificatesShareTheTree) {
  ASSERT_EQ(etcd_->MountUrls().rfind("https://", 0), 0u) << etcd_->MountUrls();
  MountedStore* a = AddMount(TlsOptions());
  MountedStore* b = AddMount(TlsOptions());
  ASSERT_EQ(WriteSynced(a->Path("config"), "over tls"), 0);
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("config")) == "over tls"; })) << Cat(b->Path("config"));
  std::string out;
  ASSERT_EQ(etcd_->Etcdctl({"get", "--prefix", "--keys-only", "/fleet/test/"}, &out), 0) << out;
  EXPECT_NE(out.find("/fleet/test/"), std::string::npos) << out;
}

// etcd with auth enabled: mounts log in as a user whose role may read and
// write the prefix only.
TEST_F(FleetTest, MountsWithAnEtcdUserShareTheTree) {
  std::string out;
  for (const std::vector<std::string>& step : std::vector<std::vector<std::string>>{
           {"user", "add", "root:rootpw", "--interactive=false"},
           {"role", "add", "conf"},
           {"role", "grant-permission", "conf", "--prefix=true", "readwrite", "/fleet/test/"},
           {"user", "add", "conf:confpw", "--interactive=false"},
           {"user", "grant-role", "conf", "conf"},
           {"auth", "enable"}}) {
    ASSERT_EQ(etcd_->Etcdctl(step, &out), 0) << out;
  }
  // A wrong password fails the mount, which says why.
  MountedStore wrong(std::vector<std::string>{
      "-o", "etcd=" + etcd_->MountUrls() + ",etcd_prefix=/fleet/test/,etcd_user=conf,etcd_password=nope"});
  EXPECT_FALSE(wrong.Mount());
  EXPECT_NE(wrong.last_output().find("authentication as conf"), std::string::npos) << wrong.last_output();
  EXPECT_NE(wrong.last_output().find("invalid user ID or password"), std::string::npos)
      << wrong.last_output();
  MountedStore* a = AddMount("etcd_user=conf,etcd_password=confpw");
  MountedStore* b = AddMount("etcd_user=conf,etcd_password=confpw");
  ASSERT_EQ(WriteSynced(a->Path("config"), "with auth"), 0);
  EXPECT_TRUE(Eventually([&] { return Cat(b->Path("config")) == "with auth"; })) << Cat(b->Path("config"));
  ASSERT_EQ(etcd_->Etcdctl({"--user=conf:confpw", "get", "--prefix", "--keys-only", "/fleet/test/"}, &out), 0)
      << out;
  EXPECT_NE(out.find("/fleet/test/"), std::string::npos) << out;
}

}  // namespace
}  // namespace alexfs::testing
