// Location transparency through two gateways (two UCX transports, one actor system): a client on
// node n1 talks to "echo/0" on n2 by name and gets the reply by name; the same names resolve to
// the local actor on the node that hosts it; unknown names are answered with what is known; a peer
// going down reaches subscribers.
#include "actors/gateway.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;

wire::TransportOptions options(const std::string& node) {
  wire::TransportOptions o;
  o.name = node;
  o.token = "gateway-test";
  return o;
}

wire::Bytes heartbeat(uint64_t seq) {
  wire::HeartbeatT h;
  h.node = "n1";
  h.sequence = seq;
  return wire::pack(h);
}

// Answers every message to its sender, through whatever `resolve` gives for the sender's name.
caf::behavior echo(caf::event_based_actor* self, Gateway* gw) {
  return {[self, gw](const WireMessage& m) {
    auto back = gw->resolve(m.src);
    if (back) self->send(*back, WireMessage{m.src, "echo/0", m.kind, m.payload});
  }};
}

TEST(WireGateway, NamesResolveLocallyOrThroughTheGateway) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto g1 = Gateway::start(sys, options("n1"));
  auto g2 = Gateway::start(sys, options("n2"));
  ASSERT_TRUE(g1 && g2) << g1.status().to_string() << g2.status().to_string();
  auto peer = (*g1)->connect("127.0.0.1", (*g2)->port());
  ASSERT_TRUE(peer) << peer.status().to_string();
  for (int i = 0; i < 500 && !(*g2)->transport().is_up("n1"); ++i) std::this_thread::sleep_for(10ms);

  auto e = sys.spawn(echo, g2->get());
  ASSERT_TRUE((*g2)->register_local("echo/0", e));
  ASSERT_TRUE((*g2)->add_route("client/*", "n1"));
  ASSERT_TRUE((*g1)->add_route("echo/*", "n2"));

  caf::scoped_actor self{sys};
  ASSERT_TRUE((*g1)->register_local("client/0", caf::actor_cast<caf::actor>(self)));
  auto local = (*g1)->resolve("client/0");
  ASSERT_TRUE(local);
  EXPECT_EQ(*local, caf::actor_cast<caf::actor>(self));  // a local name is the actor itself
  auto unknown = (*g1)->resolve("nobody/1");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.status().message().find("echo/*@n2"), std::string::npos) << unknown.status().to_string();

  auto remote = (*g1)->resolve("echo/0");
  ASSERT_TRUE(remote);
  EXPECT_NE(*remote, e);  // a proxy on this side
  constexpr int kRounds = 50;
  for (int i = 0; i < kRounds; ++i) {
    self->send(*remote, WireMessage{"echo/0", "client/0", wire::MessageKind::kHeartbeat, heartbeat(i)});
    bool got = false;
    self->receive(
        [&](const WireMessage& m) {
          got = true;
          EXPECT_EQ(m.dst, "client/0");
          EXPECT_EQ(m.src, "echo/0");
          auto h = wire::read<wire::Heartbeat>(m.payload);
          ASSERT_TRUE(h);
          EXPECT_EQ((*h)->sequence(), static_cast<uint64_t>(i));
        },
        caf::after(10s) >> [] {});
    ASSERT_TRUE(got) << "no reply to round " << i;
  }
  EXPECT_EQ((*g1)->stats().forwarded, static_cast<uint64_t>(kRounds));
  EXPECT_EQ((*g2)->stats().delivered, static_cast<uint64_t>(kRounds));

  // A message for a name nobody registered is counted, not delivered.
  ASSERT_TRUE((*g1)->add_route("ghost/0", "n2"));
  auto ghost = (*g1)->resolve("ghost/0");
  ASSERT_TRUE(ghost);
  self->send(*ghost, WireMessage{"ghost/0", "client/0", wire::MessageKind::kHeartbeat, heartbeat(0)});
  for (int i = 0; i < 500 && (*g2)->stats().unroutable == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ((*g2)->stats().unroutable, 1u);

  // n2 goes away: n1's subscribers hear it.
  (*g1)->subscribe(caf::actor_cast<caf::actor>(self));
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  g2->reset();
  bool down = false;
  self->receive([&](peer_atom, const std::string& node, bool up) { down = node == "n2" && !up; },
                caf::after(10s) >> [] {});
  EXPECT_TRUE(down);
  (*g1)->unregister_local("client/0");
}

