// Typed proxies and ingress actors behind actors/remote.hpp.
//
// Why a proxy per remote name and an ingress per exposed name: actor code holds caf::actor
// handles and uses request/then, current_sender() and monitors; a proxy answers a request with a
// response promise it fulfils when the reply crosses back, and an ingress sends into the local
// actor *as* the proxy of the remote sender, so current_sender() names something that can be
// answered. Every body is verified by remote::decode before any actor sees it.
#include "actors/remote.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/make_actor.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "actors/messages.hpp"
#include "actors/remote_codec.hpp"
#include "actors/shutdown.hpp"
#include "monitoring/metrics.hpp"
#include "wire/hop_trace.hpp"

namespace troupe::actors {

using namespace troupe::atoms;

namespace {
const std::string kLocalPeer = "local";  // the peer label of messages that stay in this process
}  // namespace

struct RemoteActors::Impl {
  caf::actor_system& system;
  Gateway& gateway;
  monitoring::Metrics* metrics;
  RemoteOptions options;

  std::mutex mu;
  std::map<caf::actor_addr, std::string> names;  // exposed local actors: address -> name
  std::map<std::string, caf::actor> ingresses;    // exposed name -> its ingress
  struct ProxyEntry {
    std::string node;
    caf::actor proxy;
  };
  std::map<std::string, ProxyEntry> proxies;      // remote name -> proxy
  caf::actor watcher;

  std::atomic<uint64_t> sent{0}, received{0}, invalid{0}, calls_failed{0};

  Impl(caf::actor_system& sys, Gateway& gw, monitoring::Metrics* m, RemoteOptions o)
      : system(sys), gateway(gw), metrics(m), options(o) {}

  std::string name_of(const caf::strong_actor_ptr& sender) {
    if (!sender) return {};
    std::lock_guard lk(mu);
    auto it = names.find(caf::actor_cast<caf::actor_addr>(sender));
    return it == names.end() ? std::string() : it->second;
  }

  // Hands `payload` to the gateway for `dst` (a name some route covers). False when nothing routes
  // it or its node is not connected now (a call then fails at once instead of waiting it out).
  bool send(const std::string& dst, const std::string& src, wire::Bytes payload) {
    auto where = gateway.locate(dst);
    if (!where) {
      std::fprintf(stderr, "[troupe remote %s] cannot send to \"%s\": %s\n", gateway.node().c_str(), dst.c_str(),
                   where.status().message().c_str());
      return false;
    }
    if (!where->local) return send_remote(where->node, dst, src, std::move(payload));
    auto local = gateway.resolve(dst);
    if (!local) return false;
    count_sent(kLocalPeer, payload.size());
    caf::anon_send(*local, WireMessage{dst, src, wire::MessageKind::kActor, std::move(payload), {}});
    ++sent;
    return true;
  }

  // As `send`, to a name on `node` (known to the caller: a proxy's target, the node a call came
  // from): no directory lookup, and straight to the transport on this thread (no proxy or
  // gateway-actor hop on the way out).
  bool send_remote(const std::string& node, const std::string& dst, const std::string& src, const wire::Bytes& payload) {
    if (!gateway.send_to(node, dst, src, wire::MessageKind::kActor, payload)) return false;
    count_sent(node, payload.size());
    ++sent;
    return true;
  }

  void count_sent(const std::string& peer, size_t bytes) {
    if (!metrics) return;
    metrics->messages.Add({{"peer", peer}, {"direction", "sent"}}).Increment();
    metrics->message_bytes.Add({{"peer", peer}, {"direction", "sent"}}).Increment(static_cast<double>(bytes));
  }

  void count_received(const WireMessage& m) {
    ++received;
    if (!metrics) return;
    const std::string peer = m.peer.empty() ? std::string("local") : m.peer;
    metrics->messages.Add({{"peer", peer}, {"direction", "received"}}).Increment();
    metrics->message_bytes.Add({{"peer", peer}, {"direction", "received"}})
        .Increment(static_cast<double>(m.payload.size()));
  }

