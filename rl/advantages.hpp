// Advantages from the rewards of groups of responses to the same prompt.
//
// A group is the `group_size` responses a policy worker sampled for one prompt.
// GRPO's estimator subtracts the group mean and (optionally) divides by the
// group's standard deviation; leave-one-out (RLOO) subtracts the mean of the
// *other* responses, which is unbiased. A group whose rewards are all equal
// carries no learning signal under either: `GroupAdvantages::informative`
// says so, and the online filter drops such groups. Pure functions, thread-safe.
#pragma once

#include <span>
#include <vector>

namespace troupe::rl {

enum class AdvantageKind {
  kGroupMean,    // A_i = r_i - mean(r)
  kLeaveOneOut,  // A_i = r_i - mean(r_j, j != i) = n/(n-1) * (r_i - mean(r))
};

struct AdvantageOptions {
  AdvantageKind kind = AdvantageKind::kGroupMean;  // Default: group mean
  bool scale_by_std = true;                        // Default: true (GRPO); false is Dr. GRPO
  // Added to the std before dividing, so a group with tiny spread does not blow up.
  float std_eps = 1e-6f;                           // Default: 1e-6
  // Rewards closer than this count as equal for `informative`.
  float equal_tol = 1e-6f;                         // Default: 1e-6
};

struct GroupAdvantages {
  std::vector<float> advantages;  // one per response, in input order
  float mean = 0;
  float std = 0;                  // population standard deviation of the rewards
  bool informative = false;       // false when every reward is equal
};

// REQUIRES: rewards.size() >= 1; for kLeaveOneOut, rewards.size() >= 2.
GroupAdvantages group_advantages(std::span<const float> rewards, const AdvantageOptions& options);

}  // namespace troupe::rl
