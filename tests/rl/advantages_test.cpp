// Group advantages against values worked out by hand.
#include "rl/advantages.hpp"

#include <gtest/gtest.h>

namespace troupe::rl {
namespace {

TEST(Advantages, GroupMeanScaledByStd) {
  std::vector<float> r = {1, 0, 0, 1};  // mean 0.5, population std 0.5
  auto a = group_advantages(r, {});
  EXPECT_TRUE(a.informative);
  EXPECT_FLOAT_EQ(a.mean, 0.5f);
  EXPECT_FLOAT_EQ(a.std, 0.5f);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(a.advantages[i], r[i] ? 1.0f : -1.0f, 1e-5);
}

TEST(Advantages, GroupMeanUnscaled) {
  std::vector<float> r = {1, 0, 0, 0};  // mean 0.25
  auto a = group_advantages(r, {.scale_by_std = false});
  EXPECT_FLOAT_EQ(a.advantages[0], 0.75f);
  EXPECT_FLOAT_EQ(a.advantages[1], -0.25f);
}

TEST(Advantages, LeaveOneOut) {
  std::vector<float> r = {1, 0, 0, 1};
  auto a = group_advantages(r, {.kind = AdvantageKind::kLeaveOneOut, .scale_by_std = false});
  // r0 - mean(0, 0, 1) = 2/3; r1 - mean(1, 0, 1) = -2/3.
  EXPECT_NEAR(a.advantages[0], 2.0f / 3, 1e-6);
  EXPECT_NEAR(a.advantages[1], -2.0f / 3, 1e-6);
}

TEST(Advantages, EqualRewardsAreUninformative) {
  std::vector<float> r = {1, 1, 1};
  auto a = group_advantages(r, {});
  EXPECT_FALSE(a.informative);
  for (float x : a.advantages) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace troupe::rl
