// Which actor runs on which node: the config's `placement` turned into named actor instances per
// node, and the route every other node needs to reach them. No CAF: the launcher, the node runtime
// and `troupe launch --dry-run` all read the same plan, and tests check it without processes.
//
// Names (what actors address each other by): "controller", "replay", "learner/<rank>",
// "reward/<i>", "env/<task>", "policy/<i>". Indices count across hosts in the order the config
// lists the role entries, so they never depend on which node reads the plan. The head is the node
// that hosts the controller; it also hosts the replay store and the learners (configs/ checks
// this), owns the run's clock, weights, checkpoints and the final evaluation, and every other node
// connects to it and to each node listed before itself.
//
// An empty placement is the one-process run: one node, "local", hosting everything.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "configs/schema.hpp"

namespace troupe::actors {

struct ActorSlot {
  std::string role;   // controller | replay | learner | reward | env | policy_worker
  std::string name;   // e.g. "policy/3"
  int index = 0;      // within the role, across the cluster
  std::string task;   // env actors: the task
  std::vector<int64_t> gpus;  // learners and policy workers: the one GPU this actor uses (its entry's
                              // gpus dealt round-robin); other roles: the entry's list
  int gpu() const { return gpus.empty() ? -1 : static_cast<int>(gpus.front()); }
};

struct NodePlan {
  std::string node;                // the host name
  configs::HostConfig host;
  std::vector<ActorSlot> actors;   // hosted here
  std::vector<std::string> connect_to;  // nodes this one dials (the others dial it)

  bool hosts(const std::string& role) const;
  std::vector<const ActorSlot*> of_role(const std::string& role) const;
};

struct ClusterPlan {
  std::vector<NodePlan> nodes;                 // in the config's host order
  std::string head;                            // the node hosting the controller
  std::map<std::string, std::string> node_of;  // actor name -> node
  int policy_workers = 0;
  int rewards = 0;
  int learners = 0;

  const NodePlan* find(const std::string& node) const;
  // The GPU the placement gives a learner or policy worker ("learner/0"); -1 when none is named.
  int gpu_of(const std::string& actor) const;
  // The nodes that host policy workers, other than `except`.
  std::vector<std::string> worker_nodes(const std::string& except = {}) const;
  // Whether `node` runs on the head's machine: both started locally by the launcher, or both over
  // ssh to the same address. Same-machine nodes can take weights through shared memory.
  bool on_head_machine(const std::string& node) const;
  // Whether nodes `a` and `b` run on one machine (by the same rule).
  bool same_machine(const std::string& a, const std::string& b) const;
  // The worker nodes (other than the head) that take weights through shared memory, per
  // placement.weight_broadcast; the rest take the chunked UCX chain.
  std::vector<std::string> shared_weight_nodes() const;
  // The worker nodes that take weights GPU to GPU by NCCL (placement.weight_broadcast: nccl: all of them).
  std::vector<std::string> nccl_weight_nodes() const;
  // The GPU weights land on at `node` for the NCCL broadcast: the learner's on the head, the first
  // policy worker's elsewhere; -1 when none is named.
  int weight_gpu(const std::string& node) const;
  std::string weight_broadcast = "auto";  // placement.weight_broadcast
  int weight_shm_slots = 3;               // placement.weight_shm_slots
};

// Errors (invalid_argument) name what is wrong: a role placed twice or not at all, a task with no
// env actor or two, learners split over hosts.
Result<ClusterPlan> make_plan(const configs::ExperimentConfig& config);

// The reward actor a policy worker sends its groups to: workers spread evenly over reward actors.
inline int reward_for_worker(int worker, int rewards) { return rewards > 0 ? worker % rewards : 0; }

// A human-readable table of the plan (`troupe launch --dry-run`).
std::string describe(const ClusterPlan& plan, const configs::ExperimentConfig& config);

}  // namespace troupe::actors
