// Helpers for the engine tests: a scratch directory and small conveniences.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "engine/store.h"

namespace alexfs::testing {

// A fresh directory removed (recursively) at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/alexfs-engine-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::unique_ptr<Store> OpenOrDie(const std::string& dir, const StoreOptions& opt = {}) {
  std::unique_ptr<Store> s;
  Status st = Store::Open(dir, opt, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// Value or "<missing>".
inline std::string GetOr(const Store& s, std::string_view key) {
  PinnedValue v;
  Status st = s.Get(key, &v);
  if (st.IsNotFound()) return "<missing>";
  EXPECT_TRUE(st.ok()) << st.ToString();
  return std::string(v.value());
}

// Every (key, value) via an iterator.
inline std::map<std::string, std::string> Dump(const Store& s) {
  std::map<std::string, std::string> m;
  auto it = s.NewIterator();
  for (it->Seek(std::string_view("\0", 1)); it->Valid(); it->Next()) {
    m.emplace(std::string(it->key()), std::string(it->value()));
  }
  return m;
}

// Small options: tiny segments so tests cross segment boundaries quickly.
inline StoreOptions SmallOptions() {
  StoreOptions o;
  o.segment_bytes = 64 << 10;
  o.compaction_garbage_ratio = 0;  // tests compact explicitly
  return o;
}

}  // namespace alexfs::testing
