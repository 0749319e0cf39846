// The controller's admission under the staleness bound, in-flight bound and re-issue rule.
#include "actors/controller_state.hpp"

#include <gtest/gtest.h>

#include <set>

namespace troupe::actors {
namespace {

configs::ExperimentConfig config(int64_t prompts_per_step, int64_t max_staleness, int64_t queue) {
  configs::ExperimentConfig c;
  c.tasks = {{"addition", 1.0, {1, 2}}};
  c.algorithm.prompts_per_step = prompts_per_step;
  c.async.max_staleness = max_staleness;
  c.limits.prompt_queue = queue;
  return c;
}

int drain(ControllerState& s, std::vector<PromptTicket>* out = nullptr) {
  int n = 0;
  while (auto t = s.next_prompt()) {
    ++n;
    if (out) out->push_back(*t);
  }
  return n;
}

TEST(ControllerState, SynchronousModeAdmitsOneStepAtATime) {
  ControllerState s(config(4, 0, 100));
  std::vector<PromptTicket> issued;
  EXPECT_EQ(drain(s, &issued), 4);
  for (auto& t : issued) s.prompt_done(t.prompt_id, {true, false});
  EXPECT_EQ(drain(s), 0) << "no prompt for the next step before the learner publishes";
  s.learner_version(1);
  EXPECT_EQ(drain(s), 4);
}

TEST(ControllerState, StalenessBoundAdmitsThatManyStepsAhead) {
  ControllerState s(config(4, 2, 100));
  EXPECT_EQ(drain(s), 12);  // (0 + 1 + 2) * 4
  s.learner_version(1);
  EXPECT_EQ(drain(s), 4);
}

TEST(ControllerState, InFlightBound) {
  ControllerState s(config(100, 0, 3));
  std::vector<PromptTicket> issued;
  EXPECT_EQ(drain(s, &issued), 3);
  s.prompt_done(issued[0].prompt_id, {true});
  EXPECT_EQ(drain(s), 1);
}

TEST(ControllerState, LostPromptReissuedExactlyOnce) {
  ControllerState s(config(4, 0, 100));
  std::vector<PromptTicket> issued;
  drain(s, &issued);
  auto again = s.prompt_lost(issued[0].prompt_id);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->seed, issued[0].seed) << "the same case is re-issued";
  EXPECT_EQ(again->attempt, 1);
  EXPECT_FALSE(s.prompt_lost(issued[0].prompt_id).has_value()) << "a second loss drops it";
  EXPECT_EQ(s.dropped(), 1u);
  EXPECT_FALSE(s.prompt_lost(issued[0].prompt_id).has_value()) << "an unknown prompt is not re-issued";
}

TEST(ControllerState, SeedsAreDistinctAndNeverEvaluationSeeds) {
  ControllerState s(config(64, 0, 1000));
  std::vector<PromptTicket> issued;
  drain(s, &issued);
  std::set<uint64_t> seeds;
  for (auto& t : issued) {
    seeds.insert(t.seed);
    EXPECT_LT(t.seed, kEvalSeedBase);
    EXPECT_GE(t.level, 1);
    EXPECT_LE(t.level, 2);
  }
  EXPECT_EQ(seeds.size(), issued.size());
}

}  // namespace
}  // namespace troupe::actors
