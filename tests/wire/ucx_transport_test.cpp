// The UCX transport inside one process: two (or three) transports on 127.0.0.1 exchange verified
// messages by name, large payloads go through rendezvous intact, a wrong token is refused, corrupt
// payloads are dropped and counted, a closed peer is reported down, and sends are bounded.
// Multi-process behaviour (SIGKILL, broadcast) is in tests/integration/wire_*.
#include "wire/ucx_transport.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace troupe::wire {
namespace {

using std::chrono::milliseconds;

// What a transport delivered, with a bounded wait for more.
struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Envelope> messages;
  std::vector<PeerEvent> events;

  TransportOptions options(const std::string& name, const std::string& token = "s3cret") {
    TransportOptions o;
    o.name = name;
    o.token = token;
    o.on_message = [this](Envelope&& e) {
      std::lock_guard lk(m);
      messages.push_back(std::move(e));
      cv.notify_all();
    };
    o.on_peer_event = [this](const PeerEvent& e) {
      std::lock_guard lk(m);
      events.push_back(e);
      cv.notify_all();
    };
    return o;
  }
  bool wait_messages(size_t n, milliseconds t = milliseconds(10000)) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, t, [&] { return messages.size() >= n; });
  }
  bool wait_event(PeerEvent::Kind kind, const std::string& peer, milliseconds t = milliseconds(10000)) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, t, [&] {
      for (auto& e : events) {
        if (e.kind == kind && (peer.empty() || e.peer == peer)) return true;
      }
      return false;
    });
  }
};

Bytes heartbeat(const std::string& node, uint64_t seq) {
  HeartbeatT h;
  h.node = node;
  h.sequence = seq;
  return pack(h);
}

Bytes chunk(size_t bytes, uint8_t seed) {
  WeightChunkT c;
  c.version = 7;
  c.data.resize(bytes);
  for (size_t i = 0; i < bytes; ++i) c.data[i] = static_cast<uint8_t>(i * 31 + seed);
  return pack(c);
}

TEST(UcxTransport, RejectsMissingName) {
  TransportOptions o;
  o.token = "x";
  auto t = Transport::start(o);
  ASSERT_FALSE(t);
  EXPECT_NE(t.status().message().find("name"), std::string::npos);
}

TEST(UcxTransport, ExchangesMessagesByNameInOrder) {
  Inbox ia, ib;
  auto a = Transport::start(ia.options("node/a"));
  ASSERT_TRUE(a) << a.status().to_string();
  auto b = Transport::start(ib.options("node/b"));
  ASSERT_TRUE(b) << b.status().to_string();
  ASSERT_NE((*a)->port(), 0);
  auto peer = (*b)->connect("127.0.0.1", (*a)->port());
  ASSERT_TRUE(peer) << peer.status().to_string();
  EXPECT_EQ(*peer, "node/a");
  ASSERT_TRUE(ia.wait_event(PeerEvent::Kind::kUp, "node/b"));
  EXPECT_TRUE((*a)->is_up("node/b"));

  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE((*b)->send("node/a", "policy/3", "learner/0", MessageKind::kHeartbeat, heartbeat("node/b", i)));
    ASSERT_TRUE((*a)->send("node/b", "env/0", "policy/3", MessageKind::kHeartbeat, heartbeat("node/a", i)));
  }
  ASSERT_TRUE(ia.wait_messages(kCount));
  ASSERT_TRUE(ib.wait_messages(kCount));
  for (int i = 0; i < kCount; ++i) {
    const Envelope& e = ia.messages[i];
    EXPECT_EQ(e.peer, "node/b");
    EXPECT_EQ(e.dst, "policy/3");
    EXPECT_EQ(e.src, "learner/0");
    ASSERT_EQ(e.kind, MessageKind::kHeartbeat);
    auto h = read<Heartbeat>(e.payload);
    ASSERT_TRUE(h);
    EXPECT_EQ((*h)->sequence(), static_cast<uint64_t>(i));
    EXPECT_EQ(ib.messages[i].dst, "env/0");
  }
  EXPECT_EQ((*a)->stats().dropped_corrupt, 0u);
}

