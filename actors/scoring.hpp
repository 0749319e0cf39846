// Turning a verified group of rollouts into scored rollouts: the reward actor's
// library code, testable without an actor system.
//
// For one prompt group: each response's rule verdict (from its env task) and any
// model scores are mixed by the task's Mixture-of-Rewards recipe; the result is a
// ScoredRollout per response carrying every reward component. Pure functions over
// immutable buffers; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "base/status.hpp"
#include "configs/schema.hpp"
#include "rl/reward_mixture.hpp"
#include "wire/messages.hpp"

namespace troupe::actors {

// The rule verifier's opinion of one response.
struct RuleVerdict {
  double score = 0;
  bool extracted = false;
  std::string extracted_answer;
  bool ok = true;  // false: the verifier failed (bad identity, timeout)
};

// The recipe of `task` from the config, in rl's terms. Errors name the bad source kind.
Result<rl::Recipe> recipe_from_config(const configs::RewardRecipe& recipe);

// Scores one group. `rollouts` are Rollout messages of one prompt, `rule[i]` the
// rule verdict of rollouts[i], `model_scores[i]` any verifier/preference scores
// (empty until those sources exist). Returns one ScoredRollout message per rollout.
// REQUIRES: rule.size() == rollouts.size(); model_scores empty or the same size.
Result<std::vector<wire::Bytes>> score_group(const wire::Prompt& prompt, const std::vector<wire::Bytes>& rollouts,
                                             const std::vector<RuleVerdict>& rule,
                                             const std::vector<std::vector<rl::SourceScore>>& model_scores,
                                             const rl::Recipe& recipe, rl::RunningNormaliser* running,
                                             uint64_t now_unix_ms);

}  // namespace troupe::actors
