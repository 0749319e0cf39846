// The whole one-process RL loop on an easy task: a short supervised warm start on
// imperfect demonstrations (half of them carry a wrong character), then the
// asynchronous loop with every actor, a real RocksDB replay store and checkpoints.
// Shown: the rule reward the loop collects rises from its first seconds to its
// last, held-out sampled pass@1 rises over the warm start's, and the replay store
// holds every stored rollout with its policy version and reward components; a
// resumed run (with a worker killed, and two data-parallel learners) continues the
// policy version, prompt ids and curriculum, and stores no group twice.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "actors/evaluation.hpp"
#include "actors/pipeline.hpp"
#include "actors/warm_start.hpp"
#include "configs/schema.hpp"
#include "model/checkpoint.hpp"
#include "storage/replay_store.hpp"

namespace troupe {
namespace {

namespace fs = std::filesystem;

// copy level 1: "copy:abc=" -> "abc". A 2-layer model learns it in seconds; with
// half the demonstrations wrong in one character, sampling at T=1 gets roughly half
// the cases right, which leaves group-relative RL a clear signal.
constexpr const char* kConfig = R"(
run: {name: pipeline-test, seed: 3}
model: {d_model: 64, n_layers: 2, n_heads: 2, context: 32}
warm_start: {max_minutes: 5, max_steps: 400, batch: 64, lr: 3.0e-3, corrupt_fraction: 0.5, eval_every: 50, eval_cases: 64, patience: 3}
tasks:
  - {name: copy, weight: 1.0, difficulty: {min: 1, max: 1}}
curriculum: {enabled: false}
algorithm: {objective: ppo, group_size: 8, prompts_per_step: 16, lr: 1.0e-3, passes: 2, clip: 0.2, max_new_tokens: 8}
async: {max_staleness: 2}
monitoring: {enabled: false}
)";

// The loop runs for a number of learner steps (what the assertions need), with a
// wall-clock bound far above what a loaded 2-core machine takes (120 steps: 15-90 s).
// (80 steps gained 10.0 points once under heavy load, right at the bound below.)
constexpr uint64_t kRlSteps = 120;
constexpr double kRlSecondsBound = 240;
constexpr int kEvalCases = 300;    // a pass rate over 300 cases has a std of at most ~3 points

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_pipeline_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

double sampled_pass(const model::Transformer& policy, const configs::ExperimentConfig& config) {
  actors::EvalOptions eo;
  eo.cases_per_task = kEvalCases;
  eo.temperature = 1.0f;
  eo.max_new_tokens = 8;
  auto ev = actors::evaluate(policy, config, eo);
  EXPECT_TRUE(ev) << ev.status().message();
  return ev ? actors::mean_pass_rate(*ev) : 0;
}

TEST_F(PipelineTest, RewardRisesAndReplayKeepsVersionsAndComponents) {
  auto config = configs::parse_config(kConfig, "pipeline_test.yaml");
  ASSERT_TRUE(config) << config.status().message();
  model::ModelConfig mc;
  mc.d_model = 64;
  mc.n_layers = 2;
  mc.n_heads = 2;
  mc.context = 32;
  auto init = model::Transformer::create(mc, 3);
  ASSERT_TRUE(init);
  auto warm = actors::warm_start(*config, std::move(*init), nullptr);
  ASSERT_TRUE(warm) << warm.status().message();
  const double before = sampled_pass(warm->policy, *config);
  ASSERT_GT(before, 0.1) << "the warm start must solve some cases, or RL has nothing to reinforce";

  actors::PipelineOptions po;
  po.replay_path = (dir_ / "replay").string();
  po.checkpoint_dir = (dir_ / "checkpoint").string();
  po.max_seconds = kRlSecondsBound;
  po.max_steps = kRlSteps;
  auto rl = actors::run_pipeline(*config, warm->policy, nullptr, po);
  ASSERT_TRUE(rl) << rl.status().message();
  ASSERT_GT(rl->learner_steps, 10u) << "the learner barely ran";
  const double after = sampled_pass(rl->policy, *config);
  std::printf("held-out sampled pass@1: warm start %.3f, after %llu learner steps %.3f\n", before,
              static_cast<unsigned long long>(rl->learner_steps), after);
  EXPECT_GT(after, before + 0.1) << "held-out sampled pass@1 " << before << " -> " << after;

  // The replay store: every stored rollout readable, with versions and components.
  storage::ReplayOptions ro;
  ro.create_if_missing = false;
  auto store = storage::ReplayStore::open(po.replay_path, ro);
  ASSERT_TRUE(store) << store.status().message();
  uint64_t count = 0, max_version = 0, with_rule = 0, passed = 0, last_id = 0, max_prompt = 0;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> by_version;  // version -> (rollouts, rule passes)
  Status scanned = (*store)->scan_summaries({}, [&](const storage::RolloutSummary& s) {
    ++count;
    auto& v = by_version[s.policy_version];
    v.first += 1;
    v.second += s.sources[storage::RolloutSummary::kRule].raw >= storage::RolloutSummary::kPassThreshold ? 1 : 0;
    last_id = std::max(last_id, s.id);
    max_prompt = std::max(max_prompt, s.prompt_id);
    max_version = std::max(max_version, s.policy_version);
    const auto& rule = s.sources[storage::RolloutSummary::kRule];
    if (rule.present) ++with_rule;
    if (rule.present && rule.raw >= storage::RolloutSummary::kPassThreshold) ++passed;
    EXPECT_EQ(s.task, "copy");
    return true;
  });
  ASSERT_TRUE(scanned) << scanned.message();
  EXPECT_EQ(count, rl->stored) << "every acknowledged rollout is in the store";
  EXPECT_EQ(with_rule, count) << "every rollout keeps its rule component";
  EXPECT_GT(passed, 0u);
  EXPECT_LT(passed, count);
  EXPECT_GE(max_version + 3, rl->policy.version()) << "rollouts of recent versions are stored";
  EXPECT_GT(max_version, 0u);
  // Mean rule reward rises: rollouts sampled by the warm start (version 0) against
  // those of the last ten versions, as the replay store recorded them.
  auto rate = [&](uint64_t lo, uint64_t hi) {
    uint64_t n = 0, p = 0;
    for (const auto& [v, np] : by_version) {
      if (v >= lo && v <= hi) n += np.first, p += np.second;
    }
    return n ? static_cast<double>(p) / static_cast<double>(n) : 0.0;
  };
  const double early = rate(0, 0), late = rate(max_version >= 9 ? max_version - 9 : 0, max_version);
  EXPECT_GT(late, early + 0.1) << "mean rule reward did not rise: " << early << " (version 0) -> " << late
                               << " (last ten versions)";
  auto report = (*store)->verify();
  ASSERT_TRUE(report);
  // The checkpoint index: the one checkpoint directory, at the version it holds now,
  // with how training stood when it was written.
  auto index = (*store)->checkpoints();
  ASSERT_TRUE(index) << index.status().message();
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ(index->front().version, rl->policy.version());
  EXPECT_EQ(index->front().path, po.checkpoint_dir);
  EXPECT_NE(index->front().eval_json.find("\"rule_pass_rate\""), std::string::npos) << index->front().eval_json;
  store->reset();

  // Resume: the version, prompt ids and curriculum continue from the last checkpoint.
  auto state = actors::load_run_state(po.checkpoint_dir);
  ASSERT_TRUE(state) << state.status().message();
  auto resumed = model::load_checkpoint(po.checkpoint_dir);
  ASSERT_TRUE(resumed) << resumed.status().message();
  EXPECT_EQ(resumed->version(), rl->policy.version()) << "the final checkpoint is written when the loop stops";
  state->version = resumed->version();
  actors::PipelineOptions again = po;
  again.max_seconds = 10;
  again.max_steps = 0;
  again.on_progress = nullptr;
  again.resume = *state;
  again.kill_worker_after_s = 4;  // and a policy worker and an env actor crash meanwhile
  again.kill_env_too = true;
  // ... with two data-parallel learners this time (each trains on half of every step).
  configs::ExperimentConfig two = *config;
  two.algorithm.learners = 2;
  auto more = actors::run_pipeline(two, *resumed, nullptr, again);
  ASSERT_TRUE(more) << more.status().message();
  EXPECT_GT(more->policy.version(), resumed->version()) << "training went on from the resumed version";
  EXPECT_EQ(more->worker_restarts, 1u) << "the killed worker was replaced";
  EXPECT_EQ(more->env_restarts, 1u) << "the killed env actor was replaced";
  auto store2 = storage::ReplayStore::open(po.replay_path, ro);
  ASSERT_TRUE(store2);
  EXPECT_GT(state->controller.next_prompt_id, max_prompt) << "the checkpoint records every prompt id used";
  uint64_t total = 0, new_rollouts = 0, old_prompts_reused = 0, duplicates = 0;
  std::set<std::pair<uint64_t, int32_t>> seen;  // (prompt, index in group): each stored at most once
  Status s2 = (*store2)->scan_summaries({.after_id = last_id}, [&](const storage::RolloutSummary& s) {
    ++new_rollouts;
    if (!seen.insert({s.prompt_id, s.group_index}).second) ++duplicates;
    if (s.prompt_id <= max_prompt) ++old_prompts_reused;
    EXPECT_GE(s.policy_version, resumed->version());
    return true;
  });
  ASSERT_TRUE(s2);
  EXPECT_GT(new_rollouts, 0u);
  EXPECT_EQ(duplicates, 0u) << "a re-issued prompt's group is stored once, not twice";
  (*store2)->scan_summaries({}, [&](const storage::RolloutSummary&) {
    ++total;
    return true;
  }).ignore();
  EXPECT_EQ(total, count + more->stored) << "the first run's rollouts are kept, the new ones added";
  EXPECT_EQ(old_prompts_reused, 0u) << "a resumed run issues new prompt ids, hence new cases";
}

}  // namespace
}  // namespace troupe
