// StoreImpl: compressed values and dictionaries.
//
// Write path: Write() encodes each put (engine/compression.h) on the caller's
// thread, before queueing, so commit groups never wait for compression; a
// value that does not save 1/8 goes to the log as it is. Values of at most
// kDictionaryValueBytes are encoded with the current dictionary, if any.
// While there is none, writers keep samples of such values; once about 100x
// the first dictionary's size (kFirstDictionaryBytes at most) is gathered the
// background thread trains one (ZDICT), stores it under DictionaryKey(id) and
// makes it current.
//
// Dictionary lifetime: NoteEncoding counts, per dictionary, the live records
// encoded with it (under index_mu_, where the index changes). Compaction
// retrains from the values it moves and re-encodes them with the new one;
// after it, a dictionary that no live record uses, no writer is encoding
// with, and that is not current, has its key deleted. In memory a dictionary
// stays until the store closes (a reader may hold a location found just
// before its record died).
#include <algorithm>
#include <functional>

#include <spdlog/spdlog.h>

#include "engine/compression.h"
#include "engine/store_impl.h"

namespace alexfs {
namespace {

// Values up to this size (a 64 KiB file or block with its header) use the
// dictionary; larger ones compress well enough alone.
constexpr size_t kDictionaryValueBytes = 72 << 10;
// A training sample is at most this long (the head of a value).
constexpr size_t kSampleBytes = 16 << 10;
// Train on about this many times the dictionary size of samples.
constexpr size_t kSamplesPerDictionaryByte = 100;
// Below this, a dictionary is not worth training (compaction of a small store).
constexpr size_t kMinDictionaryBytes = 1 << 10;
// The first dictionary, trained from writers' samples, is at most this large:
// small enough that a young store soon has one and training it is short (it
// shares the cores with the writers); compaction trains the full size.
constexpr size_t kFirstDictionaryBytes = 64 << 10;

size_t FirstDictionaryBytes(const StoreOptions& o) {
  return std::min<size_t>(o.compression_dictionary_bytes, kFirstDictionaryBytes);
}

}  // namespace

Status StoreImpl::EntryValue(const log::Entry& e, std::string* buf, std::string_view* value) const {
  if (e.type != log::RecordType::kPutEncoded) {
    *value = e.value;
    return Status::OK();
  }
  EncodedHeader h;
  std::shared_ptr<const Dictionary> dict;
  if (ParseEncodedHeader(e.value, &h) && h.codec == Codec::kZstdDictionary) dict = dicts_.Find(h.dict_id);
  Status s = DecodeValue(e.value, dict.get(), buf);
  if (!s.ok()) {
    *value = std::string_view();
    return Status::Corruption("value of key '" + std::string(e.key.substr(0, 256)) + "' in " + dir_ +
                              ": " + s.message());
  }
  *value = *buf;
  return Status::OK();
}

void StoreImpl::NoteEncoding(const log::Entry& e, int sign) {
  if (e.type != log::RecordType::kPutEncoded) return;
  EncodedHeader h;
  if (!ParseEncodedHeader(e.value, &h)) return;
  const int64_t extra = static_cast<int64_t>(h.logical_size) - static_cast<int64_t>(e.value.size());
  counters_->logical_extra.fetch_add(sign * extra, std::memory_order_relaxed);
  if (h.codec == Codec::kZstdDictionary) dict_refs_[h.dict_id] += sign;
}

Status StoreImpl::Write(const WriteBatch& batch, Durability durability) {
  for (const auto& op : batch.ops()) {
    if (log::IsReservedKey(op.key)) {
      return Status::InvalidArgument("keys starting with four 0xff bytes are reserved for the engine");
    }
  }
  return WriteImpl(batch, durability, /*encode=*/true);
}

void StoreImpl::EncodeBatch(const WriteBatch& batch, std::vector<std::string>* encoded,
                            std::shared_ptr<const Dictionary>* dict) {
  const int level = options_.compression_level;
  bool any = false;
  for (size_t i = 0; i < batch.count(); ++i) {
    const auto& op = batch.ops()[i];
    if (op.type != WriteBatch::OpType::kPut || op.value.size() < kMinCompressBytes) continue;
    const Dictionary* d = nullptr;
    if (op.value.size() <= kDictionaryValueBytes) {
      if (*dict == nullptr) *dict = dicts_.AcquireCurrent();
      d = dict->get();
    }
    if (encoded->empty()) encoded->resize(batch.count());
    any |= EncodeValue(op.value, level, d, &(*encoded)[i]);
  }
  if (!any) encoded->clear();
}

void StoreImpl::SampleForDictionary(const WriteBatch& batch) {
  const size_t want = FirstDictionaryBytes(options_) * kSamplesPerDictionaryByte;
  std::lock_guard<std::mutex> l(sample_mu_);
  if (!sampling_.load(std::memory_order_relaxed)) return;
  for (const auto& op : batch.ops()) {
    if (op.type != WriteBatch::OpType::kPut || op.value.size() < kMinCompressBytes ||
        op.value.size() > kDictionaryValueBytes) {
      continue;
    }
    const size_t n = std::min(op.value.size(), kSampleBytes);
    samples_.emplace_back(op.value.data(), n);
    sample_bytes_ += n;
  }
  if (sample_bytes_ >= want) {
    sampling_.store(false, std::memory_order_relaxed);
    std::lock_guard<std::mutex> ml(mu_);
    train_wanted_ = true;
    bg_cv_.notify_all();
  }
}

void StoreImpl::TrainFromSamples() {
  std::vector<std::string> samples;
  {
    std::lock_guard<std::mutex> l(sample_mu_);
    samples.swap(samples_);
    sample_bytes_ = 0;
  }
  std::vector<std::string_view> views(samples.begin(), samples.end());
  std::shared_ptr<const Dictionary> d;
  std::lock_guard<std::mutex> cl(compaction_mu_);  // one trainer at a time
  if (dicts_.current() != nullptr) return;  // a compaction trained one meanwhile
  Status s = InstallDictionary(views, FirstDictionaryBytes(options_), &d);
  if (!s.ok()) spdlog::warn("alexfs: {}: no dictionary: {}", dir_, s.ToString());
}

Status StoreImpl::InstallDictionary(const std::vector<std::string_view>& samples, size_t max_bytes,
                                    std::shared_ptr<const Dictionary>* out) {
  std::string bytes;
  Status s = TrainDictionary(samples, max_bytes, &bytes);
  if (!s.ok()) return s;
  const uint32_t id = dicts_.max_id() + 1;
  std::shared_ptr<const Dictionary> d;
  s = Dictionary::Create(id, bytes, options_.compression_level, &d);
  if (!s.ok()) return s;
  WriteBatch b;
  b.Put(DictionaryKey(id), std::move(bytes));
  // In the log before any record that uses it.
  s = WriteImpl(b, Durability::kBuffered, /*encode=*/false);
  if (!s.ok()) return s;
  dicts_.Add(d);
  dicts_.SetCurrent(id);
  sampling_.store(false, std::memory_order_relaxed);
  spdlog::info("alexfs: {}: zstd dictionary {} ({} bytes) trained on {} values", dir_, id,
               d->bytes().size(), samples.size());
  *out = std::move(d);
  return Status::OK();
}

Status StoreImpl::TrainForCompaction(size_t n, const std::function<log::Entry(size_t)>& entry_at,
                                     std::shared_ptr<const Dictionary>* out) {
  out->reset();
  // Eligible values and their bytes, then every stride-th of them: samples
  // spread over the whole key range.
  auto eligible = [&](const log::Entry& e, size_t* logical) {
    if (!log::IsPut(e.type) || log::IsReservedKey(e.key)) return false;
    *logical = e.value.size();
    EncodedHeader h;
    if (e.type == log::RecordType::kPutEncoded) {
      if (!ParseEncodedHeader(e.value, &h)) return false;
      *logical = h.logical_size;
    }
    return *logical >= kMinCompressBytes && *logical <= kDictionaryValueBytes;
  };
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t logical;
    if (eligible(entry_at(i), &logical)) total += std::min(logical, kSampleBytes);
  }
  const uint64_t want = uint64_t{options_.compression_dictionary_bytes} * kSamplesPerDictionaryByte;
  const uint64_t stride = std::max<uint64_t>(1, total / std::max<uint64_t>(want, 1));
  std::vector<std::string> samples;
  uint64_t seen = 0, bytes = 0;
  for (size_t i = 0; i < n && bytes < want; ++i) {
    const log::Entry e = entry_at(i);
    size_t logical;
    if (!eligible(e, &logical) || seen++ % stride != 0) continue;
    std::string buf;
    std::string_view v;
    Status s = EntryValue(e, &buf, &v);
    if (!s.ok()) return s;
    samples.emplace_back(v.substr(0, kSampleBytes));
    bytes += samples.back().size();
  }
  // Smaller stores get a smaller dictionary, still ~100x its size in samples;
  // but one trained on fewer samples does not replace a current one at least
  // that large (a background compaction of a few segments; the first
  // dictionary, smaller than the full size, is replaced once there are more).
  const auto current = dicts_.current();
  if (bytes < want && current != nullptr &&
      bytes / kSamplesPerDictionaryByte <= current->bytes().size()) {
    return Status::OK();
  }
  const size_t size = std::min<size_t>(options_.compression_dictionary_bytes, bytes / kSamplesPerDictionaryByte);
  if (size < kMinDictionaryBytes) return Status::OK();
  std::vector<std::string_view> views(samples.begin(), samples.end());
  Status s = InstallDictionary(views, size, out);
  if (!s.ok()) {
    // Not enough variety to train on: compaction goes on without.
    spdlog::info("alexfs: {}: compaction keeps the dictionaries it has: {}", dir_, s.ToString());
    out->reset();
    return s.code() == Status::Code::kNotSupported ? Status::OK() : s;
  }
  return Status::OK();
}

