// The transformer end to end: whole-model gradients against finite
// differences, padding and loss-mask semantics, cached decoding against the
// full forward, and a few optimiser steps that must lower the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/matmul.hpp"
#include "model/config.hpp"
#include "model/optimizer.hpp"
#include "model/tokenizer.hpp"
#include "model/transformer.hpp"

namespace troupe::model {
namespace {

ModelConfig tiny(bool scalar_head = false) {
  ModelConfig c;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.context = 12;
  c.scalar_head = scalar_head;
  return c;
}

std::vector<float> random_upstream(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> r(n);
  for (float& x : r) x = d(rng);
  return r;
}

TEST(ModelConfig, ValidatesAndRoundTripsJson) {
  ModelConfig c = tiny(true);
  auto back = ModelConfig::from_json(c.to_json(), "test");
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, c);
  ModelConfig bad = c;
  bad.n_heads = 3;
  EXPECT_NE(bad.validate().message().find("divisible"), std::string::npos);
  auto missing = ModelConfig::from_json(R"({"vocab_size": 260, "d_model": 8})", "dir/config.json");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("dir/config.json: missing key \"n_layers\""), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(ModelConfig::from_json("{not json", "x").is_ok());
}

TEST(ModelConfig, CountsParametersLikeTheAnchors) {
  ModelConfig a;  // d=128, L=4: ANCHORS.md calls it 0.84M parameters
  EXPECT_NEAR(double(a.num_parameters()), 0.84e6, 0.01e6);
  auto m = Transformer::create(a, 1);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(long(m->parameters().size()), a.num_parameters());
}

TEST(Tokenizer, BytesRoundTripAndSpecialsFrame) {
  const std::string s = "12+34=\xff";
  EXPECT_EQ(decode(encode_bytes(s)), s);
  auto p = encode_prompt("ab");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p.front(), kBos);
  EXPECT_EQ(p.back(), kSep);
  EXPECT_EQ(decode({'h', 'i', kEos, 'x'}), "hi");
  EXPECT_EQ(token_name(kSep), "<|sep|>");
}

TEST(TokenBatch, PairsWeightOnlyResponsePredictions) {
  auto b = TokenBatch::from_pairs({{kBos, 'a', kSep}, {kBos, kSep}}, {{'x', 'y', kEos}, {'z'}}, 12, 260);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->seq_len, 6);
  // Row 0: positions 2,3,4 predict x, y, EOS.
  std::vector<float> want0 = {0, 0, 1, 1, 1, 0};
  std::vector<float> want1 = {0, 1, 0, 0, 0, 0};
  for (int t = 0; t < 6; ++t) {
    EXPECT_EQ(b->loss_weight[t], want0[t]) << t;
    EXPECT_EQ(b->loss_weight[6 + t], want1[t]) << t;
  }
  EXPECT_EQ(b->tokens[6 + 3], kPad);
  EXPECT_FALSE(TokenBatch::from_sequences({std::vector<int>(13, 'a')}, 12, 260).is_ok());  // over context
  EXPECT_FALSE(TokenBatch::from_sequences({{1, 999}}, 12, 260).is_ok());                   // token out of range
}

// Whole-model gradient check. Float forward, loss = sum(r · logp) over ~15
// log-probs of magnitude ~5.6: float rounding of the loss (~1e-6) over 2h = 0.02
// is ~5e-5; the O(h²) curvature term is of the same order for these small
// weights. 5e-4 absolute + 5e-2 relative leaves room while a missing or wrong
// term (gradients here are ~1e-3..1e-1) is caught.
void check_model_gradients(Transformer& m, const std::function<double()>& loss, const char* what) {
  auto params = m.parameters();
  std::vector<float> grad(m.gradients().begin(), m.gradients().end());
  std::mt19937 rng(3);
  int bad = 0, checked = 0;
  for (const ParamTensor& t : m.tensors()) {
    // Three coordinates of every tensor.
    std::uniform_int_distribution<std::size_t> d(0, t.numel - 1);
    for (int s = 0; s < 3; ++s) {
      const std::size_t i = t.offset + d(rng);
      const float orig = params[i];
      const float h = 1e-2f;
      params[i] = orig + h;
      const double up = loss();
      params[i] = orig - h;
      const double down = loss();
      params[i] = orig;
      const double num = (up - down) / (double(orig + h) - double(orig - h));
      ++checked;
      if (std::abs(num - grad[i]) > 5e-4 + 5e-2 * std::abs(grad[i])) {
        if (++bad <= 8) ADD_FAILURE() << what << " " << t.name << "[" << i - t.offset << "]: numeric " << num
                                      << " analytic " << grad[i];
      }
    }
  }
  EXPECT_EQ(bad, 0) << bad << " of " << checked;
}

