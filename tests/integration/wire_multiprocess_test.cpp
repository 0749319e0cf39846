// Multi-process wire tests on 127.0.0.1: real wire_node processes (tests/integration/wire_node.cpp)
// started by the test, talking over UCX, killed by PID. Every wait is bounded; every child is
// killed and reaped when a test ends, pass or fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/child_process.hpp"
#include "wire/device_weights.hpp"
#if TROUPE_HAVE_NCCL
#include "wire/nccl_collectives.hpp"
#endif

namespace {

using namespace std::chrono_literals;

// A wire_node child with the cluster token in its environment.
class Child : public troupe::testing::Child {
 public:
  Child(std::vector<std::string> args, const std::string& token)
      : troupe::testing::Child(WIRE_NODE_PATH, std::move(args), {{"TROUPE_CLUSTER_TOKEN", token}}) {}
};

uint16_t port_of(Child& c) {
  std::string line = c.wait_line("PORT ", 20s);
  return line.empty() ? 0 : static_cast<uint16_t>(std::stoi(line.substr(5)));
}

std::string at(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

const char* kToken = "integration-secret";

TEST(WireMultiProcess, ThreeNodesChatAndSurviveASigkill) {
  // a, b, c (and d, killed mid-stream) in a full mesh, each sending 400 heartbeats 2 ms apart.
  std::vector<std::string> common = {"--role", "chat", "--expect", "a,b,c,d", "--count", "400", "--interval-us",
                                     "2000", "--deadline-ms", "40000"};
  auto args = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> v = {"--name", name};
    v.insert(v.end(), common.begin(), common.end());
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  Child a(args("a", {}), kToken);
  uint16_t pa = port_of(a);
  ASSERT_NE(pa, 0) << a.dump();
  Child b(args("b", {"--connect", at(pa)}), kToken);
  uint16_t pb = port_of(b);
  ASSERT_NE(pb, 0);
  Child c(args("c", {"--connect", at(pa), "--connect", at(pb)}), kToken);
  uint16_t pc = port_of(c);
  ASSERT_NE(pc, 0);
  Child d(args("d", {"--connect", at(pa), "--connect", at(pb), "--connect", at(pc)}), kToken);
  ASSERT_FALSE(d.wait_line("READY").empty()) << d.dump();
  // Let traffic flow, then kill d mid-stream.
  std::this_thread::sleep_for(300ms);
  d.kill();
  EXPECT_EQ(d.reap(5s), -1);
  for (Child* n : {&a, &b, &c}) {
    EXPECT_FALSE(n->wait_line("DOWN d").empty()) << n->dump();
    EXPECT_FALSE(n->wait_line("DONE").empty()) << n->dump();
    EXPECT_EQ(n->reap(20s), 0) << n->dump();
  }
  // Every survivor got all 400 messages, in order, from each other survivor.
  std::vector<std::pair<Child*, std::string>> nodes = {{&a, "a"}, {&b, "b"}, {&c, "c"}};
  for (auto& [n, name] : nodes) {
    for (auto& [other, oname] : nodes) {
      if (other == n) continue;
      EXPECT_EQ(n->wait_line("RECV " + oname, 1s), "RECV " + oname + " 400 1") << name << "\n" << n->dump();
    }
    // From d: part of the stream, still in order.
    std::string fromd = n->wait_line("RECV d", 1s);
    EXPECT_TRUE(fromd.size() > 7 && fromd.substr(fromd.size() - 1) == "1") << fromd;
  }
}

TEST(WireMultiProcess, WrongTokenIsRefused) {
  Child a({"--name", "a", "--role", "chat", "--expect", "a", "--count", "0", "--linger-ms", "4000"}, kToken);
  uint16_t pa = port_of(a);
  ASSERT_NE(pa, 0);
  Child intruder({"--name", "x", "--role", "chat", "--expect", "x", "--count", "0", "--connect", at(pa),
                  "--deadline-ms", "3000"},
                 "not-the-secret");
  std::string failed = intruder.wait_line("CONNECT_FAILED", 15s);
  EXPECT_NE(failed.find("refused"), std::string::npos) << intruder.dump();
  EXPECT_FALSE(a.wait_line("REFUSED", 15s).empty()) << a.dump();
  std::string stats = a.wait_line("STATS", 15s);
  EXPECT_NE(stats.find("delivered=0 "), std::string::npos) << stats;
  EXPECT_NE(stats.find("refused=1"), std::string::npos) << stats;
  EXPECT_EQ(a.reap(10s), 0);
}

// Receivers r1 -> r2 -> r3 in a chain from source s; every node connects to every earlier one.
struct Broadcast {
  std::unique_ptr<Child> s, r1, r2, r3;
  // `source_extra`: more source flags (--backend shm, --slots N); `r2_extra`: r2's own flags.
  void start(const std::string& bytes, const std::string& versions, const std::string& r2_stall,
             std::vector<std::string> source_extra = {}, std::vector<std::string> r2_extra = {}) {
    std::vector<std::string> rx = {"--role", "receiver", "--versions", versions, "--deadline-ms", "60000"};
    std::vector<std::string> sx = {"--name", "s", "--role", "source", "--chain", "r1,r2,r3", "--bytes", bytes,
                                   "--versions", versions, "--deadline-ms", "60000"};
    sx.insert(sx.end(), source_extra.begin(), source_extra.end());
    s = std::make_unique<Child>(sx, kToken);
    uint16_t ps = port_of(*s);
    auto with = [&](const std::string& name, std::vector<std::string> extra) {
      std::vector<std::string> v = {"--name", name};
      v.insert(v.end(), rx.begin(), rx.end());
      v.insert(v.end(), extra.begin(), extra.end());
      return v;
    };
    r1 = std::make_unique<Child>(with("r1", {"--connect", at(ps)}), kToken);
    uint16_t p1 = port_of(*r1);
    // Each receiver connects to the source LAST: the source starts broadcasting once all receivers are
    // connected to it, and by then every receiver's links down the chain are up (otherwise r2 could be
    // asked to forward to an r3 it has not registered yet: "peer r3 is not connected").
    std::vector<std::string> r2x = {"--connect", at(p1), "--connect", at(ps)};
    if (!r2_stall.empty()) r2x.insert(r2x.end(), {"--stall-after", r2_stall});
    r2x.insert(r2x.end(), r2_extra.begin(), r2_extra.end());
    r2 = std::make_unique<Child>(with("r2", r2x), kToken);
    uint16_t p2 = port_of(*r2);
    r3 = std::make_unique<Child>(with("r3", {"--connect", at(p1), "--connect", at(p2), "--connect", at(ps)}), kToken);
  }
};

TEST(WireMultiProcess, Broadcast256MiBArrivesBitIdenticalAtThreeReceivers) {
  Broadcast b;
  b.start(std::to_string(size_t{256} << 20), "1", "");
  for (Child* r : {b.r1.get(), b.r2.get(), b.r3.get()}) {
    EXPECT_EQ(r->wait_line("COMMIT", 60s), "COMMIT 1 1") << r->dump();
  }
  EXPECT_FALSE(b.s->wait_line("DONE", 30s).empty()) << b.s->dump();
  for (auto* name : {"r1", "r2", "r3"}) {
    EXPECT_FALSE(b.s->wait_line(std::string("ACK ") + name, 1s).empty()) << b.s->dump();
  }
}

TEST(WireMultiProcess, ReceiverKilledMidBroadcastLeavesOthersConsistent) {
  // Version 1 (16 MiB, 4 chunks) reaches everyone; r2 stalls after 2 chunks of version 2 and is killed.
  // r1 (upstream of r2) still commits v2; r3 (cut off below r2) stays on v1, intact.
  Broadcast b;
  b.start(std::to_string(size_t{16} << 20), "2", "2");
  for (Child* r : {b.r1.get(), b.r2.get(), b.r3.get()}) {
    EXPECT_EQ(r->wait_line("COMMIT", 60s), "COMMIT 1 1") << r->dump();
  }
  ASSERT_FALSE(b.r2->wait_line("STALLED", 60s).empty()) << b.r2->dump();
  b.r2->kill();
  b.r2->reap(5s);
  EXPECT_EQ(b.r1->wait_line("COMMIT", 60s, 1), "COMMIT 2 1") << b.r1->dump();
  EXPECT_FALSE(b.r3->wait_line("DOWN r2", 30s).empty()) << b.r3->dump();
  EXPECT_EQ(b.r3->wait_line("STAGING", 10s), "STAGING 0 COMMITTED 1") << b.r3->dump();
  EXPECT_EQ(b.r3->wait_line("COMMIT", 2s, 1), "") << b.r3->dump();
  EXPECT_FALSE(b.s->wait_line("DOWN r2", 30s).empty()) << b.s->dump();
}

// The same-host backend (wire/shared_weights.hpp): the source writes each version once into shared
// memory and every receiver maps it; no chunks travel.
TEST(WireMultiProcess, SharedMemoryBroadcast256MiBArrivesBitIdenticalAtThreeReceivers) {
  Broadcast b;
  b.start(std::to_string(size_t{256} << 20), "1", "", {"--backend", "shm"});
  for (Child* r : {b.r1.get(), b.r2.get(), b.r3.get()}) {
    EXPECT_EQ(r->wait_line("COMMIT", 60s), "COMMIT 1 1") << r->dump();
  }
  EXPECT_FALSE(b.s->wait_line("DONE", 30s).empty()) << b.s->dump();
  for (auto* name : {"r1", "r2", "r3"}) {
    EXPECT_FALSE(b.s->wait_line(std::string("ACK ") + name, 1s).empty()) << b.s->dump();
  }
  EXPECT_EQ(b.s->wait_line("BCAST_FAILED", 1s), "") << b.s->dump();
}

TEST(WireMultiProcess, SharedMemoryReceiverKilledWhileHoldingFreesItsSlots) {
  // Two slots, four versions. r2 commits v1 and then stops reading, holding v1's slot and never
  // taking up v2's: the source can place v3 only once r2 is known down (SIGKILL). r1 and r3 take
  // every version, bit-identical, and the source never needed a third segment.
  Broadcast b;
  b.start(std::to_string(size_t{8} << 20), "4", "", {"--backend", "shm", "--slots", "2"},
          {"--stall-at-version", "1"});
  ASSERT_FALSE(b.r2->wait_line("STALLED", 60s).empty()) << b.r2->dump();
  EXPECT_EQ(b.r2->wait_line("COMMIT", 1s), "COMMIT 1 1") << b.r2->dump();
  b.r2->kill();
  b.r2->reap(5s);
  for (Child* r : {b.r1.get(), b.r3.get()}) {
    for (int v = 1; v <= 4; ++v) {
      EXPECT_EQ(r->wait_line("COMMIT", 60s, v - 1), "COMMIT " + std::to_string(v) + " 1") << r->dump();
    }
  }
  EXPECT_FALSE(b.s->wait_line("DOWN r2", 30s).empty()) << b.s->dump();
  EXPECT_FALSE(b.s->wait_line("DONE", 30s).empty()) << b.s->dump();
  EXPECT_EQ(b.s->wait_line("SLOTS", 1s), "SLOTS 2") << b.s->dump();
  // v2 may leave before or after the kill; if after, it names r2 and nobody else.
  for (int i = 0; i < 3; ++i) {
    std::string failed = b.s->wait_line("BCAST_FAILED", 100ms, i);
    if (failed.empty()) break;
    EXPECT_NE(failed.find("did not reach r2: not connected"), std::string::npos) << failed;
    EXPECT_EQ(failed.find("r1"), std::string::npos) << failed;
    EXPECT_EQ(failed.find("r3"), std::string::npos) << failed;
  }
}

// The GPU backend (placement.weight_broadcast: nccl): source on GPU 0, receiver i on GPU i (NCCL
// refuses two ranks on one GPU), so these run only where enough GPUs are visible.
struct NcclBroadcast {
  std::unique_ptr<Child> s;
  std::vector<std::unique_ptr<Child>> rx;
  // `receivers` receivers take `versions` versions of `bytes` bytes; `extra[i]`: receiver i's own flags.
  void start(int receivers, const std::string& bytes, const std::string& versions,
             std::vector<std::vector<std::string>> extra = {}) {
    std::string chain;
    for (int i = 1; i <= receivers; ++i) chain += (i > 1 ? "," : "") + std::string("r") + std::to_string(i);
    s = std::make_unique<Child>(std::vector<std::string>{"--name", "s", "--role", "source", "--backend", "nccl",
                                                         "--gpu", "0", "--chain", chain, "--bytes", bytes,
                                                         "--versions", versions, "--device-wait-ms", "3000",
                                                         "--deadline-ms", "90000"},
                                kToken);
    uint16_t ps = port_of(*s);
    for (int i = 1; i <= receivers; ++i) {
      std::vector<std::string> args = {"--name", "r" + std::to_string(i), "--role", "receiver", "--backend", "nccl",
                                       "--gpu", std::to_string(i), "--versions", versions, "--device-wait-ms",
                                       "3000", "--deadline-ms", "90000", "--connect", at(ps)};
      if (static_cast<size_t>(i - 1) < extra.size()) args.insert(args.end(), extra[i - 1].begin(), extra[i - 1].end());
      rx.push_back(std::make_unique<Child>(args, kToken));
    }
  }
};

TEST(WireMultiProcess, NcclBroadcastArrivesBitIdenticalAtEveryReceiver) {
  const int gpus = troupe::wire::visible_cuda_devices();
  if (gpus < 2) GTEST_SKIP() << gpus << " CUDA device(s) visible: the NCCL broadcast needs 2 or more (one per rank)";
  const int receivers = std::min(gpus - 1, 3);
  NcclBroadcast b;
  b.start(receivers, std::to_string(size_t{64} << 20), "3");
  for (auto& r : b.rx) {
    for (int v = 1; v <= 3; ++v) {
      EXPECT_EQ(r->wait_line("COMMIT", 60s, v - 1), "COMMIT " + std::to_string(v) + " 1") << r->dump();
    }
  }
  EXPECT_FALSE(b.s->wait_line("DONE", 30s).empty()) << b.s->dump();
  EXPECT_EQ(b.s->wait_line("BCAST_FAILED", 1s), "") << b.s->dump();
  for (int i = 1; i <= receivers; ++i) {
    EXPECT_FALSE(b.s->wait_line("ACK r" + std::to_string(i) + " 3", 1s).empty()) << b.s->dump();
  }
}

TEST(WireMultiProcess, NcclReceiverKilledLeavesOthersWholeAndTheyCarryOn) {
  // r2 commits v1 and stops taking part; v2's broadcast cannot finish until r2 is known down
  // (SIGKILL), then fails for everyone (the others keep v1 whole) and goes again over a new
  // communicator without r2. r1 and r3 end with v1..v3, each bit-identical.
  const int gpus = troupe::wire::visible_cuda_devices();
  if (gpus < 3) GTEST_SKIP() << gpus << " CUDA device(s) visible: this NCCL test needs 3 or more (one per rank)";
  const int receivers = std::min(gpus - 1, 3);
  NcclBroadcast b;
  b.start(receivers, std::to_string(size_t{8} << 20), "3", {{}, {"--stall-at-version", "1"}});
  Child& r2 = *b.rx[1];
  ASSERT_FALSE(r2.wait_line("STALLED", 60s).empty()) << r2.dump();
  r2.kill();
  r2.reap(5s);
  for (int i = 0; i < receivers; ++i) {
    if (i == 1) continue;
    Child& r = *b.rx[static_cast<size_t>(i)];
    for (int v = 1; v <= 3; ++v) {
      EXPECT_EQ(r.wait_line("COMMIT", 60s, v - 1), "COMMIT " + std::to_string(v) + " 1") << r.dump();
    }
  }
  EXPECT_FALSE(b.s->wait_line("DOWN r2", 30s).empty()) << b.s->dump();
  EXPECT_FALSE(b.s->wait_line("DONE", 60s).empty()) << b.s->dump();
}

// Every rank printed "SUM <crc> 1": the exact total, and the same bytes as every other rank.
void expect_identical_exact_sums(std::vector<std::unique_ptr<Child>>& nodes) {
  std::string first;
  for (auto& n : nodes) {
    std::string sum = n->wait_line("SUM", 60s);
    ASSERT_FALSE(sum.empty()) << n->dump();
    EXPECT_EQ(sum.substr(sum.size() - 1), "1") << "not the exact total: " << sum;
    if (first.empty()) first = sum;
    EXPECT_EQ(sum, first) << "ranks disagree";
  }
}

TEST(WireMultiProcess, RingAllReduceGivesIdenticalSums) {
  std::vector<std::string> ranks = {"n0", "n1", "n2", "n3"};
  std::vector<std::unique_ptr<Child>> nodes;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < ranks.size(); ++i) {
    std::vector<std::string> args = {"--name", ranks[i], "--role", "allreduce", "--expect", "n0,n1,n2,n3",
                                     "--floats", "1000003", "--deadline-ms", "60000"};
    for (uint16_t p : ports) args.insert(args.end(), {"--connect", at(p)});
    nodes.push_back(std::make_unique<Child>(args, kToken));
    ports.push_back(port_of(*nodes.back()));
    ASSERT_NE(ports.back(), 0) << nodes.back()->dump();
  }
  expect_identical_exact_sums(nodes);
}

// ncclAllReduce among learner processes, one GPU each: every rank ends with the same, exact sum.
TEST(WireMultiProcess, NcclAllReduceGivesIdenticalSums) {
#if TROUPE_HAVE_NCCL
  const int gpus = troupe::wire::visible_cuda_devices();
  if (gpus < 2) GTEST_SKIP() << gpus << " CUDA device(s) visible: an NCCL all-reduce needs 2 or more (one per rank)";
  const int ranks = std::min(gpus, 4);
  // The unique id's bootstrap root lives in this process, which outlives the ranks.
  auto id = troupe::wire::nccl_unique_id();
  ASSERT_TRUE(id) << id.status().to_string();
  std::string hex;
  for (uint8_t b : *id) {
    const char* digits = "0123456789abcdef";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  std::vector<std::unique_ptr<Child>> nodes;
  for (int r = 0; r < ranks; ++r) {
    nodes.push_back(std::make_unique<Child>(
        std::vector<std::string>{"--name", "n" + std::to_string(r), "--role", "nccl_allreduce", "--rank",
                                 std::to_string(r), "--nranks", std::to_string(ranks), "--gpu", std::to_string(r),
                                 "--nccl-id", hex, "--floats", "1000003"},
        kToken));
  }
  expect_identical_exact_sums(nodes);
#else
  GTEST_SKIP() << "this build has no CUDA: the NCCL all-reduce is not compiled";
#endif
}

}  // namespace
