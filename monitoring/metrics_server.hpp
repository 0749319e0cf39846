// The /metrics HTTP endpoint: one thread answering Prometheus scrapes with the
// text exposition format of a prometheus-cpp registry.
//
// Why not prometheus::Exposer: it runs on civetweb, whose worker threads are
// created with a fixed 100 KiB stack. glibc places a process's static TLS on every
// thread stack, and cuBLAS Lt alone carries ~92 KiB of it, so in a troupe binary
// linked with CUDA civetweb's pthread_create fails (EINVAL) and the exposer cannot
// start ("null context when constructing CivetServer"), leaving its port bound and
// unanswered. This server uses a std::thread (default stack) and plain sockets.
//
// Protocol: HTTP/1.0 and 1.1 GET; every answer closes the connection. /metrics is
// the registry, / a pointer to it, anything else 404. One connection at a time, each
// bounded by a 5 s socket timeout, so a stuck client delays a scrape, never the
// process. Thread-safe: the registry is read through its own locks.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "base/status.hpp"

namespace prometheus {
class Registry;
}

namespace troupe::monitoring {

class MetricsServer {
 public:
  // Binds `listen` (HOST:PORT, HOST an IPv4 address or name; port 0 = any free port)
  // and starts answering. Errors name the address and the cause.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen,
                                                      std::shared_ptr<prometheus::Registry> registry);
  // Stops the thread and closes the socket.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int wake_read, int wake_write, int port, std::shared_ptr<prometheus::Registry> registry);
  void serve();
  void answer(int client);

  int fd_;
  int wake_read_, wake_write_;  // a pipe: writing to it wakes the thread to stop
  int port_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::thread thread_;
};

}  // namespace troupe::monitoring
