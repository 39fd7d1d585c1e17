#include "fs/file_buffer.h"

#include <algorithm>
#include <cstring>

namespace alexfs::fs {

FileBuffer::FileBuffer(const Attr& attr, std::string_view contents,
                       std::atomic<int64_t>* total_dirty)
    : attr_(attr), size_(contents.size()), contents_(contents), total_dirty_(total_dirty) {
  AddDirty(static_cast<int64_t>(contents_.size()));
}

FileBuffer::FileBuffer(const Attr& attr, uint64_t file_id, uint64_t size,
                       std::atomic<int64_t>* total_dirty)
    : attr_(attr), size_(size), in_blocks_(true), file_id_(file_id), total_dirty_(total_dirty) {}

FileBuffer::~FileBuffer() { AddDirty(-static_cast<int64_t>(dirty_bytes_)); }

void FileBuffer::AddDirty(int64_t delta) {
  dirty_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(dirty_bytes_) + delta);
  total_dirty_->fetch_add(delta, std::memory_order_relaxed);
}

const std::string* FileBuffer::DirtyBlock(uint64_t index) const {
  auto it = blocks_.find(index);
  return it == blocks_.end() ? nullptr : &it->second;
}

void FileBuffer::MoveToBlocks(uint64_t file_id) {
  in_blocks_ = true;
  file_id_ = file_id;
  dead_from_ = 0;  // a new id has no stored blocks: never load one
  for (uint64_t start = 0; start < contents_.size(); start += kBlockBytes) {
    blocks_.emplace(start / kBlockBytes, contents_.substr(start, kBlockBytes));
  }
  std::string().swap(contents_);  // same byte count: dirty_bytes_ is unchanged
}

Status FileBuffer::DirtyBlockFor(uint64_t index, bool load_stored, const BlockLoader& load,
                                 std::string** block) {
  auto it = blocks_.find(index);
  if (it == blocks_.end()) {
    std::string bytes;
    if (load_stored && index < dead_from_) {
      Status s = load(index, &bytes);
      if (!s.ok()) return s;
    }
    AddDirty(static_cast<int64_t>(bytes.size()));
    it = blocks_.emplace(index, std::move(bytes)).first;
  }
  *block = &it->second;
  return Status::OK();
}

Status FileBuffer::Write(uint64_t offset, std::string_view data, const BlockLoader& load) {
  if (!in_blocks_) {
    const uint64_t old = contents_.size();
    if (offset == old) {
      contents_.append(data);  // appending (the common case): no zero-fill first
    } else {
      if (offset + data.size() > old) contents_.resize(offset + data.size());
      std::memcpy(contents_.data() + offset, data.data(), data.size());
    }
    AddDirty(static_cast<int64_t>(contents_.size()) - static_cast<int64_t>(old));
    size_ = contents_.size();
    return Status::OK();
  }
  uint64_t pos = offset;
  while (!data.empty()) {
    const uint64_t index = pos / kBlockBytes;
    const uint64_t in_block = pos % kBlockBytes;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockBytes - in_block, data.size()));
    // A write of a whole block, or from its start to past the file's end,
    // replaces everything the stored block held: no need to load it.
    const bool covers = in_block == 0 && (n == kBlockBytes || pos + n >= size_);
    std::string* block = nullptr;
    Status s = DirtyBlockFor(index, !covers, load, &block);
    if (!s.ok()) return s;
    const uint64_t old = block->size();
    if (old == in_block) {
      block->append(data.substr(0, n));
    } else {
      if (in_block + n > old) block->resize(in_block + n);
      std::memcpy(block->data() + in_block, data.data(), n);
    }
    AddDirty(static_cast<int64_t>(block->size()) - static_cast<int64_t>(old));
    data.remove_prefix(n);
    pos += n;
  }
  size_ = std::max(size_, pos);
  return Status::OK();
}

Status FileBuffer::Truncate(uint64_t size, const BlockLoader& load) {
  if (!in_blocks_) {
    const uint64_t old = contents_.size();
    contents_.resize(size);
    if (contents_.capacity() > 2 * contents_.size() + 4096) contents_.shrink_to_fit();
    AddDirty(static_cast<int64_t>(size) - static_cast<int64_t>(old));
    size_ = size;
    return Status::OK();
  }
  if (size < size_) {
    const uint64_t keep = (size + kBlockBytes - 1) / kBlockBytes;  // blocks [0, keep) survive
    if (size % kBlockBytes != 0) {
      // The new last block keeps its first size % kBlockBytes bytes.
      const uint64_t index = size / kBlockBytes;
      const uint64_t length = size % kBlockBytes;
      auto it = blocks_.find(index);
      if (it == blocks_.end() && index < dead_from_) {
        std::string stored;
        Status s = load(index, &stored);
        if (!s.ok()) return s;
        if (stored.size() > length) {
          stored.resize(length);
          AddDirty(static_cast<int64_t>(length));
          blocks_.emplace(index, std::move(stored));
        }
      } else if (it != blocks_.end() && it->second.size() > length) {
        AddDirty(static_cast<int64_t>(length) - static_cast<int64_t>(it->second.size()));
        it->second.resize(length);
      }
    }
    for (auto it = blocks_.lower_bound(keep); it != blocks_.end();) {
      AddDirty(-static_cast<int64_t>(it->second.size()));
      it = blocks_.erase(it);
    }
    dead_from_ = std::min(dead_from_, keep);
  }
  size_ = size;
  return Status::OK();
}

void FileBuffer::PunchBlock(uint64_t index) {
  std::string& block = blocks_[index];
  AddDirty(-static_cast<int64_t>(block.size()));
  std::string().swap(block);  // an empty dirty block: a hole, deleted at commit
}

}  // namespace alexfs::fs
