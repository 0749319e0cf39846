// Scoring a group: every rollout keeps its fields and gains its reward components.
#include "actors/scoring.hpp"

#include <gtest/gtest.h>

namespace troupe::actors {
namespace {

TEST(Scoring, GroupGetsMixedRewardsAndKeepsRollouts) {
  wire::PromptT p;
  p.prompt_id = 9;
  p.task = "addition";
  p.text = "1+2=";
  p.identity_json = R"({"a":"1","b":"2"})";
  wire::Bytes prompt = wire::pack(p);
  std::vector<wire::Bytes> rollouts;
  for (int i = 0; i < 2; ++i) {
    wire::RolloutT r;
    r.prompt_id = 9;
    r.group_index = i;
    r.task = "addition";
    r.policy_version = 3;
    r.response_tokens = {51, 257};
    r.behaviour_logprobs = {-0.5f, -0.1f};
    r.response_text = i == 0 ? "3" : "4";
    rollouts.push_back(wire::pack(r));
  }
  configs::RewardRecipe rc;  // rule only, group-normalised
  auto recipe = recipe_from_config(rc);
  ASSERT_TRUE(recipe.is_ok());
  std::vector<RuleVerdict> verdicts = {{1.0, true, "3", true}, {0.0, true, "4", true}};
  auto scored = score_group(**wire::read<wire::Prompt>(prompt), rollouts, verdicts, {}, *recipe, nullptr, 77);
  ASSERT_TRUE(scored.is_ok()) << scored.status().to_string();
  ASSERT_EQ(scored->size(), 2u);
  auto a = wire::read<wire::ScoredRollout>((*scored)[0]);
  auto b = wire::read<wire::ScoredRollout>((*scored)[1]);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ((*a)->rollout()->policy_version(), 3u);
  EXPECT_EQ((*a)->prompt_text()->str(), "1+2=");
  EXPECT_EQ((*a)->extracted_answer()->str(), "3");
  EXPECT_NEAR((*a)->rewards()->total(), 1.0f, 1e-4);   // (1 - 0.5) / 0.5
  EXPECT_NEAR((*b)->rewards()->total(), -1.0f, 1e-4);
  ASSERT_EQ((*a)->rewards()->components()->size(), 1u);
  EXPECT_EQ((*a)->rewards()->components()->Get(0)->source(), wire::RewardSource::Rule);
  EXPECT_FLOAT_EQ((*a)->rewards()->components()->Get(0)->raw(), 1.0f);
  EXPECT_EQ((*a)->scored_unix_ms(), 77u);
}

TEST(Scoring, BadRecipeNamesTheSource) {
  configs::RewardRecipe rc;
  rc.sources[0].kind = "oracle";
  auto r = recipe_from_config(rc);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"oracle\""), std::string::npos);
}

}  // namespace
}  // namespace troupe::actors
