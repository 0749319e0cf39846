// The actor protocol across two nodes (two UCX transports and gateways in one process): a real env
// actor exposed on n2 answers generate and verify calls made through its proxy on n1; an actor on n2
// answers the *sender* of a notification, which reaches the exposed actor on n1 by name; and calls
// to a node that went away fail at once instead of waiting out their timeout.
#include "actors/remote.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "actors/env_actor.hpp"
#include "actors/messages.hpp"
#include "envs/registry.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using namespace troupe::atoms;

wire::TransportOptions options(const std::string& node) {
  wire::TransportOptions o;
  o.name = node;
  o.token = "remote-actors-test";
  return o;
}

// On prompt_atom, tells its sender the prompt was lost (as a policy worker that cannot answer does) and
// counts the refusal. (It takes an argument also because CAF 0.17.6's spawn() of a function with none
// binds a reference to its null argument tuple, which the sanitizer build reports.)
caf::behavior refuser(caf::event_based_actor* self, std::shared_ptr<std::atomic<int>> refused) {
  return {[self, refused](prompt_atom, const wire::Bytes& p) {
    auto prompt = wire::read<wire::Prompt>(p);
    if (!prompt) return;
    refused->fetch_add(1);
    self->send(caf::actor_cast<caf::actor>(self->current_sender()), lost_atom_v, (*prompt)->prompt_id());
  }};
}

struct TwoNodes {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<Gateway> g1, g2;
  std::unique_ptr<RemoteActors> r1, r2;

  explicit TwoNodes(RemoteOptions ro = {}) {
    cfg.set("logger.console", caf::atom("none"));
    sys = std::make_unique<caf::actor_system>(cfg);
    auto a = Gateway::start(*sys, options("n1"));
    auto b = Gateway::start(*sys, options("n2"));
    EXPECT_TRUE(a && b);
    g1 = std::move(*a);
    g2 = std::move(*b);
    auto ra = RemoteActors::create(*sys, *g1, nullptr, ro);
    auto rb = RemoteActors::create(*sys, *g2, nullptr, ro);
    EXPECT_TRUE(ra && rb);
    r1 = std::move(*ra);
    r2 = std::move(*rb);
    auto peer = r1->connect_peer("127.0.0.1", g2->port());
    EXPECT_TRUE(peer) << peer.status().to_string();
    for (int i = 0; i < 500 && !g2->transport().is_up("n1"); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(r2->accept_peer("n1"));
  }
  // n2 goes away: its remote layer and gateway close (n1 sees the peer down).
  void drop_n2() {
    r2.reset();
    g2.reset();
  }
  ~TwoNodes() {
    r1.reset();
    r2.reset();
    g1.reset();
    g2.reset();
  }
};

TEST(RemoteActors, EnvCallsCrossTheWireAndComeBackTyped) {
  TwoNodes n;
  caf::actor env = spawn_env_actor(*n.sys, "copy", 4, nullptr);
  ASSERT_TRUE(n.r2->expose("env/copy", env));
  ASSERT_TRUE(n.r1->add_route("env/*", "n2"));
  auto proxy = n.r1->resolve("env/copy");
  ASSERT_TRUE(proxy) << proxy.status().to_string();
  EXPECT_NE(*proxy, env) << "on n1 the name resolves to a proxy";
  auto local = n.r2->resolve("env/copy");
  ASSERT_TRUE(local);
  EXPECT_EQ(*local, env) << "on n2 the name resolves to the actor itself";

  caf::scoped_actor self{*n.sys};
  PromptTicket t{.prompt_id = 17, .task = 0, .task_name = "copy", .level = 1, .seed = 1234, .attempt = 0};
  wire::Bytes prompt;
  self->request(*proxy, 10s, generate_atom_v, t)
      .receive([&](const wire::Bytes& p) { prompt = p; },
               [&](caf::error& e) { ADD_FAILURE() << "generate failed: " << caf::to_string(e); });
  auto p = wire::read<wire::Prompt>(prompt);
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_EQ((*p)->prompt_id(), 17u);
  EXPECT_EQ((*p)->seed(), 1234u);

  // The reference answer of the same case scores 1 through the remote verify; garbage scores 0.
  auto task = envs::find_task("copy");
  ASSERT_TRUE(task);
  auto c = (*task)->generate_level(1234, 1);
  ASSERT_TRUE(c);
  std::vector<RuleVerdict> verdicts;
  self->request(*proxy, 10s, verify_atom_v, (*p)->identity_json()->str(),
                std::vector<std::string>{c->answer, "garbage"})
      .receive([&](const std::vector<RuleVerdict>& v) { verdicts = v; },
               [&](caf::error& e) { ADD_FAILURE() << "verify failed: " << caf::to_string(e); });
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[0].score, 1.0);
  EXPECT_EQ(verdicts[1].score, 0.0);
  caf::anon_send_exit(env, caf::exit_reason::user_shutdown);
}

