// Unmodified programs against a real AlexFS mount.
//
// Every test runs twice: on AlexFS (the real `alexfs` binary mounted with
// MountedStore) and on a reference tmpfs mounted in a temporary directory. The
// reference run proves the test itself: a test that fails on tmpfs is wrong, and
// each test checks something a broken filesystem would get wrong. The crash and
// remount tests run on the reference too, where "kill" kills the writing program
// and "remount" is a no-op, which proves their bookkeeping and checks.
//
// While fs/ serves the placeholder read-only root, the AlexFS instantiation skips
// itself (creating a file fails with EROFS/ENOSYS/EPERM/EACCES).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

enum class Target { kTmpfs, kAlexfs };

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `command` with /bin/sh in directory `dir`, C locale.
int Sh(const std::string& dir, const std::string& command, std::string* output = nullptr) {
  return RunShell("cd " + Quote(dir) + " && export LC_ALL=C TZ=UTC && {\n" + command + "\n}", output);
}

// Deterministic pseudo-random bytes.
std::string Bytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

uint64_t Fnv1a(const std::string& data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Sets atime and mtime (nanoseconds since the epoch) without following symlinks.
bool SetTimes(const std::string& path, int64_t mtime_ns) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = mtime_ns / 1000000000;
  ts[0].tv_nsec = ts[1].tv_nsec = mtime_ns % 1000000000;
  return ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Names in `dir` (without . and ..) through opendir/readdir; duplicates kept.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.push_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

// A description of every entry under `root`, keyed by relative path: type, mode,
// owner, size, mtime (ns), link count of regular files, content hash or link
// target. Two trees are the same iff their snapshots are equal.
using Snapshot = std::map<std::string, std::string>;

void SnapshotInto(const std::string& root, const std::string& rel, Snapshot* out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  for (const std::string& name : ListDir(dir)) {
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    std::string path = root + "/" + child_rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      (*out)[child_rel] = "lstat failed: " + std::string(std::strerror(errno));
      continue;
    }
    std::ostringstream d;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    if (S_ISREG(st.st_mode)) {
      std::string contents;
      bool ok = ReadFile(path, &contents);
      d << "file " << mode << " " << st.st_uid << ":" << st.st_gid << " size=" << st.st_size
        << " mtime=" << MtimeNs(st) << " nlink=" << st.st_nlink;
      if (!ok) {
        d << " UNREADABLE";
      } else {
        d << " read=" << contents.size() << " fnv=" << std::hex << Fnv1a(contents);
      }
    } else if (S_ISDIR(st.st_mode)) {
      d << "dir " << mode << " " << st.st_uid << ":" << st.st_gid << " mtime=" << MtimeNs(st);
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      d << "symlink " << st.st_uid << ":" << st.st_gid << " size=" << st.st_size
        << " mtime=" << MtimeNs(st) << " -> " << (n >= 0 ? std::string(target, n) : "READLINK FAILED");
    } else {
      d << "other mode=" << std::oct << st.st_mode;
    }
    (*out)[child_rel] = d.str();
    if (S_ISDIR(st.st_mode)) SnapshotInto(root, child_rel, out);
  }
}

Snapshot TakeSnapshot(const std::string& root) {
  Snapshot s;
  SnapshotInto(root, "", &s);
  return s;
}

// Empty if equal; otherwise the first differences, one a line.
std::string Diff(const Snapshot& want, const Snapshot& got) {
  std::ostringstream out;
  int shown = 0;
  for (const auto& [path, desc] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      if (shown++ < 30) out << "  missing " << path << " (" << desc << ")\n";
    } else if (it->second != desc) {
      if (shown++ < 30) out << "  " << path << ":\n    want " << desc << "\n    got  " << it->second << "\n";
    }
  }
  for (const auto& [path, desc] : got) {
    if (!want.count(path) && shown++ < 30) out << "  unexpected " << path << " (" << desc << ")\n";
  }
  if (shown > 30) out << "  ... " << shown - 30 << " more\n";
  return out.str();
}

// A realistic tree: nested directories, symlinks (relative, to a directory,
// dangling, absolute), a hard link, modes from 0400 to 1777, owners, odd names,
// a 1 MiB file, empty files and empty directories, and distinct mtimes with
// nanoseconds on everything (directories last, as their mtime changes when
// entries are added).
void MakeTree(const std::string& root) {
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0) << root << ": " << std::strerror(errno);
  auto dir = [&](const std::string& rel, mode_t mode) {
    std::string p = root + "/" + rel;
    ASSERT_EQ(::mkdir(p.c_str(), 0755), 0) << p << ": " << std::strerror(errno);
    ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p << ": " << std::strerror(errno);
  };
  auto file = [&](const std::string& rel, const std::string& contents, mode_t mode) {
    std::string p = root + "/" + rel;
    ASSERT_TRUE(WriteFile(p, contents)) << p << ": " << std::strerror(errno);
    ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p << ": " << std::strerror(errno);
  };
  auto link = [&](const std::string& target, const std::string& rel) {
    std::string p = root + "/" + rel;
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p << ": " << std::strerror(errno);
  };
  std::vector<std::string> dirs = {"bin", "etc", "etc/app", "etc/app/conf.d", "data",
                                   "data/small", "empty_dir", "private", "tmp", "deep",
                                   "deep/a", "deep/a/b", "deep/a/b/c", "deep/a/b/c/d",
                                   "deep/a/b/c/d/e", "links", "hard", "names"};
  for (const std::string& d : dirs) {
    dir(d, 0755);
    if (::testing::Test::HasFatalFailure()) return;
  }
  file("README.md", "# A project\n\nSome text.\n", 0644);
  file("bin/run.sh", "#!/bin/sh\necho run\n", 0755);
  file("etc/app/config.toml", "[server]\nport = 8080\nhost = \"::1\"\n", 0640);
  file("etc/app/secret.key", Bytes(32, 7), 0600);
  ASSERT_EQ(::lchown((root + "/etc/app/secret.key").c_str(), 1000, 1000), 0) << std::strerror(errno);
  file("etc/app/empty.conf", "", 0644);
  file("etc/app/conf.d/10-default.conf", "a=1\n", 0644);
  file("data/blob.bin", Bytes(1 << 20, 42), 0644);
  for (int i = 0; i < 20; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "data/small/%03d.dat", i);
    file(name, Bytes(static_cast<size_t>(i * i * 13), static_cast<uint64_t>(i)), 0644);
  }
  file("data/readonly.txt", "do not touch\n", 0444);
  file("data/empty", "", 0600);
  file("private/notes.txt", "private notes\n", 0600);
  file("tmp/scratch", Bytes(4097, 3), 0666);
  file("deep/a/b/c/d/e/leaf.txt", "leaf\n", 0644);
  file("hard/one", "linked body\n", 0644);
  ASSERT_EQ(::link((root + "/hard/one").c_str(), (root + "/hard/two").c_str()), 0) << std::strerror(errno);
  file("names/with space.txt", "space\n", 0644);
  file("names/unicode-\xc3\xa9\xe2\x82\xac.txt", "unicode\n", 0644);
  file("names/.hidden", "hidden\n", 0644);
  file("names/" + std::string(200, 'n'), "long name\n", 0644);
  link("../README.md", "links/readme");
  link("../etc/app", "links/appdir");
  link("../does/not/exist", "links/dangling");
  link("/etc/hostname", "links/absolute");
  ASSERT_EQ(::lchown((root + "/links/readme").c_str(), 1000, 1000), 0) << std::strerror(errno);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_EQ(::chmod((root + "/private").c_str(), 0700), 0);
  ASSERT_EQ(::chmod((root + "/tmp").c_str(), 01777), 0);
  ASSERT_EQ(::chmod((root + "/etc/app").c_str(), 0750), 0);

  // Mtimes: files and links first, then directories deepest first.
  Snapshot s = TakeSnapshot(root);
  int64_t t = 1700000000LL * 1000000000 + 123456789;
  std::vector<std::string> directories;
  for (const auto& [rel, desc] : s) {
    t += 1000003007;  // a bit over a second, with changing nanoseconds
    if (desc.rfind("dir ", 0) == 0) {
      directories.push_back(rel);
      continue;
    }
    ASSERT_TRUE(SetTimes(root + "/" + rel, t)) << rel << ": " << std::strerror(errno);
  }
  std::sort(directories.begin(), directories.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& rel : directories) {
    t += 777000011;
    ASSERT_TRUE(SetTimes(root + "/" + rel, t)) << rel << ": " << std::strerror(errno);
  }
}

