// Store::Open, the Put/Delete helpers and PinnedValue.
#include "engine/store.h"

#include "engine/store_impl.h"

namespace alexfs {

Status Store::Open(const std::string& dir, const StoreOptions& options,
                   std::unique_ptr<Store>* store) {
  auto impl = std::make_unique<StoreImpl>(dir, options);
  Status s = impl->Open();
  if (!s.ok()) return s;
  *store = std::move(impl);
  return Status::OK();
}

Status Store::Put(std::string_view key, std::string_view value, Durability d) {
  WriteBatch b;
  b.Put(key, value);
  return Write(b, d);
}

Status Store::Delete(std::string_view key, Durability d) {
  WriteBatch b;
  b.Delete(key);
  return Write(b, d);
}

PinnedValue::PinnedValue() = default;
PinnedValue::~PinnedValue() = default;
PinnedValue::PinnedValue(PinnedValue&& other) noexcept
    : value_(other.value_), pin_(std::move(other.pin_)) {
  other.value_ = std::string_view();
}
PinnedValue& PinnedValue::operator=(PinnedValue&& other) noexcept {
  if (this != &other) {
    value_ = other.value_;
    pin_ = std::move(other.pin_);
    other.value_ = std::string_view();
  }
  return *this;
}

void PinnedValue::Reset() {
  value_ = std::string_view();
  pin_.reset();
}

}  // namespace alexfs
