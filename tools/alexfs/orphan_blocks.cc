#include "tools/alexfs/orphan_blocks.h"

#include <memory>
#include <unordered_set>

#include "engine/store.h"
#include "engine/write_batch.h"
#include "fs/value_format.h"

namespace alexfs::tools {

Status CheckOrphanBlocks(const std::string& dir, bool repair, OrphanBlockReport* report) {
  *report = OrphanBlockReport();
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.create_if_missing = false;
  options.compaction_garbage_ratio = 0;
  Status s = Store::Open(dir, options, &store);
  if (!s.ok()) return s;
  // Pass 1: the file ids that records name (paths and link bodies).
  std::unordered_set<uint64_t> live;
  std::unique_ptr<Iterator> it = store->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    uint64_t id = 0, index = 0;
    if (fs::ParseBlockKey(it->key(), &id, &index)) continue;
    auto decoded = fs::DecodeValue(it->value());
    if (decoded && decoded->in_blocks) {
      live.insert(decoded->file_id);
      report->files_in_blocks++;
    }
  }
  if (!it->status().ok()) return it->status();
  // Pass 2: every block; those of no live id are orphans.
  WriteBatch batch;
  const std::string first = fs::BlockKey(0, 0);
  for (it->Seek(first); it->Valid(); it->Next()) {
    uint64_t id = 0, index = 0;
    if (!fs::ParseBlockKey(it->key(), &id, &index)) {
      if (it->key().substr(0, 2) != first.substr(0, 2)) break;  // past the block key space
      continue;
    }
    report->blocks++;
    if (live.count(id)) continue;
    report->orphaned++;
    report->orphaned_bytes += it->value().size();
    if (repair) batch.Delete(it->key());
    if (batch.count() >= 4096) {
      s = store->Write(batch, Durability::kBuffered);
      if (!s.ok()) return s;
      batch.Clear();
    }
  }
  if (!it->status().ok()) return it->status();
  if (repair && report->orphaned > 0) {
    s = store->Write(batch, Durability::kDurable);
    if (!s.ok()) return s;
    report->repaired = true;
  }
  return store->Close();
}

}  // namespace alexfs::tools