// A child process with its stdout on a pipe we read line by line.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv, const std::string& stderr_path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    Kill();
    Wait();
    if (fd_ >= 0) ::close(fd_);
  }
  bool started() const { return pid_ > 0 && fd_ >= 0; }
  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  // Reads until at least `n` complete lines arrived, EOF, or the timeout.
  // Returns false on EOF or timeout.
  bool WaitForLines(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (lines_.size() < n) {
      if (eof_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      ReadSome(static_cast<int>(left.count()));
    }
    return true;
  }
  // Reads everything until EOF (or the timeout).
  bool ReadToEof(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      ReadSome(static_cast<int>(left.count()));
    }
    return true;
  }
  // Exit status (128+signal if killed).
  int Wait() {
    if (pid_ <= 0) return status_;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  void ReadSome(int timeout_ms) {
    struct pollfd p = {fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      if (n == 0 || errno != EINTR) eof_ = true;
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = -1;
  bool eof_ = false;
  std::string partial_;  // an incomplete last line is never reported
  std::vector<std::string> lines_;
};

// AlexFS bugs these tests found, reported to the fs engineer: the alexfs run
// of each is skipped (the tmpfs run still runs) until the bug is fixed and the
// entry removed. ALEXFS_RUN_KNOWN_BUGS=1 in the environment runs them anyway.
const std::map<std::string, std::string>& KnownBugs() {
  static const std::map<std::string, std::string> bugs = {
  };
  return bugs;
}

class Programs : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    if (GetParam() == Target::kTmpfs) {
      reference_ = std::make_unique<TempDir>();
      root_ = reference_->Sub("tmpfs");
      ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
      if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=2g,mode=0755") != 0) {
        // Not root: a plain directory is still a fair reference.
        std::fprintf(stderr, "note: cannot mount tmpfs (%s); reference is a plain directory\n",
                     std::strerror(errno));
      }
      return;
    }
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    test = test.substr(0, test.find('/'));
    auto bug = KnownBugs().find(test);
    if (bug != KnownBugs().end() && std::getenv("ALEXFS_RUN_KNOWN_BUGS") == nullptr) {
      GTEST_SKIP() << "known AlexFS bug, skipped until fixed (ALEXFS_RUN_KNOWN_BUGS=1 runs it): "
                   << bug->second;
    }
    store_ = std::make_unique<MountedStore>();
    ASSERT_TRUE(store_->Mount()) << store_->last_output();
    root_ = store_->mountpoint();
    std::string probe = root_ + "/.programs-test-probe";
    int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
      int e = errno;
      if (e == EROFS || e == ENOSYS || e == EPERM || e == EACCES) {
        GTEST_SKIP() << "AlexFS serves the placeholder read-only root (open(O_CREAT) failed: "
                     << std::strerror(e) << ")";
      }
      FAIL() << "open(" << probe << ", O_CREAT) failed: " << std::strerror(e);
    }
    ::close(fd);
    ASSERT_EQ(::unlink(probe.c_str()), 0) << std::strerror(errno);
  }

  void TearDown() override {
    store_.reset();
    reference_.reset();
  }

  bool on_alexfs() const { return GetParam() == Target::kAlexfs; }
  const std::string& root() const { return root_; }
  std::string P(const std::string& rel) const { return root_ + "/" + rel; }
  // Scratch space on the disk, outside the target: sources, scripts, archives.
  std::string L(const std::string& rel) const { return local_.Sub(rel); }

  // AlexFS: a clean unmount and a fresh daemon on the same data. Reference: nothing.
  void Remount() {
    if (!on_alexfs()) return;
    ASSERT_EQ(store_->Unmount(), 0) << store_->last_output();
    ASSERT_FALSE(IsMounted(root_));
    ASSERT_TRUE(store_->Remount()) << store_->last_output();
  }

  // Writes a script into the scratch directory; returns its path.
  std::string Script(const std::string& name, const std::string& text) {
    std::string path = L(name);
    EXPECT_TRUE(WriteFile(path, text));
    return path;
  }

  std::string Read(const std::string& path) {
    std::string s;
    if (!ReadFile(path, &s)) return "<unreadable: " + std::string(std::strerror(errno)) + ">";
    return s;
  }

  std::unique_ptr<MountedStore> store_;
  std::unique_ptr<TempDir> reference_;
  TempDir local_;
  std::string root_;
};