TEST(Transformer, LogprobGradientsMatchFiniteDifferences) {
  auto m = Transformer::create(tiny(), 11);
  ASSERT_TRUE(m.is_ok());
  // Larger weights than the 0.02 init so that every path carries signal.
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 0.3f);
  for (const ParamTensor& t : m->tensors()) {
    if (t.name.find("ln_") != std::string::npos) continue;
    for (std::size_t i = 0; i < t.numel; ++i) m->parameters()[t.offset + i] = d(rng);
  }
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', 'd', 'e', 'f', kEos}, {kBos, 'x', 'y', 'z', kEos}}, 12, 260);
  ASSERT_TRUE(b.is_ok());
  auto r = random_upstream(std::size_t(b->batch) * b->seq_len, 9);
  std::vector<float> logp;
  ASSERT_TRUE(m->forward(*b, &logp).is_ok());
  m->zero_grad();
  ASSERT_TRUE(m->backward(r).is_ok());
  auto loss = [&] {
    std::vector<float> lp;
    EXPECT_TRUE(m->forward(*b, &lp).is_ok());
    double s = 0.0;
    for (std::size_t i = 0; i < lp.size(); ++i) s += double(lp[i]) * r[i];
    return s;
  };
  check_model_gradients(*m, loss, "logp");
}

