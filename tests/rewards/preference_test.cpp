// Preference data: the open-ended task's styles and JSON lines I/O.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "envs/open_ended.hpp"
#include "envs/registry.hpp"
#include "rewards/preference_data.hpp"

namespace troupe::rewards {
namespace {

TEST(OpenEnded, OnlyGoodAndGenericPassTheRuleCheck) {
  auto task = envs::find_task("describe");
  ASSERT_TRUE(task.is_ok());
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto c = (*task)->generate_level(seed, 1 + int(seed % 10));
    ASSERT_TRUE(c.is_ok());
    envs::Rng rng(seed);
    for (int s = 0; s < envs::kDescribeStyles; ++s) {
      const auto style = envs::DescribeStyle(s);
      const std::string r = envs::describe_response(c->identity, style, rng);
      auto v = (*task)->verify(c->identity, r);
      ASSERT_TRUE(v.is_ok());
      const bool should_pass = style == envs::DescribeStyle::kGood || style == envs::DescribeStyle::kGeneric;
      EXPECT_EQ(v->score, should_pass ? 1.0 : 0.0) << "style " << s << ": " << r << "\n" << c->prompt;
    }
  }
}

TEST(PreferenceData, GeneratedPairsRoundTripThroughJsonLines) {
  auto pairs = generate_preference_pairs(50, 7);
  ASSERT_EQ(pairs.size(), 50u);
  for (const auto& p : pairs) EXPECT_NE(p.chosen, p.rejected);
  const auto path = std::filesystem::temp_directory_path() / ("troupe_pref_" + std::to_string(::getpid()) + ".jsonl");
  ASSERT_TRUE(write_preference_jsonl(path.string(), pairs).is_ok());
  auto back = read_preference_jsonl(path.string());
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  ASSERT_EQ(back->size(), pairs.size());
  EXPECT_EQ((*back)[3].rejected, pairs[3].rejected);
  std::ofstream(path, std::ios::app) << "{\"prompt\": \"p\", \"chosen\": 3}\n";
  auto bad = read_preference_jsonl(path.string());
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find(":51:"), std::string::npos) << bad.status().message();
  std::filesystem::remove(path);
  EXPECT_FALSE(read_preference_jsonl(path.string()).is_ok());
}

}  // namespace
}  // namespace troupe::rewards
