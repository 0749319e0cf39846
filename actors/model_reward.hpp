// Model reward sources for the reward actor: verifier and preference models
// called over HTTP (rewards/source_client.hpp), beside generation.
//
// For each task whose recipe names a verifier or preference source, a group of
// rollouts is scored on this object's worker threads, never on the actor's:
// the actor hands the group over with its rule verdicts and gets it back, with
// one SourceScore per (response, model source), through a callback that runs
// on a worker thread (the reward actor turns it into a message to itself).
//   - A model source of positive weight scores every response of the group, in
//     one batched request per source (split at the source's max_batch).
//   - A source of weight 0 is only a fallback: it scores just the responses
//     whose rule verdict failed -- including, when the recipe sets
//     rule_fails_without_answer, those whose answer the rule could not extract.
//   - The question is the prompt; the reference is remade from the prompt's
//     (task, difficulty, seed): for a verifier the reference answer's core, for
//     a preference model the reference response. A preference model's raw score
//     is sigmoid(s), or sigmoid(s - s_ref) when `relative` (the probability that
//     the response beats the reference), so every raw score lies in [0, 1] and
//     ">= 0.5 passes" means the same for every source.
// Each call's latency goes to troupe_reward_model_seconds{source}, failures to
// troupe_reward_model_errors_total{source}, and rule/verifier disagreements to
// troupe_reward_sources_disagree_total{task}. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/scoring.hpp"
#include "configs/schema.hpp"
#include "wire/messages.hpp"

namespace troupe::monitoring {
class Metrics;
}
namespace troupe::rewards {
class SourceClient;
class WorkerPool;
}  // namespace troupe::rewards

namespace troupe::actors {

// A group on its way through the model sources.
struct ModelGroup {
  wire::Bytes prompt;
  std::vector<wire::Bytes> rollouts;
  std::vector<RuleVerdict> verdicts;
  std::vector<std::vector<rl::SourceScore>> model_scores;  // filled by ModelRewards::score
};

class ModelRewards {
 public:
  // nullptr when no recipe of `config` names a model source. Errors: a bad source config.
  static Result<std::shared_ptr<ModelRewards>> create(const configs::ExperimentConfig& config,
                                                      monitoring::Metrics* metrics);
  ~ModelRewards();

  bool needs_models(const std::string& task) const;
  // Applies rule_fails_without_answer to group->verdicts, then scores the group
  // on a worker thread and calls done(group) from it.
  void score(std::shared_ptr<ModelGroup> group, std::function<void(std::shared_ptr<ModelGroup>)> done);
  // The same, synchronously on the caller's thread (tests, tools).
  void score_now(ModelGroup& group);

 private:
  struct Source {
    configs::RewardSourceConfig config;
    std::shared_ptr<rewards::SourceClient> client;
  };
  struct TaskSources {
    configs::RewardRecipe recipe;
    std::vector<Source> sources;  // model sources only
  };
  ModelRewards() = default;
  const TaskSources* find(const std::string& task) const;

  std::map<std::string, TaskSources> per_task_;
  TaskSources default_;
  monitoring::Metrics* metrics_ = nullptr;
  void* disagree_family_ = nullptr;  // prometheus::Family<Counter>*, kept out of this header
  std::unique_ptr<rewards::WorkerPool> pool_;
};

}  // namespace troupe::actors
