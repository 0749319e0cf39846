// run_state.json: what a checkpoint keeps of the controller survives a round trip;
// a damaged or missing file is an error naming the file.
#include "actors/run_state.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace troupe::actors {
namespace {

namespace fs = std::filesystem;

class RunStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_run_state_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(RunStateTest, RoundTrip) {
  rl::Curriculum c({.window = 3}, {{"addition", 1.0, 1, 3}, {"copy", 1.0, 2, 2}}, 5);
  for (int i = 0; i < 5; ++i) c.record(0, 1, i % 2 == 0);
  c.record(1, 2, true);
  c.next();
  RunState s{42, {1234, c.snapshot()}};
  ASSERT_TRUE(save_run_state(dir_.string(), s));
  auto back = load_run_state(dir_.string());
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(back->version, 42u);
  EXPECT_EQ(back->controller.next_prompt_id, 1234u);
  const auto& a = s.controller.curriculum;
  const auto& b = back->controller.curriculum;
  EXPECT_EQ(a.frontier, b.frontier);
  EXPECT_EQ(a.rng_state, b.rng_state);
  ASSERT_EQ(a.levels.size(), b.levels.size());
  for (size_t t = 0; t < a.levels.size(); ++t) {
    ASSERT_EQ(a.levels[t].size(), b.levels[t].size());
    for (size_t l = 0; l < a.levels[t].size(); ++l) {
      EXPECT_EQ(a.levels[t][l].ring, b.levels[t][l].ring);
      EXPECT_EQ(a.levels[t][l].next, b.levels[t][l].next);
      EXPECT_EQ(a.levels[t][l].seen, b.levels[t][l].seen);
      EXPECT_EQ(a.levels[t][l].status, b.levels[t][l].status);
    }
  }
}

TEST_F(RunStateTest, MissingAndDamagedFilesAreNamed) {
  auto missing = load_run_state(dir_.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("run_state.json"), std::string::npos);

  fs::create_directories(dir_);
  std::ofstream(dir_ / "run_state.json") << R"({"version": 3, "next_prompt_id": 9})";
  auto partial = load_run_state(dir_.string());
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.status().message().find("curriculum"), std::string::npos) << partial.status().message();

  std::ofstream(dir_ / "run_state.json", std::ios::trunc) << "{not json";
  auto garbage = load_run_state(dir_.string());
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.status().message().find("run_state.json"), std::string::npos);
}

}  // namespace
}  // namespace troupe::actors