  void count_invalid(const std::string& what, const Status& s) {
    if (invalid.fetch_add(1) < 5) {
      std::fprintf(stderr, "[troupe remote %s] dropped an invalid message %s: %s\n", gateway.node().c_str(),
                   what.c_str(), s.message().c_str());
    }
    if (metrics) metrics->messages_invalid.Add({{"reason", "verify_failed"}}).Increment();
  }

  Result<caf::actor> resolve(const std::string& name, const std::shared_ptr<Impl>& self);
};

namespace {

using namespace troupe::actors::remote;

// ---------------------------------------------------------------------------------------------
// Direct actors. A proxy and an ingress are CAF actors that are never scheduled: their enqueue
// does the work on the sending thread (the caller's, or the transport's progress thread). A
// scheduled actor in either place cost two actor runs per call on each side (message in, reply
// out), each a mailbox round with its own allocations and behaviour match: of a ~4.5 us round trip
// between processes, ~1.8 us per side went to such runs (perf, 600,000 calls). So a call now runs
// one actor per side: the caller, and the callee.
//
// Both keep their state under a mutex (enqueue may come from any thread) and never call into
// another actor while holding it. They answer requests as CAF does (a response message, or an
// error, to the sender under the request's response id) and terminate on an exit message (pending
// calls then fail; monitors get their down message).
class DirectActor : public caf::monitorable_actor {
 public:
  explicit DirectActor(caf::actor_config& cfg) : caf::monitorable_actor(cfg) {}

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override {
    if (!what) return;
    caf::type_erased_tuple& content = what->content();
    if (content.match_elements<caf::exit_msg>()) return close(content.get_as<caf::exit_msg>(0).reason, host);
    // Counted before the check, so close() (flag first, then wait for the count) either sees this
    // call or this call sees the flag: nothing runs on state on_close released.
    busy_.fetch_add(1);
    if (closed_.load()) {
      busy_.fetch_sub(1);
      return bounce(what);
    }
    handle(*what, host);
    busy_.fetch_sub(1);
  }

  void on_destroy() override {  // nobody holds a reference: no call is running
    if (!closed_.exchange(true)) {
      dying_ = true;  // answers from on_close carry no sender: a strong reference now would revive us
      on_close();
      cleanup(caf::make_error(caf::exit_reason::unreachable), nullptr);
    }
    caf::monitorable_actor::on_destroy();
  }

 protected:
  virtual void handle(caf::mailbox_element& m, caf::execution_unit* host) = 0;
  // Fails what waits and drops what the actor holds (the Impl and the target hold it in turn, and
  // the cycle would keep every one of them, and a detached target's thread, alive). Called once, with
  // no call running, before monitors are told.
  virtual void on_close() = 0;

  caf::strong_actor_ptr self_ptr() { return dying_ ? nullptr : caf::strong_actor_ptr{ctrl()}; }

  // Answers request `m` (no-op for a message that is not one) with `result`.
  void respond(const caf::strong_actor_ptr& to, caf::message_id mid, caf::message result, caf::execution_unit* host) {
    if (!to || !mid.is_request()) return;
    to->enqueue(caf::make_mailbox_element(self_ptr(), mid.response_id(), {}, std::move(result)), host);
  }

 private:
  void close(const caf::error& reason, caf::execution_unit* host) {
    if (closed_.exchange(true)) return;
    while (busy_.load() != 0) std::this_thread::yield();
    on_close();
    cleanup(caf::error(reason), host);
  }

  std::atomic<bool> closed_{false};
  bool dying_ = false;  // in on_destroy
  std::atomic<int> busy_{0};  // enqueue calls running handle()
};

// ---------------------------------------------------------------------------------------------
// Proxy: stands for the remote actor `target` on node `node`.

enum class CallKind { kGenerate, kVerify, kBatch };

class RemoteProxy final : public DirectActor {
 public:
  RemoteProxy(caf::actor_config& cfg, std::shared_ptr<RemoteActors::Impl> impl, std::string target, std::string node)
      : DirectActor(cfg),
        impl_(std::move(impl)),
        target_(std::move(target)),
        node_(std::move(node)),
        reply_name_("~" + impl_->gateway.node() + "/" + target_) {}

  const char* name() const override { return "remote_proxy"; }