TEST(Transformer, ThreadsSplitRowsWithoutChangingTheResult) {
  // Three ragged rows: with 2 threads the shards hold 1 and 2 rows, each
  // trimmed to its own longest sequence; with 3, one row each.
  auto b = TokenBatch::from_pairs({encode_prompt("12+3"), encode_prompt("7"), encode_prompt("100+200")},
                                  {{'1', '5', kEos}, {'7', '7', '7', '7', '7', kEos}, {'3', kEos}}, 24, 260);
  ASSERT_TRUE(b.is_ok());
  const auto r = random_upstream(std::size_t(b->batch) * b->seq_len, 13);
  const int saved = kernels::cpu::cpu_threads();
  std::vector<std::vector<float>> logps, grads, decoded;
  for (int threads : {1, 2, 3}) {
    kernels::cpu::set_cpu_threads(threads);
    auto m = Transformer::create(tiny(), 16);
    ASSERT_TRUE(m.is_ok());
    std::vector<float> logp;
    ASSERT_TRUE(m->forward(*b, &logp).is_ok());
    m->zero_grad();
    ASSERT_TRUE(m->backward(r).is_ok());
    ASSERT_TRUE(m->forward(*b, &logp).is_ok());
    ASSERT_TRUE(m->backward(r).is_ok());  // accumulates: twice the gradient
    logps.push_back(logp);
    grads.emplace_back(m->gradients().begin(), m->gradients().end());
    // Cached decoding and last_logits split rows the same way.
    KvCache cache = m->make_cache(3, 24);
    std::vector<float> step_logits(3 * 260), last;
    for (int t = 0; t < 4; ++t) {
      const int toks[3] = {b->tokens[t], b->tokens[b->seq_len + t], b->tokens[2 * b->seq_len + t]};
      ASSERT_TRUE(m->decode(cache, toks, step_logits.data()).is_ok());
    }
    auto prefix = TokenBatch::from_sequences({{b->tokens.begin(), b->tokens.begin() + 4},
                                              {b->tokens.begin() + b->seq_len, b->tokens.begin() + b->seq_len + 4},
                                              {b->tokens.begin() + 2 * b->seq_len, b->tokens.begin() + 2 * b->seq_len + 4}},
                                             24, 260);
    ASSERT_TRUE(prefix.is_ok());
    ASSERT_TRUE(m->last_logits(*prefix, &last).is_ok());
    for (std::size_t i = 0; i < last.size(); ++i) {
      ASSERT_NEAR(step_logits[i], last[i], 1e-4) << "threads " << threads << " logit " << i;  // reordered sums
    }
    decoded.push_back(step_logits);
  }
  kernels::cpu::set_cpu_threads(saved);
  for (std::size_t k = 1; k < decoded.size(); ++k) {
    for (std::size_t i = 0; i < decoded[0].size(); ++i) ASSERT_NEAR(decoded[k][i], decoded[0][i], 1e-5) << i;
  }
  for (std::size_t k = 1; k < logps.size(); ++k) {
    ASSERT_EQ(logps[k].size(), logps[0].size());
    for (std::size_t i = 0; i < logps[0].size(); ++i) {
      // Same arithmetic per row; OpenBLAS may block a smaller GEMM differently.
      ASSERT_NEAR(logps[k][i], logps[0][i], 1e-5) << "threads " << k + 1 << " position " << i;
      if (b->loss_weight[i] == 0.0f && b->tokens[i] == kPad) {
        EXPECT_EQ(logps[k][i], 0.0f);
      }
    }
    int bad = 0;
    for (std::size_t i = 0; i < grads[0].size(); ++i) {
      // Shard gradients are summed in another order than one serial pass adds them.
      if (std::abs(grads[k][i] - grads[0][i]) > 1e-6 + 1e-4 * std::abs(grads[0][i]) && ++bad <= 5) {
        ADD_FAILURE() << "threads " << k + 1 << " gradient " << i << ": " << grads[k][i] << " vs " << grads[0][i];
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(Transformer, ScoreHeadGradientsMatchFiniteDifferences) {
  auto m = Transformer::create(tiny(true), 12);
  ASSERT_TRUE(m.is_ok());
  std::mt19937 rng(6);
  std::normal_distribution<float> d(0.0f, 0.3f);
  for (float& p : m->parameters()) p += d(rng) * 0.5f;
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  ASSERT_TRUE(b.is_ok());
  std::vector<float> scores, dscores = {0.7f, -1.3f};
  ASSERT_TRUE(m->score_forward(*b, &scores).is_ok());
  m->zero_grad();
  ASSERT_TRUE(m->score_backward(dscores).is_ok());
  auto loss = [&] {
    std::vector<float> s;
    EXPECT_TRUE(m->score_forward(*b, &s).is_ok());
    return double(s[0]) * dscores[0] + double(s[1]) * dscores[1];
  };
  check_model_gradients(*m, loss, "score");
  auto plain = Transformer::create(tiny(false), 1);
  EXPECT_FALSE(plain->score_forward(*b, &scores).is_ok());
}

// A 3-way score head of config `c` on two rows, weights perturbed off the initialisation:
// score_forward (with logp when `dl` is given), score_backward, then every tensor against
// finite differences of loss = scores . ds (+ logp . dl). Returns the model for more checks.
Result<Transformer> check_score_gradients(const ModelConfig& c, uint64_t seed, const std::vector<float>* dl,
                                          const char* what, const std::vector<int>* features = nullptr) {
  auto m = Transformer::create(c, seed);
  if (!m) return m;
  std::mt19937 rng(uint32_t(seed) + 1);
  std::normal_distribution<float> d(0.0f, 0.3f);
  for (float& p : m->parameters()) p += d(rng) * 0.5f;  // the pool's query too: not the plain mean
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  EXPECT_TRUE(b.is_ok());
  if (features) b->features = *features;
  const std::vector<float> ds = {0.7f, -1.3f, 0.2f, 0.5f, -0.4f, 1.1f};
  std::vector<float> scores, logp;
  EXPECT_TRUE(m->score_forward(*b, &scores, dl ? &logp : nullptr).is_ok());
  EXPECT_EQ(scores.size(), 6u);  // (B,K) = (2,3)
  m->zero_grad();
  EXPECT_TRUE(m->score_backward(ds, dl).is_ok());
  EXPECT_FALSE(m->score_backward({1.0f, 2.0f}).is_ok());  // (B) is not (B,K)
  auto loss = [&] {
    std::vector<float> s, l;
    EXPECT_TRUE(m->score_forward(*b, &s, dl ? &l : nullptr).is_ok());
    double v = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) v += double(s[i]) * ds[i];
    for (std::size_t i = 0; dl && i < l.size(); ++i) v += double(l[i]) * (*dl)[i];
    return v;
  };
  check_model_gradients(*m, loss, what);
  return m;
}

TEST(Transformer, KWayHeadGradientsMatchFiniteDifferences) {
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  auto m = check_score_gradients(c, 21, nullptr, "score3");
  ASSERT_TRUE(m.is_ok());
  // The head's tensors are (K,d) and (K); K = 1 keeps the scalar shapes (d) and (1).
  EXPECT_EQ(m->tensors().back().shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(m->tensors()[m->tensors().size() - 2].shape, (std::vector<int64_t>{3, c.d_model}));
  auto scalar = Transformer::create(tiny(true), 1);
  EXPECT_EQ(scalar->tensors().back().shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(scalar->tensors()[scalar->tensors().size() - 2].shape, (std::vector<int64_t>{c.d_model}));
}

TEST(Transformer, PooledReadoutGradientsMatchFiniteDifferences) {
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  c.score_readout = "pool";
  auto m = check_score_gradients(c, 23, nullptr, "pool3");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->tensors().back().name, "score_pool.query");
  EXPECT_EQ(m->tensors()[m->tensors().size() - 3].shape, (std::vector<int64_t>{3, 2 * c.d_model}));
  EXPECT_EQ(long(m->parameters().size()), c.num_parameters());
  // The padding of a shorter row does not enter its pool: alone or beside a longer row, same scores.
  auto pair = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  auto alone = TokenBatch::from_sequences({{kBos, 'x', 'y'}}, 12, 260);
  std::vector<float> s2, s1;
  ASSERT_TRUE(m->score_forward(*pair, &s2).is_ok());
  ASSERT_TRUE(m->score_forward(*alone, &s1).is_ok());
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(s1[k], s2[3 + k], 1e-4) << k;
}

// A tiny 3-way scoring model made to look trained: every parameter, the zero-initialised ones
// too, moved by N(0, 0.3) noise from `rng`.
Result<Transformer> perturbed_scorer(uint64_t seed, std::mt19937& rng) {
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  auto m = Transformer::create(c, seed);
  if (!m.is_ok()) return m;
  std::normal_distribution<float> d(0.0f, 0.3f);
  for (float& p : m->parameters()) p += d(rng);
  return m;
}

TEST(Transformer, ChangingTheReadoutKeepsTheScores) {
  // A trained last-token head continued with the pool: the pooled half starts at zero, so the
  // scores are the same; and back again.
  std::mt19937 rng(4);
  auto m = perturbed_scorer(31, rng);
  ASSERT_TRUE(m.is_ok());
  m->set_version(7);
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  std::vector<float> before, pooled, back;
  ASSERT_TRUE(m->score_forward(*b, &before).is_ok());
  auto p = with_score_readout(*m, "pool");
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->config().score_readout, "pool");
  EXPECT_EQ(p->version(), 7u);
  ASSERT_TRUE(p->score_forward(*b, &pooled).is_ok());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_NEAR(pooled[i], before[i], 1e-5) << i;
  auto l = with_score_readout(*p, "last");
  ASSERT_TRUE(l.is_ok());
  ASSERT_TRUE(l->score_forward(*b, &back).is_ok());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_NEAR(back[i], before[i], 1e-5) << i;
  EXPECT_FALSE(with_score_readout(*m, "max").is_ok());
  EXPECT_FALSE(with_score_readout(*Transformer::create(tiny(false), 1), "pool").is_ok());
}

TEST(Transformer, ScoreWithLogprobGradientsMatchFiniteDifferences) {
  // One trunk pass for both heads: loss = scores . ds + logp . dl, gradients through both.
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  c.score_readout = "pool";
  std::vector<float> dl(2 * 5, 0.0f);  // (B,T) = (2,5)
  dl[1] = -0.8f, dl[2] = 0.5f, dl[5 + 1] = -1.0f;  // row 0 at t=1,2; row 1 at t=1
  auto m = check_score_gradients(c, 29, &dl, "score+logp");
  ASSERT_TRUE(m.is_ok());
  // The logp are forward()'s.
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  std::vector<float> scores, logp, plain;
  ASSERT_TRUE(m->score_forward(*b, &scores, &logp).is_ok());
  ASSERT_TRUE(m->forward(*b, &plain).is_ok());
  ASSERT_EQ(logp.size(), plain.size());
  for (std::size_t i = 0; i < logp.size(); ++i) EXPECT_NEAR(logp[i], plain[i], 1e-5) << i;
  // dlogp without logp from the last score_forward is refused.
  ASSERT_TRUE(m->score_forward(*b, &scores).is_ok());
  EXPECT_FALSE(m->score_backward(std::vector<float>(6, 0.1f), &dl).is_ok());
}

TEST(Transformer, FeatureChannelGradientsMatchFiniteDifferences) {
  // Ids per token of the (2,5) batch, every id used, some twice: wfe collects the gradient of
  // each token that reads it, through both heads.
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  c.score_readout = "pool";
  c.feature_vocab = 4;
  const std::vector<int> ids = {0, 1, 2, 3, 1, 3, 2, 2, 0, 0};
  std::vector<float> dl(2 * 5, 0.0f);
  dl[1] = -0.8f, dl[3] = 0.5f, dl[5 + 1] = -1.0f;
  auto m = check_score_gradients(c, 41, &dl, "features", &ids);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->tensors().back().name, "wfe");
  EXPECT_EQ(m->tensors().back().shape, (std::vector<int64_t>{4, c.d_model}));
  EXPECT_EQ(long(m->parameters().size()), c.num_parameters());
  // The ids change the scores; out of range, missized, or given to a model without the channel: refused.
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}}, 12, 260);
  std::vector<float> with, without;
  b->features = ids;
  ASSERT_TRUE(m->score_forward(*b, &with).is_ok());
  b->features.clear();
  ASSERT_TRUE(m->score_forward(*b, &without).is_ok());
  double diff = 0;
  for (std::size_t i = 0; i < with.size(); ++i) diff += std::abs(with[i] - without[i]);
  EXPECT_GT(diff, 1e-3);
  b->features = ids;
  b->features[2] = 4;
  auto bad = m->score_forward(*b, &with);
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("feature id 4"), std::string::npos) << bad.message();
  b->features.resize(3);
  EXPECT_FALSE(m->forward(*b, &with).is_ok());
  b->features = ids;
  auto plain = Transformer::create(tiny(true), 1);
  EXPECT_FALSE(plain->score_forward(*b, &with).is_ok());
  EXPECT_FALSE(m->use_device(true).is_ok());  // the channel is CPU-only
}

