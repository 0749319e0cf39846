// PPO-clip with decoupled staleness correction, OREAL, KL and entropy, against hand-computed values.
#include "rl/policy_loss.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace troupe::rl {
namespace {

float ln(double x) { return static_cast<float>(std::log(x)); }

TEST(PpoClip, UnclippedTokensGetRatioTimesAdvantage) {
  std::vector<int32_t> off = {0, 2};
  std::vector<float> logp = {ln(0.6), ln(0.4)}, prox = {ln(0.5), ln(0.5)};
  std::vector<float> adv = {1.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp, .logp_prox = prox};
  auto r = ppo_clip_loss(b, adv, {.clip = 0.2f});
  // ratios 1.2 and 0.8 sit on the clip edges: unclipped; token mean over 2 tokens.
  EXPECT_NEAR(r.loss, -(1.2 + 0.8) / 2, 1e-5);
  EXPECT_NEAR(r.grad_logp[0], -1.2 / 2, 1e-5);
  EXPECT_NEAR(r.grad_logp[1], -0.8 / 2, 1e-5);
  EXPECT_EQ(r.stats.clip_fraction, 0.0);
  EXPECT_NEAR(r.stats.ratio_mean, 1.0, 1e-5);
}

TEST(PpoClip, ClippedBranchHasNoGradient) {
  std::vector<int32_t> off = {0, 1, 2};
  std::vector<float> logp = {ln(0.75), ln(0.75)}, prox = {ln(0.5), ln(0.5)};  // ratio 1.5 for both
  std::vector<float> adv = {1.0f, -1.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp, .logp_prox = prox};
  auto r = ppo_clip_loss(b, adv, {.clip = 0.2f});
  // A=+1: min(1.5, 1.2) = 1.2 (clipped, gradient 0). A=-1: min(-1.5, -1.2) = -1.5 (unclipped).
  EXPECT_EQ(r.grad_logp[0], 0.0f);
  EXPECT_NEAR(r.grad_logp[1], 1.5 / 2, 1e-5);
  EXPECT_NEAR(r.loss, (-1.2 + 1.5) / 2, 1e-5);
  EXPECT_NEAR(r.stats.clip_fraction, 0.5, 1e-9);
}

TEST(PpoClip, StaleRolloutsAreImportanceWeightedAndTruncated) {
  std::vector<int32_t> off = {0, 2};
  std::vector<float> logp = {ln(0.5), ln(0.5)}, prox = {ln(0.5), ln(0.5)};
  std::vector<float> behav = {ln(0.25), ln(0.05)};  // w = 2 and 10 (capped at 5)
  std::vector<float> adv = {1.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp, .logp_prox = prox, .logp_behav = behav};
  auto r = ppo_clip_loss(b, adv, {.clip = 0.2f, .importance_cap = 5.0f});
  EXPECT_NEAR(r.grad_logp[0], -2.0 / 2, 1e-5);
  EXPECT_NEAR(r.grad_logp[1], -5.0 / 2, 1e-5);
  EXPECT_NEAR(r.stats.importance_mean, 3.5, 1e-5);
  EXPECT_NEAR(r.stats.truncated_fraction, 0.5, 1e-9);
}

TEST(PpoClip, SequenceMeanWeighsSequencesEqually) {
  std::vector<int32_t> off = {0, 1, 4};  // lengths 1 and 3
  std::vector<float> logp(4, ln(0.5));
  std::vector<float> adv = {1.0f, 1.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp};
  auto r = ppo_clip_loss(b, adv, {.norm = TokenNorm::kSequenceMean});
  EXPECT_NEAR(r.grad_logp[0], -1.0 / 2, 1e-6);      // 1/(len 1 * 2 sequences)
  EXPECT_NEAR(r.grad_logp[1], -1.0 / 6, 1e-6);      // 1/(len 3 * 2 sequences)
}

TEST(PpoClip, KlK3TermAndGradient) {
  std::vector<int32_t> off = {0, 1};
  std::vector<float> logp = {ln(0.5)}, ref = {ln(0.25)};
  std::vector<float> adv = {0.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp, .logp_ref = ref};
  auto r = ppo_clip_loss(b, adv, {.kl_coef = 2.0f});
  // d = ln(0.25/0.5) = -ln 2; k3 = e^d - d - 1 = 0.5 + ln 2 - 1; grad = coef * (1 - e^d) = 2 * 0.5.
  const double k3 = 0.5 + std::log(2.0) - 1.0;
  EXPECT_NEAR(r.stats.kl, k3, 1e-6);
  EXPECT_NEAR(r.loss, 2.0 * k3, 1e-6);
  EXPECT_NEAR(r.grad_logp[0], 1.0, 1e-6);
}

TEST(PpoClip, EntropyBonusPushesDownLikelyTokens) {
  std::vector<int32_t> off = {0, 2};
  std::vector<float> logp = {ln(0.9), ln(0.1)};
  std::vector<float> adv = {0.0f};
  TokenBatch b{.seq_offsets = off, .logp = logp};
  auto r = ppo_clip_loss(b, adv, {.entropy_coef = 1.0f});
  // grad = coef * (logp - mean logp) / 2 tokens: positive for the likely token (descent lowers it).
  const double mean = (std::log(0.9) + std::log(0.1)) / 2;
  EXPECT_NEAR(r.grad_logp[0], (std::log(0.9) - mean) / 2, 1e-6);
  EXPECT_GT(r.grad_logp[0], 0.0f);
  EXPECT_LT(r.grad_logp[1], 0.0f);
  EXPECT_NEAR(r.stats.entropy, -mean, 1e-6);
}

TEST(Oreal, ClonesPositivesAndPushesNegativesByPassRate) {
  // Group 0: one positive, one negative (pass rate 0.5). Group 1: two negatives (pass rate 0).
  std::vector<int32_t> off = {0, 1, 2, 3, 4};
  std::vector<float> logp(4, ln(0.5));
  std::vector<float> rewards = {1, 0, 0, 0};
  std::vector<int32_t> groups = {0, 0, 1, 1};
  TokenBatch b{.seq_offsets = off, .logp = logp};
  auto r = oreal_loss(b, rewards, groups, {.negative_weight = 1.0f});
  EXPECT_NEAR(r.grad_logp[0], -1.0, 1e-6);        // the only positive token
  EXPECT_NEAR(r.grad_logp[1], 0.5 * (1.0 / 3), 1e-6);  // eta * p * (1 / 3 negative tokens)
  EXPECT_EQ(r.grad_logp[2], 0.0f);                // pass rate 0: no push
  EXPECT_EQ(r.grad_logp[3], 0.0f);
  EXPECT_NEAR(r.loss, -std::log(0.5) + 0.5 / 3 * std::log(0.5), 1e-5);
}

TEST(Oreal, TokenWeightsScaleTheCloning) {
  std::vector<int32_t> off = {0, 2};
  std::vector<float> logp(2, ln(0.5)), w = {0.25f, 1.0f};
  std::vector<float> rewards = {1};
  std::vector<int32_t> groups = {0};
  TokenBatch b{.seq_offsets = off, .logp = logp, .token_weight = w};
  auto r = oreal_loss(b, rewards, groups, {});
  EXPECT_NEAR(r.grad_logp[0], -0.25 / 2, 1e-6);
  EXPECT_NEAR(r.grad_logp[1], -1.0 / 2, 1e-6);
}

}  // namespace
}  // namespace troupe::rl

namespace troupe::rl {
namespace {

TEST(PpoClip, MicroBatchesWithWholeBatchNormaliserSumToTheWhole) {
  std::vector<int32_t> off = {0, 2, 5};
  std::vector<float> logp = {-0.1f, -0.2f, -0.3f, -0.4f, -0.5f};
  std::vector<float> adv = {1.0f, -0.5f};
  auto whole = ppo_clip_loss({.seq_offsets = off, .logp = logp}, adv, {});
  std::vector<int32_t> off_a = {0, 2}, off_b = {0, 3};
  std::span<const float> la(logp.data(), 2), lb(logp.data() + 2, 3);
  std::vector<float> aa = {1.0f}, ab = {-0.5f};
  auto a = ppo_clip_loss({.seq_offsets = off_a, .logp = la}, aa, {.norm_total = 5});
  auto b = ppo_clip_loss({.seq_offsets = off_b, .logp = lb}, ab, {.norm_total = 5});
  EXPECT_NEAR(a.loss + b.loss, whole.loss, 1e-6);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(a.grad_logp[i], whole.grad_logp[i], 1e-7);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(b.grad_logp[i], whole.grad_logp[2 + i], 1e-7);
}

}  // namespace
}  // namespace troupe::rl
