// The gateway: one per process, it owns the UCX transport and makes actor names location
// transparent. `resolve("policy/3")` returns the local CAF actor registered under that name, or a
// proxy actor that forwards every WireMessage it receives to the gateway actor, which sends it over
// UCX to the node the NameDirectory routes the name to. There the transport verifies the payload
// (wire::verify_any) and the gateway delivers a WireMessage to the actor registered under `dst`.
// Actor code sends the same WireMessage either way and cannot tell the difference.
//
// Sending takes no hand-off on the way out: a proxy (or `send`) gives the message to the transport
// on its own thread, and the transport posts it to UCX there when the worker is free. Only when the
// peer's send queue is full does a message go to the gateway actor, which runs detached (its own
// thread) and waits for room, so back-pressure blocks it and not the CAF scheduler; later messages
// follow through it until it caught up, so order per sender holds. Receiving takes no hand-off for
// light actors: the transport's progress thread puts the WireMessage into the destination actor's
// mailbox and, when that actor was idle, runs it right there after the pass (a CAF execution unit
// of its own), with whatever idle actors it sends to in turn: an ingress, the callee, a proxy, the
// caller. An actor whose runs there prove slow, and everything while a bulk transfer is in flight,
// goes to the CAF scheduler instead; detached and blocking actors keep their own threads. So actor
// code on a scheduled actor must not block (CAF's rule anyway): a blocked progress thread receives
// nothing until it returns.
//
// Peer events (up/down) go to subscribed actors as (peer_atom, node, up). Thread-safe: every
// method may be called from any thread.
//
// This header includes CAF: include it only where actors are spawned (node runtime, tests).
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "actors/names.hpp"
#include "actors/wire_message.hpp"
#include "base/status.hpp"
#include "wire/ucx_transport.hpp"

namespace troupe::actors {

// Atoms of the gateway protocol (CAF 0.17: at most 10 characters).
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using peer_atom = caf::atom_constant<caf::atom("peer")>;

struct GatewayStats {
  uint64_t forwarded = 0;      // handed to the transport
  uint64_t delivered = 0;      // received and given to a local actor
  uint64_t unroutable = 0;     // received for a name nobody here registered
  uint64_t send_failures = 0;  // the transport refused (peer down, queue full)
  uint64_t ran_inline = 0;     // actor runs on the transport's progress thread (see above)
  uint64_t to_scheduler = 0;   // actors a delivery woke that went to the CAF scheduler instead
  uint64_t heavy = 0;          // times an actor proved slow there and was sent away for a while
};

// CAF scheduler settings for a process whose actors talk to other processes. CAF's default idle
// worker naps 50 us at a time for ~25 ms before it sleeps on a condition variable, and a message
// the transport's progress thread hands it during a nap waits out the nap: every cross-process hop
// paid up to ~50-100 us. With these settings an idle worker polls briefly and then sleeps on the
// condition variable, which a delivery wakes at once; an idle process still spends no CPU.
void tune_scheduler(caf::actor_system_config& cfg);

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> start(caf::actor_system& system, wire::TransportOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  const std::string& node() const;
  uint16_t port() const;
  // Connects to another node's gateway; returns its node name.
  Result<std::string> connect(const std::string& host, uint16_t port);

  Status register_local(const std::string& name, const caf::actor& actor);
  void unregister_local(const std::string& name);
  // Routes names (exact, or a prefix ending in '*') to a peer node.
  Status add_route(const std::string& pattern, const std::string& node);
  // Where `name` lives: here, or on which peer node (routes as add_route set them).
  Result<Location> locate(const std::string& name) const;
  // The local actor, or a proxy (one per name, cached) forwarding through the gateway.
  Result<caf::actor> resolve(const std::string& name);
  // `listener` receives (peer_atom, std::string node, bool up) for every peer event.
  void subscribe(const caf::actor& listener);

  // Sends `message` to the actor `message.dst` on peer `node` (see above: no hand-off unless the
  // peer's queue is full). Failures are counted in stats().send_failures and logged.
  void send(const std::string& node, WireMessage message);
  // The same from names and bytes (no WireMessage is built unless the message has to wait for room),
  // for senders that know the node is meant to be up: false, and nothing counted or logged, when it is
  // not connected (the caller fails its call instead).
  bool send_to(const std::string& node, std::string_view dst, std::string_view src, wire::MessageKind kind,
               const wire::Bytes& payload);

  GatewayStats stats() const;
  wire::Transport& transport();

  struct Impl;

 private:
  explicit Gateway(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace troupe::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::WireMessage)
