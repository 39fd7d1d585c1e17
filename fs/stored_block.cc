#include "fs/stored_block.h"

#include <cstring>
#include <memory>

#include "engine/write_batch.h"
#include "fs/value_format.h"

namespace alexfs::fs {

Status ReadStoredBlock(const Store& store, uint64_t file_id, uint64_t index, StoredBlock* out) {
  const std::string key = BlockKey(file_id, index);
  Status s = store.Get(key, &out->base);
  if (!s.ok() && !s.IsNotFound()) return s;
  std::unique_ptr<Iterator> it = store.NewIterator();
  for (it->Seek(SliceKey(file_id, index, 1)); it->Valid() && it->key().starts_with(key);
       it->Next()) {
    uint64_t id = 0, at = 0;
    uint32_t seq = 0, offset = 0;
    std::string_view bytes;
    if (!ParseBlockKey(it->key(), &id, &at, &seq) || seq == 0 ||
        !DecodeSlice(it->value(), &offset, &bytes)) {
      return Status::Corruption("malformed slice record under block " + std::to_string(index) +
                                " of file id " + std::to_string(file_id));
    }
    if (out->slices.seqs.empty()) out->merged.assign(out->base.value());
    if (out->merged.size() < offset + bytes.size()) out->merged.resize(offset + bytes.size());
    std::memcpy(out->merged.data() + offset, bytes.data(), bytes.size());
    out->slices.seqs.push_back(seq);
    out->slices.bytes += bytes.size();
  }
  return it->status();
}

Status AddSliceDeletes(const Store& store, uint64_t file_id, uint64_t index, WriteBatch* batch) {
  const std::string key = BlockKey(file_id, index);
  std::unique_ptr<Iterator> it = store.NewIterator();
  for (it->Seek(SliceKey(file_id, index, 1)); it->Valid() && it->key().starts_with(key);
       it->Next()) {
    batch->Delete(it->key());
  }
  return it->status();
}

}  // namespace alexfs::fs