std::string TargetName(const ::testing::TestParamInfo<Target>& info) {
  return info.param == Target::kAlexfs ? "alexfs" : "tmpfs";
}

INSTANTIATE_TEST_SUITE_P(On, Programs, ::testing::Values(Target::kTmpfs, Target::kAlexfs),
                         TargetName);

std::vector<std::string> LineList(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// ---------------------------------------------------------------------------

TEST_P(Programs, LsLa) {
  ASSERT_EQ(::mkdir(P("d").c_str(), 0750), 0) << std::strerror(errno);
  ASSERT_TRUE(WriteFile(P("d/a.txt"), "hello"));
  ASSERT_EQ(::chmod(P("d/a.txt").c_str(), 0644), 0);
  ASSERT_TRUE(WriteFile(P("d/exec"), ""));
  ASSERT_EQ(::chmod(P("d/exec").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("d/sub").c_str(), 0700), 0);
  ASSERT_EQ(::symlink("a.txt", P("d/link").c_str()), 0);
  ASSERT_TRUE(SetTimes(P("d/a.txt"), 1600000000LL * 1000000000));
  ASSERT_TRUE(SetTimes(P("d/exec"), 1600000100LL * 1000000000));
  ASSERT_TRUE(SetTimes(P("d/sub"), 1600000200LL * 1000000000));
  ASSERT_TRUE(SetTimes(P("d/link"), 1600000300LL * 1000000000));

  std::string out;
  ASSERT_EQ(Sh(root(), "ls -la --time-style=+%s d", &out), 0) << out;
  std::map<std::string, std::string> got;  // name -> "perms size mtime [-> target]"
  for (const std::string& line : LineList(out)) {
    if (line.rfind("total ", 0) == 0) continue;
    std::istringstream f(line);
    std::string perms, links, owner, group, size, mtime, name;
    f >> perms >> links >> owner >> group >> size >> mtime;
    std::getline(f, name);
    name.erase(0, name.find_first_not_of(' '));
    std::string entry = name.substr(0, name.find(" -> "));
    if (entry == "." || entry == "..") {
      got[entry] = perms.substr(0, 1);
      continue;
    }
    got[entry] = perms + " " + owner + ":" + group + " " + size + " " + mtime +
                 (name.size() > entry.size() ? name.substr(entry.size()) : "");
  }
  std::map<std::string, std::string> want = {
      {".", "d"},
      {"..", "d"},
      {"a.txt", "-rw-r--r-- root:root 5 1600000000"},
      {"exec", "-rwxr-xr-x root:root 0 1600000100"},
      {"link", "lrwxrwxrwx root:root 5 1600000300 -> a.txt"},
  };
  // sub: its size is filesystem-specific; check the rest.
  ASSERT_TRUE(got.count("sub")) << out;
  EXPECT_EQ(got["sub"].substr(0, 20), "drwx------ root:root") << out;
  EXPECT_NE(got["sub"].find(" 1600000200"), std::string::npos) << out;
  got.erase("sub");
  EXPECT_EQ(got, want) << out;

  ASSERT_EQ(Sh(root(), "ls -la d/a.txt missing", &out), 2) << out;
  EXPECT_NE(out.find("No such file or directory"), std::string::npos) << out;
}

TEST_P(Programs, Cat) {
  std::string text = "line one\nline two\n";
  std::string binary = Bytes(300 * 1024 + 7, 9);
  ASSERT_TRUE(WriteFile(P("text"), text));
  ASSERT_TRUE(WriteFile(P("binary"), binary));
  ASSERT_TRUE(WriteFile(P("empty"), ""));
  std::string out;
  ASSERT_EQ(Sh(root(), "cat text", &out), 0);
  EXPECT_EQ(out, text);
  ASSERT_EQ(Sh(root(), "cat empty", &out), 0);
  EXPECT_EQ(out, "");
  ASSERT_EQ(Sh(root(), "cat binary > " + Quote(L("copy")), &out), 0) << out;
  EXPECT_TRUE(Read(L("copy")) == binary) << "cat of a 300 KiB file returned different bytes";
  // cat writing into the target: concatenation, then append with >>.
  ASSERT_EQ(Sh(root(), "cat text binary empty text > joined && echo tail >> joined", &out), 0) << out;
  EXPECT_TRUE(Read(P("joined")) == text + binary + text + "tail\n");
  // Truncating rewrite through the shell.
  ASSERT_EQ(Sh(root(), "echo short > joined && cat joined", &out), 0) << out;
  EXPECT_EQ(out, "short\n");
  struct stat st;
  ASSERT_EQ(::stat(P("joined").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 6);
  ASSERT_EQ(Sh(root(), "cat missing", &out), 1);
  EXPECT_NE(out.find("No such file or directory"), std::string::npos) << out;
}

TEST_P(Programs, RmR) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(P("tree")));
  // A symlink to a directory outside: rm -r must remove the link, not follow it.
  ASSERT_EQ(::mkdir(L("outside").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(L("outside/keep"), "keep"));
  ASSERT_EQ(::symlink(L("outside").c_str(), P("tree/deep/out").c_str()), 0);
  ASSERT_TRUE(WriteFile(P("keep_me"), "x"));
  std::string out;
  ASSERT_EQ(Sh(root(), "rm -r tree", &out), 0) << out;
  struct stat st;
  EXPECT_EQ(::lstat(P("tree").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(ListDir(root()), std::vector<std::string>{"keep_me"});
  EXPECT_EQ(Read(L("outside/keep")), "keep");
  // The names are free again.
  ASSERT_EQ(Sh(root(), "mkdir -p tree/deep && echo again > tree/deep/f && cat tree/deep/f", &out), 0)
      << out;
  EXPECT_EQ(out, "again\n");
  ASSERT_EQ(Sh(root(), "rm -r nothing-here", &out), 1) << out;
}

TEST_P(Programs, MkdirP) {
  std::string out;
  ASSERT_EQ(Sh(root(), "mkdir -p a/b/c/d/e && mkdir -p a/b/c/d/e && mkdir -p -m 0700 a/x/y", &out), 0)
      << out;
  struct stat st;
  for (const char* d : {"a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e", "a/x", "a/x/y"}) {
    ASSERT_EQ(::stat(P(d).c_str(), &st), 0) << d << ": " << std::strerror(errno);
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
  }
  ASSERT_EQ(::stat(P("a/x/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(ListDir(P("a/b/c/d/e")), std::vector<std::string>{});
  ASSERT_EQ(Sh(root(), "mkdir a", &out), 1);
  EXPECT_NE(out.find("File exists"), std::string::npos) << out;
  ASSERT_TRUE(WriteFile(P("file"), "f"));
  ASSERT_EQ(Sh(root(), "mkdir -p file/sub", &out), 1);
  EXPECT_NE(out.find("Not a directory"), std::string::npos) << out;
  ASSERT_EQ(Sh(root(), "rmdir a/b/c/d/e a/b/c/d && ls a/b/c", &out), 0) << out;
  EXPECT_EQ(out, "");
  ASSERT_EQ(Sh(root(), "rmdir a", &out), 1);
  EXPECT_NE(out.find("Directory not empty"), std::string::npos) << out;
}

TEST_P(Programs, MvFile) {
  ASSERT_TRUE(WriteFile(P("a"), "contents of a"));
  ASSERT_EQ(::chmod(P("a").c_str(), 0640), 0);
  ASSERT_TRUE(SetTimes(P("a"), 1650000000LL * 1000000000 + 5));
  ASSERT_EQ(::mkdir(P("dir").c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(Sh(root(), "mv a b", &out), 0) << out;
  struct stat st;
  EXPECT_EQ(::lstat(P("a").c_str(), &st), -1);
  EXPECT_EQ(Read(P("b")), "contents of a");
  ASSERT_EQ(::stat(P("b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(MtimeNs(st), 1650000000LL * 1000000000 + 5);
  // Into another directory, keeping the name.
  ASSERT_EQ(Sh(root(), "mv b dir/", &out), 0) << out;
  EXPECT_EQ(Read(P("dir/b")), "contents of a");
  EXPECT_EQ(ListDir(root()), std::vector<std::string>{"dir"});
  EXPECT_EQ(ListDir(P("dir")), std::vector<std::string>{"b"});
}

TEST_P(Programs, MvOverExistingFile) {
  ASSERT_TRUE(WriteFile(P("new"), "the new version"));
  ASSERT_TRUE(WriteFile(P("old"), "the old version, longer than the new one"));
  // A program holding the old file open keeps reading the old bytes after it is
  // replaced (POSIX: the replaced file lives on while open).
  int fd = ::open(P("old").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string out;
  ASSERT_EQ(Sh(root(), "mv new old", &out), 0) << out;
  EXPECT_EQ(Read(P("old")), "the new version");
  EXPECT_EQ(ListDir(root()), std::vector<std::string>{"old"});
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0) << "fstat on the replaced, still open file: " << std::strerror(errno);
  EXPECT_EQ(st.st_size, 40);
  // Drop its cached pages (where the filesystem allows) so the read below asks
  // the filesystem, not the page cache.
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  char buf[128];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  EXPECT_EQ(n, 40) << "pread on the replaced file: " << (n < 0 ? std::strerror(errno) : "short");
  if (n > 0) {
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "the old version, longer than the new one");
  }
  ::close(fd);
  // mv -f over a read-only file, and mv of a file over a directory fails.
  ASSERT_TRUE(WriteFile(P("ro"), "read-only"));
  ASSERT_EQ(::chmod(P("ro").c_str(), 0444), 0);
  ASSERT_EQ(Sh(root(), "mv -f old ro", &out), 0) << out;
  EXPECT_EQ(Read(P("ro")), "the new version");
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("d/ro").c_str(), 0755), 0);
  ASSERT_EQ(Sh(root(), "mv -T ro d/ro", &out), 1) << out;
  EXPECT_EQ(Read(P("ro")), "the new version");
}

TEST_P(Programs, MvDirectory) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(P("src")));
  Snapshot before = TakeSnapshot(P("src"));
  std::string out;
  ASSERT_EQ(Sh(root(), "mv src renamed", &out), 0) << out;
  struct stat st;
  EXPECT_EQ(::lstat(P("src").c_str(), &st), -1);
  EXPECT_EQ(Diff(before, TakeSnapshot(P("renamed"))), "");
  // Into another directory.
  ASSERT_EQ(Sh(root(), "mkdir -p x/y && mv renamed x/y/", &out), 0) << out;
  EXPECT_EQ(Diff(before, TakeSnapshot(P("x/y/renamed"))), "");
  EXPECT_EQ(ListDir(root()), std::vector<std::string>{"x"});
  // Paths below the moved directory resolve at the new place, and not the old.
  EXPECT_EQ(Read(P("x/y/renamed/deep/a/b/c/d/e/leaf.txt")), "leaf\n");
  EXPECT_EQ(::stat(P("renamed/deep/a/b/c/d/e/leaf.txt").c_str(), &st), -1);
  // Over an empty directory succeeds; over a non-empty one fails.
  ASSERT_EQ(::mkdir(P("empty").c_str(), 0755), 0);
  ASSERT_EQ(Sh(root(), "mv -T x/y/renamed empty", &out), 0) << out;
  EXPECT_EQ(Diff(before, TakeSnapshot(P("empty"))), "");
  ASSERT_EQ(Sh(root(), "mkdir -p full/sub && mv -T empty full", &out), 1) << out;
  EXPECT_EQ(Diff(before, TakeSnapshot(P("empty"))), "");
  // A directory cannot move into itself.
  ASSERT_EQ(Sh(root(), "mv empty empty/deep/", &out), 1) << out;
  EXPECT_EQ(Diff(before, TakeSnapshot(P("empty"))), "");
}

TEST_P(Programs, SedInPlace) {
  ASSERT_TRUE(WriteFile(P("conf"), "foo=1\nbar=foo\nbaz=2\n"));
  ASSERT_EQ(::chmod(P("conf").c_str(), 0640), 0);
  std::string out;
  ASSERT_EQ(Sh(root(), "sed -i 's/foo/qux/g' conf", &out), 0) << out;
  EXPECT_EQ(Read(P("conf")), "qux=1\nbar=qux\nbaz=2\n");
  struct stat st;
  ASSERT_EQ(::stat(P("conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(Sh(root(), "sed -i.bak -e '/^bar/i inserted' -e 's/^baz=2$/added=3/' conf", &out), 0) << out;
  EXPECT_EQ(Read(P("conf")), "qux=1\ninserted\nbar=qux\nadded=3\n");
  EXPECT_EQ(Read(P("conf.bak")), "qux=1\nbar=qux\nbaz=2\n");
  // sed's temporary files are gone.
  auto names = ListDir(root());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"conf", "conf.bak"}));
  // Many rounds in a row, as an editor loop would.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(Sh(root(), "sed -i 's/^added=.*/added=" + std::to_string(i) + "/' conf", &out), 0) << out;
  }
  EXPECT_EQ(Read(P("conf")), "qux=1\ninserted\nbar=qux\nadded=29\n");
}

TEST_P(Programs, GitConfig) {
  std::string git = "HOME=" + Quote(L("")) + " GIT_CONFIG_NOSYSTEM=1 git config --file cfg ";
  std::string out;
  ASSERT_EQ(Sh(root(), git + "core.editor vim", &out), 0) << out;
  ASSERT_EQ(Sh(root(), git + "user.name 'Alex FS'", &out), 0) << out;
  ASSERT_EQ(Sh(root(), git + "user.email alex@example.com", &out), 0) << out;
  ASSERT_EQ(Sh(root(), git + "--get user.name", &out), 0) << out;
  EXPECT_EQ(out, "Alex FS\n");
  ASSERT_EQ(Sh(root(), git + "user.name Other", &out), 0) << out;
  ASSERT_EQ(Sh(root(), git + "--get user.name", &out), 0) << out;
  EXPECT_EQ(out, "Other\n");
  ASSERT_EQ(Sh(root(), git + "--unset user.name", &out), 0) << out;
  EXPECT_EQ(Sh(root(), git + "--get user.name", &out), 1) << out;
  ASSERT_EQ(Sh(root(), git + "--list", &out), 0) << out;
  EXPECT_EQ(out, "core.editor=vim\nuser.email=alex@example.com\n");
  // git writes cfg.lock and renames it over cfg: no lock file is left behind.
  EXPECT_EQ(ListDir(root()), std::vector<std::string>{"cfg"});
  // A stale lock makes git refuse, and removing it lets git continue.
  ASSERT_TRUE(WriteFile(P("cfg.lock"), ""));
  EXPECT_NE(Sh(root(), git + "a.b c", &out), 0) << out;
  ASSERT_EQ(::unlink(P("cfg.lock").c_str()), 0);
  ASSERT_EQ(Sh(root(), git + "a.b c && " + git + "--get a.b", &out), 0) << out;
  EXPECT_EQ(out, "c\n");
}

TEST_P(Programs, CpATree) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(L("src")));
  Snapshot want = TakeSnapshot(L("src"));
  std::string out;
  ASSERT_EQ(Sh(root(), "cp -a " + Quote(L("src")) + " copy", &out), 0) << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(P("copy"))), "");
  ASSERT_EQ(Sh(root(), "diff -r --no-dereference " + Quote(L("src")) + " copy", &out), 0) << out;
  // Copy within the target, then back out to the disk.
  ASSERT_EQ(Sh(root(), "cp -a copy copy2 && cp -a copy2 " + Quote(L("back")), &out), 0) << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(P("copy2"))), "");
  EXPECT_EQ(Diff(want, TakeSnapshot(L("back"))), "");
  // The hard link is one file in the copy.
  struct stat one, two;
  ASSERT_EQ(::stat(P("copy2/hard/one").c_str(), &one), 0);
  ASSERT_EQ(::stat(P("copy2/hard/two").c_str(), &two), 0);
  EXPECT_EQ(one.st_ino, two.st_ino);
  EXPECT_EQ(one.st_nlink, 2u);
  // diff notices a change (the check above can fail).
  ASSERT_TRUE(WriteFile(P("copy/etc/app/empty.conf"), "x"));
  EXPECT_EQ(Sh(root(), "diff -r --no-dereference " + Quote(L("src")) + " copy", &out), 1) << out;
}

