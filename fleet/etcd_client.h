// EtcdClient: the etcd v3 calls fleet mode makes (KV Range/Txn/Compact, Watch,
// Maintenance Status, Auth Authenticate), over gRPC with bounded time.
//
// Endpoints are tried in turn: a call that finds one unreachable moves to the
// next, until the call's time (EtcdOptions::timeout) is used up; then it fails
// with EIO ("etcd unreachable"). With a user, the client authenticates first
// and sends the token with every call, re-authenticating when etcd refuses it.
//
// Thread-safety: all methods may be called from any thread at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/status.h"
#include "fleet/proto/rpc.grpc.pb.h"

namespace alexfs::fleet {

struct EtcdOptions {
  // "http://host:port", "https://host:port" or "host:port" (http unless TLS
  // files are given).
  std::vector<std::string> endpoints;
  // Every store key K lives in etcd at prefix + K.
  std::string prefix;
  // TLS: the CA that signed etcd's certificate; a client certificate and key
  // for etcd's --client-cert-auth. Any of them turns TLS on.
  std::string ca_file, cert_file, key_file;
  // etcd's user and password (auth enabled); empty user: no auth.
  std::string user, password;
  // Bound on every call, and so on a write when etcd is unreachable.
  std::chrono::milliseconds timeout{3000};
};

// Parses "etcd=URL|URL", etcd_prefix=, etcd_cacert=, etcd_cert=, etcd_key=,
// etcd_user=, etcd_password=, etcd_password_file=, etcd_timeout_ms= into
// *options. Returns true if `opt` is one of them (*error set when malformed).
bool ParseEtcdOption(const std::string& opt, EtcdOptions* options, std::string* error);

// The first key after every key that starts with `prefix` (etcd's range_end).
std::string PrefixEnd(const std::string& prefix);

class EtcdClient {
 public:
  // Connects lazily: succeeds while etcd is down (calls then fail with EIO).
  // Fails for unreadable TLS files or an empty endpoint list.
  static Status Open(const EtcdOptions& options, std::unique_ptr<EtcdClient>* out);

  const EtcdOptions& options() const { return options_; }

  Status Range(const etcdserverpb::RangeRequest& request, etcdserverpb::RangeResponse* response);
  Status Txn(const etcdserverpb::TxnRequest& request, etcdserverpb::TxnResponse* response);
  Status Compact(int64_t revision);
  Status MemberStatus(etcdserverpb::StatusResponse* response);

  // A watch stream on one endpoint. Read blocks until a response or the end
  // of the stream (false). Cancel (any thread) ends a blocked Read.
  class WatchStream {
   public:
    bool Read(etcdserverpb::WatchResponse* response) { return stream_->Read(response); }
    void Cancel() { context_.TryCancel(); }
    // Why the stream ended (after Read returned false).
    Status Finish();

   private:
    friend class EtcdClient;
    std::shared_ptr<void> connection_;  // keeps its channel alive
    grpc::ClientContext context_;
    std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                             etcdserverpb::WatchResponse>> stream_;
  };
  // Opens a stream and sends `create`; the first response says whether the
  // watch was created. Null with *status set if no endpoint answered.
  std::unique_ptr<WatchStream> Watch(const etcdserverpb::WatchCreateRequest& create,
                                     Status* status);

 private:
  // One connection to an endpoint. Replaced as a whole (Reconnect) when it
  // stops answering: gRPC 1.51 was seen to keep a channel whose handshakes
  // with a restarted etcd timed out for good.
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
    std::chrono::steady_clock::time_point created;
  };
  struct Endpoint {
    std::string target;
    bool tls = false;
    std::mutex mu;
    std::shared_ptr<Connection> connection;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Connection> ConnectionOf(Endpoint& endpoint);
  // Replaces `failed` (if still current and older than a second) by a new one.
  void Reconnect(Endpoint& endpoint, const std::shared_ptr<Connection>& failed);
  std::shared_ptr<Connection> NewConnection(const Endpoint& endpoint) const;
  explicit EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
  // Runs `call` on endpoints in turn until one answers or time is up.
  template <typename Call>
  Status WithEndpoints(const char* what, Call call);
  // Sets the deadline and the auth token on `context`.
  void Prepare(grpc::ClientContext* context, std::chrono::system_clock::time_point deadline);
  // Gets a token for options_.user into token_.
  grpc::Status Authenticate(Connection& connection, std::chrono::system_clock::time_point deadline);

  const EtcdOptions options_;
  grpc::SslCredentialsOptions ssl_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<size_t> current_{0};  // the endpoint that answered last
  std::mutex token_mutex_;
  std::string token_;  // GUARDED_BY(token_mutex_)
};

}  // namespace alexfs::fleet
