#include "fleet/etcd_client.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace alexfs::fleet {
namespace {

Status ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "reading " + path);
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return Status::OK();
}

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  return Status::WithErrno(Status::Code::kIOError, EIO,
                           what + ": " + s.error_message() + " (gRPC code " +
                               std::to_string(static_cast<int>(s.error_code())) + ")");
}

// Errors another endpoint or a later attempt may not have.
bool Transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key (etcd's "from key" form)
}

bool ParseEtcdOption(const std::string& opt, EtcdOptions* options, std::string* error) {
  const size_t eq = opt.find('=');
  if (eq == std::string::npos) return false;
  const std::string name = opt.substr(0, eq), value = opt.substr(eq + 1);
  if (name == "etcd") {
    options->endpoints.clear();
    size_t start = 0;
    while (start <= value.size()) {
      size_t bar = value.find('|', start);
      if (bar == std::string::npos) bar = value.size();
      if (bar > start) options->endpoints.push_back(value.substr(start, bar - start));
      start = bar + 1;
    }
    if (options->endpoints.empty()) *error = "etcd= needs at least one URL";
  } else if (name == "etcd_prefix") {
    options->prefix = value;
  } else if (name == "etcd_cacert") {
    options->ca_file = value;
  } else if (name == "etcd_cert") {
    options->cert_file = value;
  } else if (name == "etcd_key") {
    options->key_file = value;
  } else if (name == "etcd_user") {
    options->user = value;
  } else if (name == "etcd_password") {
    options->password = value;
  } else if (name == "etcd_password_file") {
    Status s = ReadWholeFile(value, &options->password);
    while (!options->password.empty() &&
           (options->password.back() == '\n' || options->password.back() == '\r')) {
      options->password.pop_back();
    }
    if (!s.ok()) *error = "etcd_password_file: " + s.message();
  } else if (name == "etcd_timeout_ms") {
    char* end = nullptr;
    long long ms = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || ms <= 0) {
      *error = "bad mount option '" + opt + "': expected etcd_timeout_ms=<milliseconds>, > 0";
    }
    options->timeout = std::chrono::milliseconds(ms);
  } else {
    return false;
  }
  return true;
}

Status EtcdClient::Open(const EtcdOptions& options, std::unique_ptr<EtcdClient>* out) {
  if (options.endpoints.empty()) return Status::InvalidArgument("no etcd endpoint given");
  std::unique_ptr<EtcdClient> client(new EtcdClient(options));
  const bool tls_files =
      !options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty();
  grpc::SslCredentialsOptions& ssl = client->ssl_;
  if (!options.ca_file.empty()) {
    Status s = ReadWholeFile(options.ca_file, &ssl.pem_root_certs);
    if (!s.ok()) return s;
  }
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (options.cert_file.empty() || options.key_file.empty()) {
      return Status::InvalidArgument("etcd_cert and etcd_key go together");
    }
    Status s = ReadWholeFile(options.cert_file, &ssl.pem_cert_chain);
    if (s.ok()) s = ReadWholeFile(options.key_file, &ssl.pem_private_key);
    if (!s.ok()) return s;
  }
  for (const std::string& url : options.endpoints) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->tls = tls_files;
    std::string target = url;
    if (target.rfind("https://", 0) == 0) {
      endpoint->tls = true;
      target = target.substr(8);
    } else if (target.rfind("http://", 0) == 0) {
      target = target.substr(7);
    }
    while (!target.empty() && target.back() == '/') target.pop_back();
    endpoint->target = target;
    endpoint->connection = client->NewConnection(*endpoint);
    client->endpoints_.push_back(std::move(endpoint));
  }
  *out = std::move(client);
  return Status::OK();
}

std::shared_ptr<EtcdClient::Connection> EtcdClient::NewConnection(const Endpoint& endpoint) const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // A channel of its own, not sharing the subchannel of an older, failed one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect within a second once etcd is back (the default backoff grows to
  // two minutes). The minimum is also each connection attempt's time limit.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto c = std::make_shared<Connection>();
  c->channel = grpc::CreateCustomChannel(
      endpoint.target,
      endpoint.tls ? grpc::SslCredentials(ssl_) : grpc::InsecureChannelCredentials(), args);
  c->kv = etcdserverpb::KV::NewStub(c->channel);
  c->watch = etcdserverpb::Watch::NewStub(c->channel);
  c->maintenance = etcdserverpb::Maintenance::NewStub(c->channel);
  c->auth = etcdserverpb::Auth::NewStub(c->channel);
  c->created = std::chrono::steady_clock::now();
  return c;
}

std::shared_ptr<EtcdClient::Connection> EtcdClient::ConnectionOf(Endpoint& endpoint) {
  std::lock_guard<std::mutex> lock(endpoint.mu);
  return endpoint.connection;
}

void EtcdClient::Reconnect(Endpoint& endpoint, const std::shared_ptr<Connection>& failed) {
  std::lock_guard<std::mutex> lock(endpoint.mu);
  if (endpoint.connection != failed) return;  // another thread already did
  if (std::chrono::steady_clock::now() - failed->created < std::chrono::seconds(1)) return;
  endpoint.connection = NewConnection(endpoint);
}

void EtcdClient::Prepare(grpc::ClientContext* context,
                         std::chrono::system_clock::time_point deadline) {
  context->set_deadline(deadline);
  std::lock_guard<std::mutex> lock(token_mutex_);
  if (!token_.empty()) context->AddMetadata("token", token_);
}

