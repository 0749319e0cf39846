// The learner: pulls batches of scored rollouts within the staleness bound from
// the replay actor, takes a PolicyTrainer step, and publishes the new version to
// the weight-sync actor.
//
// Protocol: (train_atom) starts or continues the loop; it asks the replay actor
// (batch_atom, BatchAsk) with a timeout until it holds prompts_per_step x
// group_size rollouts (fewer when the store has none: it waits briefly and asks
// again), then steps. (stop_atom) ends the loop after the current step. Runs
// detached: a step is seconds of CPU. Checkpoints go to `checkpoint_dir` every
// `checkpoint_every` steps when set.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>

#include "configs/schema.hpp"

namespace troupe::model {
class AdamW;
class Transformer;
}
namespace troupe::rl {
class GradientCollective;
}
namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class RunStatus;

struct LearnerSetup {
  std::string name = "learner/0";
  caf::actor replay;
  caf::actor weight_sync;
  std::shared_ptr<RunStatus> status;
  monitoring::Metrics* metrics = nullptr;
  // Called on the learner's thread after each new version with the policy and its
  // optimizer (for checkpoints).
  std::function<void(const model::Transformer&, const model::AdamW&, uint64_t version)> after_step;
  // Called once when the learner is stopped (stop_atom), after its last step: the final checkpoint.
  std::function<void(const model::Transformer&, const model::AdamW&, uint64_t version)> on_stop;
  // When resuming: a checkpoint directory whose optimizer.safetensors (AdamW moments
  // and step count) the learner continues from; empty = fresh moments.
  std::string resume_optimizer_dir;
  int cpu_threads = 1;  // kernel threads (OpenBLAS, OpenMP) of the learner's thread
  int gpu = -1;         // the CUDA device its placement gives it (model.device permitting); -1 = the first
  // Data parallelism: this learner's handle in the group of learners (null = alone).
  // Each trains on its share of the step's groups; rank 0 alone publishes weights,
  // writes checkpoints and reports to the run status.
  std::shared_ptr<rl::GradientCollective> collective;
};

caf::actor spawn_learner(caf::actor_system& sys, const configs::ExperimentConfig& config,
                         const model::Transformer& initial, LearnerSetup setup);

}  // namespace troupe::actors