// What runs on the progress thread (on_message, on_progress) cannot wait for that thread: connect,
// flush and describe fail at once there instead of hanging, and sends still go out (posted on the
// next pass). on_progress runs after the pass that delivered, on the same thread.
TEST(UcxTransport, TheProgressThreadNeverWaitsForItself) {
  Inbox ia, ib;
  Transport* raw_a = nullptr;
  std::mutex m;
  std::vector<Status> waits;  // what connect/flush/describe returned on the progress thread
  std::thread::id delivered_on, progressed_on;
  bool pending = false;  // a delivery on_progress has not seen yet
  TransportOptions oa = ia.options("node/a");
  auto deliver = oa.on_message;
  oa.on_message = [&](Envelope&& e) {
    {
      std::lock_guard lk(m);
      if (waits.empty()) {
        waits.push_back(raw_a->flush(e.peer, milliseconds(5000)));
        waits.push_back(raw_a->connect("127.0.0.1", raw_a->port(), milliseconds(5000)).status());
        waits.push_back(raw_a->describe(e.peer).status());
      }
      delivered_on = std::this_thread::get_id();
      pending = true;
    }
    // An answer from the progress thread: queued, posted on the next pass.
    EXPECT_TRUE(raw_a->send(e.peer, e.src, e.dst, e.kind, e.payload));
    deliver(std::move(e));
  };
  oa.on_progress = [&](bool) {
    std::lock_guard lk(m);
    if (pending) progressed_on = std::this_thread::get_id();
    pending = false;
    return false;
  };
  auto a = Transport::start(oa);
  ASSERT_TRUE(a) << a.status().to_string();
  raw_a = a->get();
  auto b = Transport::start(ib.options("node/b"));
  ASSERT_TRUE(b) << b.status().to_string();
  ASSERT_TRUE((*b)->connect("127.0.0.1", (*a)->port()));
  ASSERT_TRUE(ia.wait_event(PeerEvent::Kind::kUp, "node/b"));

  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE((*b)->send("node/a", "echo/0", "client/0", MessageKind::kHeartbeat, heartbeat("node/b", i)));
  }
  ASSERT_TRUE(ia.wait_messages(kCount));
  ASSERT_TRUE(ib.wait_messages(kCount));  // every answer came back, in order
  for (int i = 0; i < kCount; ++i) {
    auto h = read<Heartbeat>(ib.messages[i].payload);
    ASSERT_TRUE(h);
    EXPECT_EQ((*h)->sequence(), static_cast<uint64_t>(i));
  }
  std::lock_guard lk(m);
  ASSERT_EQ(waits.size(), 3u);
  for (const Status& s : waits) {
    EXPECT_FALSE(s);
    EXPECT_NE(s.message().find("progress thread"), std::string::npos) << s.to_string();
  }
  EXPECT_EQ(progressed_on, delivered_on);
  EXPECT_TRUE((*a)->flush());  // from this thread it waits as before
}

TEST(UcxTransport, LargePayloadsArriveIntact) {
  for (TransportMode mode : {TransportMode::kSharedMemory, TransportMode::kTcpOnly}) {
    Inbox ia, ib;
    auto oa = ia.options("a");
    auto ob = ib.options("b");
    oa.mode = ob.mode = mode;
    auto a = Transport::start(oa);
    auto b = Transport::start(ob);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE((*b)->connect("127.0.0.1", (*a)->port()));
    // 8 MiB and 64 MiB go through rendezvous; 100 B stays eager.
    std::vector<size_t> sizes = {100, size_t{8} << 20, size_t{64} << 20};
    std::vector<Bytes> sent;
    for (size_t i = 0; i < sizes.size(); ++i) {
      sent.push_back(chunk(sizes[i], uint8_t(i)));
      ASSERT_TRUE((*b)->send("a", "weights", "src", MessageKind::kWeightChunk, sent.back()));
    }
    ASSERT_TRUE(ia.wait_messages(sizes.size(), milliseconds(30000)));
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto c = read<WeightChunk>(ia.messages[i].payload);
      ASSERT_TRUE(c);
      ASSERT_EQ((*c)->data()->size(), sizes[i]);
      ASSERT_EQ(ia.messages[i].payload.size(), sent[i].size());
      EXPECT_EQ(0, std::memcmp(ia.messages[i].payload.data(), sent[i].data(), sent[i].size()));
    }
  }
}

