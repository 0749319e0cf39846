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
#include <caf/stateful_actor.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>

#include "actors/messages.hpp"
#include "actors/remote_codec.hpp"
#include "actors/shutdown.hpp"
#include "monitoring/metrics.hpp"

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
    if (!where->local && !gateway.transport().is_up(where->node)) return false;
    if (metrics) {
      const std::string& peer = where->local ? kLocalPeer : where->node;
      metrics->messages.Add({{"peer", peer}, {"direction", "sent"}}).Increment();
      metrics->message_bytes.Add({{"peer", peer}, {"direction", "sent"}}).Increment(static_cast<double>(payload.size()));
    }
    WireMessage m{dst, src, wire::MessageKind::kActor, std::move(payload), {}};
    if (where->local) {
      auto local = gateway.resolve(dst);
      if (!local) return false;
      caf::anon_send(*local, std::move(m));
    } else {
      // Straight to the transport on this thread: no proxy or gateway-actor hop on the way out.
      gateway.send(where->node, std::move(m));
    }
    ++sent;
    return true;
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
// Proxy: stands for the remote actor `target` on node `node`.

enum class CallKind { kGenerate, kVerify, kBatch };

struct PendingCall {
  caf::response_promise promise;
  CallKind kind;
  std::chrono::steady_clock::time_point deadline;
};

struct ProxyState {
  std::shared_ptr<RemoteActors::Impl> impl;
  std::string target, node, reply_name;
  uint64_t next_id = 1;
  std::map<uint64_t, PendingCall> pending;
  bool ticking = false;
};

using ProxyActor = caf::stateful_actor<ProxyState>;

void fail(ProxyState& st, PendingCall& call, caf::sec code, const std::string& why) {
  ++st.impl->calls_failed;
  call.promise.deliver(caf::make_error(code, why));
}

void schedule_tick(ProxyActor* self) {
  if (self->state.ticking || self->state.pending.empty()) return;
  self->state.ticking = true;
  self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
}

caf::response_promise call(ProxyActor* self, CallKind kind, const std::function<wire::Bytes(uint64_t)>& encode) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (st.pending.size() >= st.impl->options.max_pending_calls) {
    ++st.impl->calls_failed;
    rp.deliver(caf::make_error(caf::sec::request_timeout,
                               "too many calls to " + st.target + " wait for replies (" +
                                   std::to_string(st.pending.size()) + ")"));
    return rp;
  }
  const uint64_t id = st.next_id++;
  if (!st.impl->send(st.target, st.reply_name, encode(id))) {
    ++st.impl->calls_failed;
    rp.deliver(caf::make_error(caf::sec::request_receiver_down, st.target + " is unreachable now"));
    return rp;
  }
  st.pending.emplace(id, PendingCall{rp, kind, std::chrono::steady_clock::now() + st.impl->options.call_timeout});
  schedule_tick(self);
  return rp;
}

void notify(ProxyActor* self, wire::Bytes payload) {
  auto& st = self->state;
  st.impl->send(st.target, st.impl->name_of(self->current_sender()), std::move(payload));
}

void on_reply(ProxyActor* self, const WireMessage& m) {
  auto& st = self->state;
  st.impl->count_received(m);
  auto d = decode(m.payload);
  if (!d) return st.impl->count_invalid("from " + m.src, d.status());
  auto it = st.pending.find(d->in_reply_to);
  if (d->in_reply_to == 0 || it == st.pending.end()) return;  // late: the call already failed
  PendingCall call = std::move(it->second);
  st.pending.erase(it);
  if (auto* f = std::get_if<FailedArgs>(&d->body)) {
    return fail(st, call, caf::sec::runtime_error, st.target + ": " + f->error);
  }
  if (call.kind == CallKind::kGenerate) {
    if (auto* p = std::get_if<PromptArg>(&d->body)) return call.promise.deliver(std::move(p->prompt));
  } else if (call.kind == CallKind::kVerify) {
    if (auto* v = std::get_if<std::vector<RuleVerdict>>(&d->body)) return call.promise.deliver(std::move(*v));
  } else if (auto* b = std::get_if<BatchReplyArgs>(&d->body)) {
    return call.promise.deliver(BytesList(std::move(b->rollouts)));
  }
  st.impl->count_invalid("from " + m.src, Status::corruption(std::string("a ") + body_name(d->body) +
                                                                 " does not answer this call"));
  fail(st, call, caf::sec::unexpected_response, std::string("unexpected ") + body_name(d->body));
}

