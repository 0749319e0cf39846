// The exposer serves the registry over real HTTP on 127.0.0.1.
#include "monitoring/metrics.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace troupe::monitoring {
namespace {

// A plain HTTP/1.0 GET over a socket, so the test depends on nothing but the server.
std::string http_get(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(Metrics, ServesFamiliesWithRunLabel) {
  Metrics m("test-run");
  ASSERT_TRUE(m.serve("127.0.0.1:0").is_ok());
  int port = std::stoi(m.address().substr(m.address().rfind(':') + 1));
  ASSERT_GT(port, 0);
  m.rollouts.Add({{"task", "Game24bootcamp"}}).Increment(3);
  m.reward.Add({{"task", "Game24bootcamp"}, {"source", "rule"}}, Metrics::reward_buckets()).Observe(1.0);
  std::string body = http_get(port, "/metrics");
  EXPECT_NE(body.find("troupe_rollouts_total{run=\"test-run\",task=\"Game24bootcamp\"} 3"), std::string::npos) << body;
  EXPECT_NE(body.find("troupe_reward_count{run=\"test-run\",source=\"rule\",task=\"Game24bootcamp\"} 1"),
            std::string::npos)
      << body;
}

TEST(Metrics, BusyPortIsAClearError) {
  Metrics a("a"), b("b");
  ASSERT_TRUE(a.serve("127.0.0.1:0").is_ok());
  Status s = b.serve(a.address());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("cannot serve metrics on " + a.address()), std::string::npos) << s.message();
}

TEST(Metrics, MalformedAddress) {
  Metrics m("x");
  EXPECT_FALSE(m.serve("localhost").is_ok());
}

}  // namespace
}  // namespace troupe::monitoring
