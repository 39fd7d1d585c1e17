// EtcdCluster: etcd members (Debian's /usr/bin/etcd) on free loopback ports in
// a temporary directory, for the fleet tests and benchmarks.
//
// The constructor picks ports and directories; Start() starts every member and
// waits until the cluster answers (`etcdctl endpoint health`). Kill(i)
// SIGKILLs member i, Restart(i) starts it again on its data. The destructor
// kills every member and removes its data. With an EtcdTls, every member serves
// its client URL over https and requires a client certificate.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace alexfs::testing {

// TLS files for etcd's client URLs: the server's certificate and key, the CA
// that signed both certificates, and the client's certificate and key (for
// etcd's --client-cert-auth, and for etcdctl here).
struct EtcdTls {
  std::string ca_file, server_cert, server_key, client_cert, client_key;
};
// Makes a CA and a server (IP 127.0.0.1) and a client certificate signed by
// it with `openssl` in `dir`; false (with openssl's output in *error) on failure.
bool MakeEtcdTls(const std::string& dir, EtcdTls* tls, std::string* error);

class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 1, EtcdTls tls = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Starts every member; false (with the log in last_output()) if the cluster
  // is not healthy within 20 s.
  bool Start();
  void Kill(int member);
  bool Restart(int member);
  // True once `etcdctl endpoint health` succeeds on the live members (up to
  // `seconds`).
  bool WaitHealthy(int seconds = 20);

  // "http://127.0.0.1:P1|http://127.0.0.1:P2..." for `-o etcd=` (https with TLS).
  std::string MountUrls() const;
  // "http://127.0.0.1:P1,..." for etcdctl.
  std::string ClientUrls() const;
  // Runs `etcdctl --endpoints=... ARGS`; its exit status, output in *output.
  int Etcdctl(const std::vector<std::string>& args, std::string* output = nullptr) const;
  std::string last_output() const;

 private:
  struct Member {
    std::string name, data_dir, log;
    int client_port = 0, peer_port = 0;
    pid_t pid = -1;
  };
  bool StartMember(Member& m, bool initial);
  std::string ClientUrl(const Member& m) const;
  // etcdctl's start: env, endpoints of `members`, TLS files, timeouts.
  std::vector<std::string> EtcdctlArgv(const std::string& endpoints) const;
  EtcdTls tls_;
  TempDir temp_;
  std::vector<Member> members_;
  std::string initial_cluster_;
};

// A free TCP port on 127.0.0.1 (bound and released).
int FreeLoopbackPort();

}  // namespace alexfs::testing
