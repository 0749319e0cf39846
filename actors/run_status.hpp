// RunStatus: figures the actors update and the command line reads for its
// progress line and closing summary. Counters are relaxed atomics; the last
// learner statistics sit behind a mutex. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "actors/run_state.hpp"

namespace troupe::actors {

struct LearnerSnapshot {
  uint64_t version = 0;
  double loss = 0, kl = 0, entropy = 0, grad_norm = 0, lr = 0;
  double mean_reward = 0, staleness_mean = 0, clip_fraction = 0, step_seconds = 0;
  // Mean mixed reward of the batch before normalisation: sum of weight x raw score
  // over the sources that answered, divided by their weights (the learner sees the
  // normalised one, mean_reward, which group normalisation centres on zero).
  double mean_raw_reward = 0;
  int64_t samples_used = 0, groups_used = 0, groups = 0;
};

class RunStatus {
 public:
  std::atomic<uint64_t> rollouts{0};         // responses sampled
  std::atomic<uint64_t> tokens{0};           // response tokens sampled
  std::atomic<uint64_t> scored{0};           // responses scored
  std::atomic<uint64_t> passed{0};           // ... whose rule verdict was a pass
  std::atomic<uint64_t> stored{0};           // scored rollouts durably appended
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> prompts_lost{0};     // re-issued or dropped prompts
  std::atomic<uint64_t> learner_steps{0};
  std::atomic<uint64_t> worker_restarts{0};

  void set_learner(const LearnerSnapshot& s) {
    std::lock_guard<std::mutex> lock(mu_);
    learner_ = s;
  }
  LearnerSnapshot learner() const {
    std::lock_guard<std::mutex> lock(mu_);
    return learner_;
  }
  // The controller's resumable state, refreshed by the controller as it goes and
  // read when a checkpoint is written.
  void set_controller(ControllerSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    controller_ = std::move(s);
  }
  ControllerSnapshot controller() const {
    std::lock_guard<std::mutex> lock(mu_);
    return controller_;
  }

 private:
  mutable std::mutex mu_;
  LearnerSnapshot learner_;
  ControllerSnapshot controller_;
};

}  // namespace troupe::actors