 protected:
  void handle(caf::mailbox_element& m, caf::execution_unit* host) override {
    caf::type_erased_tuple& c = m.content();
    if (c.match_elements<WireMessage>()) return on_reply(c.get_as<WireMessage>(0), host);
    if (c.match_elements<generate_atom, PromptTicket>()) {
      return call(m, CallKind::kGenerate, [&](uint64_t id) { return generate_call(id, c.get_as<PromptTicket>(1)); },
                  host);
    }
    if (c.match_elements<verify_atom, std::string, std::vector<std::string>>()) {
      return call(
          m, CallKind::kVerify,
          [&](uint64_t id) {
            return verify_call(id, VerifyArgs{c.get_as<std::string>(1), c.get_as<std::vector<std::string>>(2)});
          },
          host);
    }
    if (c.match_elements<batch_atom, BatchAsk>()) {
      return call(
          m, CallKind::kBatch,
          [&](uint64_t id) {
            const auto& a = c.get_as<BatchAsk>(1);
            return batch_call(id, BatchArgs{a.learner_version, a.min_version, a.max_rollouts, a.group_size});
          },
          host);
    }
    if (c.match_elements<prompt_atom, wire::Bytes>()) return notify(m, prompt_note(0, c.get_as<wire::Bytes>(1)));
    if (c.match_elements<group_atom, wire::Bytes, BytesList>()) {
      return notify(m, rollout_group(c.get_as<wire::Bytes>(1), c.get_as<BytesList>(2)));
    }
    if (c.match_elements<scored_atom, BytesList>()) return notify(m, scored_group(c.get_as<BytesList>(1)));
    if (c.match_elements<done_atom, uint64_t, std::vector<int>>()) {
      return notify(m, prompt_done(c.get_as<uint64_t>(1), c.get_as<std::vector<int>>(2)));
    }
    if (c.match_elements<lost_atom, uint64_t>()) return notify(m, prompt_lost(c.get_as<uint64_t>(1)));
    if (c.match_elements<weights_atom, uint64_t>()) return notify(m, version_note(c.get_as<uint64_t>(1)));
    if (c.match_elements<peer_atom, std::string, bool>()) {
      if (!c.get_as<bool>(2) && c.get_as<std::string>(1) == node_) fail_all("node " + node_ + " is down", host);
      return;
    }
    if (c.match_elements<tick_atom>()) return expire(host);
    if (c.match_elements<caf::down_msg>() || c.match_elements<caf::error>()) return;
    respond(m.sender, m.mid, caf::make_message(caf::make_error(caf::sec::unexpected_message)), host);
  }

  void on_close() override {
    fail_all(target_ + "'s proxy stopped", nullptr);
    impl_.reset();
  }

 private:
  struct Pending {
    caf::strong_actor_ptr caller;
    caf::message_id mid;
    CallKind kind;
    std::chrono::steady_clock::time_point deadline;
  };

  void fail(const Pending& p, caf::sec code, const std::string& why, caf::execution_unit* host) {
    ++impl_->calls_failed;
    respond(p.caller, p.mid, caf::make_message(caf::make_error(code, why)), host);
  }