// The progress thread runs an idle light actor that a message woke itself (no hand-off to a CAF
// worker), and an actor whose runs prove slow moves to the CAF scheduler: both keep receiving
// everything in order; both first ran on one thread (the progress thread), and the slow one later
// ran on another.
TEST(WireGateway, SlowActorsMoveOffTheProgressThreadInOrder) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto g1 = Gateway::start(sys, options("n1"));
  auto g2 = Gateway::start(sys, options("n2"));
  ASSERT_TRUE(g1 && g2) << g1.status().to_string() << g2.status().to_string();
  ASSERT_TRUE((*g1)->connect("127.0.0.1", (*g2)->port()));
  for (int i = 0; i < 500 && !(*g2)->transport().is_up("n1"); ++i) std::this_thread::sleep_for(10ms);

  struct Seen {
    std::mutex m;
    std::condition_variable cv;
    std::vector<uint64_t> seq;
    std::vector<std::thread::id> threads;
  };
  auto slow_seen = std::make_shared<Seen>(), fast_seen = std::make_shared<Seen>();
  // The state comes in as spawn arguments: CAF 0.17 spawns a function without arguments by
  // dereferencing a null tuple pointer (UBSan reports it in caf/detail/init_fun_factory.hpp).
  auto recorder = [](caf::event_based_actor*, std::shared_ptr<Seen> seen,
                     std::chrono::microseconds work) -> caf::behavior {
    return {[seen, work](const WireMessage& m) {
      // Busy, not asleep: work an actor does (a sleep would be the same to the progress thread).
      const auto until = std::chrono::steady_clock::now() + work;
      while (std::chrono::steady_clock::now() < until) {
      }
      auto h = wire::read<wire::Heartbeat>(m.payload);
      std::lock_guard lk(seen->m);
      seen->seq.push_back(h ? (*h)->sequence() : ~uint64_t{0});
      seen->threads.push_back(std::this_thread::get_id());
      seen->cv.notify_all();
    }};
  };
  // lazy_init: nothing runs them before their first message (a fresh actor is otherwise started on
  // a CAF worker, where an early message would find it).
  auto slow = sys.spawn<caf::lazy_init>(recorder, slow_seen, std::chrono::microseconds(1000));
  auto fast = sys.spawn<caf::lazy_init>(recorder, fast_seen, std::chrono::microseconds(0));
  ASSERT_TRUE((*g2)->register_local("slow/0", slow));
  ASSERT_TRUE((*g2)->register_local("fast/0", fast));
  ASSERT_TRUE((*g1)->add_route("slow/*", "n2"));
  ASSERT_TRUE((*g1)->add_route("fast/*", "n2"));

  constexpr uint64_t kCount = 40;
  for (uint64_t i = 0; i < kCount; ++i) {
    (*g1)->send("n2", WireMessage{"slow/0", "client/0", wire::MessageKind::kHeartbeat, heartbeat(i)});
    (*g1)->send("n2", WireMessage{"fast/0", "client/0", wire::MessageKind::kHeartbeat, heartbeat(i)});
    // One at a time for the first few: each finds the slow actor idle (a fresh inline run).
    if (i < 8) std::this_thread::sleep_for(5ms);
  }
  for (auto* seen : {slow_seen.get(), fast_seen.get()}) {
    std::unique_lock lk(seen->m);
    ASSERT_TRUE(seen->cv.wait_for(lk, 30s, [&] { return seen->seq.size() >= kCount; })) << seen->seq.size();
    for (uint64_t i = 0; i < kCount; ++i) EXPECT_EQ(seen->seq[i], i);
  }
  std::scoped_lock lk(slow_seen->m, fast_seen->m);
  // Both first ran on the transport's progress thread; the slow one left it (for a while: a heavy
  // actor gets an inline run again after 50 ms, so later ones may be back there).
  const std::thread::id progress = fast_seen->threads.front();
  EXPECT_EQ(slow_seen->threads.front(), progress);
  EXPECT_NE(std::find_if(slow_seen->threads.begin(), slow_seen->threads.end(),
                         [&](std::thread::id t) { return t != progress; }),
            slow_seen->threads.end());
  const GatewayStats gs = (*g2)->stats();
  EXPECT_GE(gs.ran_inline, 2u);  // at least the first run of each
  EXPECT_GE(gs.heavy, 1u);
  EXPECT_GE(gs.to_scheduler, 1u);
}

}  // namespace
}  // namespace troupe::actors

