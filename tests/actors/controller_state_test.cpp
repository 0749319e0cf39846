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

TEST(ControllerState, DroppedPromptFreesItsAdmissionSlot) {
  // Synchronous: 4 prompts per step. One is lost twice (dropped): a replacement is admitted, so the
  // learner still gets the step's 4 groups.
  ControllerState s(config(4, 0, 100));
  std::vector<PromptTicket> issued;
  EXPECT_EQ(drain(s, &issued), 4);
  ASSERT_TRUE(s.prompt_lost(issued[0].prompt_id).has_value());
  ASSERT_FALSE(s.prompt_lost(issued[0].prompt_id).has_value());
  std::vector<PromptTicket> more;
  EXPECT_EQ(drain(s, &more), 1);
  EXPECT_NE(more[0].prompt_id, issued[0].prompt_id) << "a new prompt, not the dropped one again";
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

TEST(ControllerState, FinishedPromptReportsItsTaskAndLevel) {
  ControllerState s(config(4, 0, 100));
  std::vector<PromptTicket> issued;
  drain(s, &issued);
  auto done = s.prompt_done(issued[1].prompt_id, {true});
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->prompt_id, issued[1].prompt_id);
  EXPECT_EQ(done->level, issued[1].level);
  EXPECT_EQ(done->task_name, "addition");
  EXPECT_FALSE(s.prompt_done(issued[1].prompt_id, {true}).has_value()) << "a second answer is late";
}

TEST(ControllerState, RestoreContinuesPromptIdsCurriculumAndAdmission) {
  ControllerState a(config(4, 1, 100));
  std::vector<PromptTicket> issued;
  drain(a, &issued);
  for (auto& t : issued) a.prompt_done(t.prompt_id, std::vector<bool>(8, true));
  const auto snap = a.snapshot();

  ControllerState b(config(4, 1, 100));
  ASSERT_EQ(b.restore(7, snap), "");
  EXPECT_EQ(b.learner_version(), 7u);
  std::vector<PromptTicket> more;
  EXPECT_EQ(drain(b, &more), 8) << "as a fresh start: (1 + max_staleness) steps of prompts";
  std::set<uint64_t> seeds;
  for (auto& t : issued) seeds.insert(t.seed);
  for (auto& t : more) EXPECT_EQ(seeds.count(t.seed), 0u) << "a resumed run never repeats a case";
  EXPECT_EQ(b.curriculum().level(0, more[0].level).seen, a.curriculum().level(0, more[0].level).seen);

  ControllerState busy(config(4, 1, 100));
  drain(busy);
  EXPECT_FALSE(busy.restore(1, snap).empty()) << "only before the first prompt";
  configs::ExperimentConfig other = config(4, 1, 100);
  other.tasks = {{"addition", 1.0, {1, 3}}};
  ControllerState wrong(other);
  EXPECT_NE(wrong.restore(1, snap).find("levels"), std::string::npos);
}

}  // namespace
}  // namespace troupe::actors
