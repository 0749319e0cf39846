// Data-parallel learners: two trainers joined by an in-process all-reduce, each
// given half of a batch, take the step one trainer takes on the whole batch, and
// stay bit-identical to each other. The collective itself: sums in rank order,
// refuses mismatched lengths, and abort() releases a waiting participant.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <thread>

#include "rl/collective.hpp"
#include "rl/trainer.hpp"

namespace troupe::rl {
namespace {

model::ModelConfig tiny() {
  model::ModelConfig c;
  c.d_model = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.context = 32;
  return c;
}

// `groups` prompts x 4 responses with rewards that differ inside each group.
std::vector<TrainSample> batch(int groups, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int> byte(97, 122), len(2, 6);
  std::vector<TrainSample> out;
  for (int g = 0; g < groups; ++g) {
    std::vector<int> prompt = {256};  // BOS
    for (int i = 0; i < 5; ++i) prompt.push_back(byte(rng));
    for (int k = 0; k < 4; ++k) {
      TrainSample s;
      s.prompt_id = static_cast<uint64_t>(g + 1);
      s.prompt_tokens = prompt;
      const int n = len(rng);
      for (int i = 0; i < n; ++i) s.response_tokens.push_back(byte(rng));
      s.behaviour_logprobs.assign(s.response_tokens.size(), -5.5f);  // about uniform over 260 tokens
      s.reward = static_cast<float>((k + g) % 2);
      out.push_back(std::move(s));
    }
  }
  return out;
}

TrainerOptions options() {
  TrainerOptions o;
  o.passes = 2;
  o.lr = 1e-3f;
  return o;
}

// Two replicas joined by an in-process all-reduce, both starting from `init`'s weights.
struct ReplicaPair {
  std::unique_ptr<PolicyTrainer> r0, r1;
};
ReplicaPair replicas(const model::Transformer& init, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  auto handles = InProcessCollective::make_group(2, timeout);
  ReplicaPair p;
  for (int r = 0; r < 2; ++r) {
    auto m = model::Transformer::create(tiny(), 0);
    EXPECT_TRUE(m && m->load_parameters(init.parameters(), 0));
    TrainerOptions o = options();
    o.collective = handles[static_cast<size_t>(r)];
    (r == 0 ? p.r0 : p.r1) = std::make_unique<PolicyTrainer>(std::move(*m), o);
  }
  return p;
}

TEST(DataParallelTrainer, TwoHalvesTakeTheWholeBatchStep) {
  auto init = model::Transformer::create(tiny(), 11);
  ASSERT_TRUE(init);
  auto copy = [&] {
    auto m = model::Transformer::create(tiny(), 0);
    EXPECT_TRUE(m);
    EXPECT_TRUE(m->load_parameters(init->parameters(), 0));
    return std::move(*m);
  };
  const auto all = batch(6, 3);
  PolicyTrainer whole(copy(), options());

  auto handles = InProcessCollective::make_group(2);
  TrainerOptions o0 = options(), o1 = options();
  o0.collective = handles[0];
  o1.collective = handles[1];
  PolicyTrainer r0(copy(), o0), r1(copy(), o1);
  // Whole groups per replica: groups 1-2 to rank 0, groups 3-6 to rank 1 (unequal shares on purpose).
  std::vector<TrainSample> half0(all.begin(), all.begin() + 8), half1(all.begin() + 8, all.end());

  for (int step = 0; step < 3; ++step) {
    auto w = whole.step(all);
    ASSERT_TRUE(w) << w.status().message();
    Result<TrainStats> s1 = Status::internal("not run");
    std::thread t([&] { s1 = r1.step(half1); });
    auto s0 = r0.step(half0);
    t.join();
    ASSERT_TRUE(s0) << s0.status().message();
    ASSERT_TRUE(s1) << s1.status().message();
    EXPECT_TRUE(s0->stepped);
    EXPECT_DOUBLE_EQ(s0->grad_norm, s1->grad_norm) << "both replicas clip the same summed gradient";
    EXPECT_NEAR(s0->grad_norm, w->grad_norm, 1e-4 * std::max(1.0, w->grad_norm));
  }
  const auto p = whole.policy().parameters();
  const auto a = r0.policy().parameters();
  const auto b = r1.policy().parameters();
  ASSERT_EQ(a.size(), p.size());
  size_t differ = 0;
  double worst = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (a[i] != b[i]) ++differ;
    worst = std::max(worst, static_cast<double>(std::fabs(a[i] - p[i])));
  }
  EXPECT_EQ(differ, 0u) << "replicas must stay bit-identical";
  // Summation order differs from the single trainer's: float rounding only. The
  // steps themselves move weights by ~1e-3 (lr) per pass.
  EXPECT_LT(worst, 2e-5) << "the replicas' step differs from the whole batch's";
  EXPECT_EQ(r0.version(), whole.version());
}

TEST(DataParallelTrainer, AReplicaWithNothingInformativeStillSteps) {
  auto init = model::Transformer::create(tiny(), 5);
  ASSERT_TRUE(init);
  auto [r0, r1] = replicas(*init);
  auto informative = batch(2, 9);
  auto equal = batch(2, 10);
  for (auto& s : equal) s.reward = 1.0f;  // every group all-equal: dropped
  Result<TrainStats> s1 = Status::internal("not run");
  std::thread t([&] { s1 = r1->step(equal); });
  auto s0 = r0->step(informative);
  t.join();
  ASSERT_TRUE(s0 && s1);
  EXPECT_EQ(s1->groups_used, 0);
  const auto a = r0->policy().parameters(), b = r1->policy().parameters();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << "the idle replica applies the shared step";
  const auto before = init->parameters();
  EXPECT_FALSE(std::equal(a.begin(), a.end(), before.begin())) << "the shared step moved the weights";
}

TEST(DataParallelTrainer, AMalformedShareFailsEveryReplicaWithoutWaiting) {
  auto init = model::Transformer::create(tiny(), 2);
  ASSERT_TRUE(init);
  // A short timeout: were the good replica left waiting, it would fail by timeout instead.
  auto [r0, r1] = replicas(*init, std::chrono::seconds(30));
  auto good = batch(2, 4);
  auto bad = batch(2, 5);
  bad[3].behaviour_logprobs.pop_back();
  Result<TrainStats> s1 = Status::internal("not run");
  std::thread t([&] { s1 = r1->step(bad); });
  auto s0 = r0->step(good);
  t.join();
  ASSERT_FALSE(s0);
  ASSERT_FALSE(s1);
  EXPECT_NE(s0.status().message().find("peer"), std::string::npos) << s0.status().message();
  EXPECT_NE(s1.status().message().find("behaviour log-probs"), std::string::npos) << s1.status().message();
  // The group is still in step: the next batch trains on both.
  std::thread t2([&] { s1 = r1->step(batch(2, 6)); });
  s0 = r0->step(good);
  t2.join();
  EXPECT_TRUE(s0 && s1);
}

TEST(InProcessCollective, SumsRefusesMismatchAndAborts) {
  auto handles = InProcessCollective::make_group(3);
  std::vector<std::vector<float>> bufs = {{1, 2}, {10, 20}, {100, 200}};
  std::vector<Status> st(3);
  {
    std::vector<std::thread> ts;
    for (int r = 0; r < 3; ++r) ts.emplace_back([&, r] { st[r] = handles[r]->all_reduce_sum(bufs[r]); });
    for (auto& t : ts) t.join();
  }
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(st[r]) << st[r].message();
    EXPECT_EQ(bufs[r], (std::vector<float>{111, 222}));
  }
  std::vector<std::vector<float>> uneven = {{1}, {1, 2}, {1}};
  {
    std::vector<std::thread> ts;
    for (int r = 0; r < 3; ++r) ts.emplace_back([&, r] { st[r] = handles[r]->all_reduce_sum(uneven[r]); });
    for (auto& t : ts) t.join();
  }
  for (int r = 0; r < 3; ++r) EXPECT_FALSE(st[r]) << "different lengths are refused";

  Status waiting;
  std::vector<float> one = {1};
  std::thread t([&] { waiting = handles[0]->all_reduce_sum(one); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it start waiting (not a timing assertion)
  group_of(handles[0])->abort();
  t.join();
  EXPECT_FALSE(waiting);
  EXPECT_NE(waiting.message().find("abort"), std::string::npos);
  EXPECT_FALSE(handles[1]->all_reduce_sum(one)) << "every later call fails after abort";
}

}  // namespace
}  // namespace troupe::rl
