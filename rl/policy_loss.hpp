// Policy objectives as functions of per-token log-probabilities.
//
// The learner's model computes log pi_theta(y_t) for every response token; these
// functions return the loss and its gradient with respect to each of those
// log-probabilities (`grad_logp`), which the model back-propagates. Keeping the
// objectives here, on plain arrays, lets them be tested against hand-computed
// values without a model.
//
// Token layout: the responses of a batch are concatenated; `seq_offsets` has one
// entry per sequence plus one (offsets[i] .. offsets[i+1] are sequence i's tokens).
//
// Staleness (AReaL's decoupled PPO): three policies meet in one update.
//   behaviour  pi_b  - the weights that sampled the rollout (maybe several versions old)
//   proximal   pi_p  - the learner's weights at the start of this step (the PPO anchor)
//   current    pi_t  - the weights being optimised
// The loss is  -w * min(r*A, clip(r, 1-eps, 1+eps)*A)  with r = pi_t/pi_p and the
// importance weight w = min(pi_p/pi_b, cap), treated as a constant. When a rollout
// is fresh (pi_b == pi_p), w = 1 and this is plain PPO-clip.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace troupe::rl {

enum class TokenNorm {
  kTokenMean,     // average over every token of the batch (long answers weigh more)
  kSequenceMean,  // average within each sequence, then over sequences
};

struct TokenBatch {
  std::span<const int32_t> seq_offsets;  // size N+1, offsets[0] == 0, non-decreasing
  std::span<const float> logp;           // current policy, one per token
  std::span<const float> logp_prox;      // proximal policy; empty = same as logp (first pass)
  std::span<const float> logp_behav;     // behaviour policy; empty = same as logp_prox (fresh)
  std::span<const float> logp_ref;       // reference policy; needed only when kl_coef > 0
  std::span<const float> token_weight;   // optional per-token weights (e.g. OREAL's token RM); empty = 1
};

struct PolicyLossOptions {
  float clip = 0.2f;            // Default: 0.2 (PPO's epsilon)
  float importance_cap = 5.0f;  // Default: 5 (truncation of pi_p/pi_b)
  float kl_coef = 0.0f;         // Default: 0 (no KL to a reference policy)
  float entropy_coef = 0.0f;    // Default: 0 (no entropy bonus)
  TokenNorm norm = TokenNorm::kTokenMean;  // Default: token mean
  // When a batch is processed in micro-batches, the normaliser of the whole batch:
  // its token count (kTokenMean) or sequence count (kSequenceMean). 0 = this batch's.
  int64_t norm_total = 0;  // Default: 0
};

struct PolicyLossStats {
  double policy_loss = 0;        // the clipped surrogate part
  double kl = 0;                 // mean k3 estimate of KL(pi_t || pi_ref)
  double entropy = 0;            // mean -log pi_t of the sampled tokens (an entropy estimate)
  double clip_fraction = 0;      // share of tokens whose ratio was clipped (gradient zero)
  double ratio_mean = 0;         // mean pi_t / pi_p
  double importance_mean = 0;    // mean w after truncation
  double truncated_fraction = 0; // share of tokens whose w hit the cap
  int64_t tokens = 0;
};

struct PolicyLossResult {
  double loss = 0;               // total: policy + kl_coef * kl - entropy_coef * entropy
  std::vector<float> grad_logp;  // d loss / d logp, one per token
  PolicyLossStats stats;
};

// PPO-clip with decoupled staleness correction; GRPO is this with group-normalised
// advantages. REQUIRES: advantages.size() == number of sequences; every non-empty
// span has one value per token.
PolicyLossResult ppo_clip_loss(const TokenBatch& batch, std::span<const float> advantages,
                               const PolicyLossOptions& options);

// OREAL (Lyu et al., 2025): behaviour cloning on positive responses and a policy
// gradient on negative ones whose reward is reshaped by the group's pass rate.
struct OrealOptions {
  // Weight of the negative-sample term against the positive cloning term.
  float negative_weight = 1.0f;  // Default: 1 (the paper's eta)
  // A response counts as positive when its reward is at least this.
  float positive_threshold = 0.5f;  // Default: 0.5 (binary rewards are 0 or 1)
  PolicyLossOptions base;        // kl_coef, entropy_coef, importance_cap, norm, norm_total (all tokens)
  // Whole-batch normalisers of the positive and negative terms (see norm_total). 0 = this batch's.
  int64_t positive_norm_total = 0;  // Default: 0
  int64_t negative_norm_total = 0;  // Default: 0
};

// `rewards` one per sequence; `group_of` maps each sequence to its prompt group
// (0..G-1). Positives: loss -w_t log pi(y_t), averaged over the positives' tokens.
// Negatives in a group with pass rate p: loss +eta * p * w_t log pi(y_t), averaged
// over the negatives' tokens. Scaling negatives by p makes their push as strong as
// the pull of the group's positives would be under a mean baseline (a negative's
// GRPO advantage without std scaling is -p) while groups with no positive at all
// (p = 0), whose negatives carry no information about what is right, contribute
// nothing. Importance weights (pi_p/pi_b, capped) multiply both terms. Pass rates
// come from the sequences given, so a micro-batch must hold whole groups.
PolicyLossResult oreal_loss(const TokenBatch& batch, std::span<const float> rewards,
                            std::span<const int32_t> group_of, const OrealOptions& options);

}  // namespace troupe::rl