TEST(Transformer, FeatureChannelSplitsWithTheRowsAndStartsAtZero) {
  // forward() on 1 and 3 threads (rows_of carries the ids) gives the same log-probs; a model
  // given the channel by with_feature_vocab scores and predicts as before until it is trained.
  std::mt19937 rng(8);
  auto m = perturbed_scorer(43, rng);
  ASSERT_TRUE(m.is_ok());
  m->set_version(5);
  auto b = TokenBatch::from_sequences({{kBos, 'a', 'b', 'c', kEos}, {kBos, 'x', 'y'}, {kBos, 'q'}}, 12, 260);
  ASSERT_TRUE(b.is_ok());
  std::vector<float> s0, lp0, s1, lp1;
  ASSERT_TRUE(m->score_forward(*b, &s0, &lp0).is_ok());
  auto f = with_feature_vocab(*m, 3);
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->config().feature_vocab, 3);
  EXPECT_EQ(f->version(), 5u);
  b->features.assign(b->tokens.size(), 0);
  for (std::size_t i = 0; i < b->features.size(); ++i) b->features[i] = int(i % 3);
  ASSERT_TRUE(f->score_forward(*b, &s1, &lp1).is_ok());
  for (std::size_t i = 0; i < s0.size(); ++i) EXPECT_NEAR(s1[i], s0[i], 1e-6) << i;
  for (std::size_t i = 0; i < lp0.size(); ++i) EXPECT_NEAR(lp1[i], lp0[i], 1e-6) << i;
  const std::size_t wfe = f->tensors().back().offset;
  std::normal_distribution<float> d(0.0f, 0.3f);
  for (std::size_t i = 0; i < f->tensors().back().numel; ++i) f->parameters()[wfe + i] = d(rng);
  const int saved = kernels::cpu::cpu_threads();
  std::vector<std::vector<float>> logps;
  for (int threads : {1, 3}) {
    kernels::cpu::set_cpu_threads(threads);
    std::vector<float> logp;
    ASSERT_TRUE(f->forward(*b, &logp).is_ok());
    logps.push_back(logp);
  }
  kernels::cpu::set_cpu_threads(saved);
  double moved = 0;
  for (std::size_t i = 0; i < logps[0].size(); ++i) {
    ASSERT_NEAR(logps[1][i], logps[0][i], 1e-5) << i;
    moved += std::abs(logps[0][i] - lp0[i]);
  }
  EXPECT_GT(moved, 1e-3);  // the trained channel does reach the output
  auto back = with_feature_vocab(*f, 0);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->tensors().size(), m->tensors().size());
  EXPECT_FALSE(with_feature_vocab(*m, -1).is_ok());
}