caf::behavior proxy_behavior(ProxyActor* self, std::shared_ptr<RemoteActors::Impl> impl, std::string target,
                             std::string node) {
  auto& st = self->state;
  st.impl = std::move(impl);
  st.target = std::move(target);
  st.node = std::move(node);
  st.reply_name = "~" + st.impl->gateway.node() + "/" + st.target;
  return {
      [self](generate_atom, const PromptTicket& t) {
        return call(self, CallKind::kGenerate, [&t](uint64_t id) { return generate_call(id, t); });
      },
      [self](verify_atom, const std::string& identity, const std::vector<std::string>& texts) {
        return call(self, CallKind::kVerify,
                    [&](uint64_t id) { return verify_call(id, VerifyArgs{identity, texts}); });
      },
      [self](batch_atom, const BatchAsk& a) {
        return call(self, CallKind::kBatch, [&a](uint64_t id) {
          return batch_call(id, BatchArgs{a.learner_version, a.min_version, a.max_rollouts, a.group_size});
        });
      },
      [self](prompt_atom, const wire::Bytes& p) { notify(self, prompt_note(0, p)); },
      [self](group_atom, const wire::Bytes& p, const BytesList& rs) { notify(self, rollout_group(p, rs)); },
      [self](scored_atom, const BytesList& rs) { notify(self, scored_group(rs)); },
      [self](done_atom, uint64_t id, const std::vector<int>& passed) { notify(self, prompt_done(id, passed)); },
      [self](lost_atom, uint64_t id) { notify(self, prompt_lost(id)); },
      [self](weights_atom, uint64_t version) { notify(self, version_note(version)); },
      [self](const WireMessage& m) { on_reply(self, m); },
      [self](peer_atom, const std::string& peer, bool up) {
        auto& s = self->state;
        if (up || peer != s.node) return;
        auto calls = std::move(s.pending);
        s.pending.clear();
        for (auto& [_, c] : calls) fail(s, c, caf::sec::request_receiver_down, "node " + peer + " is down");
      },
      [self](tick_atom) {
        auto& s = self->state;
        s.ticking = false;
        const auto now = std::chrono::steady_clock::now();
        for (auto it = s.pending.begin(); it != s.pending.end();) {
          if (it->second.deadline <= now) {
            fail(s, it->second, caf::sec::request_timeout, s.target + " did not answer in time");
            it = s.pending.erase(it);
          } else {
            ++it;
          }
        }
        schedule_tick(self);
      },
  };
}

// ---------------------------------------------------------------------------------------------
// Ingress: receives what remote actors send `name` and hands it to the local `target`.

struct IngressState {
  std::shared_ptr<RemoteActors::Impl> impl;
  std::string name;
  caf::actor target;
  size_t calls = 0;  // calls into `target` not answered yet
};

using IngressActor = caf::stateful_actor<IngressState>;

// Calls into the local actor carry no timeout: the remote caller's proxy enforces its own
// (call_timeout), and a CAF request timeout costs two wake-ups of CAF's clock thread per call (arm
// and cancel: each a futex wake of another thread, measured ~2-5 us per call on this 2-core VM). A
// local actor that dies fails the call at once; one that never answers holds at most
// max_pending_calls of them, after which new calls fail at once.

void reply(IngressActor* self, const std::string& to, wire::Bytes payload) {
  if (to.empty()) return;
  self->state.impl->send(to, self->state.name, std::move(payload));
}

template <class... Ts>
void deliver_as(IngressActor* self, const std::string& from, Ts&&... xs) {
  auto& st = self->state;
  if (!from.empty()) {
    if (auto p = st.impl->resolve(from, st.impl)) {
      caf::send_as(*p, st.target, std::forward<Ts>(xs)...);
      return;
    }
  }
  caf::anon_send(st.target, std::forward<Ts>(xs)...);
}

