// Held-out evaluation: pass@1 per task on cases whose seeds training never uses.
//
// Training prompts use seeds (run.seed << 32) + prompt id (actors/controller_state.hpp);
// evaluation uses kEvalSeedBase + i, which training never reaches. Levels cycle
// through each task's configured difficulty range, so every level is measured.
// Runs the policy's sampler on the calling thread; no actor system needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "configs/schema.hpp"
#include "model/transformer.hpp"

namespace troupe::actors {

struct EvalOptions {
  int cases_per_task = 200;    // Default: 200 (a pass rate then has a std of at most ~3.5 points)
  float temperature = 0.0f;    // Default: 0 = greedy
  int max_new_tokens = 32;     // Default: 32
  int batch = 64;              // Default: 64 rows per generation
  uint64_t seed = 1;           // sampling seed when temperature > 0
  // First case seed. The final report uses kEvalSeedBase; model selection during
  // the warm start uses kValidationSeedBase, so the report is never selected on.
  uint64_t seed_base = 0;      // Default: 0 = kEvalSeedBase
};

inline constexpr uint64_t kValidationSeedBase = (uint64_t{1} << 62) + (uint64_t{1} << 40);

struct TaskEval {
  std::string task;
  int cases = 0;
  int passed = 0;
  double pass_rate() const { return cases ? static_cast<double>(passed) / cases : 0.0; }
};

// Errors: a task name the registry does not know, a prompt too long for the model.
Result<std::vector<TaskEval>> evaluate(const model::Transformer& policy, const configs::ExperimentConfig& config,
                                       const EvalOptions& options);

// Mean pass rate over tasks (each task weighs the same).
double mean_pass_rate(const std::vector<TaskEval>& evals);

// The two figures every report shows: pass@1 greedy and at the rollout temperature
// (config.algorithm.temperature), on `cases_per_task` held-out cases per task.
struct PassRates {
  std::vector<TaskEval> greedy, sampled;
  double mean_greedy() const { return mean_pass_rate(greedy); }
  double mean_sampled() const { return mean_pass_rate(sampled); }
};
Result<PassRates> evaluate_greedy_and_sampled(const model::Transformer& policy,
                                              const configs::ExperimentConfig& config, int cases_per_task);

}  // namespace troupe::actors
