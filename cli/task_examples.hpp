// What `troupe sft` and `troupe eval` share: supervised examples drawn from the
// env tasks (a prompt and a response -- the task's worked solution or its bare
// answer -- framed as the policy workers frame them: BOS prompt SEP response
// EOS), and the evaluation of a policy on held-out cases (pass@1, pass@k).
//
// Seeds: training draws only even case seeds and evaluation only odd ones, so
// no evaluated case was ever trained on. Not thread-safe; one per command.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "configs/schema.hpp"
#include "envs/task.hpp"
#include "model/sampler.hpp"

namespace troupe::cli {

struct TaskSpec {
  std::string name;
  double weight = 1.0;
  int min_level = 1, max_level = 1;
};

// The config's task mixture. Errors: an unknown task (with the known names).
Result<std::vector<TaskSpec>> task_specs(const configs::ExperimentConfig& config);
// "addition,gcd" with levels "3" or "1-4". Errors: unknown task, bad levels.
Result<std::vector<TaskSpec>> task_specs(const std::string& names, const std::string& levels);

enum class ResponseForm { kSolution, kAnswer };  // kSolution falls back to the answer when a task has none

struct Example {
  std::vector<int> prompt;    // BOS prompt SEP
  std::vector<int> response;  // response bytes + EOS
};

class ExampleSource {
 public:
  ExampleSource(std::vector<TaskSpec> specs, ResponseForm form, int context, uint64_t seed);
  // A fresh training example (even case seed), skipping cases that do not fit the context.
  Result<Example> next();
  long skipped() const { return skipped_; }

 private:
  std::vector<TaskSpec> specs_;
  ResponseForm form_;
  int context_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
  long skipped_ = 0;
};

struct TaskScore {
  std::string task;
  int level = 0;
  int n = 0;             // cases
  int samples = 1;       // responses per case
  double pass1 = 0.0;    // mean correctness of single responses (greedy when samples = 1)
  double passk = 0.0;    // share of cases with at least one correct response among `samples`
  long tokens = 0;       // response tokens generated
};

struct EvalOptions {
  int n = 200;                // cases per (task, level)
  int samples = 1;            // k of pass@k; 1 = greedy decoding
  float temperature = 1.0f;   // when samples > 1
  int max_new_tokens = 96;    // bounded by the context too
  uint64_t seed = 1;          // which odd seeds: 2·(seed·n + i) + 1
};

// Scores the sampler's policy on held-out (odd-seed) cases of every (task, level).
Result<std::vector<TaskScore>> evaluate(model::Sampler& sampler, const std::vector<TaskSpec>& specs,
                                        const EvalOptions& options);

std::string format_scores(const std::vector<TaskScore>& scores);  // a table
std::string scores_json(const std::vector<TaskScore>& scores);     // one JSON document

}  // namespace troupe::cli