TEST_P(Programs, TarRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(L("src")));
  Snapshot want = TakeSnapshot(L("src"));
  std::string out;
  // Archive onto the target, extract on the target (pax keeps nanoseconds).
  ASSERT_EQ(Sh(root(), "tar --format=posix -C " + Quote(L("src")) + " -cf a.tar . && mkdir x && "
                       "tar -C x -xpf a.tar",
               &out),
            0)
      << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(P("x"))), "");
  // Archive from the target, extract on the disk.
  ASSERT_EQ(Sh(root(), "tar --format=posix -C x -cf " + Quote(L("b.tar")) + " . && mkdir " +
                           Quote(L("y")) + " && tar -C " + Quote(L("y")) + " -xpf " + Quote(L("b.tar")),
               &out),
            0)
      << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(L("y"))), "");
  // Both archives list the same members.
  std::string a, b;
  // (Which name of the hard-linked pair is archived as the link depends on
  // readdir order, so hard/ is left out.)
  ASSERT_EQ(Sh(root(), "tar -tvf a.tar --full-time | grep -v ' ./hard/' | awk '{$1=$1; print}' | sort", &a), 0) << a;
  ASSERT_EQ(Sh(root(), "tar -tvf " + Quote(L("b.tar")) + " --full-time | grep -v ' ./hard/' | awk '{$1=$1; print}' | sort", &b),
            0)
      << b;
  EXPECT_EQ(a, b);
  EXPECT_EQ(LineList(a).size(), want.size() + 1 - 3);  // + "./", - hard/, hard/one, hard/two
  // tar --compare against the target finds no difference.
  ASSERT_EQ(Sh(root(), "tar -C x --compare -f a.tar", &out), 0) << out;
}

