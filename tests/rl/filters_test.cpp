#include "rl/filters.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace troupe::rl {
namespace {

TEST(Filters, LoopDetection) {
  EXPECT_TRUE(is_looping(std::vector<int32_t>{7, 1, 2, 1, 2, 1, 2, 1, 2}));
  EXPECT_TRUE(is_looping(std::vector<int32_t>{9, 5, 5, 5, 5}));
  EXPECT_FALSE(is_looping(std::vector<int32_t>{5, 5, 5}));  // 3 repeats < 4
  EXPECT_FALSE(is_looping(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_FALSE(is_looping(std::vector<int32_t>{1, 2, 1, 2, 1, 2, 1, 3}));  // broken at the end
  EXPECT_FALSE(is_looping(std::vector<int32_t>{}));
  EXPECT_TRUE(is_looping(std::vector<int32_t>{1, 2, 3, 1, 2, 3}, {.max_period = 3, .min_repeats = 2}));
}

}  // namespace
}  // namespace troupe::rl