TEST(RemoteActors, AnswersReachTheSenderByName) {
  TwoNodes n;
  auto refused = std::make_shared<std::atomic<int>>(0);
  caf::actor worker = n.sys->spawn(refuser, refused);
  ASSERT_TRUE(n.r2->expose("policy/0", worker));
  ASSERT_TRUE(n.r1->add_route("policy/*", "n2"));
  ASSERT_TRUE(n.r2->add_route("controller", "n1"));
  caf::scoped_actor controller{*n.sys};
  ASSERT_TRUE(n.r1->expose("controller", caf::actor_cast<caf::actor>(controller)));
  auto proxy = n.r1->resolve("policy/0");
  ASSERT_TRUE(proxy);
  wire::PromptT p;
  p.prompt_id = 5;
  p.task = "copy";
  controller->send(*proxy, prompt_atom_v, wire::pack(p));
  uint64_t lost = 0;
  controller->receive([&](lost_atom, uint64_t id) { lost = id; },
                      caf::after(10s) >> [] { ADD_FAILURE() << "no answer came back to the sender"; });
  EXPECT_EQ(lost, 5u);
  EXPECT_EQ(refused->load(), 1) << "the worker on n2 saw the prompt once";
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST(RemoteActors, CallsToANodeThatWentAwayFailAtOnce) {
  TwoNodes n;
  caf::actor env = spawn_env_actor(*n.sys, "copy", 4, nullptr);
  ASSERT_TRUE(n.r2->expose("env/copy", env));
  ASSERT_TRUE(n.r1->add_route("env/*", "n2"));
  auto proxy = n.r1->resolve("env/copy");
  ASSERT_TRUE(proxy);
  n.drop_n2();
  for (int i = 0; i < 500 && n.g1->transport().is_up("n2"); ++i) std::this_thread::sleep_for(10ms);
  caf::scoped_actor self{*n.sys};
  caf::error failure;
  self->request(*proxy, 60s, generate_atom_v, PromptTicket{.prompt_id = 1, .task_name = "copy", .level = 1})
      .receive([&](const wire::Bytes&) { ADD_FAILURE() << "a reply from a node that is gone"; },
               [&](caf::error& e) { failure = e; });
  // The proxy refused it (receiver down), rather than the caller's own timeout expiring.
  EXPECT_EQ(failure, caf::make_error(caf::sec::request_receiver_down)) << caf::to_string(failure);
  EXPECT_GE(n.r1->stats().calls_failed, 1u);
  caf::anon_send_exit(env, caf::exit_reason::user_shutdown);
}

// Takes generate calls and never answers them (holds the promises).
struct SilentState {
  std::vector<caf::response_promise> held;
};
caf::behavior silent(caf::stateful_actor<SilentState>* self, int) {
  return {[self](generate_atom, const PromptTicket&) -> caf::response_promise {
    self->state.held.push_back(self->make_response_promise());
    return self->state.held.back();
  }};
}

// The proxy keeps its own deadline for calls (no CAF timer per call): one nobody answers fails with
// request_timeout after call_timeout, long before the caller's own; a call into an exposed actor
// that is gone fails with the callee's error; and a request the proxy does not speak is answered
// with an error at once.
TEST(RemoteActors, UnansweredCallsTimeOutAndCallsIntoADeadActorFail) {
  RemoteOptions ro;
  ro.call_timeout = 1500ms;
  TwoNodes n(ro);
  caf::actor quiet = n.sys->spawn(silent, 0);
  caf::actor gone = spawn_env_actor(*n.sys, "copy", 4, nullptr);
  ASSERT_TRUE(n.r2->expose("env/quiet", quiet));
  ASSERT_TRUE(n.r2->expose("env/gone", gone));
  caf::anon_send_exit(gone, caf::exit_reason::kill);
  ASSERT_TRUE(n.r1->add_route("env/*", "n2"));
  auto to_quiet = n.r1->resolve("env/quiet");
  auto to_gone = n.r1->resolve("env/gone");
  ASSERT_TRUE(to_quiet && to_gone);
  caf::scoped_actor self{*n.sys};
  const PromptTicket t{.prompt_id = 1, .task_name = "copy", .level = 1};

  caf::error failure;
  const auto t0 = std::chrono::steady_clock::now();
  self->request(*to_quiet, 30s, generate_atom_v, t)
      .receive([&](const wire::Bytes&) { ADD_FAILURE() << "the silent actor answered"; },
               [&](caf::error& e) { failure = e; });
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(failure, caf::make_error(caf::sec::request_timeout)) << caf::to_string(failure);
  EXPECT_GE(waited, 1400ms);
  EXPECT_LT(waited, 10s) << "the proxy's deadline, not the caller's 30 s";

  for (int i = 0; i < 200; ++i) {  // the exit reaches the env actor asynchronously
    caf::error e;
    self->request(*to_gone, 30s, generate_atom_v, t)
        .receive([&](const wire::Bytes&) {}, [&](caf::error& err) { e = err; });
    failure = e;
    if (failure) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(failure.code(), static_cast<uint8_t>(caf::sec::runtime_error)) << caf::to_string(failure);

  self->request(*to_quiet, 30s, std::string("not the protocol"))
      .receive([&](const std::string&) { ADD_FAILURE() << "answered a message it does not speak"; },
               [&](caf::error& e) { failure = e; });
  EXPECT_EQ(failure, caf::make_error(caf::sec::unexpected_message)) << caf::to_string(failure);
  EXPECT_GE(n.r1->stats().calls_failed, 2u);
  caf::anon_send_exit(quiet, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace troupe::actors