grpc::Status EtcdClient::Authenticate(Connection& connection,
                                      std::chrono::system_clock::time_point deadline) {
  grpc::ClientContext context;
  context.set_deadline(deadline);
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password);
  etcdserverpb::AuthenticateResponse response;
  grpc::Status s = connection.auth->Authenticate(&context, request, &response);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(token_mutex_);
  token_ = response.token();
  return s;
}

template <typename Call>
Status EtcdClient::WithEndpoints(const char* what, Call call) {
  const auto deadline = std::chrono::system_clock::now() + options_.timeout;
  grpc::Status last;
  bool authenticated_now = false;
  for (size_t attempt = 0;; ++attempt) {
    const size_t index = current_.load() % endpoints_.size();
    Endpoint& endpoint = *endpoints_[index];
    std::shared_ptr<Connection> connection = ConnectionOf(endpoint);
    bool need_token = false;
    {
      std::lock_guard<std::mutex> lock(token_mutex_);
      need_token = !options_.user.empty() && token_.empty();
    }
    if (need_token) {
      // A refusal (wrong password, unknown user) is the answer; an
      // unreachable member is tried like any call, the next one after it.
      last = Authenticate(*connection, deadline);
    }
    if (last.ok() || !need_token) {
      grpc::ClientContext context;
      Prepare(&context, deadline);
      last = call(*connection, &context);
    } else if (!Transient(last)) {
      return FromGrpc(last, "etcd authentication as " + options_.user);
    }
    if (last.ok()) return Status::OK();
    if (last.error_code() == grpc::StatusCode::UNAUTHENTICATED && !options_.user.empty() &&
        !authenticated_now) {
      authenticated_now = true;
      std::lock_guard<std::mutex> lock(token_mutex_);
      token_.clear();  // authenticate again, then retry
      continue;
    }
    if (!Transient(last)) return FromGrpc(last, std::string("etcd ") + what);
    Reconnect(endpoint, connection);
    if (std::chrono::system_clock::now() >= deadline) break;
    size_t expected = index;
    current_.compare_exchange_strong(expected, index + 1);
    if ((attempt + 1) % endpoints_.size() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // every endpoint failed
    }
  }
  return Status::WithErrno(Status::Code::kIOError, EIO,
                           std::string("etcd unreachable (") + what + " for " +
                               std::to_string(options_.timeout.count()) +
                               " ms): " + last.error_message());
}

Status EtcdClient::Range(const etcdserverpb::RangeRequest& request,
                         etcdserverpb::RangeResponse* response) {
  return WithEndpoints("range", [&](Connection& e, grpc::ClientContext* c) {
    return e.kv->Range(c, request, response);
  });
}

Status EtcdClient::Txn(const etcdserverpb::TxnRequest& request,
                       etcdserverpb::TxnResponse* response) {
  return WithEndpoints("txn", [&](Connection& e, grpc::ClientContext* c) {
    return e.kv->Txn(c, request, response);
  });
}

Status EtcdClient::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  etcdserverpb::CompactionResponse response;
  return WithEndpoints("compact", [&](Connection& e, grpc::ClientContext* c) {
    return e.kv->Compact(c, request, &response);
  });
}

Status EtcdClient::MemberStatus(etcdserverpb::StatusResponse* response) {
  etcdserverpb::StatusRequest request;
  return WithEndpoints("status", [&](Connection& e, grpc::ClientContext* c) {
    return e.maintenance->Status(c, request, response);
  });
}

Status EtcdClient::WatchStream::Finish() {
  return FromGrpc(stream_->Finish(), "etcd watch");
}

std::unique_ptr<EtcdClient::WatchStream> EtcdClient::Watch(
    const etcdserverpb::WatchCreateRequest& create, Status* status) {
  const size_t index = current_.load() % endpoints_.size();
  Endpoint& endpoint = *endpoints_[index];
  std::shared_ptr<Connection> connection = ConnectionOf(endpoint);
  auto stream = std::make_unique<WatchStream>();
  stream->connection_ = connection;
  bool need_token = false;
  {
    std::lock_guard<std::mutex> lock(token_mutex_);
    need_token = !options_.user.empty() && token_.empty();
  }
  if (need_token) {
    *status = FromGrpc(Authenticate(*connection, std::chrono::system_clock::now() + options_.timeout),
                       "etcd authentication as " + options_.user);
    if (!status->ok()) {
      Reconnect(endpoint, connection);
      current_.store(index + 1);
      return nullptr;
    }
  }
  {
    std::lock_guard<std::mutex> lock(token_mutex_);
    if (!token_.empty()) stream->context_.AddMetadata("token", token_);
  }
  stream->stream_ = connection->watch->Watch(&stream->context_);
  etcdserverpb::WatchRequest request;
  *request.mutable_create_request() = create;
  if (!stream->stream_->Write(request)) {
    *status = stream->Finish();
    if (status->ok()) {
      *status = Status::WithErrno(Status::Code::kIOError, EIO, "etcd watch: the stream closed at once");
    }
    Reconnect(endpoint, connection);
    current_.store(index + 1);  // try the next endpoint next time
    return nullptr;
  }
  *status = Status::OK();
  return stream;
}

}  // namespace alexfs::fleet
