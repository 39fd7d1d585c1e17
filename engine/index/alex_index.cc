#include "engine/index/alex_index.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "engine/epoch.h"
#include "engine/index/nodes.h"

namespace alexfs::index {

namespace {

// Data node sizing. Every data node has at most kMaxSlots slots (64 KiB of
// slots), so an insert never moves or rebuilds more than that; the only
// exception is a node whose keys all share one chunk (they differ only in
// trailing zero bytes), which cannot be split by a chunk model.
constexpr uint32_t kMinSlots = 16;
constexpr uint32_t kMaxSlots = 4096;
constexpr double kInitDensity = 0.7;   // after bulk load, split, shrink, merge
constexpr double kMaxDensity = 0.8;    // expand or split beyond this
constexpr double kExpandDensity = 0.5;  // after expand (1.6x the slots)
// Shrink below this, back to kInitDensity. Deleting half the keys of a node at
// kInitDensity (0.35) crosses it, so memory per live key after deletes stays
// near a fresh bulk load's; a just-expanded node (kExpandDensity) shrinks only
// after a fifth of its keys are deleted, so alternating inserts and deletes do
// not rebuild it back and forth.
constexpr double kMinDensity = 0.4;
// Bulk load: data nodes aim for kTargetDataKeys keys; a model node child with
// more than kMaxBulkDataKeys keys becomes a model node itself.
constexpr size_t kTargetDataKeys = 256;
constexpr size_t kMaxBulkDataKeys = 1024;
constexpr uint32_t kMaxFanoutLog = 20;
// Merge a small data node into its neighbour if together they hold fewer.
constexpr size_t kMergeKeys = kTargetDataKeys / 2;
// Keys a model node's chunk selection is chosen from (key_chunk.h).
constexpr size_t kSelectionSample = 2048;

// Cost model weights (bulk load fanout choice), in units of "one exponential
// search step": a key in a child that needs another model node level pays
// kLevelWeight more; every model node pointer costs kPointerByteWeight per
// byte, spread over the keys.
constexpr double kSearchWeight = 1.0;
constexpr double kLevelWeight = 6.0;
constexpr double kPointerByteWeight = 0.05;

uint32_t CapacityFor(size_t n) {
  size_t c = static_cast<size_t>(std::ceil(static_cast<double>(n) / kInitDensity)) + 1;
  c = std::max<size_t>(c, kMinSlots);
  if (c > kMaxSlots) c = std::max<size_t>(kMaxSlots, n + n / 4 + 1);
  return static_cast<uint32_t>(c);
}

size_t MaxKeys(const DataNode* n) {
  return std::max<size_t>(1, static_cast<size_t>(n->capacity * kMaxDensity));
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace


struct AlexIndex::Impl {
  Impl(const KeyReader* k, EpochManager* e) : keys(k), epochs(e) {}

  // Constant after construction.
  const KeyReader* const keys;
  EpochManager* const epochs;

  std::atomic<Node*> root{nullptr};
  std::atomic<size_t> size{0};
  std::atomic<size_t> memory{0};
  bool full_key_compares = false;  // design measurement only; set before use

  // Writer only: event counters.
  uint64_t num_expands = 0, num_splits_sideways = 0, num_splits_downwards = 0;
  uint64_t num_shrinks = 0, num_merges = 0, num_structural = 0;

  // ---- readers ----
  DataNode* Descend(std::string_view key) const {
    Node* n = root.load(std::memory_order_acquire);
    while (!n->is_data()) {
      const ModelNode* m = static_cast<const ModelNode*>(n);
      n = m->children[m->ChildIndex(key)].load(std::memory_order_acquire);
    }
    return static_cast<DataNode*>(n);
  }
  bool Find(std::string_view key, uint64_t* location) const;
  // Positions `s` at the first key >= target (> target if strict).
  void Seek(std::string_view target, bool strict, Iterator::State* s) const;
  // Moves to the first occupied slot >= from in n or its successors. False if
  // a node changed under us (n's version != expected when expected != 0).
  bool StepFrom(DataNode* n, uint32_t from, uint64_t expected, Iterator::State* s) const;

  // ---- writer ----
  DataNode* DescendWriter(std::string_view key, ModelNode** parent, uint32_t* slot) const {
    *parent = nullptr;
    *slot = 0;
    Node* n = root.load(std::memory_order_relaxed);
    while (!n->is_data()) {
      ModelNode* m = static_cast<ModelNode*>(n);
      *parent = m;
      *slot = m->ChildIndex(key);
      n = m->children[*slot].load(std::memory_order_relaxed);
    }
    return static_cast<DataNode*>(n);
  }
  // Slots [*a, *b) of parent that point at child.
  static void RangeInParent(const ModelNode* parent, uint32_t slot, const Node* child, uint32_t* a, uint32_t* b) {
    uint32_t lo = slot, hi = slot + 1;
    while (lo > 0 && parent->children[lo - 1].load(std::memory_order_relaxed) == child) --lo;
    while (hi < parent->fanout && parent->children[hi].load(std::memory_order_relaxed) == child) ++hi;
    *a = lo;
    *b = hi;
  }
  Node* BuildSubtree(const KeyLoc* items, size_t n, bool force_model, std::vector<DataNode*>* leaves);
  Node* BuildSubtree(const KeyLoc* items, size_t n, bool force_model, std::vector<DataNode*>* leaves,
                     uint64_t* chunks, uint32_t* route);
  uint32_t ChooseFanoutLog(const uint64_t* chunks, size_t n, const LinearModel& unit);
  std::vector<uint32_t> fanout_counts;  // writer-only scratch of ChooseFanoutLog
  void Grow(DataNode* leaf, ModelNode* parent, uint32_t slot);
  void MaybeShrinkOrMerge(DataNode* leaf, ModelNode* parent, uint32_t slot);
  // Replaces old leaves (consecutive siblings old_first..old_last) occupying
  // parent slots [a, b) (or the root if parent is null) by `parts`: each part
  // is (end slot, subtree); `leaves` are the new data nodes in key order.
  void Replace(ModelNode* parent, uint32_t a, const std::vector<std::pair<uint32_t, Node*>>& parts,
               const std::vector<DataNode*>& old_leaves, const std::vector<DataNode*>& leaves);
  void RetireNode(Node* n);
  void AddMemory(const Node* n) { memory.fetch_add(NodeBytes(n), std::memory_order_relaxed); }
  static size_t NodeBytes(const Node* n) {
    return n->is_data() ? static_cast<const DataNode*>(n)->MemoryBytes()
                        : static_cast<const ModelNode*>(n)->MemoryBytes();
  }
  void CollectTree(Node* n, std::unordered_set<Node*>* out) const;
  std::string Check() const;
  void DebugCheckLeaves(const std::vector<DataNode*>& leaves) const {
#ifndef NDEBUG
    for (const DataNode* l : leaves) {
      std::string err = l->Check(keys);
      if (!err.empty()) {
        std::fprintf(stderr, "AlexIndex invariant violated: %s\n", err.c_str());
        std::abort();
      }
    }
#else
    (void)leaves;
#endif
  }
};

// ---------------------------------------------------------------- readers

bool AlexIndex::Impl::Find(std::string_view key, uint64_t* location) const {
  for (;;) {
    const DataNode* leaf = Descend(key);
    const uint64_t v = leaf->version.load(std::memory_order_acquire);
    if (v & 1) {
      CpuRelax();
      continue;
    }
    bool exact;
    const uint32_t pos = full_key_compares ? leaf->LowerBoundFullKeys(key, keys, &exact)
                                           : leaf->LowerBound(key, keys, &exact);
    const uint64_t loc = exact ? leaf->slots[pos].location.load(std::memory_order_acquire) : 0;
    if (!VersionUnchanged(leaf->version, v)) continue;
    if (exact && location != nullptr) *location = loc;
    return exact;
  }
}

bool AlexIndex::Impl::StepFrom(DataNode* n, uint32_t from, uint64_t expected, Iterator::State* s) const {
  while (n != nullptr) {
    const uint64_t v = n->version.load(std::memory_order_acquire);
    if ((v & 1) || (expected != 0 && v != expected)) return false;
    const uint32_t occ = n->NextOccupied(from);
    const uint64_t loc = occ < n->capacity ? n->slots[occ].location.load(std::memory_order_acquire) : 0;
    DataNode* next = n->next.load(std::memory_order_acquire);
    if (!VersionUnchanged(n->version, v)) return false;
    if (occ < n->capacity) {
      s->node = n;
      s->slot = occ;
      s->version = v;
      s->location = loc;
      return true;
    }
    n = next;
    from = 0;
    expected = 0;
  }
  s->node = nullptr;
  return true;
}

void AlexIndex::Impl::Seek(std::string_view target, bool strict, Iterator::State* s) const {
  for (;;) {
    DataNode* leaf = Descend(target);
    const uint64_t v = leaf->version.load(std::memory_order_acquire);
    if (v & 1) {
      CpuRelax();
      continue;
    }
    bool exact;
    uint32_t pos = leaf->LowerBound(target, keys, &exact);
    if (strict && exact) pos = leaf->NextOccupied(pos) + 1;
    if (!VersionUnchanged(leaf->version, v)) continue;
    if (StepFrom(leaf, std::min(pos, leaf->capacity), v, s)) return;
  }
}

bool AlexIndex::Iterator::Valid() const { return state_.node != nullptr; }

void AlexIndex::Iterator::Next() {
  State* s = &state_;
  if (s->impl->StepFrom(s->node, s->slot + 1, s->version, s)) return;
  // The node changed since we read our position: seek past the current key.
  const std::string_view cur = s->impl->keys->KeyAt(s->location);
  s->impl->Seek(cur, /*strict=*/true, s);
}

std::string_view AlexIndex::Iterator::key() const { return state_.impl->keys->KeyAt(state_.location); }

uint64_t AlexIndex::Iterator::location() const { return state_.location; }

// ---------------------------------------------------------------- bulk load

uint32_t AlexIndex::Impl::ChooseFanoutLog(const uint64_t* chunks, size_t n, const LinearModel& unit) {
  // Cost model: for each candidate fanout, route the keys, group adjacent
  // children as bulk load would, and estimate the average cost per key as
  // kSearchWeight * log2(data node keys) [exponential search within a node]
  // + kLevelWeight for keys whose child needs another model level
  // + kPointerByteWeight * model node bytes / keys.
  //
  // One pass over the keys: fanouts are powers of two and the models are the
  // unit model scaled by them (exact in floating point), so a key's slot at
  // fanout f/2 is its slot at f halved. Count at the largest candidate, then
  // fold the counts pairwise for the smaller ones.
  const double ideal = std::log2(std::max<double>(2.0, static_cast<double>(n) / kTargetDataKeys));
  const int center = static_cast<int>(std::ceil(ideal));
  const int lo = std::max(1, center - 2);
  const int hi = std::min<int>(kMaxFanoutLog, center + 3);
  std::vector<uint32_t>& counts = fanout_counts;
  counts.assign(size_t{1} << hi, 0);
  {
    const uint32_t f = 1u << hi;
    LinearModel m = unit;
    m.slope *= f;
    m.intercept *= f;
    for (size_t i = 0; i < n; ++i) ++counts[m.PredictClamped(chunks[i], f)];
  }
  uint32_t best = static_cast<uint32_t>(lo);
  double best_cost = 1e300;
  for (int lg = hi; lg >= lo; --lg) {
    const uint32_t f = 1u << lg;
    if (lg < hi) {
      for (uint32_t i = 0; i < f; ++i) counts[i] = counts[2 * i] + counts[2 * i + 1];
    }
    double cost = 0;
    size_t group = 0;
    auto close_group = [&]() {
      if (group > 0) cost += static_cast<double>(group) * kSearchWeight * std::log2(static_cast<double>(group) + 1);
      group = 0;
    };
    for (uint32_t i = 0; i < f; ++i) {
      const size_t c = counts[i];
      if (c > kMaxBulkDataKeys) {
        close_group();
        cost += static_cast<double>(c) *
                (kLevelWeight + kSearchWeight * std::log2(static_cast<double>(kTargetDataKeys)));
      } else if (group + c > kTargetDataKeys) {
        close_group();
        group = c;
      } else {
        group += c;
      }
    }
    close_group();
    cost = cost / static_cast<double>(n) + kPointerByteWeight * 8.0 * f / static_cast<double>(n);
    if (cost <= best_cost) {  // ties go to the smaller fanout
      best_cost = cost;
      best = static_cast<uint32_t>(lg);
    }
  }
  return best;
}

Node* AlexIndex::Impl::BuildSubtree(const KeyLoc* items, size_t n, bool force_model,
                                    std::vector<DataNode*>* leaves, uint64_t* chunks, uint32_t* route) {
  // chunks[0, n) and route[0, n) are scratch aligned with items; children
  // reuse their own sub-ranges (the parent no longer reads those entries).
  if (n < 2 || (!force_model && n <= kMaxBulkDataKeys)) {
    DataNode* d = DataNode::Build(items, n, CapacityFor(n));
    AddMemory(d);
    leaves->push_back(d);
    return d;
  }
  // Keys are sorted, so every key starts with the first and last key's
  // common prefix: chunks are plain 8-byte loads after it.
  const size_t plen = CommonPrefixLength(items[0].key, items[n - 1].key);
  // A sample of the keys chooses the selection: reading every key once more
  // per level (random reads into the log) doubled the bulk-load time.
  ChunkSelection sel = ChooseSelection(n, plen, [items](size_t i) { return items[i].key; }, kSelectionSample);
  if (sel.count == 0) {
    for (size_t i = 0; i < n; ++i) chunks[i] = SuffixChunk(items[i].key, plen);
  } else {
    const char* tmpl = items[0].key.data() + plen;
    for (size_t i = 0; i < n; ++i) chunks[i] = SelectedChunk(items[i].key, plen, sel, tmpl);
  }
  const LinearModel unit = FitLinear(chunks, n, 1.0 / static_cast<double>(n));  // predicts rank / n
  const uint32_t lg = ChooseFanoutLog(chunks, n, unit);
  const uint32_t f = 1u << lg;
  auto scaled = [f](LinearModel m) {
    m.slope *= f;
    m.intercept *= f;
    return m;
  };
  LinearModel model = scaled(unit);
  // The model must separate the keys, or recursion would not progress.
  auto separates = [&](const LinearModel& m) {
    return m.PredictClamped(chunks[0], f) != m.PredictClamped(chunks[n - 1], f);
  };
  if (!separates(model)) model = scaled(FitEndpoints(chunks, n, 1.0 / static_cast<double>(n)));
  if (!separates(model)) {
    // All keys share one chunk: only a (possibly oversized) data node can hold them.
    DataNode* d = DataNode::Build(items, n, CapacityFor(n));
    AddMemory(d);
    leaves->push_back(d);
    return d;
  }
  ModelNode* m = new ModelNode(items[0].key.substr(0, plen + sel.tmpl_len), plen, sel, f);
  m->model = model;
  AddMemory(m);
  for (size_t i = 0; i < n; ++i) route[i] = model.PredictClamped(chunks[i], f);
  // Routing is monotone: each child's keys are a contiguous run.
  size_t i = 0;
  uint32_t slot = 0;
  while (slot < f) {
    // Gather slots [slot, end) into one child while it stays small.
    size_t j = i;
    uint32_t end = slot;
    while (end < f) {
      size_t k = j;
      while (k < n && route[k] == end) ++k;
      const size_t run = k - j;
      const size_t group = j - i;
      if (end > slot && (group + run > kTargetDataKeys || run > kMaxBulkDataKeys)) break;
      j = k;
      ++end;
      if (run > kMaxBulkDataKeys) break;  // an oversized slot is a child on its own
    }
    Node* child = BuildSubtree(items + i, j - i, false, leaves, chunks + i, route + i);
    for (uint32_t s = slot; s < end; ++s) m->children[s].store(child, std::memory_order_relaxed);
    i = j;
    slot = end;
  }
  assert(i == n);
  return m;
}

Node* AlexIndex::Impl::BuildSubtree(const KeyLoc* items, size_t n, bool force_model, std::vector<DataNode*>* leaves) {
  std::vector<uint64_t> chunks(n);
  std::vector<uint32_t> route(n);
  return BuildSubtree(items, n, force_model, leaves, chunks.data(), route.data());
}

// ---------------------------------------------------------------- writer

void AlexIndex::Impl::RetireNode(Node* n) {
  memory.fetch_sub(NodeBytes(n), std::memory_order_relaxed);
  if (epochs == nullptr) {
    delete n;
  } else {
    epochs->Retire([n] { delete n; });
  }
}

void AlexIndex::Impl::Replace(ModelNode* parent, uint32_t a, const std::vector<std::pair<uint32_t, Node*>>& parts,
                              const std::vector<DataNode*>& old_leaves, const std::vector<DataNode*>& leaves) {
  DataNode* before = old_leaves.front()->prev.load(std::memory_order_relaxed);
  DataNode* after = old_leaves.back()->next.load(std::memory_order_relaxed);
  for (size_t i = 0; i < leaves.size(); ++i) {
    leaves[i]->prev.store(i == 0 ? before : leaves[i - 1], std::memory_order_relaxed);
    leaves[i]->next.store(i + 1 == leaves.size() ? after : leaves[i + 1], std::memory_order_relaxed);
  }
  // Readers that reach an old leaf from now on retry from the root.
  for (DataNode* old : old_leaves) old->MarkObsolete();
  if (parent == nullptr) {
    root.store(parts.front().second, std::memory_order_release);
  } else {
    uint32_t s = a;
    for (const auto& [end, node] : parts) {
      for (; s < end; ++s) parent->children[s].store(node, std::memory_order_release);
    }
  }
  if (before != nullptr) before->next.store(leaves.front(), std::memory_order_release);
  if (after != nullptr) after->prev.store(leaves.back(), std::memory_order_release);
  for (DataNode* old : old_leaves) RetireNode(old);
  DebugCheckLeaves(leaves);
  if (epochs != nullptr && (++num_structural & 63) == 0) epochs->ReclaimNow();
}

void AlexIndex::Impl::Grow(DataNode* leaf, ModelNode* parent, uint32_t slot) {
  std::vector<KeyLoc> items;
  items.reserve(leaf->num_keys);
  leaf->Collect(keys, &items);
  std::vector<DataNode*> leaves;
  uint32_t a = 0, b = 1;
  if (parent != nullptr) RangeInParent(parent, slot, leaf, &a, &b);
  if (leaf->capacity < kMaxSlots) {
    // Expand: retrain into a bigger gapped array.
    const uint32_t cap = std::max(
        CapacityFor(items.size()),
        std::min(kMaxSlots, static_cast<uint32_t>(std::ceil(static_cast<double>(items.size()) / kExpandDensity))));
    DataNode* d = DataNode::Build(items.data(), items.size(), cap);
    AddMemory(d);
    leaves.push_back(d);
    Replace(parent, a, {{b, d}}, {leaf}, leaves);
    ++num_expands;
  } else if (parent != nullptr && b - a >= 2) {
    // Split sideways: halve the node's slot range in its parent.
    const uint32_t mid = a + (b - a) / 2;
    size_t k = 0;
    while (k < items.size() && parent->ChildIndex(items[k].key) < mid) ++k;
    DataNode* left = DataNode::Build(items.data(), k, CapacityFor(k));
    DataNode* right = DataNode::Build(items.data() + k, items.size() - k, CapacityFor(items.size() - k));
    AddMemory(left);
    AddMemory(right);
    leaves = {left, right};
    Replace(parent, a, {{mid, left}, {b, right}}, {leaf}, leaves);
    ++num_splits_sideways;
  } else {
    // Split downwards: a new model node over this node's keys.
    Node* sub = BuildSubtree(items.data(), items.size(), /*force_model=*/true, &leaves);
    if (sub->is_data() && static_cast<DataNode*>(sub)->capacity <= leaf->capacity) {
      // Keys the chunk model cannot separate: grow the oversized node instead.
      RetireNode(sub);
      leaves.clear();
      DataNode* d = DataNode::Build(items.data(), items.size(), leaf->capacity * 2);
      AddMemory(d);
      leaves.push_back(d);
      sub = d;
    }
    Replace(parent, a, {{b, sub}}, {leaf}, leaves);
    ++num_splits_downwards;
  }
}

void AlexIndex::Impl::MaybeShrinkOrMerge(DataNode* leaf, ModelNode* parent, uint32_t slot) {
  const size_t n = leaf->num_keys;
  uint32_t a = 0, b = 1;
  if (parent != nullptr) RangeInParent(parent, slot, leaf, &a, &b);
  if (parent != nullptr && n < kMergeKeys) {
    // Merge with a neighbour in the same parent if the two are small.
    for (int side = 0; side < 2; ++side) {
      const int64_t ns = side == 0 ? static_cast<int64_t>(b) : static_cast<int64_t>(a) - 1;
      if (ns < 0 || ns >= parent->fanout) continue;
      Node* other = parent->children[ns].load(std::memory_order_relaxed);
      if (!other->is_data()) continue;
      DataNode* o = static_cast<DataNode*>(other);
      if (n + o->num_keys > kMergeKeys) continue;
      uint32_t oa, ob;
      RangeInParent(parent, static_cast<uint32_t>(ns), o, &oa, &ob);
      DataNode* first = side == 0 ? leaf : o;
      DataNode* second = side == 0 ? o : leaf;
      std::vector<KeyLoc> items;
      first->Collect(keys, &items);
      second->Collect(keys, &items);
      DataNode* d = DataNode::Build(items.data(), items.size(), CapacityFor(items.size()));
      AddMemory(d);
      Replace(parent, std::min(a, oa), {{std::max(b, ob), d}}, {first, second}, {d});
      ++num_merges;
      return;
    }
  }
  if (leaf->capacity > kMinSlots && n < leaf->capacity * kMinDensity && CapacityFor(n) < leaf->capacity) {
    std::vector<KeyLoc> items;
    leaf->Collect(keys, &items);
    DataNode* d = DataNode::Build(items.data(), items.size(), CapacityFor(items.size()));
    AddMemory(d);
    Replace(parent, a, {{b, d}}, {leaf}, {d});
    ++num_shrinks;
  }
}

void AlexIndex::Impl::CollectTree(Node* n, std::unordered_set<Node*>* out) const {
  if (!out->insert(n).second) return;
  if (n->is_data()) return;
  ModelNode* m = static_cast<ModelNode*>(n);
  for (uint32_t i = 0; i < m->fanout; ++i) CollectTree(m->children[i].load(std::memory_order_relaxed), out);
}

// ---------------------------------------------------------------- checks

std::string AlexIndex::Impl::Check() const {
  // Walk the tree in order: children contiguous, data nodes in sibling order,
  // each data node locally valid, keys ascending across nodes, and every key
  // routed from the root to the node that holds it.
  std::vector<DataNode*> order;
  std::string err;
  auto walk = [&](auto&& self, Node* n) -> void {
    if (!err.empty()) return;
    if (n->is_data()) {
      order.push_back(static_cast<DataNode*>(n));
      return;
    }
    ModelNode* m = static_cast<ModelNode*>(n);
    if (m->fanout == 0 || (m->fanout & (m->fanout - 1)) != 0) err = "model node fanout not a power of two";
    if (!(m->model.slope >= 0)) err = "model node with negative slope";
    std::unordered_set<Node*> seen;
    Node* prev = nullptr;
    for (uint32_t i = 0; i < m->fanout && err.empty(); ++i) {
      Node* c = m->children[i].load(std::memory_order_relaxed);
      if (c == nullptr) {
        err = "null child";
      } else if (c != prev) {
        if (!seen.insert(c).second) err = "child pointers not contiguous";
        self(self, c);
        prev = c;
      }
    }
  };
  walk(walk, root.load(std::memory_order_relaxed));
  if (!err.empty()) return err;
  size_t total = 0;
  std::string_view last;
  bool have_last = false;
  for (size_t i = 0; i < order.size(); ++i) {
    DataNode* d = order[i];
    if (d->version.load(std::memory_order_relaxed) & 1) return "live data node is obsolete";
    if (d->prev.load(std::memory_order_relaxed) != (i == 0 ? nullptr : order[i - 1])) return "bad prev link";
    if (d->next.load(std::memory_order_relaxed) != (i + 1 == order.size() ? nullptr : order[i + 1])) {
      return "bad next link";
    }
    err = d->Check(keys);
    if (!err.empty()) return err;
    total += d->num_keys;
    for (uint32_t s = d->NextOccupied(0); s < d->capacity; s = d->NextOccupied(s + 1)) {
      std::string_view k = keys->KeyAt(d->slots[s].location.load(std::memory_order_acquire));
      if (have_last && CompareKeys(last, k) >= 0) return "keys out of order across data nodes";
      last = k;
      have_last = true;
      if (Descend(k) != d) return "key not routed to its data node";
    }
  }
  if (total != size.load(std::memory_order_relaxed)) return "size count mismatch";
  return "";
}

// ---------------------------------------------------------------- AlexIndex

AlexIndex::AlexIndex(const KeyReader* keys, EpochManager* epochs) : impl_(new Impl(keys, epochs)) {
  DataNode* d = DataNode::Build(nullptr, 0, kMinSlots);
  impl_->AddMemory(d);
  impl_->root.store(d, std::memory_order_release);
}

AlexIndex::~AlexIndex() {
  std::unordered_set<Node*> all;
  impl_->CollectTree(impl_->root.load(std::memory_order_relaxed), &all);
  for (Node* n : all) delete n;
}

void AlexIndex::BulkLoad(const std::vector<std::pair<std::string_view, uint64_t>>& sorted) {
  Impl* im = impl_.get();
  std::vector<KeyLoc> items;
  items.reserve(sorted.size());
  for (const auto& [k, loc] : sorted) items.push_back({k, loc});
  std::vector<DataNode*> leaves;
  Node* fresh = im->BuildSubtree(items.data(), items.size(), false, &leaves);
  for (size_t i = 0; i < leaves.size(); ++i) {
    leaves[i]->prev.store(i == 0 ? nullptr : leaves[i - 1], std::memory_order_relaxed);
    leaves[i]->next.store(i + 1 == leaves.size() ? nullptr : leaves[i + 1], std::memory_order_relaxed);
  }
  std::unordered_set<Node*> old;
  im->CollectTree(im->root.load(std::memory_order_relaxed), &old);
  for (Node* n : old) {
    if (n->is_data()) static_cast<DataNode*>(n)->MarkObsolete();
  }
  im->root.store(fresh, std::memory_order_release);
  im->size.store(items.size(), std::memory_order_relaxed);
  for (Node* n : old) im->RetireNode(n);
#ifndef NDEBUG
  std::string err = im->Check();
  if (!err.empty()) {
    std::fprintf(stderr, "AlexIndex invariant violated after BulkLoad: %s\n", err.c_str());
    std::abort();
  }
#endif
}

bool AlexIndex::Find(std::string_view key, uint64_t* location) const { return impl_->Find(key, location); }

bool AlexIndex::Upsert(std::string_view key, uint64_t location, uint64_t* old_location) {
  Impl* im = impl_.get();
  for (;;) {
    ModelNode* parent;
    uint32_t slot;
    DataNode* leaf = im->DescendWriter(key, &parent, &slot);
    bool exact;
    const uint32_t pos = leaf->LowerBound(key, im->keys, &exact);
    if (exact) {
      const uint32_t occ = leaf->NextOccupied(pos);
      if (old_location != nullptr) *old_location = leaf->slots[occ].location.load(std::memory_order_acquire);
      leaf->SetLocation(occ, location);
      return false;
    }
    if (leaf->num_keys + 1 > MaxKeys(leaf)) {
      im->Grow(leaf, parent, slot);
      continue;
    }
    leaf->Insert(key, location, pos);
    im->size.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
}

bool AlexIndex::CompareAndSwap(std::string_view key, uint64_t expected, uint64_t desired) {
  Impl* im = impl_.get();
  ModelNode* parent;
  uint32_t slot;
  DataNode* leaf = im->DescendWriter(key, &parent, &slot);
  bool exact;
  const uint32_t pos = leaf->LowerBound(key, im->keys, &exact);
  if (!exact) return false;
  const uint32_t occ = leaf->NextOccupied(pos);
  if (leaf->slots[occ].location.load(std::memory_order_acquire) != expected) return false;
  leaf->SetLocation(occ, desired);
  return true;
}

size_t AlexIndex::CompareAndSwapSorted(const std::vector<SwapRequest>& sorted_requests, std::vector<bool>* swapped) {
  std::unique_ptr<bool[]> out;
  if (swapped != nullptr) out.reset(new bool[sorted_requests.size()]);
  const size_t n = CompareAndSwapSorted(sorted_requests.data(), sorted_requests.size(), out.get());
  if (swapped != nullptr) swapped->assign(out.get(), out.get() + sorted_requests.size());
  return n;
}

size_t AlexIndex::CompareAndSwapSorted(const SwapRequest* requests, size_t n, bool* swapped) {
  Impl* im = impl_.get();
  size_t count = 0;
  DataNode* leaf = nullptr;
  int64_t last_occ = -1;       // leaf's last occupied slot (-1: empty)
  std::string_view last_key;   // its key, read only on a chunk tie
  bool have_last_key = false;
  const DataNode* cursor_leaf = nullptr;  // slot of the last swap, and its chunk
  uint64_t cursor_chunk = 0;
  uint32_t cursor = 0;
  auto enter = [&](DataNode* d) {
    leaf = d;
    last_occ = d->PrevOccupied(d->capacity);
    have_last_key = false;
  };
  // Whether key, if present, can only be in `leaf` (key <= leaf's last key).
  auto in_leaf = [&](std::string_view key) {
    if (last_occ < 0) return false;
    const uint64_t tc = leaf->KeyChunk(key);
    const uint64_t lc = leaf->slots[last_occ].chunk.load(std::memory_order_relaxed);
    if (tc != lc) return tc < lc;
    if (!have_last_key) {
      last_key = im->keys->KeyAt(leaf->slots[last_occ].location.load(std::memory_order_acquire));
      have_last_key = true;
    }
    return CompareKeys(key, last_key) <= 0;
  };
  for (size_t i = 0; i < n; ++i) {
    const SwapRequest& r = requests[i];
    bool done = false;
    if (leaf == nullptr) {
      ModelNode* parent;
      uint32_t slot;
      enter(im->DescendWriter(r.key, &parent, &slot));
    }
    // A present key lies in the first node (from here on) whose last key is
    // >= it. Follow two sibling links, then descend from the root once (and
    // from there follow links past empty nodes).
    bool descended = false;
    for (int hops = 0; !in_leaf(r.key);) {
      DataNode* next = leaf->next.load(std::memory_order_relaxed);
      if (next == nullptr) break;  // past the last key: absent
      if (!descended && ++hops > 2) {
        ModelNode* parent;
        uint32_t slot;
        enter(im->DescendWriter(r.key, &parent, &slot));
        descended = true;
        continue;
      }
      enter(next);
    }
    if (last_occ >= 0) {
      // First slot with chunk >= the key's, then the occupied slots with that
      // chunk: the one holding `expected` is the key's. Requests ascend, so
      // after a swap in a run of equal chunks (keys the chunk cannot tell
      // apart) the next request resumes at that slot: a batch scans each run
      // once instead of once per request.
      const uint64_t tc = leaf->KeyChunk(r.key);
      uint32_t pos = (leaf == cursor_leaf && tc == cursor_chunk) ? cursor : leaf->LowerBoundChunk(tc);
      for (uint32_t occ = leaf->NextOccupied(pos); occ < leaf->capacity; occ = leaf->NextOccupied(occ + 1)) {
        if (leaf->slots[occ].chunk.load(std::memory_order_relaxed) != tc) break;
        if (leaf->slots[occ].location.load(std::memory_order_acquire) == r.expected) {
          leaf->SetLocation(occ, r.desired);
          if (have_last_key && static_cast<int64_t>(occ) == last_occ) have_last_key = false;
          cursor_leaf = leaf;
          cursor_chunk = tc;
          cursor = occ;
          done = true;
          break;
        }
      }
    }
    if (done) ++count;
    if (swapped != nullptr) swapped[i] = done;
  }
  return count;
}

bool AlexIndex::Erase(std::string_view key, uint64_t* old_location) {
  Impl* im = impl_.get();
  ModelNode* parent;
  uint32_t slot;
  DataNode* leaf = im->DescendWriter(key, &parent, &slot);
  bool exact;
  const uint32_t pos = leaf->LowerBound(key, im->keys, &exact);
  if (!exact) return false;
  const uint32_t occ = leaf->NextOccupied(pos);
  if (old_location != nullptr) *old_location = leaf->slots[occ].location.load(std::memory_order_acquire);
  leaf->Erase(occ);
  im->size.fetch_sub(1, std::memory_order_relaxed);
  im->MaybeShrinkOrMerge(leaf, parent, slot);
  return true;
}

AlexIndex::Iterator AlexIndex::LowerBound(std::string_view target) const {
  Iterator it;
  it.state_.impl = impl_.get();
  impl_->Seek(target, /*strict=*/false, &it.state_);
  return it;
}

AlexIndex::Iterator AlexIndex::Begin() const { return LowerBound(std::string_view()); }

size_t AlexIndex::size() const { return impl_->size.load(std::memory_order_relaxed); }

size_t AlexIndex::memory_bytes() const { return impl_->memory.load(std::memory_order_relaxed) + sizeof(Impl); }

std::string AlexIndex::CheckInvariants() const { return impl_->Check(); }

std::string AlexIndex::DebugShape() const {
  std::vector<size_t> models_at, data_at, keys_at;
  auto walk = [&](auto&& self, const Node* n, size_t depth) -> void {
    if (models_at.size() <= depth) {
      models_at.resize(depth + 1);
      data_at.resize(depth + 1);
      keys_at.resize(depth + 1);
    }
    if (n->is_data()) {
      ++data_at[depth];
      keys_at[depth] += static_cast<const DataNode*>(n)->num_keys;
      return;
    }
    ++models_at[depth];
    const ModelNode* m = static_cast<const ModelNode*>(n);
    const Node* prev = nullptr;
    for (uint32_t i = 0; i < m->fanout; ++i) {
      const Node* c = m->children[i].load(std::memory_order_relaxed);
      if (c != prev) self(self, c, depth + 1);
      prev = c;
    }
  };
  walk(walk, impl_->root.load(std::memory_order_relaxed), 0);
  std::string out;
  double weighted = 0;
  size_t keys = 0, data = 0;
  for (size_t d = 0; d < models_at.size(); ++d) {
    // Appended piece by piece: GCC 12 at -O3 misreads a chain of string
    // temporaries ("L" + to_string(d) + ...) as an overlapping memcpy (-Wrestrict).
    out.append("L").append(std::to_string(d)).append(": ");
    out.append(std::to_string(models_at[d])).append(" model, ");
    out.append(std::to_string(data_at[d])).append(" data (");
    out.append(std::to_string(keys_at[d])).append(" keys); ");
    weighted += static_cast<double>(keys_at[d]) * static_cast<double>(d);
    keys += keys_at[d];
    data += data_at[d];
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "mean depth %.2f, %.1f keys/data node", keys ? weighted / keys : 0.0,
                data ? static_cast<double>(keys) / data : 0.0);
  return out + buf;
}

void AlexIndex::SetFullKeyComparesForBenchmark(bool on) { impl_->full_key_compares = on; }

}  // namespace alexfs::index
