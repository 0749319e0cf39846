// Curriculum: frontier moves up on mastery, dropped levels stop being drawn, weights hold.
#include "rl/curriculum.hpp"

#include <gtest/gtest.h>

#include <set>

namespace troupe::rl {
namespace {

TEST(Curriculum, RaisesFrontierAndDropsMasteredLevels) {
  Curriculum c({.window = 4, .raise_above = 0.8}, {{"add", 1.0, 1, 3}}, 7);
  EXPECT_EQ(c.next().level, 1);
  for (int i = 0; i < 4; ++i) c.record(0, 1, true);
  EXPECT_EQ(c.frontier(0), 2);
  EXPECT_EQ(c.level(0, 1).status, LevelStatus::kMastered);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(c.next().level, 2);
  for (int i = 0; i < 4; ++i) c.record(0, 2, false);
  EXPECT_EQ(c.level(0, 2).status, LevelStatus::kHopeless);
  EXPECT_EQ(c.frontier(0), 2);
  auto p = c.next();  // nothing active: falls back to the frontier
  EXPECT_TRUE(c.exhausted());
  EXPECT_EQ(p.level, 2);
}

TEST(Curriculum, MixedResultsKeepALevelActive) {
  Curriculum c({.window = 4}, {{"add", 1.0, 1, 2}}, 1);
  for (int i = 0; i < 8; ++i) c.record(0, 1, i % 2 == 0);
  EXPECT_EQ(c.level(0, 1).status, LevelStatus::kActive);
  EXPECT_DOUBLE_EQ(c.level(0, 1).pass_rate(), 0.5);
  EXPECT_EQ(c.frontier(0), 1);
}

TEST(Curriculum, TaskWeightsHold) {
  Curriculum c({}, {{"a", 3.0, 1, 1}, {"b", 1.0, 1, 1}}, 42);
  int a = 0;
  const int n = 8000;
  for (int i = 0; i < n; ++i) a += c.next().task == 0 ? 1 : 0;
  // Binomial(8000, 0.75) has std ~39 picks (0.5%); 3% is a wide, seed-fixed margin.
  EXPECT_NEAR(static_cast<double>(a) / n, 0.75, 0.03);
}

TEST(Curriculum, DisabledSamplesWholeRange) {
  Curriculum c({.enabled = false}, {{"a", 1.0, 2, 4}}, 3);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) seen.insert(c.next().level);
  EXPECT_EQ(seen, (std::set<int>{2, 3, 4}));
}

TEST(Curriculum, SnapshotRestoreContinuesWhereItStopped) {
  Curriculum a({.window = 4, .raise_above = 0.7}, {{"add", 1.0, 1, 4}, {"mul", 2.0, 2, 3}}, 9);
  for (int i = 0; i < 4; ++i) a.record(0, 1, true);
  for (int i = 0; i < 3; ++i) a.record(0, 2, i == 0);
  ASSERT_EQ(a.frontier(0), 2);
  for (int i = 0; i < 5; ++i) a.next();
  Curriculum b({.window = 4, .raise_above = 0.7}, {{"add", 1.0, 1, 4}, {"mul", 2.0, 2, 3}}, 1234);
  ASSERT_EQ(b.restore(a.snapshot()), "");
  EXPECT_EQ(b.frontier(0), 2);
  EXPECT_EQ(b.level(0, 1).status, LevelStatus::kMastered);
  EXPECT_EQ(b.level(0, 2).seen, 3);
  for (int i = 0; i < 50; ++i) {  // the same draws from here on, the rng state included
    auto pa = a.next(), pb = b.next();
    ASSERT_EQ(pa.task, pb.task);
    ASSERT_EQ(pa.level, pb.level);
  }
  a.record(0, 2, true);
  b.record(0, 2, true);
  EXPECT_EQ(a.frontier(0), b.frontier(0));
}

TEST(Curriculum, RestoreRejectsAnotherShape) {
  Curriculum a({.window = 4}, {{"add", 1.0, 1, 4}}, 9);
  Curriculum fewer_levels({.window = 4}, {{"add", 1.0, 1, 3}}, 9);
  EXPECT_NE(fewer_levels.restore(a.snapshot()).find("levels"), std::string::npos);
  Curriculum two_tasks({.window = 4}, {{"add", 1.0, 1, 4}, {"b", 1.0, 1, 1}}, 9);
  EXPECT_NE(two_tasks.restore(a.snapshot()).find("tasks"), std::string::npos);
  Curriculum narrower({.window = 2}, {{"add", 1.0, 1, 4}}, 9);
  for (int i = 0; i < 4; ++i) a.record(0, 1, false);
  EXPECT_NE(narrower.restore(a.snapshot()).find("window"), std::string::npos);
}

}  // namespace
}  // namespace troupe::rl