Status StoreImpl::RecodeEntry(const log::Entry& in, const Dictionary& dict, std::string* logical,
                              std::string* encoded, log::Entry* out) const {
  *out = in;
  if (!log::IsPut(in.type) || log::IsReservedKey(in.key)) return Status::OK();
  EncodedHeader h;
  const size_t size = in.type == log::RecordType::kPutEncoded && ParseEncodedHeader(in.value, &h)
                          ? h.logical_size
                          : in.value.size();
  if (size > kDictionaryValueBytes) return Status::OK();  // moves as it is
  std::string_view v;
  Status s = EntryValue(in, logical, &v);
  if (!s.ok()) return s;
  if (v.size() > kDictionaryValueBytes) return Status::OK();
  if (EncodeValue(v, options_.compression_level, &dict, encoded)) {
    *out = log::Entry{log::RecordType::kPutEncoded, in.key, *encoded};
  } else {
    *out = log::Entry{log::RecordType::kPut, in.key, v};
  }
  return Status::OK();
}

Status StoreImpl::LoadDictionaries() {
  std::vector<std::pair<uint32_t, std::string>> found;
  {
    EpochManager::Guard guard = epochs_->Enter();
    for (auto i = index_->LowerBound(log::kReservedKeyPrefix); i.Valid(); i.Next()) {
      uint32_t id;
      if (!ParseDictionaryKey(i.key(), &id)) continue;
      const auto& seg = SegmentOf(i.location());
      const log::Entry e = log::EntryAtUnchecked(seg->base() + log::LocationOffset(i.location()));
      found.emplace_back(id, std::string(e.value));
    }
  }
  uint32_t newest = 0;
  for (auto& [id, bytes] : found) {
    std::shared_ptr<const Dictionary> d;
    Status s = Dictionary::Create(id, std::move(bytes), options_.compression_level, &d);
    if (!s.ok()) return Status::Corruption(dir_ + ": " + s.message());
    dicts_.Add(std::move(d));
    newest = std::max(newest, id);
  }
  if (newest != 0) dicts_.SetCurrent(newest);
  sampling_.store(options_.compression_level > 0 && options_.compression_dictionary_bytes > 0 &&
                      newest == 0,
                  std::memory_order_relaxed);
  return Status::OK();
}

Status StoreImpl::DropUnusedDictionaries() {
  const auto current = dicts_.current();
  WriteBatch b;
  std::vector<uint32_t> dropped;
  for (uint32_t id : dicts_.ids()) {
    if (current != nullptr && current->id() == id) continue;
    const auto d = dicts_.Find(id);
    // Encoders first: one that finished did so after noting its records.
    if (d->encoders() != 0) continue;
    std::lock_guard<std::mutex> il(index_mu_);
    auto r = dict_refs_.find(id);
    if (r != dict_refs_.end() && r->second > 0) continue;
    uint64_t loc;
    EpochManager::Guard guard = epochs_->Enter();
    if (!index_->Find(DictionaryKey(id), &loc)) continue;  // dropped already
    b.Delete(DictionaryKey(id));
    dropped.push_back(id);
  }
  if (b.empty()) return Status::OK();
  Status s = WriteImpl(b, Durability::kBuffered, /*encode=*/false);
  if (s.ok()) spdlog::info("alexfs: {}: dropped {} unused zstd dictionaries", dir_, dropped.size());
  return s;
}

}  // namespace alexfs
