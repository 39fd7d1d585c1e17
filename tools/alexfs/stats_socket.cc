#include "tools/alexfs/stats_socket.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace alexfs::tools {
namespace {

Status FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) {
    return Status::InvalidArgument("socket path " + path + " is longer than " +
                                   std::to_string(sizeof addr->sun_path - 1) + " bytes");
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return Status::OK();
}

}  // namespace

Status StatsSocket::Start(const std::string& path, std::function<std::string()> text,
                          std::unique_ptr<StatsSocket>* socket) {
  sockaddr_un addr;
  Status s = FillAddress(path, &addr);
  if (!s.ok()) return s;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "creating the stats socket");
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    s = Status::FromErrno(errno, "listening at " + path);
    ::close(fd);
    return s;
  }
  int stop = ::eventfd(0, EFD_CLOEXEC);
  if (stop < 0) {
    s = Status::FromErrno(errno, "creating an eventfd for " + path);
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  socket->reset(new StatsSocket(path, fd, stop, std::move(text)));
  return Status::OK();
}

StatsSocket::StatsSocket(std::string path, int listen_fd, int stop_fd,
                         std::function<std::string()> text)
    : path_(std::move(path)), listen_fd_(listen_fd), stop_fd_(stop_fd), text_(std::move(text)) {
  thread_ = std::thread([this] { Serve(); });
}

StatsSocket::~StatsSocket() {
  uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) spdlog::warn("stats socket: stop: {}", std::strerror(errno));
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  ::unlink(path_.c_str());
}

void StatsSocket::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("stats socket {}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    // A client that does not read must not hold the daemon's figures up.
    timeval timeout{1, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string text = text_();
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::send(conn, text.data() + done, text.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(conn);
  }
}

Status ReadStatsSocket(const std::string& path, std::string* text) {
  sockaddr_un addr;
  Status s = FillAddress(path, &addr);
  if (!s.ok()) return s;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "creating a socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    s = Status::FromErrno(errno, "connecting to " + path);
    ::close(fd);
    return s;
  }
  text->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::FromErrno(errno, "reading " + path);
      break;
    }
    if (n == 0) break;
    text->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return s;
}

}  // namespace alexfs::tools
