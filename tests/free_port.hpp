// free_port(): a TCP port on 127.0.0.1 that nobody listens on now and that this process has not
// handed out before (the kernel may give the same ephemeral port to two binds in a row once the
// first socket is closed, and one config would then name one port twice). 0 when none was found.
// Shared by the tests that start servers on real ports. Not thread-safe (tests call it from the
// test thread).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <set>

namespace troupe::testing {

inline uint16_t free_port() {
  static std::set<uint16_t> handed_out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    if (port != 0 && handed_out.insert(port).second) return port;
  }
  return 0;
}

}  // namespace troupe::testing
