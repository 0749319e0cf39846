// The sampler: reproducible per seed, cache and no cache agree, behaviour
// log-probs equal the learner's log-probs of the same tokens, stop conditions,
// and weights swapped between decode steps.
#include <gtest/gtest.h>

#include "model/optimizer.hpp"
#include "model/sampler.hpp"
#include "model/tokenizer.hpp"

namespace troupe::model {
namespace {

ModelConfig small() {
  ModelConfig c;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.context = 32;
  return c;
}

// A model that answers prompt "x" with "hello world" + EOS (memorised).
Transformer trained_hello() {
  auto m = Transformer::create(small(), 21);
  auto b = TokenBatch::from_pairs({encode_prompt("x")}, {[] {
                                    auto r = encode_bytes("hello world");
                                    r.push_back(kEos);
                                    return r;
                                  }()},
                                  32, 260);
  AdamW opt(*m, AdamWConfig{});
  std::vector<float> logp, dlogp;
  for (int i = 0; i < 150; ++i) {
    (void)m->forward(*b, &logp);
    weighted_nll(*b, logp, &dlogp);
    m->zero_grad();
    (void)m->backward(dlogp);
    (void)opt.step(*m, 1e-2f);
  }
  return std::move(*m);
}

TEST(Sampler, SameSeedSameSamplesOtherSeedOthers) {
  Sampler s(Transformer::create(small(), 1).value());
  SamplingParams p;
  p.max_new_tokens = 20;
  p.seed = 5;
  std::vector<std::vector<int>> prompts = {encode_prompt("ab"), encode_prompt("a much longer prompt")};
  auto a = s.sample(prompts, p), b = s.sample(prompts, p);
  p.seed = 6;
  auto c = s.sample(prompts, p);
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  EXPECT_EQ((*a)[0].tokens, (*b)[0].tokens);
  EXPECT_EQ((*a)[1].tokens, (*b)[1].tokens);
  EXPECT_NE((*a)[0].tokens, (*c)[0].tokens);  // 20 draws from ~uniform over 260: equal by chance ~0
  EXPECT_EQ((*a)[0].tokens.size(), 20u);
  EXPECT_EQ((*a)[0].stop, StopReason::kMaxTokens);
}

TEST(Sampler, BehaviourLogprobsEqualLearnerLogprobsAndCacheEqualsNoCache) {
  Sampler s(Transformer::create(small(), 2).value());
  SamplingParams p;
  p.max_new_tokens = 12;
  p.seed = 9;
  std::vector<std::vector<int>> prompts = {encode_prompt("12+34="), encode_prompt("7"), encode_prompt("abc")};
  auto cached = s.sample(prompts, p);
  p.use_kv_cache = false;
  auto full = s.sample(prompts, p);
  ASSERT_TRUE(cached.is_ok() && full.is_ok());
  std::vector<std::vector<int>> responses;
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    EXPECT_EQ((*cached)[r].tokens, (*full)[r].tokens) << r;
    for (std::size_t i = 0; i < (*cached)[r].logprobs.size(); ++i) {
      EXPECT_NEAR((*cached)[r].logprobs[i], (*full)[r].logprobs[i], 1e-4);  // reordered float sums
    }
    responses.push_back((*cached)[r].tokens);
  }
  auto b = TokenBatch::from_pairs(prompts, responses, 32, 260);
  ASSERT_TRUE(b.is_ok());
  std::vector<float> logp;
  ASSERT_TRUE(s.model().forward(*b, &logp).is_ok());
  for (int r = 0; r < b->batch; ++r) {
    std::size_t j = 0;
    for (int t = 0; t < b->seq_len; ++t) {
      const std::size_t i = std::size_t(r) * b->seq_len + t;
      if (b->loss_weight[i] == 0.0f) continue;
      EXPECT_NEAR(logp[i], (*cached)[r].logprobs[j++], 1e-4) << r << " " << t;  // same model, other batch shape
    }
    EXPECT_EQ(j, (*cached)[r].logprobs.size());
  }
}

TEST(Sampler, StopsOnEosStopStringsAndMaxTokens) {
  Sampler s(trained_hello());
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 30;
  auto r = s.sample({encode_prompt("x")}, p);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].text, "hello world");
  EXPECT_EQ((*r)[0].stop, StopReason::kEos);
  EXPECT_EQ((*r)[0].tokens.back(), kEos);
  p.stop = {"lo"};
  r = s.sample({encode_prompt("x")}, p);
  EXPECT_EQ((*r)[0].text, "hello");
  EXPECT_EQ((*r)[0].stop, StopReason::kStopString);
  p.stop.clear();
  p.max_new_tokens = 3;
  r = s.sample({encode_prompt("x")}, p);
  EXPECT_EQ((*r)[0].text, "hel");
  EXPECT_EQ((*r)[0].stop, StopReason::kMaxTokens);
  p.top_p = 0.0f;
  EXPECT_FALSE(s.sample({encode_prompt("x")}, p).is_ok());
  EXPECT_FALSE(s.sample({std::vector<int>(32, 'a')}, SamplingParams{}).is_ok());  // no room to answer
}

TEST(Sampler, SwapsWeightsBetweenDecodeSteps) {
  Transformer hello = trained_hello();
  std::vector<float> hello_weights(hello.parameters().begin(), hello.parameters().end());
  Sampler s(Transformer::create(small(), 3).value());  // starts untrained, version 0
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 11;
  const auto prompt = encode_prompt("x");  // BOS x SEP: the first sample happens at step 2
  p.on_step = [&](int step) {
    if (step == 4) s.stage_weights(hello_weights, 7);
  };
  auto r = s.sample({prompt}, p);
  ASSERT_TRUE(r.is_ok());
  const auto& v = (*r)[0].versions;
  ASSERT_EQ(v.size(), 11u);
  EXPECT_EQ(v[0], 0u);  // step 2
  EXPECT_EQ(v[1], 0u);  // step 3
  EXPECT_EQ(v[2], 7u);  // step 4: the new weights are in
  EXPECT_EQ(s.model().version(), 7u);
}

}  // namespace
}  // namespace troupe::model
