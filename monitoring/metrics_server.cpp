// The /metrics endpoint (see metrics_server.hpp).
#include "monitoring/metrics_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace troupe::monitoring {
namespace {

// A request head larger than this is not a scrape: answered 400 and closed.
constexpr size_t kMaxRequestHead = 8192;
// A client that sends nothing (or reads nothing) for this long is dropped.
constexpr int kClientTimeoutSeconds = 5;

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;  // the client went away or timed out: nothing to do
    }
    sent += static_cast<size_t>(n);
  }
}

std::string response(int code, const char* reason, const char* type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            std::shared_ptr<prometheus::Registry> registry) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::invalid_argument("metrics listen address \"" + listen + "\": expected HOST:PORT");
  }
  const std::string host = listen.substr(0, colon), port_text = listen.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0 || !found) {
    return Status::invalid_argument("metrics listen address \"" + listen + "\": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    return Status::unavailable("cannot serve metrics on " + listen + ": socket: " + errno_text());
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int bound = ::bind(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (bound != 0 || ::listen(fd, 16) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return Status::unavailable("cannot serve metrics on " + listen + ": " + why +
                               " (is the port in use? set monitoring.listen, or port 0 for any free port)");
  }
  sockaddr_in actual{};
  socklen_t len = sizeof actual;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&actual), &len);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return Status::unavailable("cannot serve metrics on " + listen + ": pipe: " + why);
  }
  std::unique_ptr<MetricsServer> server(
      new MetricsServer(fd, wake[0], wake[1], ntohs(actual.sin_port), std::move(registry)));
  server->thread_ = std::thread([s = server.get()] { s->serve(); });
  return server;
}

MetricsServer::MetricsServer(int fd, int wake_read, int wake_write, int port,
                             std::shared_ptr<prometheus::Registry> registry)
    : fd_(fd), wake_read_(wake_read), wake_write_(wake_write), port_(port), registry_(std::move(registry)) {}

MetricsServer::~MetricsServer() {
  const char stop = 1;
  (void)!::write(wake_write_, &stop, 1);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void MetricsServer::serve() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;  // asked to stop
    if (!(fds[0].revents & POLLIN)) continue;
    const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;  // the peer gave up between poll and accept
    timeval tv{kClientTimeoutSeconds, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    answer(client);
    ::close(client);
  }
}

void MetricsServer::answer(int client) {
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    if (head.size() > kMaxRequestHead) {
      write_all(client, response(400, "Bad Request", "text/plain", "request head too large\n"));
      return;
    }
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // closed or timed out before a whole request
    head.append(buf, static_cast<size_t>(n));
  }
  // Request line: METHOD SP TARGET SP VERSION
  const size_t sp1 = head.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) {
    write_all(client, response(400, "Bad Request", "text/plain", "malformed request line\n"));
    return;
  }
  const std::string method = head.substr(0, sp1);
  std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET") {
    write_all(client, response(405, "Method Not Allowed", "text/plain", "only GET\n"));
  } else if (target == "/metrics") {
    write_all(client, response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                               prometheus::TextSerializer().Serialize(registry_->Collect())));
  } else if (target == "/") {
    write_all(client, response(200, "OK", "text/plain", "troupe metrics: /metrics\n"));
  } else {
    write_all(client, response(404, "Not Found", "text/plain", "not found; metrics are at /metrics\n"));
  }
}

}  // namespace troupe::monitoring