TEST(ModelConfigJson, FeatureVocabRoundTripsAndDefaultsToNone) {
  ModelConfig c = tiny(true);
  c.feature_vocab = 10;
  auto back = ModelConfig::from_json(c.to_json(), "test");
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->feature_vocab, 10);
  auto old = ModelConfig::from_json(
      R"({"vocab_size":260,"d_model":16,"n_layers":1,"n_heads":4,"context":12,"scalar_head":true})", "old");
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->feature_vocab, 0);
  c.feature_vocab = -1;
  EXPECT_FALSE(c.validate().is_ok());
}

TEST(ModelConfigJson, ScoreReadoutRoundTripsAndDefaultsToLast) {
  ModelConfig c = tiny(true);
  c.score_readout = "pool";
  auto back = ModelConfig::from_json(c.to_json(), "test");
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->score_readout, "pool");
  auto old = ModelConfig::from_json(
      R"({"vocab_size":260,"d_model":16,"n_layers":1,"n_heads":4,"context":12,"scalar_head":true})", "old");
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->score_readout, "last");
  c.score_readout = "max";
  auto bad = c.validate();
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("max"), std::string::npos) << bad.message();
}

TEST(ModelConfigJson, HeadOutputsRoundTripsAndDefaultsToOne) {
  ModelConfig c = tiny(true);
  c.head_outputs = 3;
  auto back = ModelConfig::from_json(c.to_json(), "test");
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->head_outputs, 3);
  // A config.json written before K-way heads existed has no key: a scalar head.
  auto old = ModelConfig::from_json(
      R"({"vocab_size":260,"d_model":16,"n_layers":1,"n_heads":4,"context":12,"scalar_head":true})", "old");
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->head_outputs, 1);
  c.head_outputs = 0;
  EXPECT_FALSE(c.validate().is_ok());
}

