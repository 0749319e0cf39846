// The exposer serves the registry over real HTTP on 127.0.0.1.
#include "monitoring/metrics.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

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

// As much static TLS as cuBLAS Lt brings into a CUDA build of troupe (~92 KiB):
// glibc puts it on every thread's stack, which broke civetweb's 100 KiB worker
// stacks (prometheus::Exposer could not start). The server must not care.
thread_local char tls_ballast[256 * 1024];

TEST(Metrics, ServesDespiteLargeStaticTls) {
  tls_ballast[0] = 1;  // keeps the TLS block
  Metrics m("tls");
  ASSERT_TRUE(m.serve("127.0.0.1:0").is_ok());
  int port = std::stoi(m.address().substr(m.address().rfind(':') + 1));
  EXPECT_NE(http_get(port, "/metrics").find("HTTP/1.1 200 OK"), std::string::npos);
}

// Whether `body` holds a sample of `name` carrying every label of `labels` with `value`
// (the exposition format does not promise a label order).
bool has_sample(const std::string& body, const std::string& name, const std::vector<std::string>& labels,
                const std::string& value) {
  size_t at = 0;
  while ((at = body.find("\n" + name + "{", at)) != std::string::npos) {
    const size_t end = body.find('\n', at + 1);
    const std::string line = body.substr(at + 1, end - at - 1);
    at = end;
    bool all = line.size() > value.size() && line.compare(line.size() - value.size() - 1, std::string::npos,
                                                          " " + value) == 0;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return true;
  }
  return false;
}

TEST(Metrics, KnownChildrenStartAtZero) {
  Metrics m("zero");
  m.declare_reward_source("verifier");
  ASSERT_TRUE(m.serve("127.0.0.1:0").is_ok());
  int port = std::stoi(m.address().substr(m.address().rfind(':') + 1));
  std::string body = http_get(port, "/metrics");
  EXPECT_TRUE(has_sample(body, "troupe_actor_restarts_total", {"role=\"policy_worker\"", "run=\"zero\""}, "0")) << body;
  EXPECT_TRUE(has_sample(body, "troupe_rollouts_dropped_total", {"reason=\"stale\""}, "0"));
  EXPECT_TRUE(has_sample(body, "troupe_messages_invalid_total", {"reason=\"verify_failed\""}, "0"));
  EXPECT_TRUE(has_sample(body, "troupe_reward_model_errors_total", {"source=\"verifier\""}, "0"));
  EXPECT_TRUE(has_sample(body, "troupe_reward_model_seconds_count", {"source=\"verifier\""}, "0"));
  EXPECT_TRUE(has_sample(body, "troupe_reward_agreement_total", {"source=\"verifier\"", "agree=\"false\""}, "0"));
  EXPECT_FALSE(has_sample(body, "troupe_reward_model_errors_total", {"source=\"preference\""}, "0"))
      << "only declared sources exist";
}

TEST(Metrics, OnlyMetricsPathServesTheRegistry) {
  Metrics m("paths");
  ASSERT_TRUE(m.serve("127.0.0.1:0").is_ok());
  int port = std::stoi(m.address().substr(m.address().rfind(':') + 1));
  std::string ok = http_get(port, "/metrics?x=1");
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << ok;
  EXPECT_NE(http_get(port, "/nope").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_NE(http_get(port, "/").find("/metrics"), std::string::npos);
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