TEST_P(Programs, RsyncTwiceIsANoOp) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(L("src")));
  Snapshot want = TakeSnapshot(L("src"));
  std::string out;
  ASSERT_EQ(Sh(root(), "rsync -aH " + Quote(L("src") + "/") + " dst/", &out), 0) << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(P("dst"))), "");
  // Again: nothing to transfer, nothing changed (sizes and mtimes match).
  ASSERT_EQ(Sh(root(), "rsync -aH --itemize-changes " + Quote(L("src") + "/") + " dst/", &out), 0)
      << out;
  EXPECT_EQ(out, "") << "the second rsync -a found differences";
  // From the target back to the disk, twice.
  ASSERT_EQ(Sh(root(), "rsync -aH dst/ " + Quote(L("back") + "/"), &out), 0) << out;
  EXPECT_EQ(Diff(want, TakeSnapshot(L("back"))), "");
  ASSERT_EQ(Sh(root(), "rsync -aH --itemize-changes dst/ " + Quote(L("back") + "/"), &out), 0) << out;
  EXPECT_EQ(out, "");
  // A change is picked up (the no-op check can fail), and only that change.
  ASSERT_TRUE(WriteFile(L("src/etc/app/config.toml"), "[server]\nport = 9090\n"));
  ASSERT_EQ(Sh(root(), "rsync -aH --itemize-changes " + Quote(L("src") + "/") + " dst/", &out), 0)
      << out;
  EXPECT_EQ(out, ">f.st...... etc/app/config.toml\n");
  EXPECT_EQ(Diff(TakeSnapshot(L("src")), TakeSnapshot(P("dst"))), "");
  // --delete removes what the source no longer has.
  ASSERT_EQ(::unlink(L("src/data/small/007.dat").c_str()), 0);
  ASSERT_EQ(Sh(root(), "rsync -aH --delete " + Quote(L("src") + "/") + " dst/", &out), 0) << out;
  // (rsync leaves the mtime of a directory that only lost an entry as the
  // deletion set it, on any filesystem; compare everything else.)
  Snapshot src = TakeSnapshot(L("src")), dst = TakeSnapshot(P("dst"));
  src.erase("data/small");
  dst.erase("data/small");
  EXPECT_EQ(Diff(src, dst), "");
}

