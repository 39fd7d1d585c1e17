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

EtcdCluster::EtcdCluster(int members) {
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
  const std::string client = "http://127.0.0.1:" + std::to_string(m.client_port);
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
      urls += "http://127.0.0.1:" + std::to_string(m.client_port);
    }
    std::string out;
    if (RunCommand({"env", "ETCDCTL_API=3", "etcdctl", "--dial-timeout=1s",
                    "--command-timeout=2s", "--endpoints=" + urls, "endpoint", "health"},
                   &out) == 0) {
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
    out += "http://127.0.0.1:" + std::to_string(m.client_port);
  }
  return out;
}

std::string EtcdCluster::ClientUrls() const {
  std::string out;
  for (const Member& m : members_) {
    if (!out.empty()) out += ",";
    out += "http://127.0.0.1:" + std::to_string(m.client_port);
  }
  return out;
}

int EtcdCluster::Etcdctl(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = {"env", "ETCDCTL_API=3", "etcdctl", "--dial-timeout=2s",
                                   "--command-timeout=5s", "--endpoints=" + ClientUrls()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, output);
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
