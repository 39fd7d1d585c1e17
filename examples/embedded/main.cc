// Opens the store in the directory given as the argument, then writes, reads,
// scans and deletes a few keys. Exits 0 when every step did what it should.
#include <alexfs/store.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

int Fail(const char* step, const alexfs::Status& s) {
  std::fprintf(stderr, "embedded_example: %s: %s\n", step, s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embedded_example STORE_DIR\n");
    return 2;
  }
  std::unique_ptr<alexfs::Store> store;
  alexfs::Status s = alexfs::Store::Open(argv[1], alexfs::StoreOptions{}, &store);
  if (!s.ok()) return Fail("open", s);

  // Write: one key at a time, then several at once, atomically and durably.
  s = store->Put("session/alice", "logged in");
  if (!s.ok()) return Fail("put", s);
  alexfs::WriteBatch batch;
  batch.Put("session/bob", "idle");
  batch.Put("session/carol", "logged in");
  batch.Put("settings/theme", "dark");
  s = store->Write(batch, alexfs::Durability::kDurable);
  if (!s.ok()) return Fail("write batch", s);

  // Read: the value is a view into the store's mapped log.
  alexfs::PinnedValue value;
  s = store->Get("session/bob", &value);
  if (!s.ok()) return Fail("get", s);
  if (value.value() != "idle") {
    std::fprintf(stderr, "embedded_example: session/bob is '%.*s', not 'idle'\n",
                 static_cast<int>(value.value().size()), value.value().data());
    return 1;
  }
  value.Reset();

  // Scan: every key from "session/" up to the first one past that prefix.
  int sessions = 0;
  std::unique_ptr<alexfs::Iterator> it = store->NewIterator();
  for (it->Seek("session/"); it->Valid() && it->key().starts_with("session/"); it->Next()) {
    std::printf("%.*s = %.*s\n", static_cast<int>(it->key().size()), it->key().data(),
                static_cast<int>(it->value().size()), it->value().data());
    ++sessions;
  }
  if (!it->status().ok()) return Fail("scan", it->status());
  it.reset();
  if (sessions != 3) {
    std::fprintf(stderr, "embedded_example: scanned %d sessions, not 3\n", sessions);
    return 1;
  }

  // Delete, and see it gone.
  s = store->Delete("session/alice", alexfs::Durability::kDurable);
  if (!s.ok()) return Fail("delete", s);
  if (store->Contains("session/alice")) {
    std::fprintf(stderr, "embedded_example: session/alice is still there after Delete\n");
    return 1;
  }

  alexfs::StoreStats stats = store->GetStats();
  std::printf("%llu keys, %llu bytes logged\n", static_cast<unsigned long long>(stats.keys),
              static_cast<unsigned long long>(stats.bytes_logged));
  s = store->Close();
  if (!s.ok()) return Fail("close", s);
  return 0;
}
