// The asynchronous RL loop on one machine: every role of DESIGN.md as an actor
// in this process, wired together, run for a bounded time, then stopped cleanly.
//
// run_pipeline spawns env actors (one per task), a replay actor over the RocksDB
// store, a reward actor, the weight-sync actor, policy workers, a learner and the
// controller; the controller starts issuing prompts and the loop runs until
// `max_seconds` or `max_steps` learner steps. The caller's thread reports progress
// and returns the final policy (the newest published version). Memory is bounded
// by the config's limits (prompt queue, store queue) and the batch size.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/run_state.hpp"
#include "actors/run_status.hpp"
#include "base/status.hpp"
#include "configs/schema.hpp"
#include "model/transformer.hpp"
#include "storage/replay_store.hpp"

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

struct ClusterPlan;

// Set when this process is the head of a cluster run (troupe node on the controller's host): the
// roles `plan` places on other nodes are reached over the wire, the head's actors are exposed to
// them, and the member nodes are told to stop when the loop ends (actors/node.hpp).
struct ClusterRole {
  const ClusterPlan* plan = nullptr;
  std::string node;   // this node: the plan's head
  std::string token;  // the cluster's shared secret
  std::chrono::milliseconds heartbeat_grace{5000};
};

struct PipelineOptions {
  std::string replay_path;          // the RocksDB store (created if missing)
  // The newest policy, its optimizer state and run_state.json are saved here every
  // `checkpoint_every` versions and when the loop stops; empty = no checkpoints.
  std::string checkpoint_dir;
  int checkpoint_every = 10;        // versions between checkpoints
  // Continue an earlier run: `initial` is its checkpoint, the learner restores its
  // optimizer from checkpoint_dir and the controller its prompt ids and curriculum.
  std::optional<RunState> resume;
  double max_seconds = 60;          // wall-clock bound of the RL phase
  uint64_t max_steps = 0;           // learner steps; 0 = only the time bound
  int policy_workers = 1;           // Default: 1 (2 cores: one sampling, one learning)
  int worker_rows = 64;             // rows per generation
  // Kernel threads of each policy worker and learner. Default 1: on 2 cores the
  // worker and the learner run side by side. The synchronous mode alternates them,
  // so it may do better with 2 (bench/rl_async_bench measures both).
  int cpu_threads = 1;
  double progress_every_s = 2.0;
  // Fault injection for tests: kill policy worker 0 once, this many seconds into the
  // loop (0 = never). The controller must respawn it and re-issue its prompts once.
  double kill_worker_after_s = 0;
  bool kill_env_too = false;        // ... and the first task's env actor at the same moment
  // Set from outside (a signal handler) to end the loop early, as the time bound would.
  const std::atomic<bool>* stop_requested = nullptr;
  // Cluster mode (null: every actor in this process).
  const ClusterRole* cluster = nullptr;
  // Called on the caller's thread every progress_every_s with the live figures.
  std::function<void(const RunStatus&, double elapsed_s)> on_progress;
};

struct PipelineResult {
  model::Transformer policy;        // the newest published version (the initial one if none)
  double seconds = 0;
  uint64_t learner_steps = 0;
  uint64_t rollouts = 0;
  uint64_t tokens = 0;
  uint64_t stored = 0;
  uint64_t store_errors = 0;
  uint64_t prompts_lost = 0;
  uint64_t worker_restarts = 0;
  uint64_t env_restarts = 0;
  uint64_t checkpoints = 0;         // checkpoints written (the final one included)
  uint64_t checkpoint_errors = 0;   // checkpoints that could not be written (each logged)
};

// Errors: an unknown task, a replay store that cannot be opened, a model that
// cannot be copied. `metrics` may be null.
// The replay store's options as the config's storage and limits sections set them.
Result<storage::ReplayOptions> replay_options(const configs::ExperimentConfig& config);

Result<PipelineResult> run_pipeline(const configs::ExperimentConfig& config, const model::Transformer& initial,
                                    monitoring::Metrics* metrics, const PipelineOptions& options);

}  // namespace troupe::actors