  void call(caf::mailbox_element& m, CallKind kind, const std::function<wire::Bytes(uint64_t)>& encode,
            caf::execution_unit* host) {
    TROUPE_HOP(kProxyCall);
    uint64_t id = 0;
    size_t waiting = 0;
    {
      // Registered before the send: the reply may arrive on the progress thread before send returns.
      std::lock_guard lk(mu_);
      waiting = pending_.size();
      if (waiting < impl_->options.max_pending_calls) {
        id = next_id_++;
        pending_.emplace(id, Pending{m.sender, m.mid, kind,
                                     std::chrono::steady_clock::now() + impl_->options.call_timeout});
      }
    }
    if (id == 0) {
      ++impl_->calls_failed;
      return respond(m.sender, m.mid,
                     caf::make_message(caf::make_error(caf::sec::request_timeout,
                                                       "too many calls to " + target_ + " wait for replies (" +
                                                           std::to_string(waiting) + ")")),
                     host);
    }
    TROUPE_HOP(kProxyEncoded);
    const bool sent_ok = impl_->send_remote(node_, target_, reply_name_, encode(id));
    TROUPE_HOP(kProxyCallSent);
    if (!sent_ok) {
      Pending p;
      {
        std::lock_guard lk(mu_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return;  // already answered or failed
        p = std::move(it->second);
        pending_.erase(it);
      }
      fail(p, caf::sec::request_receiver_down, target_ + " is unreachable now", host);
    }
  }

  void notify(caf::mailbox_element& m, wire::Bytes payload) {
    impl_->send_remote(node_, target_, impl_->name_of(m.sender), std::move(payload));
  }

  void on_reply(const WireMessage& msg, caf::execution_unit* host) {
    TROUPE_HOP(kProxyReply);
    impl_->count_received(msg);
    auto d = decode(msg.payload, msg.peer.empty() ? Trust::kVerify : Trust::kTransportVerified);
    TROUPE_HOP(kProxyDecoded);
    if (!d) return impl_->count_invalid("from " + msg.src, d.status());
    Pending p;
    {
      std::lock_guard lk(mu_);
      auto it = d->in_reply_to == 0 ? pending_.end() : pending_.find(d->in_reply_to);
      if (it == pending_.end()) return;  // late: the call already failed
      p = std::move(it->second);
      pending_.erase(it);
    }
    if (auto* f = std::get_if<FailedArgs>(&d->body)) {
      return fail(p, caf::sec::runtime_error, target_ + ": " + f->error, host);
    }
    if (p.kind == CallKind::kGenerate) {
      if (auto* a = std::get_if<PromptArg>(&d->body)) {
        return respond(p.caller, p.mid, caf::make_message(std::move(a->prompt)), host);
      }
    } else if (p.kind == CallKind::kVerify) {
      if (auto* v = std::get_if<std::vector<RuleVerdict>>(&d->body)) {
        return respond(p.caller, p.mid, caf::make_message(std::move(*v)), host);
      }
    } else if (auto* b = std::get_if<BatchReplyArgs>(&d->body)) {
      return respond(p.caller, p.mid, caf::make_message(BytesList(std::move(b->rollouts))), host);
    }
    impl_->count_invalid("from " + msg.src,
                         Status::corruption(std::string("a ") + body_name(d->body) + " does not answer this call"));
    fail(p, caf::sec::unexpected_response, std::string("unexpected ") + body_name(d->body), host);
  }

  void fail_all(const std::string& why, caf::execution_unit* host) {
    std::map<uint64_t, Pending> calls;
    {
      std::lock_guard lk(mu_);
      calls.swap(pending_);
    }
    for (auto& [_, p] : calls) fail(p, caf::sec::request_receiver_down, why, host);
  }

  void expire(caf::execution_unit* host) {
    std::vector<Pending> late;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lk(mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
          late.push_back(std::move(it->second));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : late) fail(p, caf::sec::request_timeout, target_ + " did not answer in time", host);
  }

  std::shared_ptr<RemoteActors::Impl> impl_;
  const std::string target_, node_, reply_name_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
};

// ---------------------------------------------------------------------------------------------
// Ingress: receives what remote actors send `name` and hands it to the local `target`.
//
// Calls into the local actor carry no timeout: the remote caller's proxy enforces its own
// (call_timeout), and a CAF request timeout costs two wake-ups of CAF's clock thread per call (arm
// and cancel: each a futex wake of another thread, measured ~2-5 us per call on this 2-core VM). A
// local actor that dies fails the call at once (CAF bounces the request to us); one that never
// answers holds at most max_pending_calls of them, after which new calls fail at once.

class Ingress final : public DirectActor {
 public:
  Ingress(caf::actor_config& cfg, std::shared_ptr<RemoteActors::Impl> impl, std::string name, caf::actor target)
      : DirectActor(cfg), impl_(std::move(impl)), name_(std::move(name)), target_(std::move(target)) {}

  const char* name() const override { return "remote_ingress"; }

 protected:
  void handle(caf::mailbox_element& m, caf::execution_unit* host) override {
    if (m.mid.is_response()) return on_answer(m);
    caf::type_erased_tuple& c = m.content();
    if (c.match_elements<WireMessage>()) return on_message(c.get_as<WireMessage>(0), host);
  }

