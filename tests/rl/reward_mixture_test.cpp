// Mixture-of-Rewards recipes: weights, fallback, renormalisation and normalisers.
#include "rl/reward_mixture.hpp"

#include <gtest/gtest.h>

namespace troupe::rl {
namespace {

using K = RewardSourceKind;

TEST(RewardMixture, WeightedMeanOfSources) {
  Recipe recipe{.sources = {{K::kRule, 0.25f}, {K::kVerifier, 0.75f}}};
  auto out = mix_group(recipe, "t", {{{K::kRule, 1.0f}, {K::kVerifier, 0.2f}}}, nullptr);
  EXPECT_NEAR(out[0].total, 0.25 * 1.0 + 0.75 * 0.2, 1e-6);
  ASSERT_EQ(out[0].components.size(), 2u);
  EXPECT_TRUE(out[0].any_source);
}

TEST(RewardMixture, FailedSourceFallsBackOrRenormalises) {
  Recipe with_fb{.sources = {{K::kRule, 0.25f}, {K::kVerifier, 0.75f}}, .fallback = {K::kPreference}};
  std::vector<SourceScore> scores = {{K::kRule, 1.0f}, {K::kVerifier, 0.9f, false}, {K::kPreference, 0.2f}};
  auto a = mix_group(with_fb, "t", {scores}, nullptr);
  EXPECT_NEAR(a[0].total, 0.25 * 1.0 + 0.75 * 0.2, 1e-6);  // preference took the verifier's weight

  Recipe no_fb{.sources = {{K::kRule, 0.25f}, {K::kVerifier, 0.75f}}};
  auto b = mix_group(no_fb, "t", {scores}, nullptr);
  EXPECT_NEAR(b[0].total, 1.0, 1e-6);  // only the rule answered: its weight renormalised to 1
  for (const auto& c : b[0].components) {
    if (c.kind == K::kVerifier) {
      EXPECT_FALSE(c.ok);
    }
  }
}

TEST(RewardMixture, NoSourceAnswered) {
  Recipe recipe{.sources = {{K::kVerifier, 1.0f}}};
  auto out = mix_group(recipe, "t", {{{K::kVerifier, 1.0f, false}}}, nullptr);
  EXPECT_FALSE(out[0].any_source);
  EXPECT_EQ(out[0].total, 0.0f);
}

TEST(RewardMixture, GroupNormalisation) {
  Recipe recipe{.sources = {{K::kRule, 1.0f}}, .normalise = Normalisation::kGroup};
  auto out = mix_group(recipe, "t", {{{K::kRule, 1.0f}}, {{K::kRule, 0.0f}}}, nullptr);
  EXPECT_NEAR(out[0].total, 1.0, 1e-5);   // (1 - 0.5) / 0.5
  EXPECT_NEAR(out[1].total, -1.0, 1e-5);
}

TEST(RewardMixture, RunningNormaliserCentresASource) {
  RunningNormaliser running(8);
  Recipe recipe{.sources = {{K::kPreference, 1.0f}}, .normalise = Normalisation::kRunning};
  float last = 0;
  for (int i = 0; i < 200; ++i) {
    auto out = mix_group(recipe, "t", {{{K::kPreference, 5.0f + (i % 2)}}}, &running);
    last = out[0].total;
  }
  // A source alternating 5, 6 has mean ~5.5: its z-scores hover around +-1, not around 5.
  EXPECT_LT(std::abs(last), 2.0f);
}

TEST(RewardMixture, Parsers) {
  EXPECT_EQ(parse_source_kind("verifier"), K::kVerifier);
  EXPECT_FALSE(parse_source_kind("oracle").has_value());
  EXPECT_EQ(parse_normalisation("running"), Normalisation::kRunning);
}

}  // namespace
}  // namespace troupe::rl
