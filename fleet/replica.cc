#include "fleet/replica.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <map>
#include <utility>

namespace alexfs::fleet {
namespace {

const std::string kFleetKeyPrefix("\0fleet\0", 7);

std::string EncodeRevision(int64_t revision) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &revision, 8);  // little-endian hosts only
  return out;
}

int64_t DecodeRevision(std::string_view bytes) {
  int64_t revision = 0;
  if (bytes.size() == 8) std::memcpy(&revision, bytes.data(), 8);
  return revision;
}

bool IsFleetKey(std::string_view key) { return key.substr(0, kFleetKeyPrefix.size()) == kFleetKeyPrefix; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string AppliedRevisionKey() { return kFleetKeyPrefix + "applied"; }
std::string ModRevisionKey(std::string_view key) { return kFleetKeyPrefix + "m" + std::string(key); }

std::string FleetStats::PrometheusText() const {
  const int64_t applied = applied_revision.load(), head = head_revision.load();
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  metric("alexfs_fleet_applied_revision", "gauge", "etcd revision the replica is as of", applied);
  metric("alexfs_fleet_head_revision", "gauge", "newest etcd revision seen", head);
  metric("alexfs_fleet_lag_revisions", "gauge", "head minus applied revision",
         head > applied ? head - applied : 0);
  metric("alexfs_fleet_last_contact_seconds", "gauge", "unix time of etcd's last answer",
         static_cast<double>(last_contact_ms.load()) / 1000.0);
  metric("alexfs_fleet_watching", "gauge", "1 while a watch stream is open",
         watching.load() ? 1 : 0);
  metric("alexfs_fleet_txns_total", "counter", "transactions committed", txns.load());
  metric("alexfs_fleet_conflicts_total", "counter", "transactions that lost a race",
         conflicts.load());
  metric("alexfs_fleet_errors_total", "counter", "failed etcd calls and watch streams",
         errors.load());
  metric("alexfs_fleet_relists_total", "counter", "full listings of the prefix", relists.load());
  metric("alexfs_fleet_events_total", "counter", "watch events applied", events.load());
  return out;
}

Replica::Replica(std::unique_ptr<EtcdClient> client, Store* store)
    : client_(std::move(client)), store_(store), prefix_(client_->options().prefix) {}

Replica::~Replica() { Stop(); }

Status Replica::Open(const EtcdOptions& options, Store* store, std::unique_ptr<Replica>* out) {
  std::unique_ptr<EtcdClient> client;
  Status s = EtcdClient::Open(options, &client);
  if (!s.ok()) return s;
  std::unique_ptr<Replica> replica(new Replica(std::move(client), store));
  PinnedValue applied;
  s = store->Get(AppliedRevisionKey(), &applied);
  if (s.ok()) {
    replica->applied_ = replica->received_ = DecodeRevision(applied.value());
    replica->stats_->applied_revision = replica->applied_;
    spdlog::info("fleet: the replica is as of etcd revision {}; resuming the watch there",
                 replica->applied_);
  } else if (s.IsNotFound()) {
    std::unique_ptr<Iterator> it = store->NewIterator();
    it->Seek("");
    if (it->Valid()) {
      return Status::InvalidArgument(
          "the store holds data but was never a fleet replica; fleet mode starts from an "
          "empty DATA_DIR (copy the data in through a mount)");
    }
    Pending snapshot;
    s = replica->List(&snapshot);
    if (!s.ok()) {
      return Status::WithErrno(s.code(), s.errno_value(),
                               "the first sync of an empty replica needs etcd: " + s.message());
    }
    std::vector<std::string> changed;
    s = replica->ApplyOne(snapshot, &changed);
    if (!s.ok()) return s;
    replica->applied_ = replica->received_ = snapshot.revision;
    spdlog::info("fleet: listed {} keys under the prefix at etcd revision {}",
                 snapshot.puts.size(), snapshot.revision);
  } else {
    return s;
  }
  *out = std::move(replica);
  return Status::OK();
}

void Replica::Contact() { stats_->last_contact_ms = NowMs(); }

Status Replica::List(Pending* out) {
  out->snapshot = true;
  out->puts.clear();
  out->revision = 0;
  const std::string end = PrefixEnd(prefix_);
  std::string from = prefix_;
  for (;;) {
    etcdserverpb::RangeRequest request;
    request.set_key(from);
    request.set_range_end(end);
    request.set_limit(1000);
    request.set_revision(out->revision);  // 0 for the first page: the head, then pinned
    etcdserverpb::RangeResponse response;
    Status s = client_->Range(request, &response);
    if (!s.ok()) {
      stats_->errors++;
      return s;
    }
    Contact();
    if (out->revision == 0) out->revision = response.header().revision();
    for (const mvccpb::KeyValue& kv : response.kvs()) out->puts.push_back(kv);
    if (!response.more() || response.kvs().empty()) break;
    from = response.kvs(response.kvs_size() - 1).key() + std::string(1, '\0');
  }
  stats_->relists++;
  return Status::OK();
}

Status Replica::ApplyOne(const Pending& pending, std::vector<std::string>* changed) {
  WriteBatch batch;
  auto store_key = [this](const std::string& etcd_key) { return etcd_key.substr(prefix_.size()); };
  if (pending.snapshot) {
    // Replace the replica: delete what the listing lacks, put what it has.
    std::map<std::string, const mvccpb::KeyValue*> listed;
    for (const mvccpb::KeyValue& kv : pending.puts) listed[store_key(kv.key())] = &kv;
    std::unique_ptr<Iterator> it = store_->NewIterator();
    for (it->Seek(""); it->Valid(); it->Next()) {
      std::string key(it->key());
      if (IsFleetKey(key)) {
        if (key.rfind(kFleetKeyPrefix + "m", 0) == 0 &&
            !listed.count(key.substr(kFleetKeyPrefix.size() + 1))) {
          batch.Delete(key);
        }
        continue;
      }
      auto found = listed.find(key);
      if (found == listed.end()) {
        batch.Delete(key);
        changed->push_back(key);
      } else if (found->second->value() != it->value()) {
        changed->push_back(key);
      }
    }
    if (!it->status().ok()) return it->status();
    for (const auto& [key, kv] : listed) {
      if (!store_->Contains(key)) changed->push_back(key);
      batch.Put(key, kv->value());
      batch.Put(ModRevisionKey(key), EncodeRevision(kv->mod_revision()));
    }
  } else {
    for (const mvccpb::KeyValue& kv : pending.puts) {
      std::string key = store_key(kv.key());
      batch.Put(key, kv.value());
      batch.Put(ModRevisionKey(key), EncodeRevision(kv.mod_revision()));
      changed->push_back(std::move(key));
    }
    for (const std::string& etcd_key : pending.deletes) {
      std::string key = store_key(etcd_key);
      batch.Delete(key);
      batch.Delete(ModRevisionKey(key));
      changed->push_back(std::move(key));
    }
    stats_->events += pending.puts.size() + pending.deletes.size();
  }
  batch.Put(AppliedRevisionKey(), EncodeRevision(pending.revision));
  Status s = store_->Write(batch, Durability::kBuffered);
  if (!s.ok()) return s;
  stats_->applied_revision = pending.revision;
  return Status::OK();
}

Status Replica::DrainLocked() {
  while (!queue_.empty()) {
    if (!apply_error_.ok()) return apply_error_;
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    if (!pending.snapshot && pending.revision <= applied_) continue;  // already in
    std::vector<std::string> changed;
    Status s = ApplyOne(pending, &changed);
    if (!s.ok()) {
      spdlog::error("fleet: applying etcd revision {} to the replica failed: {}",
                    pending.revision, s.ToString());
      apply_error_ = s;
      return s;
    }
    applied_ = pending.revision;
    const bool own = own_revisions_.erase(pending.revision) > 0;
    // What this mount wrote itself the kernel already knows.
    if (!own && sink_ != nullptr) sink_->KeysChanged(changed);
  }
  apply_cv_.notify_all();
  return Status::OK();
}

void Replica::Start(fs::RemoteChangeSink* sink) {
  sink_ = sink;
  stopping_ = false;
  applier_ = std::thread([this] { ApplierLoop(); });
  watcher_ = std::thread([this] { WatchLoop(); });
}

void Replica::Stop() {
  if (!watcher_.joinable() && !applier_.joinable()) return;
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (stream_ != nullptr) stream_->Cancel();
  }
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    apply_cv_.notify_all();
  }
  if (watcher_.joinable()) watcher_.join();
  if (applier_.joinable()) applier_.join();
  sink_ = nullptr;
}