TEST_P(Programs, Find) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(P("t")));
  std::string out;
  ASSERT_EQ(Sh(P("t"), "find . -name '*.txt' | sort", &out), 0) << out;
  EXPECT_EQ(out,
            "./data/readonly.txt\n./deep/a/b/c/d/e/leaf.txt\n./names/unicode-\xc3\xa9\xe2\x82\xac.txt\n"
            "./names/with space.txt\n./private/notes.txt\n");
  ASSERT_EQ(Sh(P("t"), "find . -type l | sort", &out), 0) << out;
  EXPECT_EQ(out, "./links/absolute\n./links/appdir\n./links/dangling\n./links/readme\n");
  ASSERT_EQ(Sh(P("t"), "find . -type d | sort", &out), 0) << out;
  EXPECT_EQ(out,
            ".\n./bin\n./data\n./data/small\n./deep\n./deep/a\n./deep/a/b\n./deep/a/b/c\n"
            "./deep/a/b/c/d\n./deep/a/b/c/d/e\n./empty_dir\n./etc\n./etc/app\n./etc/app/conf.d\n"
            "./hard\n./links\n./names\n./private\n./tmp\n");
  ASSERT_EQ(Sh(P("t"), "find . -empty | sort", &out), 0) << out;
  EXPECT_EQ(out, "./data/empty\n./data/small/000.dat\n./empty_dir\n./etc/app/empty.conf\n");
  ASSERT_EQ(Sh(P("t"), "find . -type f -size +100k", &out), 0) << out;
  EXPECT_EQ(out, "./data/blob.bin\n");
  ASSERT_EQ(Sh(P("t"), "find . -perm 0600 -type f | sort", &out), 0) << out;
  EXPECT_EQ(out, "./data/empty\n./etc/app/secret.key\n./private/notes.txt\n");
  // -newer: three files with known mtimes around a reference file.
  ASSERT_EQ(Sh(P("t"), "mkdir when && touch -d @1000 when/old && touch -d @2000 when/ref && "
                       "touch -d @3000 when/new && touch -d @2000.5 when/just-after",
               &out),
            0)
      << out;
  ASSERT_EQ(Sh(P("t"), "find when -newer when/ref | sort", &out), 0) << out;
  EXPECT_EQ(out, "when\nwhen/just-after\nwhen/new\n");
  ASSERT_EQ(Sh(P("t"), "find . -type f | wc -l", &out), 0) << out;
  EXPECT_EQ(out, "42\n");
}

TEST_P(Programs, AtomicReplaceLoopWithConcurrentReader) {
  std::string writer = Script("writer.py", R"(
import os, sys, tempfile, time
root, first, min_gens, min_secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
target = os.path.join(root, "config.json")
start = time.monotonic()
gen = first
while gen < first + min_gens or time.monotonic() - start < min_secs:
    body = ("gen %d\n" % gen) + ("x" * ((gen * 7919) % 20000))
    data = ("%d %d\n" % (gen, len(body))) + body + "\nEND\n"
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".config.json.")
    with os.fdopen(fd, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    gen += 1
    if gen > first + 100000:
        break
if min_gens > 1:
    open(os.path.join(root, "writer.done"), "w").close()
print("writer generations", gen - first)
)");
  std::string reader = Script("reader.py", R"(
import os, sys, time
root = sys.argv[1]
deadline = time.monotonic() + 120
target = os.path.join(root, "config.json")
done = os.path.join(root, "writer.done")
reads, bad, gens = 0, 0, set()
while True:
    finished = os.path.exists(done)
    try:
        with open(target, "rb") as f:
            data = f.read()
    except OSError as e:
        print("BAD read %d: %s" % (reads, e)); bad += 1; data = None
    if data is not None:
        try:
            header, rest = data.split(b"\n", 1)
            gen, length = map(int, header.split())
            ok = rest[length:] == b"\nEND\n" and rest.startswith(b"gen %d\n" % gen)
        except Exception:
            ok = False
        if ok:
            gens.add(gen)
        else:
            print("BAD read %d: %d bytes: %r" % (reads, len(data), data[:60])); bad += 1
    reads += 1
    if finished or bad >= 5:
        break
    if time.monotonic() > deadline:
        print("BAD: the writer never finished"); bad += 1
        break
print("reads", reads, "generations", len(gens))
sys.exit(1 if bad else 0)
)");
  std::string out;
  // The first version exists before the reader starts.
  ASSERT_EQ(RunCommand({kPython, writer, root(), "0", "1", "0"}, &out), 0) << out;
  // The reader's report goes to its own file (two processes on one pipe interleave).
  std::string report = Quote(L("reader.out"));
  ASSERT_EQ(Sh(root(), std::string(kPython) + " " + Quote(reader) + " . > " + report + " 2>&1 & r=$!; " +
                           kPython + " " + Quote(writer) + " . 1 300 1.5; w=$?; wait $r; rs=$?; cat " + report +
                           "; echo \"writer=$w reader=$rs\"",
               &out),
            0)
      << out;
  EXPECT_NE(out.find("writer=0 reader=0"), std::string::npos) << out;
  EXPECT_EQ(out.find("BAD"), std::string::npos) << out;
  // The reader overlapped the writer: it saw several generations.
  size_t at = out.find("generations ", out.find("reads "));
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GE(std::stoi(out.substr(at + 12)), 3) << out;
  // No temporary file is left behind.
  auto names = ListDir(root());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"config.json", "writer.done"}));
}