TEST(Transformer, PaddingDoesNotChangeLogprobs) {
  auto m = Transformer::create(tiny(), 13);
  ASSERT_TRUE(m.is_ok());
  std::vector<int> shortseq = {kBos, 'h', 'i', kEos};
  auto alone = TokenBatch::from_sequences({shortseq}, 12, 260);
  auto padded = TokenBatch::from_sequences({{kBos, 'l', 'o', 'n', 'g', 'e', 'r', kEos}, shortseq}, 12, 260);
  std::vector<float> a, p;
  ASSERT_TRUE(m->forward(*alone, &a).is_ok());
  ASSERT_TRUE(m->forward(*padded, &p).is_ok());
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(a[t], p[8 + t], 1e-5) << t;  // same float ops, other batch shape
  EXPECT_EQ(p[8 + 3], 0.0f);  // the last real token predicts nothing
  EXPECT_EQ(p[8 + 5], 0.0f);  // padding predicts nothing
}

TEST(Transformer, CachedDecodeMatchesFullForward) {
  auto m = Transformer::create(tiny(), 14);
  ASSERT_TRUE(m.is_ok());
  std::vector<std::vector<int>> seqs = {{kBos, 'a', 'b', 'c', 'd', 'e', 'f'}, {kBos, 'q', 'r', 's', 't', 'u', 'v'}};
  KvCache cache = m->make_cache(2, 12);
  std::vector<float> cached(2 * 260), full;
  for (int step = 0; step < 7; ++step) {
    int toks[2] = {seqs[0][step], seqs[1][step]};
    ASSERT_TRUE(m->decode(cache, toks, cached.data()).is_ok());
    std::vector<std::vector<int>> prefix = {{seqs[0].begin(), seqs[0].begin() + step + 1},
                                            {seqs[1].begin(), seqs[1].begin() + step + 1}};
    auto b = TokenBatch::from_sequences(prefix, 12, 260);
    ASSERT_TRUE(m->last_logits(*b, &full).is_ok());
    for (std::size_t i = 0; i < full.size(); ++i) {
      ASSERT_NEAR(cached[i], full[i], 1e-4) << "step " << step << " i " << i;  // reordered float sums
    }
  }
}

