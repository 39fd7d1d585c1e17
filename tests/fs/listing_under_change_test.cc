// Listings under concurrent change, on a real mount and, as the reference, on
// a tmpfs: while threads create, rename and unlink names of their own in one
// directory, every listing must show each name that existed for the whole
// listing and no name that was gone for the whole listing.
//
// Time is a shared counter: each operation takes a tick just before it starts
// and one just after it returns; each listing takes one before opendir and one
// after closedir. A name "existed for the whole listing" if it was created
// (its creating call returned) before the listing's first tick and its removal
// began after the listing's last tick.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

// Enough names that a listing takes several getdents calls (the kernel's
// cached listing then fills page by page).
constexpr int kStableNames = 300;
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// When one name appeared and disappeared, in ticks.
struct Life {
  uint64_t create_begin = 0, create_done = 0;
  uint64_t remove_begin = kNever, remove_done = kNever;
};

struct Listing {
  uint64_t start = 0, end = 0;
  std::set<std::string> names;
};

struct Result {
  uint64_t listings = 0;
  uint64_t errors = 0;
  std::string first_error;
};

// Runs `writers` writer threads and `listers` lister threads in `dir` for
// `duration`; returns how many listings erred.
Result CheckListings(const std::string& dir, int writers, int listers,
                     std::chrono::milliseconds duration) {
  std::atomic<uint64_t> clock{1};
  std::atomic<bool> stop{false};
  std::mutex mu;
  // Each writer's names in the order it made them: lives overlap only
  // within one create-rename-unlink cycle.
  std::vector<std::vector<std::pair<std::string, Life>>> by_writer(writers + 1);
  std::vector<Listing> listings;      // guarded by mu
  // Names that stay for the whole run: kStableNames of them.
  for (int i = 0; i < kStableNames; ++i) {
    std::string name = "stable-" + std::to_string(i);
    int fd = ::open((dir + "/" + name).c_str(), O_CREAT | O_WRONLY, 0644);
    EXPECT_GE(fd, 0) << name;
    ::close(fd);
    by_writer[writers].push_back({name, Life{0, 0, kNever, kNever}});
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        std::string base = "w" + std::to_string(w) + "-" + std::to_string(i);
        std::string a = dir + "/" + base, b = dir + "/" + base + ".r";
        Life la, lb;
        la.create_begin = clock.fetch_add(1);
        int fd = ::open(a.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
        la.create_done = clock.fetch_add(1);
        if (fd < 0) continue;
        ::close(fd);
        la.remove_begin = lb.create_begin = clock.fetch_add(1);
        int r = ::rename(a.c_str(), b.c_str());
        la.remove_done = lb.create_done = clock.fetch_add(1);
        if (r != 0) ADD_FAILURE() << "rename " << a << ": " << std::strerror(errno);
        lb.remove_begin = clock.fetch_add(1);
        r = ::unlink(b.c_str());
        lb.remove_done = clock.fetch_add(1);
        if (r != 0) ADD_FAILURE() << "unlink " << b << ": " << std::strerror(errno);
        by_writer[w].push_back({base, la});
        by_writer[w].push_back({base + ".r", lb});
      }
    });
  }
  for (int k = 0; k < listers; ++k) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        Listing listing;
        listing.start = clock.fetch_add(1);
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) {
          ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
          return;
        }
        while (dirent* e = ::readdir(d)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") listing.names.insert(n);
        }
        ::closedir(d);
        listing.end = clock.fetch_add(1);
        std::lock_guard<std::mutex> l(mu);
        listings.push_back(std::move(listing));
      }
    });
  }
  std::this_thread::sleep_for(duration);
  stop = true;
  for (std::thread& t : threads) t.join();

  std::unordered_map<std::string, Life> lives;
  for (const auto& names : by_writer) {
    for (const auto& [name, life] : names) lives[name] = life;
  }
  Result result;
  result.listings = listings.size();
  for (const Listing& listing : listings) {
    std::string error;
    // Names shown: each must have been there at some moment of the listing.
    for (const std::string& name : listing.names) {
      auto it = lives.find(name);
      if (it == lives.end()) {
        error = "showed " + name + ", never created";
      } else if (it->second.remove_done < listing.start || it->second.create_begin > listing.end) {
        error = "showed " + name + ", gone for the whole listing";
      }
      if (!error.empty()) break;
    }
    // Names that lasted the whole listing: each must be shown. A writer's
    // names before the first one still there at the start cannot qualify.
    for (const auto& names : by_writer) {
      if (!error.empty()) break;
      auto first = std::partition_point(names.begin(), names.end(), [&](const auto& n) {
        return n.second.remove_done < listing.start;
      });
      for (auto n = first; n != names.end() && n->second.create_begin <= listing.end; ++n) {
        const Life& life = n->second;
        if (life.create_done < listing.start && life.remove_begin > listing.end &&
            listing.names.count(n->first) == 0) {
          error = "missed " + n->first;
          break;
        }
      }
    }
    if (!error.empty() && result.errors++ == 0) result.first_error = error;
  }
  return result;
}

constexpr int kWriters = 4;
constexpr int kListers = 2;
constexpr std::chrono::milliseconds kDuration{3000};

TEST(ListingUnderChange, TmpfsShowsEveryLastingNameAndNoGoneOne) {
  TempDir tmpfs("/dev/shm");
  ASSERT_FALSE(tmpfs.path().empty());
  Result r = CheckListings(tmpfs.path(), kWriters, kListers, kDuration);
  std::printf("%llu listings, %llu erred\n", static_cast<unsigned long long>(r.listings),
              static_cast<unsigned long long>(r.errors));
  EXPECT_GT(r.listings, 100u);
  EXPECT_EQ(r.errors, 0u) << r.errors << " of " << r.listings << " listings: " << r.first_error;
}

TEST(ListingUnderChange, AlexfsShowsEveryLastingNameAndNoGoneOne) {
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  ASSERT_EQ(::mkdir(store.Path("d").c_str(), 0755), 0);
  Result r = CheckListings(store.Path("d"), kWriters, kListers, kDuration);
  std::printf("%llu listings, %llu erred\n", static_cast<unsigned long long>(r.listings),
              static_cast<unsigned long long>(r.errors));
  EXPECT_GT(r.listings, 100u);
  EXPECT_EQ(r.errors, 0u) << r.errors << " of " << r.listings << " listings: " << r.first_error;
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

}  // namespace
}  // namespace alexfs::testing
