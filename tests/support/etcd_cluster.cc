#include "tests/support/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace alexfs::testing {

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool MakeEtcdTls(const std::string& dir, EtcdTls* tls, std::string* error) {
  tls->ca_file = dir + "/ca.pem";
  tls->server_cert = dir + "/server.pem";
  tls->server_key = dir + "/server.key";
  tls->client_cert = dir + "/client.pem";
  tls->client_key = dir + "/client.key";
  const std::string ca_key = dir + "/ca.key";
  if (!WriteFile(dir + "/server.ext",
                 "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n") ||
      !WriteFile(dir + "/client.ext", "extendedKeyUsage=clientAuth\n")) {
    *error = "cannot write the openssl extension files in " + dir;
    return false;
  }
  std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
       tls->ca_file, "-days", "2", "-subj", "/CN=alexfs-test-ca"}};
  for (const char* who : {"server", "client"}) {
    const std::string base = dir + "/" + who;
    steps.push_back({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key",
                     "-out", base + ".csr", "-subj", std::string("/CN=alexfs-test-") + who});
    steps.push_back({"openssl", "x509", "-req", "-in", base + ".csr", "-CA", tls->ca_file, "-CAkey",
                     ca_key, "-CAcreateserial", "-out", base + ".pem", "-days", "2", "-extfile",
                     base + ".ext"});
  }
  for (const auto& step : steps) {
    if (RunCommand(step, error) != 0) return false;
  }
  return true;
}

EtcdCluster::EtcdCluster(int members, EtcdTls tls) : tls_(std::move(tls)) {
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.data_dir = temp_.Sub(m.name);
    m.log = temp_.Sub(m.name + ".log");
    m.client_port = FreeLoopbackPort();
    m.peer_port = FreeLoopbackPort();
    if (!initial_cluster_.empty()) initial_cluster_ += ",";
    initial_cluster_ += m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
    members_.push_back(m);
  }
}

EtcdCluster::~EtcdCluster() {
  for (size_t i = 0; i < members_.size(); ++i) Kill(static_cast<int>(i));
}

bool EtcdCluster::StartMember(Member& m, bool initial) {
  const std::string client = ClientUrl(m);
  const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  std::vector<std::string> args = {"/usr/bin/etcd",
                                   "--name=" + m.name,
                                   "--data-dir=" + m.data_dir,
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=" + initial_cluster_,
                                   std::string("--initial-cluster-state=") +
                                       (initial ? "new" : "existing"),
                                   "--initial-cluster-token=alexfs-test",
                                   "--logger=zap",
                                   "--log-outputs=stderr"};
  if (!tls_.ca_file.empty()) {
    args.insert(args.end(), {"--cert-file=" + tls_.server_cert, "--key-file=" + tls_.server_key,
                             "--trusted-ca-file=" + tls_.ca_file, "--client-cert-auth"});
  }
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int fd = ::open(m.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  m.pid = pid;
  return true;
}

bool EtcdCluster::Start() {
  for (Member& m : members_) {
    if (!StartMember(m, true)) return false;
  }
  return WaitHealthy();
}

void EtcdCluster::Kill(int member) {
  Member& m = members_[static_cast<size_t>(member)];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

bool EtcdCluster::Restart(int member) {
  Member& m = members_[static_cast<size_t>(member)];
  if (m.pid > 0) return true;
  // A member restarted on its data directory rejoins; "new" is ignored then.
  if (!StartMember(m, true)) return false;
  return WaitHealthy();
}

bool EtcdCluster::WaitHealthy(int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string urls;
    for (const Member& m : members_) {
      if (m.pid <= 0) continue;
      if (!urls.empty()) urls += ",";
      urls += ClientUrl(m);
    }
    std::vector<std::string> argv = EtcdctlArgv(urls);
    argv.insert(argv.end(), {"endpoint", "health"});
    std::string out;
    if (RunCommand(argv, &out) == 0) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string EtcdCluster::MountUrls() const {
  std::string out;
  for (const Member& m : members_) {
    if (!out.empty()) out += "|";
    out += ClientUrl(m);
  }
  return out;
}

std::string EtcdCluster::ClientUrls() const {
  std::string out;
  for (const Member& m : members_) {
    if (!out.empty()) out += ",";
    out += ClientUrl(m);
  }
  return out;
}

int EtcdCluster::Etcdctl(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = EtcdctlArgv(ClientUrls());
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, output);
}

std::string EtcdCluster::ClientUrl(const Member& m) const {
  return (tls_.ca_file.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
         std::to_string(m.client_port);
}

std::vector<std::string> EtcdCluster::EtcdctlArgv(const std::string& endpoints) const {
  std::vector<std::string> argv = {"env", "ETCDCTL_API=3", "etcdctl", "--dial-timeout=2s",
                                   "--command-timeout=5s", "--endpoints=" + endpoints};
  if (!tls_.ca_file.empty()) {
    argv.insert(argv.end(), {"--cacert=" + tls_.ca_file, "--cert=" + tls_.client_cert,
                             "--key=" + tls_.client_key});
  }
  return argv;
}

std::string EtcdCluster::last_output() const {
  std::string all;
  for (const Member& m : members_) {
    std::string text;
    ReadFile(m.log, &text);
    if (text.size() > 4000) text = text.substr(text.size() - 4000);
    all += "== " + m.name + "\n" + text;
  }
  return all;
}

}  // namespace alexfs::testing
