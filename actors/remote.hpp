// Location transparency for troupe's actor protocol (actors/messages.hpp) across processes.
//
// `RemoteActors::resolve(name)` gives the local actor registered under `name`, or a proxy actor on
// this node that accepts exactly the protocol messages the real actor accepts (generate, verify,
// prompt, group, scored, done, lost, batch, weights version) and carries them over the gateway as
// wire::ActorMessage (wire/schema/actor_message.fbs). `expose(name, actor)` makes a local actor
// reachable from other nodes: an ingress actor registered under `name` verifies what arrives (the
// ActorMessage and every Prompt/Rollout/ScoredRollout inside it), turns it back into the CAF message
// and sends it to the actor, as if from a proxy of the remote sender, so the actor's replies and
// later messages find their way back. Calls (generate, verify, batch) are requests on both sides:
// the caller's timeout stands, the proxy fails a call at once when the callee's node goes down, and
// a call unanswered after `call_timeout` is failed and forgotten. Actor code cannot tell a proxy
// from the real actor.
//
// Names: a proxy's replies come back to "~<node>/<name>", so every node routes "~<peer>/*" to that
// peer (connect_peer does this). Thread-safe: every method may be called from any thread.
//
// This header includes CAF: include it only where actors are spawned (the node runtime, tests).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/gateway.hpp"
#include "base/status.hpp"

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

struct RemoteOptions {
  // A call with no reply after this long is failed and forgotten. Default: 120 s (a batch call may
  // wait for the replay store's durable appends; generate and verify answer in microseconds).
  std::chrono::milliseconds call_timeout{120000};
  // At most this many calls may wait for replies per proxy; more fail at once (back-pressure).
  // Default: 4096.
  size_t max_pending_calls = 4096;
};

struct RemoteStats {
  uint64_t sent = 0;             // ActorMessages handed to the gateway
  uint64_t received = 0;         // ActorMessages delivered to a local actor (or a proxy's caller)
  uint64_t invalid = 0;          // dropped: failed verification, or a body this name does not take
  uint64_t calls_failed = 0;     // calls answered with an error (peer down, timeout, remote failure)
};

class RemoteActors {
 public:
  // `gateway` must outlive this object. `metrics` may be null.
  static Result<std::unique_ptr<RemoteActors>> create(caf::actor_system& system, Gateway& gateway,
                                                      monitoring::Metrics* metrics, RemoteOptions options = {});
  ~RemoteActors();
  RemoteActors(const RemoteActors&) = delete;
  RemoteActors& operator=(const RemoteActors&) = delete;

  // Connects to a peer node's gateway and routes "~<peer>/*" to it. Returns the peer's node name.
  Result<std::string> connect_peer(const std::string& host, uint16_t port);
  // Routes `pattern` (a name, or a prefix ending in '*') to the node `node`.
  Status add_route(const std::string& pattern, const std::string& node);
  // Call after a peer connected to us (we learn its name from a peer event): routes its replies.
  Status accept_peer(const std::string& node);

  // Makes `actor` reachable from other nodes under `name`, and the sender name of what it sends
  // through proxies (so remote actors can answer it).
  Status expose(const std::string& name, const caf::actor& actor);
  void withdraw(const std::string& name);

  // The local actor named `name`, or a proxy for it. Errors: a name no route covers (the message
  // lists what is known).
  Result<caf::actor> resolve(const std::string& name);

  RemoteStats stats() const;
  Gateway& gateway();

  struct Impl;

 private:
  explicit RemoteActors(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace troupe::actors