void on_ingress(IngressActor* self, const WireMessage& m) {
  auto& st = self->state;
  st.impl->count_received(m);
  auto d = decode(m.payload);
  if (!d) return st.impl->count_invalid("for " + st.name + " from " + m.src, d.status());
  const uint64_t id = d->request_id;
  const std::string from = m.src;
  auto failed = [self, from, id](caf::error& e) {
    --self->state.calls;
    reply(self, from, call_failed(id, caf::to_string(e)));
  };
  const bool is_call = std::holds_alternative<PromptTicket>(d->body) || std::holds_alternative<VerifyArgs>(d->body) ||
                       std::holds_alternative<BatchArgs>(d->body);
  if (is_call) {
    if (st.calls >= st.impl->options.max_pending_calls) {
      ++st.impl->calls_failed;
      return reply(self, from, call_failed(id, "too many calls to " + st.name + " wait for replies (" +
                                                   std::to_string(st.calls) + ")"));
    }
    ++st.calls;
  }
  std::visit(
      [&](auto& body) {
        using B = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<B, PromptTicket>) {
          self->request(st.target, caf::infinite, generate_atom_v, body)
              .then(
                  [self, from, id](const wire::Bytes& p) {
                    --self->state.calls;
                    reply(self, from, prompt_note(id, p));
                  },
                  failed);
        } else if constexpr (std::is_same_v<B, VerifyArgs>) {
          self->request(st.target, caf::infinite, verify_atom_v, body.identity_json, body.responses)
              .then(
                  [self, from, id](const std::vector<RuleVerdict>& v) {
                    --self->state.calls;
                    reply(self, from, verify_reply(id, v));
                  },
                  failed);
        } else if constexpr (std::is_same_v<B, BatchArgs>) {
          BatchAsk ask{body.learner_version, body.min_version, static_cast<size_t>(body.max_rollouts), body.group_size};
          self->request(st.target, caf::infinite, batch_atom_v, ask)
              .then(
                  [self, from, id](const BytesList& rs) {
                    --self->state.calls;
                    reply(self, from, batch_reply(id, rs));
                  },
                  failed);
        } else if constexpr (std::is_same_v<B, PromptArg>) {
          deliver_as(self, from, prompt_atom_v, std::move(body.prompt));
        } else if constexpr (std::is_same_v<B, GroupArgs>) {
          deliver_as(self, from, group_atom_v, std::move(body.prompt), BytesList(std::move(body.rollouts)));
        } else if constexpr (std::is_same_v<B, ScoredArgs>) {
          deliver_as(self, from, scored_atom_v, BytesList(std::move(body.rollouts)));
        } else if constexpr (std::is_same_v<B, DoneArgs>) {
          deliver_as(self, from, done_atom_v, body.prompt_id, std::move(body.passed));
        } else if constexpr (std::is_same_v<B, LostArgs>) {
          deliver_as(self, from, lost_atom_v, body.prompt_id);
        } else if constexpr (std::is_same_v<B, VersionArgs>) {
          deliver_as(self, from, weights_atom_v, body.version);
        } else {
          st.impl->count_invalid("for " + st.name + " from " + from,
                                 Status::corruption(std::string("a ") + body_name(d->body) +
                                                    " is a reply, not something an actor is sent"));
        }
      },
      d->body);
}

caf::behavior ingress_behavior(IngressActor* self, std::shared_ptr<RemoteActors::Impl> impl, std::string name,
                               caf::actor target) {
  self->state.impl = std::move(impl);
  self->state.name = std::move(name);
  self->state.target = std::move(target);
  return {[self](const WireMessage& m) { on_ingress(self, m); }};
}

// ---------------------------------------------------------------------------------------------
// Watcher: peer events from the gateway -> reply routes and proxies' failures.

caf::behavior watcher_behavior(caf::event_based_actor* self, std::shared_ptr<RemoteActors::Impl> impl) {
  (void)self;
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
  caf::actor p = system.spawn(proxy_behavior, self, name, where->node);
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
  caf::actor ingress = impl_->system.spawn(ingress_behavior, impl_, name, actor);
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
