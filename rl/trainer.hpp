// PolicyTrainer: one learner step from a batch of scored responses.
//
// A step filters the batch (looping and, optionally, truncated responses; groups
// whose rewards are all equal), computes group advantages, then makes `passes`
// optimiser steps over the kept groups. The first pass's log-probs are the
// proximal policy of AReaL's decoupled PPO; each response's behaviour log-probs
// come from the policy worker that sampled it, so stale rollouts are importance
// corrected. Micro-batches hold whole groups (OREAL's pass rates need them) and
// use whole-batch normalisers, so micro-batching does not change the gradient.
// Memory: one micro-batch of activations at a time plus the batch's log-probs.
// Not thread-safe: owned by one learner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model/optimizer.hpp"
#include "rl/collective.hpp"
#include "model/transformer.hpp"
#include "rl/advantages.hpp"
#include "rl/policy_loss.hpp"

namespace troupe::rl {

enum class Objective { kGrpo, kPpo, kOreal };

struct TrainerOptions {
  Objective objective = Objective::kPpo;  // Default: PPO-clip with group advantages
  AdvantageOptions advantage;             // GRPO scales by the group std; PPO here does not (Dr. GRPO)
  PolicyLossOptions loss;                 // clip, importance cap, KL, entropy, normalisation
  OrealOptions oreal;                     // used when objective == kOreal
  int passes = 2;                         // Default: 2 optimiser steps per batch
  float lr = 3e-4f;                       // Default: 3e-4
  int64_t warmup_steps = 0;               // Default: 0 (linear warm-up of the learning rate)
  bool drop_equal_groups = true;          // Default: true
  bool drop_truncated = false;            // Default: false (a truncated answer is simply wrong)
  bool drop_looping = true;               // Default: true
  int micro_batch = 64;                   // Default: 64 sequences per forward/backward (rounded to whole groups)
  model::AdamWConfig adamw;               // betas, weight decay, clipping
  // Data parallelism: when set, this trainer is one of collective->size() replicas,
  // each given its own share of every batch. The loss normalisers and gradients are
  // summed across replicas before each optimiser step, so all replicas take the
  // step one trainer would take on the whole batch, and stay identical.
  std::shared_ptr<GradientCollective> collective;
};

// One response as the learner sees it.
struct TrainSample {
  uint64_t prompt_id = 0;
  std::vector<int> prompt_tokens;         // as the sampler was given them
  std::vector<int> response_tokens;       // as sampled (EOS included when sampled)
  std::vector<float> behaviour_logprobs;  // one per response token
  float reward = 0;
  bool truncated = false;
  uint64_t policy_version = 0;            // the behaviour policy's version
};

struct TrainStats {
  bool stepped = false;           // false: nothing informative in the batch
  double loss = 0, kl = 0, entropy = 0;
  double clip_fraction = 0, importance_mean = 0, truncated_fraction = 0;
  double grad_norm = 0, lr = 0;
  double mean_reward = 0;         // over every sample given
  double staleness_mean = 0;      // learner version - behaviour version, over samples given
  int64_t samples = 0, samples_used = 0;
  int64_t groups = 0, groups_used = 0;
  int64_t dropped_looping = 0, dropped_truncated = 0;
  int64_t tokens = 0;             // response tokens trained on, per pass
};

class PolicyTrainer {
 public:
  // `reference` is the frozen policy of the KL term; needed only when loss.kl_coef > 0.
  PolicyTrainer(model::Transformer policy, TrainerOptions options,
                std::optional<model::Transformer> reference = std::nullopt);

  // One learner step. Errors: a response that does not fit the model's context,
  // behaviour log-probs of the wrong length, or a reference missing for KL.
  Result<TrainStats> step(const std::vector<TrainSample>& samples);

  const model::Transformer& policy() const { return policy_; }
  model::Transformer& policy() { return policy_; }
  // Batches consumed (stepped or not): the policy version this trainer publishes.
  uint64_t version() const { return version_; }
  void set_version(uint64_t v) { version_ = v; }
  const model::AdamW& optimizer() const { return opt_; }
  model::AdamW& optimizer() { return opt_; }

 private:
  model::Transformer policy_;
  TrainerOptions options_;
  std::optional<model::Transformer> reference_;
  model::AdamW opt_;
  uint64_t version_ = 0;
};

}  // namespace troupe::rl