  void on_close() override {
    calls_.clear();  // their callers' proxies time out or see the node go down
    impl_.reset();
    target_ = nullptr;
  }

 private:
  struct Call {
    std::string from;       // the remote caller's reply name
    std::string node;       // the node it came from; empty for a caller in this process
    uint64_t remote_id = 0;  // its request id
    CallKind kind;
  };

  void reply(const std::string& to, wire::Bytes payload) {
    if (!to.empty()) impl_->send(to, name_, std::move(payload));
  }
  // The answer to a call goes back to the node it came from ("~<node>/..." names route there).
  void reply(const Call& call, wire::Bytes payload) {
    if (call.node.empty()) return reply(call.from, std::move(payload));
    impl_->send_remote(call.node, call.from, name_, std::move(payload));
    TROUPE_HOP(kIngressReplied);
  }

  // A notification, sent to the target as if from the remote sender's proxy (so it can answer).
  template <class... Ts>
  void deliver_as(const std::string& from, Ts&&... xs) {
    caf::strong_actor_ptr sender;
    if (!from.empty()) {
      if (auto p = impl_->resolve(from, impl_)) sender = caf::actor_cast<caf::strong_actor_ptr>(*p);
    }
    // To the scheduler, as before: a notification may start heavy work (the replay store's append).
    target_->enqueue(std::move(sender), caf::make_message_id(), caf::make_message(std::forward<Ts>(xs)...), nullptr);
  }

  // A call: a request to the target, answered to us (on_answer) on the target's thread.
  template <class... Ts>
  void request(const std::string& from, const std::string& node, uint64_t remote_id, CallKind kind,
               caf::execution_unit* host, Ts&&... xs) {
    uint64_t local = 0;
    size_t waiting = 0;
    {
      std::lock_guard lk(mu_);
      waiting = calls_.size();
      if (waiting < impl_->options.max_pending_calls) {
        local = next_id_++;
        calls_.emplace(local, Call{from, node, remote_id, kind});
      }
    }
    if (local == 0) {
      ++impl_->calls_failed;
      return reply(from, call_failed(remote_id, "too many calls to " + name_ + " wait for replies (" +
                                                    std::to_string(waiting) + ")"));
    }
    target_->enqueue(caf::make_mailbox_element(self_ptr(), caf::make_message_id(local), {}, std::forward<Ts>(xs)...),
                     host);
  }

  void on_answer(caf::mailbox_element& m) {
    TROUPE_HOP(kIngressAnswer);
    Call call;
    {
      std::lock_guard lk(mu_);
      auto it = calls_.find(m.mid.request_id().integer_value());
      if (it == calls_.end()) return;
      call = std::move(it->second);
      calls_.erase(it);
    }
    caf::type_erased_tuple& c = m.content();
    if (c.match_elements<caf::error>()) {
      return reply(call, call_failed(call.remote_id, caf::to_string(c.get_as<caf::error>(0))));
    }
    if (call.kind == CallKind::kGenerate && c.match_elements<wire::Bytes>()) {
      return reply(call, prompt_note(call.remote_id, c.get_as<wire::Bytes>(0)));
    }
    if (call.kind == CallKind::kVerify && c.match_elements<std::vector<RuleVerdict>>()) {
      return reply(call, verify_reply(call.remote_id, c.get_as<std::vector<RuleVerdict>>(0)));
    }
    if (call.kind == CallKind::kBatch && c.match_elements<BytesList>()) {
      return reply(call, batch_reply(call.remote_id, c.get_as<BytesList>(0)));
    }
    reply(call, call_failed(call.remote_id, name_ + " answered with an unexpected message"));
  }

