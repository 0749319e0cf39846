// The policy worker: samples `group_size` responses per prompt with the newest
// weights it holds, and sends each group, tagged with versions and behaviour
// log-probs, to the reward actor.
//
// Protocol: (prompt_atom, Prompt bytes) queues a prompt; the worker batches up
// to `rows` rows (prompts x group_size) per generation. It runs detached (its own
// thread): generation is CPU-bound and must not starve the light actors. New
// weights are read from the process's WeightBoard at every decode-step
// boundary, so a generation in progress switches versions mid-way (the KV cache
// is kept) instead of restarting; each rollout records the oldest version that
// produced any of its tokens. The queue is bounded by the controller's
// in-flight limit (limits.prompt_queue).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "configs/schema.hpp"

namespace troupe::model {
class Transformer;
}
namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class WeightBoard;
class RunStatus;

struct PolicyWorkerSetup {
  std::string name;           // e.g. "policy/0"
  int index = 0;              // distinct per worker: rollout ids are (index << 40) + counter
  int rows = 64;              // rows per generation (prompts x group_size)
  caf::actor reward;
  std::shared_ptr<WeightBoard> board;
  std::shared_ptr<RunStatus> status;
  monitoring::Metrics* metrics = nullptr;
  int cpu_threads = 1;        // kernel threads (OpenBLAS, OpenMP) of this worker's thread
  int gpu = -1;               // the CUDA device its placement gives it (model.device permitting); -1 = the first
};

// Spawns a detached worker on a copy of `initial` (its version is the worker's first).
caf::actor spawn_policy_worker(caf::actor_system& sys, const configs::ExperimentConfig& config,
                               const model::Transformer& initial, PolicyWorkerSetup setup);

}  // namespace troupe::actors