void Replica::ApplierLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(apply_mu_);
      apply_cv_.wait(lock, [this] { return stopping() || !queue_.empty(); });
      if (stopping()) return;
    }
    sink_->Exclusive([this] {
      std::lock_guard<std::mutex> lock(apply_mu_);
      DrainLocked();
    });
    std::unique_lock<std::mutex> lock(apply_mu_);
    if (!apply_error_.ok()) {
      // The store refused a batch: nothing more is applied (writes then time out).
      apply_cv_.wait(lock, [this] { return stopping(); });
      return;
    }
  }
}

void Replica::WatchLoop() {
  int failures = 0;
  while (!stopping()) {
    int64_t start = 0;
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      start = received_ + 1;
    }
    etcdserverpb::WatchCreateRequest create;
    create.set_key(prefix_);
    create.set_range_end(PrefixEnd(prefix_));
    create.set_start_revision(start);
    create.set_progress_notify(true);
    Status s;
    std::unique_ptr<EtcdClient::WatchStream> stream = client_->Watch(create, &s);
    if (stream) {
      std::lock_guard<std::mutex> lock(stream_mu_);
      stream_ = stream.get();
      if (stopping()) stream_->Cancel();
    }
    bool relist = false;
    etcdserverpb::WatchResponse response;
    while (stream && stream->Read(&response)) {
      Contact();
      if (response.created()) {
        stats_->watching = true;
        if (failures > 0) spdlog::info("fleet: watching etcd again from revision {}", start);
        failures = 0;
      }
      if (response.header().revision() > stats_->head_revision) {
        stats_->head_revision = response.header().revision();
      }
      if (response.compact_revision() != 0) {
        spdlog::warn("fleet: etcd compacted revision {} (the replica needs {}): listing the "
                     "prefix again",
                     response.compact_revision(), start);
        relist = true;
        break;
      }
      if (response.canceled()) {
        s = Status::WithErrno(Status::Code::kIOError, EIO,
                              "etcd canceled the watch: " + response.cancel_reason());
        break;
      }
      if (response.events_size() == 0) continue;
      std::lock_guard<std::mutex> lock(apply_mu_);
      for (const mvccpb::Event& event : response.events()) {
        const int64_t revision = event.kv().mod_revision();
        if (queue_.empty() || queue_.back().snapshot || queue_.back().revision != revision) {
          queue_.emplace_back();
          queue_.back().revision = revision;
        }
        if (event.type() == mvccpb::Event::DELETE) {
          queue_.back().deletes.push_back(event.kv().key());
        } else {
          queue_.back().puts.push_back(event.kv());
        }
        received_ = revision;
      }
      apply_cv_.notify_all();
    }
    stats_->watching = false;
    if (stream) {
      {
        std::lock_guard<std::mutex> lock(stream_mu_);
        stream_ = nullptr;
      }
      // The stream stays open after etcd cancels one watch on it: end it
      // ourselves unless Read already saw its end.
      if (stopping() || relist || !s.ok()) stream->Cancel();
      Status finished = stream->Finish();
      if (s.ok() && !relist) s = finished;
    }
    if (stopping()) break;
    if (relist) {
      Pending snapshot;
      Status l = List(&snapshot);
      if (l.ok()) {
        std::lock_guard<std::mutex> lock(apply_mu_);
        received_ = snapshot.revision;
        queue_.push_back(std::move(snapshot));
        apply_cv_.notify_all();
        continue;
      }
      s = l;
    }
    stats_->errors++;
    if (failures++ == 0) {
      spdlog::warn("fleet: the etcd watch stopped ({}); retrying", s.ToString());
    } else {
      spdlog::debug("fleet: watch attempt {} failed: {}", failures, s.ToString());
    }
    for (int i = 0; i < 4 && !stopping(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

Status Replica::Commit(const WriteBatch& batch, Durability) {
  if (batch.empty()) return Status::OK();
  // The last operation on each key wins (etcd refuses a key twice in one txn).
  std::map<std::string, const WriteBatch::Op*> last;
  for (const WriteBatch::Op& op : batch.ops()) last[op.key] = &op;
  etcdserverpb::TxnRequest txn;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    for (const auto& [key, op] : last) {
      int64_t mod_revision = 0;
      PinnedValue rev;
      Status s = store_->Get(ModRevisionKey(key), &rev);
      if (s.ok()) {
        mod_revision = DecodeRevision(rev.value());
      } else if (!s.IsNotFound()) {
        return s;
      }
      etcdserverpb::Compare* compare = txn.add_compare();
      compare->set_key(prefix_ + key);
      compare->set_target(etcdserverpb::Compare::MOD);
      compare->set_result(etcdserverpb::Compare::EQUAL);
      compare->set_mod_revision(mod_revision);
      // On failure: where each key is now, so the retry waits for exactly that.
      etcdserverpb::RangeRequest* now = txn.add_failure()->mutable_request_range();
      now->set_key(prefix_ + key);
      now->set_keys_only(true);
      etcdserverpb::RequestOp* request = txn.add_success();
      if (op->type == WriteBatch::OpType::kPut) {
        request->mutable_request_put()->set_key(prefix_ + key);
        request->mutable_request_put()->set_value(op->value);
      } else {
        request->mutable_request_delete_range()->set_key(prefix_ + key);
      }
    }
  }
  const size_t bytes = txn.ByteSizeLong();
  if (last.size() > kMaxTxnOps || bytes > kMaxTxnBytes) {
    std::string first = last.begin()->first;
    for (char& c : first) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    spdlog::error("fleet: a change of {} keys, {} bytes (first key '{}') does not fit one etcd "
                  "transaction ({} operations, {} bytes): refused with EFBIG",
                  last.size(), bytes, first, kMaxTxnOps, kMaxTxnBytes);
    return Status::WithErrno(Status::Code::kInvalidArgument, EFBIG,
                             "the change does not fit one etcd transaction");
  }
  const auto deadline = std::chrono::steady_clock::now() + client_->options().timeout;
  etcdserverpb::TxnResponse response;
  Status s = client_->Txn(txn, &response);
  if (!s.ok()) {
    stats_->errors++;
    spdlog::warn("fleet: commit failed: {}", s.ToString());
    return s;
  }
  Contact();
  const int64_t head = response.header().revision();
  if (head > stats_->head_revision) stats_->head_revision = head;
  // What the replica must hold before returning: the txn's revision, or after a
  // conflict each compared key as etcd has it now.
  int64_t revision = 0;
  std::vector<std::pair<std::string, int64_t>> expect;  // store key, mod_revision (0: absent)
  if (response.succeeded()) {
    stats_->txns++;
    bool changed = false;
    for (const etcdserverpb::ResponseOp& op : response.responses()) {
      if (op.has_response_put() ||
          (op.has_response_delete_range() && op.response_delete_range().deleted() > 0)) {
        changed = true;
      }
    }
    if (changed) revision = head;  // else etcd made no revision (deletes of absent keys)
  } else {
    stats_->conflicts++;
    size_t i = 0;
    for (const auto& [key, op] : last) {
      int64_t now = 0;
      if (i < static_cast<size_t>(response.responses_size())) {
        const auto& range = response.responses(static_cast<int>(i)).response_range();
        if (range.kvs_size() > 0) now = range.kvs(0).mod_revision();
      }
      expect.emplace_back(key, now);
      revision = std::max(revision, now);
      ++i;
    }
  }
  auto caught_up = [&]() {
    if (applied_ < revision) return false;
    for (const auto& [key, mod_revision] : expect) {
      PinnedValue rev;
      Status g = store_->Get(ModRevisionKey(key), &rev);
      const int64_t have = g.ok() ? DecodeRevision(rev.value()) : 0;
      // As new as etcd's answer, or newer (the key may have changed again).
      if (mod_revision > 0 ? have < mod_revision : (have != 0 && have <= head)) return false;
    }
    return true;
  };
  std::unique_lock<std::mutex> lock(apply_mu_);
  if (response.succeeded() && revision > applied_) own_revisions_.insert(revision);
  // Read-your-writes (or, after a conflict, fresh data for the retry): apply
  // what is queued until the replica holds it.
  for (;;) {
    Status d = DrainLocked();
    if (!d.ok()) return d;
    if (caught_up()) break;
    if (apply_cv_.wait_until(lock, deadline) == std::cv_status::timeout && queue_.empty() &&
        !caught_up()) {
      own_revisions_.erase(revision);
      stats_->errors++;
      return Status::WithErrno(
          Status::Code::kIOError, EIO,
          "etcd is at revision " + std::to_string(head) +
              " but the watch did not bring the replica there within the timeout (applied: " +
              std::to_string(applied_) + ")");
    }
  }
  if (!response.succeeded()) {
    return fs::Conflict("a key it writes changed on another mount (etcd revision " +
                        std::to_string(head) + ")");
  }
  return Status::OK();
}

}  // namespace alexfs::fleet