  void on_message(const WireMessage& m, caf::execution_unit* host) {
    TROUPE_HOP(kIngressCall);
    impl_->count_received(m);
    auto d = decode(m.payload, m.peer.empty() ? Trust::kVerify : Trust::kTransportVerified);
    TROUPE_HOP(kIngressDecoded);
    if (!d) return impl_->count_invalid("for " + name_ + " from " + m.src, d.status());
    const uint64_t id = d->request_id;
    const std::string& from = m.src;
    std::visit(
        [&](auto& body) {
          using B = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<B, PromptTicket>) {
            request(from, m.peer, id, CallKind::kGenerate, host, generate_atom_v, body);
          } else if constexpr (std::is_same_v<B, VerifyArgs>) {
            request(from, m.peer, id, CallKind::kVerify, host, verify_atom_v, std::move(body.identity_json),
                    std::move(body.responses));
          } else if constexpr (std::is_same_v<B, BatchArgs>) {
            request(from, m.peer, id, CallKind::kBatch, host, batch_atom_v,
                    BatchAsk{body.learner_version, body.min_version, static_cast<size_t>(body.max_rollouts),
                             body.group_size});
          } else if constexpr (std::is_same_v<B, PromptArg>) {
            deliver_as(from, prompt_atom_v, std::move(body.prompt));
          } else if constexpr (std::is_same_v<B, GroupArgs>) {
            deliver_as(from, group_atom_v, std::move(body.prompt), BytesList(std::move(body.rollouts)));
          } else if constexpr (std::is_same_v<B, ScoredArgs>) {
            deliver_as(from, scored_atom_v, BytesList(std::move(body.rollouts)));
          } else if constexpr (std::is_same_v<B, DoneArgs>) {
            deliver_as(from, done_atom_v, body.prompt_id, std::move(body.passed));
          } else if constexpr (std::is_same_v<B, LostArgs>) {
            deliver_as(from, lost_atom_v, body.prompt_id);
          } else if constexpr (std::is_same_v<B, VersionArgs>) {
            deliver_as(from, weights_atom_v, body.version);
          } else {
            impl_->count_invalid("for " + name_ + " from " + from,
                                 Status::corruption(std::string("a ") + body_name(d->body) +
                                                    " is a reply, not something an actor is sent"));
          }
        },
        d->body);
  }

  std::shared_ptr<RemoteActors::Impl> impl_;
  const std::string name_;
  caf::actor target_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Call> calls_;  // calls into target_ not answered yet, by our request id
};

template <class T, class... Ts>
caf::actor make_direct(caf::actor_system& sys, Ts&&... xs) {
  caf::actor_config cfg;
  return caf::make_actor<T, caf::actor>(sys.next_actor_id(), sys.node(), &sys, cfg, std::forward<Ts>(xs)...);
}

// ---------------------------------------------------------------------------------------------
// Watcher: peer events from the gateway -> reply routes and proxies' failures; and once a second, a
// tick that fails proxies' calls past their deadline.

caf::behavior watcher_behavior(caf::event_based_actor* self, std::shared_ptr<RemoteActors::Impl> impl) {
  self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
  return {
      [impl](peer_atom, const std::string& node, bool up) {
        if (up) {
          impl->gateway.add_route("~" + node + "/*", node).ignore();
          return;
        }
        std::vector<caf::actor> on_node;
        {
          std::lock_guard lk(impl->mu);
          for (auto& [_, p] : impl->proxies) {
            if (p.node == node) on_node.push_back(p.proxy);
          }
        }
        for (auto& p : on_node) caf::anon_send(p, peer_atom::value, node, false);
      },
      [self, impl](tick_atom) {
        std::vector<caf::actor> all;
        {
          std::lock_guard lk(impl->mu);
          for (auto& [_, p] : impl->proxies) all.push_back(p.proxy);
        }
        for (auto& p : all) caf::anon_send(p, tick_atom_v);
        self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
      },
  };
}

}  // namespace

Result<caf::actor> RemoteActors::Impl::resolve(const std::string& name, const std::shared_ptr<Impl>& self) {
  auto where = gateway.locate(name);
  if (!where) return where.status();
  if (where->local) {
    std::lock_guard lk(mu);
    for (auto& [addr, n] : names) {
      if (n == name) {
        auto a = caf::actor_cast<caf::actor>(addr);
        if (a) return a;
      }
    }
    return gateway.resolve(name);  // registered with the gateway by someone else
  }
  std::lock_guard lk(mu);
  auto it = proxies.find(name);
  if (it != proxies.end() && it->second.node == where->node) return it->second.proxy;
  caf::actor p = make_direct<RemoteProxy>(system, self, name, where->node);
  // The proxy's replies come back under "~<this node>/<name>" (every peer routes "~<us>/*" to us).
  const std::string reply_name = "~" + gateway.node() + "/" + name;
  gateway.unregister_local(reply_name);  // a proxy for the name's previous node, if it moved
  TROUPE_RETURN_IF_ERROR(gateway.register_local(reply_name, p));
  if (it != proxies.end()) caf::anon_send_exit(it->second.proxy, caf::exit_reason::user_shutdown);
  proxies[name] = ProxyEntry{where->node, p};
  return p;
}

RemoteActors::RemoteActors(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RemoteActors::~RemoteActors() {
  std::vector<caf::actor> ours;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [name, i] : impl_->ingresses) {
      impl_->gateway.unregister_local(name);
      ours.push_back(i);
    }
    for (auto& [name, p] : impl_->proxies) {
      impl_->gateway.unregister_local("~" + impl_->gateway.node() + "/" + name);
      ours.push_back(p.proxy);
    }
    ours.push_back(impl_->watcher);
  }
  // Proxies and ingresses use the gateway for what is already in their mailboxes; the gateway (owned
  // by the caller) must outlive them, so they are gone before this returns.
  stop_and_wait(impl_->system, ours, std::chrono::seconds(10), "remote actors");
}

