#include "fs/file_buffer.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace alexfs::fs {

FileBuffer::FileBuffer(const Attr& attr, std::string_view contents,
                       std::atomic<int64_t>* total_dirty)
    : attr_(attr), size_(contents.size()), contents_(contents), total_dirty_(total_dirty) {
  AddDirty(static_cast<int64_t>(contents_.size()));
}

FileBuffer::FileBuffer(const Attr& attr, uint64_t file_id, uint64_t size,
                       std::atomic<int64_t>* total_dirty)
    : attr_(attr),
      size_(size),
      in_blocks_(true),
      file_id_(file_id),
      stored_end_((size + kBlockBytes - 1) / kBlockBytes),
      total_dirty_(total_dirty) {}

FileBuffer::~FileBuffer() { AddDirty(-static_cast<int64_t>(dirty_bytes_)); }

void FileBuffer::AddDirty(int64_t delta) {
  dirty_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(dirty_bytes_) + delta);
  total_dirty_->fetch_add(delta, std::memory_order_relaxed);
}

const std::string* FileBuffer::DirtyBlock(uint64_t index) const {
  auto it = blocks_.find(index);
  return it == blocks_.end() ? nullptr : &it->second.bytes;
}

bool FileBuffer::CommitsAsSlices(const Block& block) {
  if (block.whole) return false;
  uint64_t bytes = block.stored.bytes;
  for (const auto& [begin, end] : block.written) bytes += end - begin;
  return block.stored.seqs.size() + block.written.size() <= kMaxSlices && bytes <= kMaxSliceBytes;
}

namespace {

// Adds [begin, end) to `ranges` (disjoint, not touching), merging neighbours.
void AddRange(uint32_t begin, uint32_t end, std::map<uint32_t, uint32_t>* ranges) {
  auto it = ranges->upper_bound(begin);
  if (it != ranges->begin() && std::prev(it)->second >= begin) {
    --it;
    begin = it->first;
  }
  while (it != ranges->end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges->erase(it);
  }
  ranges->emplace(begin, end);
}

}  // namespace

void FileBuffer::MoveToBlocks(uint64_t file_id) {
  in_blocks_ = true;
  file_id_ = file_id;
  dead_from_ = 0;  // a new id has no stored blocks: never load one
  stored_end_ = 0;
  for (uint64_t start = 0; start < contents_.size(); start += kBlockBytes) {
    Block block;
    block.bytes = contents_.substr(start, kBlockBytes);
    block.stored_known = true;
    blocks_.emplace(start / kBlockBytes, std::move(block));
  }
  std::string().swap(contents_);  // same byte count: dirty_bytes_ is unchanged
}

Status FileBuffer::DirtyBlockFor(uint64_t index, bool load_stored, const BlockLoader& load,
                                 Block** block) {
  auto it = blocks_.find(index);
  if (it == blocks_.end()) {
    Block fresh;
    // Past dead_from_ or stored_end_ the store holds nothing for this block.
    fresh.stored_known = index >= dead_from_ || index >= stored_end_;
    if (load_stored && !fresh.stored_known) {
      Status s = load(index, &fresh.bytes, &fresh.stored);
      if (!s.ok()) return s;
      fresh.whole = false;
      fresh.stored_known = true;
    }
    AddDirty(static_cast<int64_t>(fresh.bytes.size()));
    it = blocks_.emplace(index, std::move(fresh)).first;
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
    Block* dirty = nullptr;
    Status s = DirtyBlockFor(index, !covers, load, &dirty);
    if (!s.ok()) return s;
    std::string* block = &dirty->bytes;
    const uint64_t old = block->size();
    if (old == in_block) {
      block->append(data.substr(0, n));
    } else {
      if (in_block + n > old) block->resize(in_block + n);
      std::memcpy(block->data() + in_block, data.data(), n);
    }
    if (!dirty->whole) {
      AddRange(static_cast<uint32_t>(in_block), static_cast<uint32_t>(in_block + n),
               &dirty->written);
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
      // A trimmed block is written whole: slices cannot shorten a block.
      auto it = blocks_.find(index);
      if (it == blocks_.end() && index < dead_from_ && index < stored_end_) {
        Block trimmed;
        Status s = load(index, &trimmed.bytes, &trimmed.stored);
        if (!s.ok()) return s;
        trimmed.stored_known = true;
        if (trimmed.bytes.size() > length) {
          trimmed.bytes.resize(length);
          AddDirty(static_cast<int64_t>(length));
          blocks_.emplace(index, std::move(trimmed));
        }
      } else if (it != blocks_.end() && it->second.bytes.size() > length) {
        AddDirty(static_cast<int64_t>(length) - static_cast<int64_t>(it->second.bytes.size()));
        it->second.bytes.resize(length);
        it->second.whole = true;
        it->second.written.clear();
      }
    }
    for (auto it = blocks_.lower_bound(keep); it != blocks_.end();) {
      AddDirty(-static_cast<int64_t>(it->second.bytes.size()));
      it = blocks_.erase(it);
    }
    dead_from_ = std::min(dead_from_, keep);
  }
  size_ = size;
  return Status::OK();
}

void FileBuffer::PunchBlock(uint64_t index) {
  Block& block = blocks_[index];
  AddDirty(-static_cast<int64_t>(block.bytes.size()));
  // An empty dirty block written whole: a hole, deleted at commit with its slices.
  std::string().swap(block.bytes);
  block.whole = true;
  block.written.clear();
}

}  // namespace alexfs::fs
