// The gateway behind actors/gateway.hpp.
#include "actors/gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace troupe::actors {

struct Gateway::Impl {
  caf::actor_system& system;
  NameDirectory directory;
  std::unique_ptr<wire::Transport> transport;
  caf::actor gateway;  // the detached actor that owns sending

  std::mutex mu;
  std::unordered_map<std::string, caf::actor> locals;
  std::unordered_map<std::string, caf::actor> proxies;
  std::vector<caf::actor> listeners;

  std::atomic<uint64_t> forwarded{0}, delivered{0}, unroutable{0}, send_failures{0};

  explicit Impl(caf::actor_system& sys) : system(sys) {}

  // Transport progress thread: hand the message to the destination's mailbox and return.
  void deliver(wire::Envelope&& e) {
    caf::actor target;
    {
      std::lock_guard lk(mu);
      auto it = locals.find(e.dst);
      if (it != locals.end()) target = it->second;
    }
    if (!target) {
      if (unroutable.fetch_add(1) < 5) {
        std::fprintf(stderr, "[troupe gateway %s] no local actor \"%s\" for a %s from %s@%s; dropped\n",
                     transport->name().c_str(), e.dst.c_str(), wire::kind_name(e.kind), e.src.c_str(),
                     e.peer.c_str());
      }
      return;
    }
    ++delivered;
    caf::anon_send(target,
                   WireMessage{std::move(e.dst), std::move(e.src), e.kind, std::move(e.payload), std::move(e.peer)});
  }

  void peer_event(const wire::PeerEvent& e) {
    std::vector<caf::actor> to;
    {
      std::lock_guard lk(mu);
      to = listeners;
    }
    if (e.kind == wire::PeerEvent::Kind::kRefused) return;
    for (auto& l : to) caf::anon_send(l, peer_atom::value, e.peer, e.kind == wire::PeerEvent::Kind::kUp);
  }
};

namespace {

// Sends what proxies forward. Detached: a full send queue blocks this thread only.
caf::behavior gateway_actor(caf::event_based_actor* self, std::shared_ptr<Gateway::Impl> impl) {
  (void)self;
  return {
      [impl](forward_atom, const std::string& node, const WireMessage& m) {
        // Default wait: 5 s of back-pressure before the message is counted as failed.
        Status s = impl->transport->send(node, m.dst, m.src, m.kind, m.payload, std::chrono::milliseconds(5000));
        if (s) {
          ++impl->forwarded;
        } else if (impl->send_failures.fetch_add(1) < 5) {
          std::fprintf(stderr, "[troupe gateway %s] %s -> %s@%s: %s\n", impl->transport->name().c_str(),
                       m.src.c_str(), m.dst.c_str(), node.c_str(), s.to_string().c_str());
        }
      },
  };
}

// Stands for a remote actor: everything it receives goes to the gateway, addressed to `name`.
caf::behavior proxy_actor(caf::event_based_actor* self, caf::actor gateway, std::string node, std::string name) {
  return {
      [self, gateway, node, name](const WireMessage& m) {
        if (m.dst == name) {
          self->send(gateway, forward_atom::value, node, m);
        } else {
          self->send(gateway, forward_atom::value, node, WireMessage{name, m.src, m.kind, m.payload, {}});
        }
      },
  };
}

}  // namespace

Gateway::Gateway(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() {
  impl_->transport.reset();  // no more callbacks into impl_
  caf::anon_send_exit(impl_->gateway, caf::exit_reason::user_shutdown);
  std::lock_guard lk(impl_->mu);
  for (auto& [_, p] : impl_->proxies) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
}

Result<std::unique_ptr<Gateway>> Gateway::start(caf::actor_system& system, wire::TransportOptions options) {
  auto impl = std::make_shared<Impl>(system);
  Impl* raw = impl.get();  // the transport dies before impl (see ~Gateway)
  options.on_message = [raw](wire::Envelope&& e) { raw->deliver(std::move(e)); };
  options.on_peer_event = [raw](const wire::PeerEvent& e) { raw->peer_event(e); };
  auto t = wire::Transport::start(std::move(options));
  if (!t) return t.status().with_context("starting the gateway");
  impl->transport = std::move(*t);
  impl->gateway = system.spawn<caf::detached>(gateway_actor, impl);
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

const std::string& Gateway::node() const { return impl_->transport->name(); }
uint16_t Gateway::port() const { return impl_->transport->port(); }

Result<std::string> Gateway::connect(const std::string& host, uint16_t port) {
  return impl_->transport->connect(host, port);
}

Status Gateway::register_local(const std::string& name, const caf::actor& actor) {
  TROUPE_RETURN_IF_ERROR(impl_->directory.add_local(name));
  std::lock_guard lk(impl_->mu);
  impl_->locals[name] = actor;
  return Status::ok();
}

void Gateway::unregister_local(const std::string& name) {
  impl_->directory.remove_local(name);
  std::lock_guard lk(impl_->mu);
  impl_->locals.erase(name);
}

Status Gateway::add_route(const std::string& pattern, const std::string& node) {
  return impl_->directory.add_route(pattern, node);
}

Result<Location> Gateway::locate(const std::string& name) const { return impl_->directory.lookup(name); }

Result<caf::actor> Gateway::resolve(const std::string& name) {
  auto where = impl_->directory.lookup(name);
  if (!where) return where.status();
  std::lock_guard lk(impl_->mu);
  if (where->local) {
    auto it = impl_->locals.find(name);
    if (it != impl_->locals.end()) return it->second;
    return Status::not_found("actor \"" + name + "\" was unregistered");
  }
  auto it = impl_->proxies.find(name);
  if (it != impl_->proxies.end()) return it->second;
  caf::actor proxy = impl_->system.spawn(proxy_actor, impl_->gateway, where->node, name);
  impl_->proxies[name] = proxy;
  return proxy;
}

void Gateway::subscribe(const caf::actor& listener) {
  std::lock_guard lk(impl_->mu);
  impl_->listeners.push_back(listener);
}

GatewayStats Gateway::stats() const {
  return {impl_->forwarded.load(), impl_->delivered.load(), impl_->unroutable.load(), impl_->send_failures.load()};
}

wire::Transport& Gateway::transport() { return *impl_->transport; }

}  // namespace troupe::actors