TEST(UcxTransport, WrongTokenIsRefusedAndNothingDelivered) {
  Inbox ia, ib;
  auto a = Transport::start(ia.options("a", "right"));
  auto b = Transport::start(ib.options("b", "wrong"));
  ASSERT_TRUE(a && b);
  auto peer = (*b)->connect("127.0.0.1", (*a)->port());
  ASSERT_FALSE(peer);
  EXPECT_NE(peer.status().message().find("refused"), std::string::npos) << peer.status().to_string();
  ASSERT_TRUE(ia.wait_event(PeerEvent::Kind::kRefused, ""));
  EXPECT_EQ((*a)->stats().refused_handshakes, 1u);
  EXPECT_FALSE((*a)->is_up("b"));
  EXPECT_FALSE((*b)->send("a", "x", "y", MessageKind::kHeartbeat, heartbeat("b", 0)));
  EXPECT_EQ((*a)->stats().delivered, 0u);
}

TEST(UcxTransport, CorruptPayloadIsCountedAndDropped) {
  Inbox ia, ib;
  auto a = Transport::start(ia.options("a"));
  auto b = Transport::start(ib.options("b"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*b)->connect("127.0.0.1", (*a)->port()));
  std::vector<uint8_t> bad(64, 0xab);  // no file identifier we know
  ASSERT_TRUE((*b)->send("a", "x", "y", MessageKind::kHeartbeat, Bytes(bad)));
  // A valid Heartbeat sent under the wrong kind is dropped too.
  ASSERT_TRUE((*b)->send("a", "x", "y", MessageKind::kPrompt, heartbeat("b", 2)));
  ASSERT_TRUE((*b)->send("a", "x", "y", MessageKind::kHeartbeat, heartbeat("b", 3)));
  ASSERT_TRUE(ia.wait_messages(1));
  ASSERT_TRUE((*b)->flush());
  EXPECT_EQ((*a)->stats().dropped_corrupt, 2u);
  EXPECT_EQ((*a)->stats().delivered, 1u);
  EXPECT_EQ((*read<Heartbeat>(ia.messages[0].payload))->sequence(), 3u);
}

TEST(UcxTransport, ClosedPeerIsReportedDown) {
  Inbox ia, ib;
  auto a = Transport::start(ia.options("a"));
  auto b = Transport::start(ib.options("b"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*b)->connect("127.0.0.1", (*a)->port()));
  ASSERT_TRUE(ia.wait_event(PeerEvent::Kind::kUp, "b"));
  b->reset();
  ASSERT_TRUE(ia.wait_event(PeerEvent::Kind::kDown, "b"));
  EXPECT_FALSE((*a)->is_up("b"));
  auto s = (*a)->send("b", "x", "y", MessageKind::kHeartbeat, heartbeat("a", 0));
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
}

TEST(UcxTransport, ConnectToNobodyFailsInBoundedTime) {
  Inbox ia;
  auto a = Transport::start(ia.options("a"));
  ASSERT_TRUE(a);
  uint16_t port = (*a)->port();
  a->reset();  // nobody listens on this port any more
  Inbox ib;
  auto b = Transport::start(ib.options("b"));
  ASSERT_TRUE(b);
  auto peer = (*b)->connect("127.0.0.1", port, milliseconds(5000));
  EXPECT_FALSE(peer);
}

TEST(UcxTransport, SendQueueIsBounded) {
  Inbox ia, ib;
  auto oa = ia.options("a");
  auto ob = ib.options("b");
  ob.max_queued_messages = 4;
  // The receiver's progress thread stalls inside its first delivery until released, so nothing
  // after it completes and the sender's queue must fill, however fast either side is.
  std::mutex gate_m;
  std::condition_variable gate_cv;
  bool open = false;
  auto deliver = oa.on_message;
  oa.on_message = [&](Envelope&& e) {
    {
      std::unique_lock lk(gate_m);
      gate_cv.wait_for(lk, std::chrono::seconds(30), [&] { return open; });
    }
    deliver(std::move(e));
  };
  auto a = Transport::start(oa);
  auto b = Transport::start(ob);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*b)->connect("127.0.0.1", (*a)->port()));
  Bytes big = chunk(size_t{1} << 20, 1);  // rendezvous: completes only when the receiver fetches it
  int refused = 0, accepted = 0;
  for (int i = 0; i < 16; ++i) {
    Status s = (*b)->send("a", "x", "y", MessageKind::kWeightChunk, big, milliseconds(0));
    (s ? accepted : refused)++;
  }
  EXPECT_GT(refused, 0);
  EXPECT_LE(accepted, 4 + 2);  // the bound, plus what completed before the stall
  {
    std::lock_guard lk(gate_m);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE((*b)->flush());
  ASSERT_TRUE(ia.wait_messages(accepted));
  EXPECT_EQ(ia.messages.size(), static_cast<size_t>(accepted));
}

}  // namespace
}  // namespace troupe::wire
