#include "engine/index/nodes.h"

#include <algorithm>
#include <cstdint>

namespace alexfs::index {

ModelNode::ModelNode(std::string_view bytes, size_t prefix_len, const ChunkSelection& sel, uint32_t fanout_in)
    : Node(Kind::kModel, bytes, prefix_len, sel), fanout(fanout_in), children(new std::atomic<Node*>[fanout_in]) {
  for (uint32_t i = 0; i < fanout; ++i) children[i].store(nullptr, std::memory_order_relaxed);
}

DataNode::DataNode(std::string_view bytes, size_t prefix_len, const ChunkSelection& sel, uint32_t capacity_in)
    : Node(Kind::kData, bytes, prefix_len, sel),
      capacity(capacity_in),
      slots(new Slot[capacity_in]),
      bitmap(new std::atomic<uint64_t>[(capacity_in + 63) / 64]) {
  for (size_t w = 0; w < BitmapWords(); ++w) bitmap[w].store(0, std::memory_order_relaxed);
}

size_t DataNode::MemoryBytes() const {
  return sizeof(*this) + prefix.HeapBytes() + capacity * sizeof(Slot) +
         BitmapWords() * sizeof(uint64_t);
}

DataNode* DataNode::Build(const KeyLoc* items, size_t n, uint32_t capacity) {
  size_t plen = 0;
  if (n >= 2) plen = CommonPrefixLength(items[0].key, items[n - 1].key);
  // Sorted keys all start with the first and last key's common prefix.
  const ChunkSelection sel = ChooseSelection(n, plen, [items](size_t i) { return items[i].key; });
  DataNode* node =
      new DataNode(n >= 2 ? items[0].key.substr(0, plen + sel.tmpl_len) : std::string_view(), plen, sel, capacity);
  thread_local std::vector<uint64_t> chunk_buf;
  if (chunk_buf.size() < n) chunk_buf.resize(n);
  uint64_t* chunks = chunk_buf.data();
  if (sel.count == 0) {
    for (size_t i = 0; i < n; ++i) chunks[i] = SuffixChunk(items[i].key, plen);
  } else {
    const char* tmpl = node->prefix.tmpl();
    for (size_t i = 0; i < n; ++i) chunks[i] = SelectedChunk(items[i].key, plen, sel, tmpl);
  }
  const double scale = static_cast<double>(capacity) / static_cast<double>(std::max<size_t>(n, 1));
  node->model = FitLinear(chunks, n, scale);
  // Model-based placement: each key at its predicted slot, pushed right past
  // its predecessor and left enough to leave room for the keys after it.
  // Then one backward pass fills each gap with a copy of the next key.
  int64_t last = -1;
  for (size_t i = 0; i < n; ++i) {
    int64_t pos = node->model.PredictClamped(chunks[i], capacity);
    pos = std::max(pos, last + 1);
    pos = std::min(pos, static_cast<int64_t>(capacity - (n - i)));
    node->Put(static_cast<uint32_t>(pos), chunks[i], items[i].location);
    node->SetBit(static_cast<uint32_t>(pos), true);
    last = pos;
  }
  uint64_t c = UINT64_MAX, loc = kNoLocation;
  for (int64_t i = static_cast<int64_t>(capacity) - 1; i >= 0; --i) {
    const uint32_t u = static_cast<uint32_t>(i);
    if (node->Occupied(u)) {
      c = node->ChunkAt(u);
      loc = node->LocAt(u);
    } else {
      node->Put(u, c, loc);
    }
  }
  node->num_keys = static_cast<uint32_t>(n);
  return node;
}

void DataNode::SetBit(uint32_t i, bool on) {
  std::atomic<uint64_t>& w = bitmap[i / 64];
  const uint64_t m = uint64_t{1} << (i % 64);
  const uint64_t v = w.load(std::memory_order_relaxed);
  w.store(on ? (v | m) : (v & ~m), std::memory_order_relaxed);
}

uint32_t DataNode::NextOccupied(uint32_t i) const {
  if (i >= capacity) return capacity;
  size_t w = i / 64;
  uint64_t bits = bitmap[w].load(std::memory_order_relaxed) & (~uint64_t{0} << (i % 64));
  const size_t words = BitmapWords();
  while (bits == 0) {
    if (++w >= words) return capacity;
    bits = bitmap[w].load(std::memory_order_relaxed);
  }
  return std::min<uint32_t>(capacity, static_cast<uint32_t>(w * 64 + __builtin_ctzll(bits)));
}

int64_t DataNode::PrevOccupied(uint32_t i) const {
  if (i == 0) return -1;
  const uint32_t j = i - 1;
  int64_t w = j / 64;
  const unsigned sh = j % 64;
  uint64_t bits = bitmap[w].load(std::memory_order_relaxed) & (sh == 63 ? ~uint64_t{0} : ((uint64_t{1} << (sh + 1)) - 1));
  while (bits == 0) {
    if (--w < 0) return -1;
    bits = bitmap[w].load(std::memory_order_relaxed);
  }
  return w * 64 + 63 - __builtin_clzll(bits);
}

uint32_t DataNode::LowerBoundChunk(uint64_t tc) const {
  const int64_t cap = capacity;
  const int64_t p = model.PredictClamped(tc, capacity);
  int64_t l, r;
  if (ChunkAt(static_cast<uint32_t>(p)) < tc) {
    l = p;
    int64_t b = 1;
    while (p + b < cap && ChunkAt(static_cast<uint32_t>(p + b)) < tc) {
      l = p + b;
      b *= 2;
    }
    r = std::min(p + b, cap);
  } else {
    r = p;
    int64_t b = 1;
    while (p - b >= 0 && ChunkAt(static_cast<uint32_t>(p - b)) >= tc) {
      r = p - b;
      b *= 2;
    }
    l = p - b >= 0 ? p - b : -1;
  }
  while (r - l > 1) {
    const int64_t m = l + (r - l) / 2;
    if (ChunkAt(static_cast<uint32_t>(m)) < tc) l = m; else r = m;
  }
  return static_cast<uint32_t>(r);
}

uint32_t DataNode::LowerBound(std::string_view key, const KeyReader* keys, bool* exact) const {
  *exact = false;
  const uint64_t tc = KeyChunk(key);
  const int64_t cap = capacity;
  const int64_t first = LowerBoundChunk(tc);
  if (first == cap || ChunkAt(static_cast<uint32_t>(first)) != tc) return static_cast<uint32_t>(first);
  // Ties on the chunk: find their end, then compare full keys inside.
  int64_t el = first, b = 1;
  while (first + b < cap && ChunkAt(static_cast<uint32_t>(first + b)) <= tc) {
    el = first + b;
    b *= 2;
  }
  int64_t er = std::min(first + b, cap);
  while (er - el > 1) {
    const int64_t m = el + (er - el) / 2;
    if (ChunkAt(static_cast<uint32_t>(m)) <= tc) el = m; else er = m;
  }
  int64_t l = first - 1, r = er;
  while (r - l > 1) {
    const int64_t m = l + (r - l) / 2;
    const uint64_t loc = LocAt(static_cast<uint32_t>(m));
    const int c = loc == kNoLocation ? 1 : CompareKeys(keys->KeyAt(loc), key);
    if (c < 0) {
      l = m;
    } else {
      r = m;
      if (c == 0) *exact = true;
    }
  }
  return static_cast<uint32_t>(r);
}

uint32_t DataNode::LowerBoundFullKeys(std::string_view key, const KeyReader* keys, bool* exact) const {
  *exact = false;
  const int64_t cap = capacity;
  const int64_t p = model.PredictClamped(KeyChunk(key), capacity);
  auto cmp = [&](int64_t i) {
    const uint64_t loc = LocAt(static_cast<uint32_t>(i));
    const int c = loc == kNoLocation ? 1 : CompareKeys(keys->KeyAt(loc), key);
    if (c == 0) *exact = true;
    return c;
  };
  int64_t l, r;
  if (cmp(p) < 0) {
    l = p;
    int64_t b = 1;
    while (p + b < cap && cmp(p + b) < 0) {
      l = p + b;
      b *= 2;
    }
    r = std::min(p + b, cap);
  } else {
    r = p;
    int64_t b = 1;
    while (p - b >= 0 && cmp(p - b) >= 0) {
      r = p - b;
      b *= 2;
    }
    l = p - b >= 0 ? p - b : -1;
  }
  while (r - l > 1) {
    const int64_t m = l + (r - l) / 2;
    if (cmp(m) < 0) l = m; else r = m;
  }
  // *exact may have been set by a probe right of r; recheck the answer slot.
  *exact = r < cap && LocAt(static_cast<uint32_t>(r)) != kNoLocation &&
           CompareKeys(keys->KeyAt(LocAt(static_cast<uint32_t>(r))), key) == 0;
  return static_cast<uint32_t>(r);
}

void DataNode::RefillGapsBefore(uint32_t i) {
  uint64_t c = UINT64_MAX, loc = kNoLocation;
  if (i < capacity) {
    c = ChunkAt(i);
    loc = LocAt(i);
  }
  for (int64_t j = static_cast<int64_t>(i) - 1; j >= 0 && !Occupied(static_cast<uint32_t>(j)); --j) {
    Put(static_cast<uint32_t>(j), c, loc);
  }
}

void DataNode::SetLocation(uint32_t i, uint64_t location) {
  BeginWrite();
  slots[i].location.store(location, std::memory_order_release);
  RefillGapsBefore(i);
  EndWrite();
}

void DataNode::Insert(std::string_view key, uint64_t location, uint32_t pos) {
  const uint64_t chunk = KeyChunk(key);
  const int64_t succ = NextOccupied(pos);
  const int64_t pred = PrevOccupied(pos);
  BeginWrite();
  if (succ - pred > 1) {
    // A gap lies between predecessor and successor: put the key at its
    // predicted slot, clamped into that gap run.
    int64_t target = model.PredictClamped(chunk, capacity);
    target = std::clamp<int64_t>(target, pred + 1, succ - 1);
    Put(static_cast<uint32_t>(target), chunk, location);
    SetBit(static_cast<uint32_t>(target), true);
    RefillGapsBefore(static_cast<uint32_t>(target));
  } else {
    // No gap: shift toward the closest gap, left or right.
    int64_t gr = succ;
    while (gr < capacity && Occupied(static_cast<uint32_t>(gr))) ++gr;
    int64_t gl = pred;
    while (gl >= 0 && Occupied(static_cast<uint32_t>(gl))) --gl;
    const bool right_ok = gr < capacity;
    const bool left_ok = gl >= 0;
    if (right_ok && (!left_ok || gr - succ <= pred - gl)) {
      for (int64_t i = gr; i > succ; --i) {
        Put(static_cast<uint32_t>(i), ChunkAt(static_cast<uint32_t>(i - 1)), LocAt(static_cast<uint32_t>(i - 1)));
      }
      SetBit(static_cast<uint32_t>(gr), true);
      Put(static_cast<uint32_t>(succ), chunk, location);
    } else {
      for (int64_t i = gl; i < pred; ++i) {
        Put(static_cast<uint32_t>(i), ChunkAt(static_cast<uint32_t>(i + 1)), LocAt(static_cast<uint32_t>(i + 1)));
      }
      SetBit(static_cast<uint32_t>(gl), true);
      Put(static_cast<uint32_t>(pred), chunk, location);
    }
  }
  ++num_keys;
  EndWrite();
}

void DataNode::Erase(uint32_t i) {
  BeginWrite();
  SetBit(i, false);
  RefillGapsBefore(NextOccupied(i + 1));
  --num_keys;
  EndWrite();
}

void DataNode::Collect(const KeyReader* keys, std::vector<KeyLoc>* out) const {
  for (uint32_t i = NextOccupied(0); i < capacity; i = NextOccupied(i + 1)) {
    const uint64_t loc = LocAt(i);
    out->push_back({keys->KeyAt(loc), loc});
  }
}

std::string DataNode::Check(const KeyReader* keys) const {
  uint32_t count = 0;
  std::string_view prev_key;
  bool have_prev = false;
  uint64_t next_chunk = UINT64_MAX, next_loc = kNoLocation;
  for (int64_t i = static_cast<int64_t>(capacity) - 1; i >= 0; --i) {
    const uint32_t u = static_cast<uint32_t>(i);
    if (Occupied(u)) {
      next_chunk = ChunkAt(u);
      next_loc = LocAt(u);
      if (next_loc == kNoLocation) return "occupied slot holds kNoLocation";
    } else if (ChunkAt(u) != next_chunk || LocAt(u) != next_loc) {
      return "gap " + std::to_string(i) + " does not copy the next key";
    }
  }
  for (uint32_t i = NextOccupied(0); i < capacity; i = NextOccupied(i + 1)) {
    ++count;
    std::string_view k = keys->KeyAt(LocAt(i));
    if (KeyChunk(k) != ChunkAt(i)) return "slot " + std::to_string(i) + " has a stale chunk";
    if (have_prev && CompareKeys(prev_key, k) >= 0) return "keys out of order at slot " + std::to_string(i);
    prev_key = k;
    have_prev = true;
  }
  if (count != num_keys) return "bitmap count " + std::to_string(count) + " != num_keys " + std::to_string(num_keys);
  if (!(model.slope >= 0)) return "negative model slope";
  return "";
}

}  // namespace alexfs::index
