// The node runtime: what one `troupe node` process hosts in a cluster run, and the pieces the head
// (the node with the controller, replay store and learners; see placement.hpp) adds to the
// one-process pipeline to reach the others.
//
//   NodeNet            this node's gateway and RemoteActors, a route for every actor placed on
//                      another node, and a dialer thread that connects to the nodes listed before
//                      this one in the placement (and re-dials them when they come back).
//   run_member_node    a node that is not the head: hosts its env, reward and policy-worker actors,
//                      receives weights (fenced broadcast; workers are spawned only once the first
//                      version arrived), sends the head a Heartbeat every second, and stops on the
//                      head's Control Stop, on SIGTERM/SIGINT (the caller's stop flag), or when the
//                      head goes away (exit code kHeadLost, so the launcher restarts it cleanly).
//   ClusterHead        on the head: a weight broadcaster (every new version goes down a chain of
//                      the worker nodes that are up; a node that connects gets the current version
//                      at once) and a supervisor that tells the controller which remote policy
//                      workers may take prompts: a node's workers become available when its
//                      heartbeat says it holds weights, and unavailable (their prompts re-issued
//                      once) when its connection drops or its heartbeats stop for `heartbeat_grace`.
//
// Thread-safety: NodeNet and ClusterHead are used by the thread that made them (their actors and
// threads synchronise inside).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "actors/gateway.hpp"
#include "actors/placement.hpp"
#include "actors/remote.hpp"
#include "base/status.hpp"
#include "configs/schema.hpp"

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class WeightBoard;

// A member node exits with this when the head went away (the launcher restarts it).
inline constexpr int kHeadLost = 75;

// The name each node's control actor answers to: the head sends it Control Stop at the end.
inline std::string node_control_name(const std::string& node) { return "node/" + node; }
// The head's supervisor: members send it their heartbeats.
inline constexpr const char* kClusterName = "cluster";

class NodeNet {
 public:
  // Starts the gateway on the host's address and port with `token`, routes every actor of `plan`
  // placed elsewhere, and starts dialing this node's connect_to peers.
  static Result<std::unique_ptr<NodeNet>> start(caf::actor_system& system, const ClusterPlan& plan,
                                                const std::string& node, const std::string& token,
                                                monitoring::Metrics* metrics, int64_t weight_chunk_bytes);
  ~NodeNet();

  Gateway& gateway() { return *gateway_; }
  RemoteActors& remote() { return *remote_; }
  const ClusterPlan& plan() const { return plan_; }
  const std::string& node() const { return node_; }
  size_t weight_chunk_bytes() const { return weight_chunk_bytes_; }
  // Waits until every other node of the plan is connected (true), or `timeout` passed (false, and
  // the missing nodes are logged).
  bool await_peers(std::chrono::milliseconds timeout);
  // Sends a troupe message (not the actor protocol) to `dst`, a name some route covers.
  Status send(const std::string& dst, wire::MessageKind kind, wire::Bytes payload);

 private:
  NodeNet() = default;
  void dial_loop();

  ClusterPlan plan_;
  std::string node_;
  size_t weight_chunk_bytes_ = size_t{4} << 20;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<RemoteActors> remote_;
  std::atomic<bool> stop_{false};
  std::thread dialer_;
};

struct MemberOptions {
  std::string config_path;      // for log lines
  std::atomic<bool>* stop = nullptr;  // set by the caller's signal handler
  std::chrono::milliseconds heartbeat_every{1000};
};

// Runs a member node until it is told to stop. Returns the process exit code: 0 after a stop,
// kHeadLost when the head went away, 1 on a setup error (printed).
int run_member_node(const configs::ExperimentConfig& config, const ClusterPlan& plan, const std::string& node,
                    monitoring::Metrics* metrics, const MemberOptions& options);

// The head's cluster duties (see the file comment). Made inside the pipeline's actor system once
// the controller exists; `board` is the head's WeightBoard the weight-sync actor publishes to.
class ClusterHead {
 public:
  static Result<std::unique_ptr<ClusterHead>> start(caf::actor_system& system, NodeNet& net,
                                                    std::shared_ptr<WeightBoard> board,
                                                    monitoring::Metrics* metrics,
                                                    std::chrono::milliseconds heartbeat_grace = std::chrono::seconds(5));
  ~ClusterHead();
  void set_controller(const caf::actor& controller);
  // Sends every member node Control Stop and waits (briefly) for them to disconnect.
  void stop_members();

 private:
  explicit ClusterHead(caf::actor_system& system) : system_(system) {}
  caf::actor_system& system_;
  NodeNet* net_ = nullptr;
  caf::actor supervisor_, broadcaster_;
};

}  // namespace troupe::actors