Result<std::unique_ptr<RemoteActors>> RemoteActors::create(caf::actor_system& system, Gateway& gateway,
                                                           monitoring::Metrics* metrics, RemoteOptions options) {
  auto impl = std::make_shared<Impl>(system, gateway, metrics, options);
  impl->watcher = system.spawn(watcher_behavior, impl);
  gateway.subscribe(impl->watcher);
  return std::unique_ptr<RemoteActors>(new RemoteActors(std::move(impl)));
}

Result<std::string> RemoteActors::connect_peer(const std::string& host, uint16_t port) {
  auto node = impl_->gateway.connect(host, port);
  if (!node) return node.status();
  TROUPE_RETURN_IF_ERROR(impl_->gateway.add_route("~" + *node + "/*", *node));
  return node;
}

Status RemoteActors::add_route(const std::string& pattern, const std::string& node) {
  return impl_->gateway.add_route(pattern, node);
}

Status RemoteActors::accept_peer(const std::string& node) { return impl_->gateway.add_route("~" + node + "/*", node); }

Status RemoteActors::expose(const std::string& name, const caf::actor& actor) {
  if (!actor) return Status::invalid_argument("cannot expose \"" + name + "\": no actor");
  caf::actor ingress = make_direct<Ingress>(impl_->system, impl_, name, actor);
  Status s = impl_->gateway.register_local(name, ingress);
  if (!s) {
    caf::anon_send_exit(ingress, caf::exit_reason::user_shutdown);
    return s;
  }
  std::lock_guard lk(impl_->mu);
  impl_->names[actor.address()] = name;
  auto old = impl_->ingresses.find(name);
  if (old != impl_->ingresses.end()) caf::anon_send_exit(old->second, caf::exit_reason::user_shutdown);
  impl_->ingresses[name] = ingress;
  return Status::ok();
}

void RemoteActors::withdraw(const std::string& name) {
  impl_->gateway.unregister_local(name);
  std::lock_guard lk(impl_->mu);
  for (auto it = impl_->names.begin(); it != impl_->names.end();) {
    it = it->second == name ? impl_->names.erase(it) : std::next(it);
  }
  auto it = impl_->ingresses.find(name);
  if (it != impl_->ingresses.end()) {
    caf::anon_send_exit(it->second, caf::exit_reason::user_shutdown);
    impl_->ingresses.erase(it);
  }
}

Result<caf::actor> RemoteActors::resolve(const std::string& name) { return impl_->resolve(name, impl_); }

RemoteStats RemoteActors::stats() const {
  return {impl_->sent.load(), impl_->received.load(), impl_->invalid.load(), impl_->calls_failed.load()};
}

Gateway& RemoteActors::gateway() { return impl_->gateway; }

}  // namespace troupe::actors