TEST(Transformer, OptimiserStepsLowerTheLossAndBumpTheVersion) {
  auto m = Transformer::create(tiny(), 15);
  ASSERT_TRUE(m.is_ok());
  auto b = TokenBatch::from_pairs({encode_prompt("1+1"), encode_prompt("2+2")}, {{'2', kEos}, {'4', kEos}}, 12, 260);
  ASSERT_TRUE(b.is_ok());
  AdamW opt(*m, AdamWConfig{});
  std::vector<float> logp, dlogp;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 60; ++step) {
    ASSERT_TRUE(m->forward(*b, &logp).is_ok());
    const double loss = weighted_nll(*b, logp, &dlogp);
    if (step == 0) first = loss;
    last = loss;
    m->zero_grad();
    ASSERT_TRUE(m->backward(dlogp).is_ok());
    ASSERT_TRUE(opt.step(*m, 1e-2f).is_ok());
  }
  EXPECT_NEAR(first, std::log(260.0), 0.2);  // a fresh model is near uniform over the vocabulary
  EXPECT_LT(last, 0.1 * first);              // memorising two answers
  EXPECT_EQ(m->version(), 60u);
}

TEST(Transformer, ParameterBufferExportImport) {
  auto a = Transformer::create(tiny(), 16);
  auto b = Transformer::create(tiny(), 17);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  std::vector<float> flat(a->parameters().begin(), a->parameters().end());
  ASSERT_TRUE(b->load_parameters(flat, 42).is_ok());
  EXPECT_EQ(b->version(), 42u);
  EXPECT_TRUE(std::equal(flat.begin(), flat.end(), b->parameters().begin()));
  flat.pop_back();
  EXPECT_FALSE(b->load_parameters(flat, 43).is_ok());
}

}  // namespace
}  // namespace troupe::model
