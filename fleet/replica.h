// Replica: fleet mode's ChangeTarget. etcd holds the truth under a key prefix;
// the mount's store holds a full replica of it, under the same keys the
// filesystem uses (etcd key = prefix + store key), fed by one watch stream.
//
// Invariants:
// - The store is always the prefix as of one etcd revision, its applied
//   revision, kept durably in the store under AppliedRevisionKey() and written
//   in the same batch as the events of that revision (so a restart resumes the
//   watch at applied + 1 without a re-list). Every replicated key K has its
//   etcd mod_revision at ModRevisionKey(K), written with it. These "\0fleet"
//   keys are local bookkeeping, never sent to etcd.
// - Revisions are applied in order, each in one store batch (buffered: etcd's
//   commit is the durable one; a replica that loses its tail re-reads it).
// - When the watch answers that applied + 1 was compacted, the prefix is listed
//   again at one pinned revision (paged) and the replica replaced by it in one
//   batch.
//
// Writes (Commit): one etcd Txn per filesystem batch. Its compares hold every
// key it writes at the mod_revision the replica has for it (0: absent), its
// success ops are the batch's puts and deletes (the last op per key). A batch
// over etcd's limits (128 ops, 1.5 MiB) fails with EFBIG and a log line, never
// split. Commit returns once the replica applied the txn's revision
// (read-your-writes). A failed compare: the replica catches up to the
// revision etcd answered with, then Conflict() (the filesystem re-runs the
// operation). etcd unreachable: EIO within EtcdOptions::timeout.
//
// Threads: the watch thread reads the stream and queues revisions; the
// applier thread applies them under RemoteChangeSink::Exclusive and tells the
// sink which keys changed. Commit applies what is queued itself while it waits
// for its revision (its caller holds the namespace lock the applier needs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/store.h"
#include "fleet/etcd_client.h"
#include "fs/change_target.h"

namespace alexfs::fleet {

// Figures for `alexfs stats` (all thread-safe).
struct FleetStats {
  std::atomic<int64_t> applied_revision{0};
  std::atomic<int64_t> head_revision{0};     // the newest revision etcd reported
  std::atomic<int64_t> last_contact_ms{0};   // unix time of etcd's last answer; 0 never
  std::atomic<uint64_t> txns{0};             // committed transactions
  std::atomic<uint64_t> conflicts{0};        // transactions whose compares failed
  std::atomic<uint64_t> errors{0};           // failed calls and watch streams
  std::atomic<uint64_t> relists{0};          // full re-lists (first sync, compaction)
  std::atomic<uint64_t> events{0};           // watch events applied
  std::atomic<bool> watching{false};         // a watch stream is open
  // The Prometheus text of these figures (alexfs_fleet_*).
  std::string PrometheusText() const;
};

// etcd's default limits on one request (--max-txn-ops, --max-request-bytes).
inline constexpr size_t kMaxTxnOps = 128;
inline constexpr size_t kMaxTxnBytes = 1536 * 1024;

std::string AppliedRevisionKey();
std::string ModRevisionKey(std::string_view key);

class Replica final : public fs::ChangeTarget {
 public:
  // Connects to etcd. A store with an applied revision opens while etcd is
  // down (it serves its replica and catches up later); a store without one is
  // listed now (EIO if etcd is unreachable). A store that holds keys but no
  // applied revision (a single-node store) is refused.
  static Status Open(const EtcdOptions& options, Store* store, std::unique_ptr<Replica>* out);
  ~Replica() override;

  void Start(fs::RemoteChangeSink* sink) override;
  void Stop() override;
  Status Commit(const WriteBatch& batch, Durability durability) override;
  Status Sync() override { return Status::OK(); }  // etcd's commit is the durable one

  std::shared_ptr<FleetStats> stats() const { return stats_; }
  EtcdClient* client() { return client_.get(); }

 private:
  // One revision's events, or (snapshot) the whole prefix at `revision`.
  struct Pending {
    int64_t revision = 0;
    bool snapshot = false;
    std::vector<mvccpb::KeyValue> puts;
    std::vector<std::string> deletes;  // etcd keys
  };

  Replica(std::unique_ptr<EtcdClient> client, Store* store);
  // Lists the prefix at one pinned revision, in pages, into *out.
  Status List(Pending* out);
  // Applies everything queued, in order. REQUIRES: apply_mu_ held.
  Status DrainLocked();
  Status ApplyOne(const Pending& pending, std::vector<std::string>* changed);
  void WatchLoop();
  void ApplierLoop();
  bool stopping() const { return stopping_.load(); }
  void Contact();

  std::unique_ptr<EtcdClient> client_;
  Store* const store_;
  const std::string prefix_;
  std::shared_ptr<FleetStats> stats_ = std::make_shared<FleetStats>();
  fs::RemoteChangeSink* sink_ = nullptr;

  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<Pending> queue_;        // GUARDED_BY(apply_mu_)
  int64_t applied_ = 0;              // GUARDED_BY(apply_mu_)
  int64_t received_ = 0;             // GUARDED_BY(apply_mu_): the last revision queued
  std::set<int64_t> own_revisions_;  // GUARDED_BY(apply_mu_): this mount's, not yet applied
  Status apply_error_;               // GUARDED_BY(apply_mu_): the store refused a batch

  std::atomic<bool> stopping_{false};
  std::mutex stream_mu_;
  EtcdClient::WatchStream* stream_ = nullptr;  // GUARDED_BY(stream_mu_)
  std::thread watcher_;
  std::thread applier_;
};

}  // namespace alexfs::fleet