TEST_P(Programs, InotifyEvents) {
  std::string script = Script("inotify.py", R"(
import ctypes, os, select, struct, sys
libc = ctypes.CDLL("libc.so.6", use_errno=True)
NAMES = [(0x2, "MODIFY"), (0x4, "ATTRIB"), (0x8, "CLOSE_WRITE"), (0x40, "MOVED_FROM"),
         (0x80, "MOVED_TO"), (0x100, "CREATE"), (0x200, "DELETE")]
IN_ISDIR = 0x40000000
d = sys.argv[1]
fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
if fd < 0: sys.exit("inotify_init1: " + os.strerror(ctypes.get_errno()))
mask = 0
for bit, _ in NAMES: mask |= bit
if libc.inotify_add_watch(fd, d.encode(), mask) < 0:
    sys.exit("inotify_add_watch: " + os.strerror(ctypes.get_errno()))
p = lambda n: os.path.join(d, n)
with open(p("a.txt"), "w") as f: f.write("hello")
with open(p("a.txt"), "a") as f: f.write(" world")
os.rename(p("a.txt"), p("b.txt"))
os.chmod(p("b.txt"), 0o600)
os.mkdir(p("sub"))
os.rename(p("sub"), p("sub2"))
os.unlink(p("b.txt"))
os.rmdir(p("sub2"))
cookies = {}
while True:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r: break
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, m, cookie, ln = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
        i += 16 + ln
        words = [n for bit, n in NAMES if m & bit] + (["ISDIR"] if m & IN_ISDIR else [])
        c = ""
        if cookie:
            c = " cookie" + str(cookies.setdefault(cookie, len(cookies) + 1))
        print(",".join(words), name + c)
)");
  ASSERT_EQ(::mkdir(P("watched").c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(RunCommand({kPython, script, P("watched")}, &out), 0) << out;
  EXPECT_EQ(out,
            "CREATE a.txt\n"
            "MODIFY a.txt\n"
            "CLOSE_WRITE a.txt\n"
            "MODIFY a.txt\n"
            "CLOSE_WRITE a.txt\n"
            "MOVED_FROM a.txt cookie1\n"
            "MOVED_TO b.txt cookie1\n"
            "ATTRIB b.txt\n"
            "CREATE,ISDIR sub\n"
            "MOVED_FROM,ISDIR sub cookie2\n"
            "MOVED_TO,ISDIR sub2 cookie2\n"
            "DELETE b.txt\n"
            "DELETE,ISDIR sub2\n");
  EXPECT_EQ(ListDir(P("watched")), std::vector<std::string>{});
}

TEST_P(Programs, TwentyThousandEntryDirectory) {
  ASSERT_EQ(::mkdir(P("big").c_str(), 0755), 0);
  std::set<std::string> want;
  // Names around the subdirectories' keys ("sub3" < "sub3.txt" < "sub3/..." <
  // "sub30" in byte order), long names, and plain numbered files.
  for (int i = 0; i < 10; ++i) {
    std::string sub = "sub" + std::to_string(i);
    ASSERT_EQ(::mkdir(P("big/" + sub).c_str(), 0755), 0) << std::strerror(errno);
    for (int j = 0; j < 3; ++j) ASSERT_TRUE(WriteFile(P("big/" + sub + "/inner" + std::to_string(j)), "i"));
    want.insert(sub);
    for (const std::string& near : {sub + ".txt", sub + "-x", sub + "0", sub + "~"}) want.insert(near);
  }
  for (int i = 0; want.size() < 20000; ++i) {
    char name[300];
    if (i % 97 == 0) {
      std::snprintf(name, sizeof name, "%s-%06d", std::string(200, 'L').c_str(), i);
    } else {
      std::snprintf(name, sizeof name, "f%06d", i);
    }
    want.insert(name);
  }
  for (const std::string& name : want) {
    if (name.rfind("sub", 0) == 0 && name.size() == 4) continue;  // the directories
    int fd = ::open(P("big/" + name).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
    ::close(fd);
  }
  ASSERT_EQ(want.size(), 20000u);

  auto check = [&](const std::set<std::string>& expected, const char* when) {
    std::vector<std::string> names = ListDir(P("big"));
    std::set<std::string> got(names.begin(), names.end());
    EXPECT_EQ(names.size(), got.size()) << when << ": readdir returned duplicates";
    EXPECT_EQ(got.size(), expected.size()) << when;
    std::vector<std::string> missing, extra;
    for (const auto& n : expected)
      if (!got.count(n)) missing.push_back(n);
    for (const auto& n : got)
      if (!expected.count(n)) extra.push_back(n);
    EXPECT_TRUE(missing.empty()) << when << ": " << missing.size() << " missing, first "
                                 << (missing.empty() ? "" : missing[0]);
    EXPECT_TRUE(extra.empty()) << when << ": " << extra.size() << " unexpected, first "
                               << (extra.empty() ? "" : extra[0]);
    std::string out;
    ASSERT_EQ(Sh(P("big"), "ls | wc -l && ls -a | wc -l && ls -f | wc -l", &out), 0) << out;
    EXPECT_EQ(out, std::to_string(expected.size()) + "\n" + std::to_string(expected.size() + 2) +
                       "\n" + std::to_string(expected.size() + 2) + "\n")
        << when;
  };
  check(want, "first listing");
  check(want, "second listing (unchanged directory)");
  // Change it: the next listing must show the change (no stale cached listing).
  int removed = 0;
  for (auto it = want.begin(); it != want.end() && removed < 100;) {
    if (it->rfind("f0", 0) == 0 && (std::stoi(it->substr(1)) % 7 == 0)) {
      ASSERT_EQ(::unlink(P("big/" + *it).c_str()), 0) << *it << ": " << std::strerror(errno);
      it = want.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  for (int i = 0; i < 50; ++i) {
    std::string name = "added-" + std::to_string(i);
    ASSERT_TRUE(WriteFile(P("big/" + name), ""));
    want.insert(name);
  }
  check(want, "after removing 100 and adding 50");
  std::string out;
  ASSERT_EQ(Sh(P("big"), "find . -mindepth 2 -type f | wc -l", &out), 0) << out;
  EXPECT_EQ(out, "30\n");
}

TEST_P(Programs, UnmountRemountKeepsEveryByteAndMode) {
  ASSERT_NO_FATAL_FAILURE(MakeTree(P("made")));
  ASSERT_NO_FATAL_FAILURE(MakeTree(L("src")));
  std::string out;
  ASSERT_EQ(Sh(root(), "cp -a " + Quote(L("src")) + " copied", &out), 0) << out;
  // Sizes around page and buffer boundaries, written without fsync.
  ASSERT_EQ(::mkdir(P("sizes").c_str(), 0755), 0);
  for (size_t size : {0ul, 1ul, 4095ul, 4096ul, 4097ul, 65535ul, 131073ul, 3000000ul}) {
    ASSERT_TRUE(WriteFile(P("sizes/" + std::to_string(size)), Bytes(size, size)));
  }
  // Modes, including what chmod can set on a directory and a file.
  ASSERT_EQ(::chmod(P("sizes/1").c_str(), 04755), 0);
  ASSERT_EQ(::chmod(P("sizes/4095").c_str(), 0), 0);
  ASSERT_EQ(::chown(P("sizes/4096").c_str(), 12345, 54321), 0);
  // An overwrite in the middle of a file, and a truncate.
  {
    int fd = ::open(P("sizes/131073").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "PATCHED", 7, 70000), 7);
    ::close(fd);
    ASSERT_EQ(::truncate(P("sizes/65535").c_str(), 1000), 0);
  }
  Snapshot before = TakeSnapshot(root());
  ASSERT_EQ(Diff(TakeSnapshot(L("src")), TakeSnapshot(P("copied"))), "");
  ASSERT_NO_FATAL_FAILURE(Remount());
  EXPECT_EQ(Diff(before, TakeSnapshot(root())), "");
  EXPECT_EQ(Diff(TakeSnapshot(L("src")), TakeSnapshot(P("copied"))), "");
  // And once more, after changing things on the remounted store.
  ASSERT_EQ(Sh(root(), "rm -r made/deep && mv copied/data moved-data && echo more >> sizes/1", &out), 0)
      << out;
  before = TakeSnapshot(root());
  ASSERT_NO_FATAL_FAILURE(Remount());
  EXPECT_EQ(Diff(before, TakeSnapshot(root())), "");
}

TEST_P(Programs, SigkillDuringWritesKeepsEveryFsyncedFile) {
  // Writes files and fsyncs each; prints a name only after its fsync returned.
  std::string writer = Script("fsync_writer.py", R"(
import os, sys
d, rnd = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
i = 0
while True:
    name = "f%05d" % i
    size = (i * 7919 + rnd * 104729) % 70000
    pat = ("%d:%d;" % (rnd, i)).encode()
    data = (pat * (size // len(pat) + 1))[:size]
    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:16384]):]
    os.fsync(fd)
    sys.stdout.write(name + "\n")
    sys.stdout.flush()
    os.close(fd)
    i += 1
)");
  auto expected = [](int rnd, int i) {
    size_t size = static_cast<size_t>((i * 7919 + rnd * 104729) % 70000);
    std::string pat = std::to_string(rnd) + ":" + std::to_string(i) + ";";
    std::string data;
    while (data.size() < size) data += pat;
    return data.substr(0, size);
  };
  constexpr int kRounds = 24;
  std::vector<std::vector<std::string>> acknowledged(kRounds);
  auto start = std::chrono::steady_clock::now();
  for (int rnd = 0; rnd < kRounds; ++rnd) {
    std::string dir = P("round" + std::to_string(rnd));
    {
      Child child({kPython, writer, dir, std::to_string(rnd)}, L("writer.err"));
      ASSERT_TRUE(child.started());
      // Let it get a varying way into its work, then crash.
      size_t before_kill = 1 + static_cast<size_t>((rnd * 37) % 60);
      ASSERT_TRUE(child.WaitForLines(before_kill, std::chrono::seconds(30)))
          << "round " << rnd << ": the writer stopped early; stderr:\n"
          << Read(L("writer.err"));
      std::this_thread::sleep_for(std::chrono::microseconds((rnd * 7919) % 20000));
      if (on_alexfs()) {
        store_->Kill();
      } else {
        child.Kill();
      }
      ASSERT_TRUE(child.ReadToEof(std::chrono::seconds(20))) << "round " << rnd;
      child.Kill();
      int status = child.Wait();
      EXPECT_NE(status, 0) << "round " << rnd << ": the writer should have died with the mount";
      acknowledged[rnd] = child.lines();
    }
    if (on_alexfs()) {
      ASSERT_TRUE(store_->Remount()) << "round " << rnd << ": " << store_->last_output();
    }
    // Every acknowledged file of every round so far is intact.
    int bad = 0;
    for (int r = 0; r <= rnd; ++r) {
      for (size_t i = 0; i < acknowledged[r].size(); ++i) {
        std::string name = acknowledged[r][i];
        ASSERT_EQ(name, "f" + std::string(5 - std::to_string(i).size(), '0') + std::to_string(i));
        std::string path = P("round" + std::to_string(r) + "/" + name);
        std::string got;
        bool ok = ReadFile(path, &got);
        std::string want = expected(r, static_cast<int>(i));
        if (!ok || got != want) {
          if (bad++ < 10) {
            ADD_FAILURE() << "after crash " << rnd << ": " << path << " was fsynced but is "
                          << (ok ? std::to_string(got.size()) + " bytes, want " +
                                       std::to_string(want.size()) +
                                       (got.size() == want.size() ? " (different bytes)" : "")
                                 : "unreadable: " + std::string(std::strerror(errno)));
          }
        }
      }
    }
    ASSERT_EQ(bad, 0) << "after crash " << rnd;
  }
  size_t total = 0;
  for (const auto& a : acknowledged) total += a.size();
  EXPECT_GE(total, static_cast<size_t>(kRounds));
  std::fprintf(stderr, "%d crashes, %zu fsynced files checked, %.1f s\n", kRounds, total,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace
}  // namespace alexfs::testing