namespace troupe::actors {
namespace {

// A peer that stops taking messages (its progress thread stalls) fills its send queue on n1: what n1
// sends it then waits in that peer's lane, up to a bound beyond which it fails at once (counted),
// and messages to another peer go straight through meanwhile instead of queueing behind it.
TEST(WireGateway, AStalledPeerHoldsUpOnlyItsOwnMessagesAndItsBacklogIsBounded) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  wire::TransportOptions o1 = options("n1");
  o1.max_queued_messages = 2;
  o1.max_queued_bytes = size_t{1} << 20;
  auto g1 = Gateway::start(sys, o1);
  auto g3 = Gateway::start(sys, options("n3"));
  ASSERT_TRUE(g1 && g3) << g1.status().to_string() << g3.status().to_string();

  // n2: a bare transport whose progress thread blocks in its first delivery until released.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, stalled = false;
  wire::TransportOptions o2 = options("n2");
  o2.on_message = [&](wire::Envelope&&) {
    std::unique_lock lk(mu);
    stalled = true;
    cv.notify_all();
    cv.wait(lk, [&] { return release; });
  };
  auto t2 = wire::Transport::start(o2);
  ASSERT_TRUE(t2) << t2.status().to_string();
  ASSERT_TRUE((*g1)->connect("127.0.0.1", (*t2)->port()));
  ASSERT_TRUE((*g1)->connect("127.0.0.1", (*g3)->port()));
  for (int i = 0; i < 500 && !((*t2)->is_up("n1") && (*g3)->transport().is_up("n1")); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  auto unstall = [&] {
    std::lock_guard lk(mu);
    release = true;
    cv.notify_all();
  };

  (*g1)->send("n2", WireMessage{"sink", "client/0", wire::MessageKind::kHeartbeat, heartbeat(0)});
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return stalled; })) << "n2 never received the first message";
  }
  // 4 MiB each (rendezvous: completes only when n2 progresses): one in flight, two waiting in the
  // lane (the bound is max_queued_messages), the rest refused at once.
  const wire::Bytes big(std::vector<uint8_t>(size_t{4} << 20, 0x5a));
  constexpr int kBig = 12;
  for (int i = 0; i < kBig; ++i) (*g1)->send("n2", WireMessage{"sink", "client/0", wire::MessageKind::kHeartbeat, big});
  EXPECT_GE((*g1)->stats().send_failures, static_cast<uint64_t>(kBig - 1 - 2 - 1))
      << "beyond the lane's bound a message fails at once";

  auto e = sys.spawn(echo, g3->get());
  ASSERT_TRUE((*g3)->register_local("echo/0", e));
  ASSERT_TRUE((*g3)->add_route("client/*", "n1"));
  ASSERT_TRUE((*g1)->add_route("echo/*", "n3"));
  caf::scoped_actor self{sys};
  ASSERT_TRUE((*g1)->register_local("client/0", caf::actor_cast<caf::actor>(self)));
  auto remote = (*g1)->resolve("echo/0");
  ASSERT_TRUE(remote);
  self->send(*remote, WireMessage{"echo/0", "client/0", wire::MessageKind::kHeartbeat, heartbeat(7)});
  bool got = false;
  // Behind n2's waiting messages (5 s of back-pressure each) this would take far longer than 20 s.
  self->receive([&](const WireMessage& m) { got = m.src == "echo/0"; }, caf::after(20s) >> [] {});
  unstall();
  EXPECT_TRUE(got) << "a message to n3 waited behind the stalled n2";
  (*g1)->unregister_local("client/0");
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  // n1 still has rendezvous sends in flight to the released n2: closing n1 first waits for them
  // (the transport's bounded shutdown flush), so n2 then closes with nothing half-received.
  g1->reset();
  t2->reset();
}

}  // namespace
}  // namespace troupe::actors
