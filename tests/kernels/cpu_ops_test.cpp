// CPU kernels: every backward against central finite differences of
// sum(out · r) for a random r, every fast version against its reference, at
// odd shapes (1, primes, sizes that are not multiples of a SIMD width).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/cpu/fast_exp.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/logprob.hpp"
#include "kernels/matmul.hpp"
#include "tests/kernels/finite_difference.hpp"

namespace troupe::kernels {
namespace {

using testing::expect_close;
using testing::expect_gradient_matches;
using testing::random_vector;
using testing::weighted_sum;

// Tolerances for finite differences of float forwards with step h = 1e-2 on
// unit-scale inputs: the loss is summed in double but each output is rounded
// to float (~6e-8 relative), which divided by 2h gives ~1e-5·|out|·sqrt(#out);
// curvature adds O(h²). 2e-3 absolute + 2e-2 relative covers both with margin
// while a wrong formula (sign, missing term, factor 2) is off by O(|grad|).
constexpr float kH = 1e-2f;
constexpr double kFdAtol = 2e-3;
constexpr double kFdRtol = 2e-2;

struct MatmulShape { int N, C, OC; };

TEST(Matmul, FastMatchesReference) {
  for (MatmulShape s : {MatmulShape{1, 1, 1}, MatmulShape{7, 13, 5}, MatmulShape{64, 128, 384}, MatmulShape{33, 17, 260}}) {
    auto x = random_vector(std::size_t(s.N) * s.C, 1), w = random_vector(std::size_t(s.OC) * s.C, 2),
         b = random_vector(s.OC, 3), dout = random_vector(std::size_t(s.N) * s.OC, 4);
    std::vector<float> ref(std::size_t(s.N) * s.OC), got(ref.size());
    cpu::matmul_forward(ref.data(), x.data(), w.data(), b.data(), s.N, s.C, s.OC);
    cpu::matmul_forward_fast(got.data(), x.data(), w.data(), b.data(), s.N, s.C, s.OC);
    // float sums of C <= 128 unit products against a double reference.
    expect_close("matmul fwd", got.data(), ref.data(), got.size(), 1e-4 * s.C, 1e-5);
    std::vector<float> dx_r(x.size(), 0.5f), dw_r(w.size(), 0.25f), db_r(b.size(), 1.0f);
    auto dx_f = dx_r, dw_f = dw_r, db_f = db_r;
    cpu::matmul_backward(dx_r.data(), dw_r.data(), db_r.data(), dout.data(), x.data(), w.data(), s.N, s.C, s.OC);
    cpu::matmul_backward_fast(dx_f.data(), dw_f.data(), db_f.data(), dout.data(), x.data(), w.data(), s.N, s.C, s.OC);
    // Accumulation (+=) onto non-zero starting values is part of the contract.
    expect_close("matmul dinp", dx_f.data(), dx_r.data(), dx_r.size(), 1e-4 * s.OC, 1e-5);
    expect_close("matmul dweight", dw_f.data(), dw_r.data(), dw_r.size(), 1e-4 * s.N, 1e-5);
    expect_close("matmul dbias", db_f.data(), db_r.data(), db_r.size(), 1e-4 * s.N, 1e-5);
  }
}

TEST(Matmul, BackwardMatchesFiniteDifferences) {
  const int N = 5, C = 7, OC = 3;
  auto x = random_vector(N * C, 5), w = random_vector(OC * C, 6), b = random_vector(OC, 7), r = random_vector(N * OC, 8);
  std::vector<float> dx(x.size(), 0.0f), dw(w.size(), 0.0f), db(b.size(), 0.0f), out(N * OC);
  cpu::matmul_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), N, C, OC);
  auto loss = [&] {
    cpu::matmul_forward(out.data(), x.data(), w.data(), b.data(), N, C, OC);
    return weighted_sum(out, r);
  };
  expect_gradient_matches("matmul dinp", x, dx, loss, kH, kFdAtol, kFdRtol);
  expect_gradient_matches("matmul dweight", w, dw, loss, kH, kFdAtol, kFdRtol);
  expect_gradient_matches("matmul dbias", b, db, loss, kH, kFdAtol, kFdRtol);
}

TEST(Sgemm, AllTransposesMatchReference) {
  const int m = 9, n = 11, k = 13;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      auto a = random_vector(m * k, 9), b = random_vector(k * n, 10), c = random_vector(m * n, 11);
      auto ref = c;
      cpu::sgemm(ta, tb, m, n, k, 0.5f, a.data(), b.data(), 2.0f, c.data());
      cpu::sgemm_reference(ta, tb, m, n, k, 0.5f, a.data(), b.data(), 2.0f, ref.data());
      expect_close("sgemm", c.data(), ref.data(), c.size(), 1e-4, 1e-5);  // float sums of 13 terms
    }
  }
}

TEST(Encoder, ForwardAddsRowsAndBackwardMatchesFiniteDifferences) {
  const int N = 6, C = 5, V = 4, maxT = 3;
  std::vector<int> tokens = {0, 3, 3, 1, 2, 0}, pos = {0, 1, 2, 0, 1, 2};
  auto wte = random_vector(V * C, 12), wpe = random_vector(maxT * C, 13), r = random_vector(N * C, 14);
  std::vector<float> out(N * C), dwte(wte.size(), 0.0f), dwpe(wpe.size(), 0.0f);
  cpu::encoder_forward(out.data(), tokens.data(), pos.data(), wte.data(), wpe.data(), N, C);
  EXPECT_FLOAT_EQ(out[1 * C + 2], wte[3 * C + 2] + wpe[1 * C + 2]);
  cpu::encoder_backward(dwte.data(), dwpe.data(), r.data(), tokens.data(), pos.data(), N, C);
  auto loss = [&] {
    cpu::encoder_forward(out.data(), tokens.data(), pos.data(), wte.data(), wpe.data(), N, C);
    return weighted_sum(out, r);
  };
  expect_gradient_matches("encoder dwte", wte, dwte, loss, kH, kFdAtol, kFdRtol);
  expect_gradient_matches("encoder dwpe", wpe, dwpe, loss, kH, kFdAtol, kFdRtol);
}

TEST(LayerNorm, NormalisesAndBackwardMatchesFiniteDifferences) {
  const int N = 4, C = 19;
  auto x = random_vector(N * C, 15, 2.0f), w = random_vector(C, 16), b = random_vector(C, 17), r = random_vector(N * C, 18);
  std::vector<float> out(N * C), mean(N), rstd(N);
  std::vector<float> ones(C, 1.0f), zeros(C, 0.0f);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), ones.data(), zeros.data(), N, C);
  double m = 0, v = 0;
  for (int c = 0; c < C; ++c) m += out[c];
  for (int c = 0; c < C; ++c) v += out[c] * out[c];
  EXPECT_NEAR(m / C, 0.0, 1e-5);  // float rounding of 19 unit values
  EXPECT_NEAR(v / C, 1.0, 1e-3);  // eps 1e-5 against variance ~4 shifts it by ~3e-6
  std::vector<float> dx(x.size(), 0.0f), dw(C, 0.0f), db(C, 0.0f);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
  cpu::layernorm_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  auto loss = [&] {
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    return weighted_sum(out, r);
  };
  expect_gradient_matches("layernorm dinp", x, dx, loss, kH, kFdAtol, kFdRtol);
  expect_gradient_matches("layernorm dweight", w, dw, loss, kH, kFdAtol, kFdRtol);
  expect_gradient_matches("layernorm dbias", b, db, loss, kH, kFdAtol, kFdRtol);
}

TEST(Gelu, KnownValuesAndBackwardMatchesFiniteDifferences) {
  std::vector<float> x = {0.0f, 1.0f, -1.0f, 3.0f};
  std::vector<float> y(4);
  cpu::gelu_forward(y.data(), x.data(), 4);
  EXPECT_FLOAT_EQ(y[0], 0.0f);
  EXPECT_NEAR(y[1], 0.841192f, 1e-5);   // GPT-2 tanh approximation at 1
  EXPECT_NEAR(y[2], -0.158808f, 1e-5);  // and at -1
  const long n = 37;
  auto in = random_vector(n, 19, 2.0f), r = random_vector(n, 20);
  std::vector<float> out(n), din(n, 0.0f);
  cpu::gelu_backward(din.data(), in.data(), r.data(), n);
  auto loss = [&] {
    cpu::gelu_forward(out.data(), in.data(), n);
    return weighted_sum(out, r);
  };
  expect_gradient_matches("gelu", in, din, loss, kH, kFdAtol, kFdRtol);
}

struct AttnShape { int B, T, C, NH; };

std::vector<uint8_t> right_padding_mask(int B, int T) {
  std::vector<uint8_t> m(std::size_t(B) * T, 1);
  for (int b = 0; b < B; ++b) {
    for (int t = T - b; t < T; ++t) m[std::size_t(b) * T + t] = 0;  // row b has b padding keys at the end
  }
  return m;
}

TEST(Attention, FastMatchesReferenceWithAndWithoutMask) {
  // Head sizes 4 (the generic path) and 16, 32, 64 (the register paths); T below,
  // at and above the 64-score block of the fast kernel, not a multiple of it.
  for (AttnShape s : {AttnShape{1, 1, 4, 1}, AttnShape{2, 7, 12, 3}, AttnShape{3, 33, 16, 4}, AttnShape{1, 65, 64, 4},
                      AttnShape{2, 70, 64, 2}, AttnShape{2, 129, 128, 2}}) {
    for (bool masked : {false, true}) {
      auto qkv = random_vector(std::size_t(s.B) * s.T * 3 * s.C, 21);
      auto dout = random_vector(std::size_t(s.B) * s.T * s.C, 22);
      auto mask = right_padding_mask(s.B, s.T);
      const uint8_t* kv = masked ? mask.data() : nullptr;
      std::vector<float> o_r(dout.size()), o_f(dout.size()), a_r(std::size_t(s.B) * s.NH * s.T * s.T),
          a_f(a_r.size());
      cpu::attention_forward(o_r.data(), a_r.data(), qkv.data(), kv, s.B, s.T, s.C, s.NH);
      cpu::attention_forward_fast(o_f.data(), a_f.data(), qkv.data(), kv, s.B, s.T, s.C, s.NH);
      // float scores and exps against the double reference.
      expect_close("attention out", o_f.data(), o_r.data(), o_r.size(), 1e-5, 1e-4);
      expect_close("attention probs", a_f.data(), a_r.data(), a_r.size(), 1e-6, 1e-4);
      std::vector<float> d_r(qkv.size(), 0.0f), d_f(qkv.size(), 0.0f);
      cpu::attention_backward(d_r.data(), dout.data(), qkv.data(), a_r.data(), s.B, s.T, s.C, s.NH);
      cpu::attention_backward_fast(d_f.data(), dout.data(), qkv.data(), a_r.data(), s.B, s.T, s.C, s.NH);
      expect_close("attention dqkv", d_f.data(), d_r.data(), d_r.size(), 1e-5, 1e-4);
    }
  }
}

TEST(Attention, IsCausalAndMaskedKeysGetNoWeight) {
  const AttnShape s{3, 6, 8, 2};
  auto qkv = random_vector(std::size_t(s.B) * s.T * 3 * s.C, 23);
  auto mask = right_padding_mask(s.B, s.T);
  std::vector<float> out(std::size_t(s.B) * s.T * s.C), att(std::size_t(s.B) * s.NH * s.T * s.T);
  cpu::attention_forward_fast(out.data(), att.data(), qkv.data(), mask.data(), s.B, s.T, s.C, s.NH);
  for (int b = 0; b < s.B; ++b) {
    for (int h = 0; h < s.NH; ++h) {
      for (int t = 0; t < s.T; ++t) {
        double sum = 0.0;
        for (int t2 = 0; t2 < s.T; ++t2) {
          const float a = att[((std::size_t(b) * s.NH + h) * s.T + t) * s.T + t2];
          if (t2 > t || mask[std::size_t(b) * s.T + t2] == 0) {
            EXPECT_EQ(a, 0.0f) << b << h << t << t2;
          }
          sum += a;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);  // a softmax row, float rounding over <= 6 terms
      }
    }
  }
  // Left padding: row 0's first key is padding, so query 0 has no valid key and outputs zeros.
  std::vector<uint8_t> left(std::size_t(s.B) * s.T, 1);
  left[0] = 0;
  cpu::attention_forward_fast(out.data(), att.data(), qkv.data(), left.data(), s.B, s.T, s.C, s.NH);
  for (int c = 0; c < s.C; ++c) EXPECT_EQ(out[c], 0.0f);
}

TEST(Attention, BackwardMatchesFiniteDifferences) {
  const AttnShape s{2, 5, 6, 2};
  auto qkv = random_vector(std::size_t(s.B) * s.T * 3 * s.C, 24);
  auto r = random_vector(std::size_t(s.B) * s.T * s.C, 25);
  auto mask = right_padding_mask(s.B, s.T);
  std::vector<float> out(r.size()), att(std::size_t(s.B) * s.NH * s.T * s.T), dqkv(qkv.size(), 0.0f);
  cpu::attention_forward(out.data(), att.data(), qkv.data(), mask.data(), s.B, s.T, s.C, s.NH);
  cpu::attention_backward(dqkv.data(), r.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.NH);
  auto loss = [&] {
    cpu::attention_forward(out.data(), att.data(), qkv.data(), mask.data(), s.B, s.T, s.C, s.NH);
    return weighted_sum(out, r);
  };
  expect_gradient_matches("attention dqkv", qkv, dqkv, loss, kH, kFdAtol, kFdRtol, 120);
}

TEST(Attention, DecodeWithCacheEqualsFullForwardAtLastPosition) {
  const int B = 3, T = 9, C = 12, NH = 3;
  auto qkv = random_vector(std::size_t(B) * T * 3 * C, 26);
  std::vector<float> out(std::size_t(B) * T * C), att(std::size_t(B) * NH * T * T);
  cpu::attention_forward_fast(out.data(), att.data(), qkv.data(), nullptr, B, T, C, NH);
  std::vector<int> len = {T, 4, 1};  // each row decodes at a different position
  std::vector<float> q(std::size_t(B) * C), kc(std::size_t(B) * T * C), vc(kc.size()), o(q.size());
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      for (int c = 0; c < C; ++c) {
        kc[(std::size_t(b) * T + t) * C + c] = qkv[(std::size_t(b) * T + t) * 3 * C + C + c];
        vc[(std::size_t(b) * T + t) * C + c] = qkv[(std::size_t(b) * T + t) * 3 * C + 2 * C + c];
      }
    }
    for (int c = 0; c < C; ++c) q[std::size_t(b) * C + c] = qkv[(std::size_t(b) * T + len[b] - 1) * 3 * C + c];
  }
  cpu::attention_decode_forward(o.data(), q.data(), kc.data(), vc.data(), len.data(), B, T, C, NH);
  for (int b = 0; b < B; ++b) {
    // Same float arithmetic in a different order.
    expect_close("decode", o.data() + std::size_t(b) * C, out.data() + (std::size_t(b) * T + len[b] - 1) * C, C, 1e-5, 1e-4);
  }
}

TEST(TokenLogprobs, FastMatchesReferenceAndBackwardMatchesFiniteDifferences) {
  const int N = 7, V = 11;
  auto logits = random_vector(N * V, 27, 2.0f), r = random_vector(N, 28);
  std::vector<int> targets = {0, 10, 5, -1, 3, 3, 7};
  std::vector<float> lp_r(N), lse_r(N), lp_f(N), lse_f(N);
  cpu::token_logprobs_forward(lp_r.data(), lse_r.data(), logits.data(), targets.data(), N, V);
  cpu::token_logprobs_forward_fast(lp_f.data(), lse_f.data(), logits.data(), targets.data(), N, V);
  expect_close("logp", lp_f.data(), lp_r.data(), N, 1e-5, 1e-5);  // float vs double over 11 terms
  EXPECT_EQ(lp_r[3], 0.0f);                                        // no target
  for (int i = 0; i < N; ++i) EXPECT_LE(lp_r[i], 0.0f);
  std::vector<float> dl_r(logits.size()), dl_f(logits.size());
  cpu::token_logprobs_backward(dl_r.data(), r.data(), logits.data(), lse_r.data(), targets.data(), N, V);
  cpu::token_logprobs_backward_fast(dl_f.data(), r.data(), logits.data(), lse_r.data(), targets.data(), N, V);
  expect_close("dlogits", dl_f.data(), dl_r.data(), dl_r.size(), 1e-6, 1e-5);
  for (int v = 0; v < V; ++v) EXPECT_EQ(dl_r[3 * V + v], 0.0f);
  std::vector<float> lp(N), lse(N);
  auto loss = [&] {
    cpu::token_logprobs_forward(lp.data(), lse.data(), logits.data(), targets.data(), N, V);
    return weighted_sum(lp, r);
  };
  expect_gradient_matches("token logprobs", logits, dl_r, loss, kH, kFdAtol, kFdRtol, 77);
}

TEST(CrossEntropy, IsNegativeLogprobAndUniformLogitsGiveLogV) {
  const int N = 2, V = 8;
  std::vector<float> logits(N * V, 0.5f), loss(N), lse(N), dl(N * V);
  std::vector<int> targets = {1, 7};
  cpu::cross_entropy_forward(loss.data(), lse.data(), logits.data(), targets.data(), N, V);
  EXPECT_NEAR(loss[0], std::log(8.0), 1e-6);  // uniform over 8 classes
  std::vector<float> dloss = {1.0f, 2.0f};
  cpu::cross_entropy_backward(dl.data(), dloss.data(), logits.data(), lse.data(), targets.data(), N, V);
  EXPECT_NEAR(dl[1], 1.0 / 8 - 1.0, 1e-6);  // softmax - onehot at the target
  EXPECT_NEAR(dl[V + 0], 2.0 / 8, 1e-6);
}

TEST(AdamW, OneStepMatchesTheFormulaInDouble) {
  std::vector<float> p = {1.0f, -2.0f, 0.5f}, g = {0.1f, -0.3f, 0.0f}, m = {0.0f, 0.01f, 0.0f}, v = {0.0f, 0.001f, 0.0f};
  AdamWStepParams hp;
  hp.lr = 0.01f;
  hp.weight_decay = 0.1f;
  hp.step = 2;
  hp.grad_scale = 0.5f;
  std::vector<double> want(3);
  for (int i = 0; i < 3; ++i) {
    const double gi = 0.5 * g[i];
    const double mi = 0.9 * m[i] + 0.1 * gi, vi = 0.999 * v[i] + 0.001 * gi * gi;
    const double mh = mi / (1 - 0.81), vh = vi / (1 - 0.999 * 0.999);
    want[i] = p[i] - 0.01 * (mh / (std::sqrt(vh) + 1e-8) + 0.1 * p[i]);
  }
  cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), 3, hp);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], want[i], 1e-6) << i;  // float vs double, values ~1
}

TEST(LrSchedule, WarmupThenCosineOrLinearDecay) {
  LrSchedule s{.base_lr = 1.0f, .warmup_steps = 10, .total_steps = 110, .kind = LrSchedule::Kind::kCosine,
               .min_ratio = 0.1f};
  EXPECT_FLOAT_EQ(s.at(1), 0.1f);
  EXPECT_FLOAT_EQ(s.at(10), 1.0f);
  EXPECT_NEAR(s.at(60), 0.55f, 1e-6);  // cosine midpoint: halfway between 1 and 0.1
  EXPECT_NEAR(s.at(110), 0.1f, 1e-6);
  EXPECT_NEAR(s.at(500), 0.1f, 1e-6);  // stays at the floor
  s.kind = LrSchedule::Kind::kLinear;
  EXPECT_NEAR(s.at(35), 0.775f, 1e-6);  // a quarter of the way from 1 to 0.1
  s.kind = LrSchedule::Kind::kConstant;
  EXPECT_FLOAT_EQ(s.at(100), 1.0f);
}

TEST(GradClip, ScaleBringsGlobalNormToTheLimit) {
  std::vector<float> g = {3.0f, 4.0f};
  const double norm = std::sqrt(cpu::global_norm_squared(g.data(), 2));
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(cpu::clip_scale(norm, 1.0f) * norm, 1.0, 1e-6);
  EXPECT_EQ(cpu::clip_scale(norm, 10.0f), 1.0f);
  EXPECT_EQ(cpu::clip_scale(norm, 0.0f), 1.0f);  // 0 disables clipping
}

}  // namespace
}  // namespace troupe::kernels

namespace troupe::kernels {
namespace {

TEST(FastMath, ExpAndTanhMatchLibm) {
  double worst_exp = 0.0, worst_tanh = 0.0;
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    worst_exp = std::max(worst_exp, std::abs(double(cpu::fast::exp(x)) / std::exp(double(x)) - 1.0));
  }
  for (float x = -12.0f; x < 12.0f; x += 0.0011f) {
    worst_tanh = std::max(worst_tanh, std::abs(double(cpu::fast::tanh(x)) - std::tanh(double(x))));
  }
  EXPECT_LT(worst_exp, 4e-7);   // a few float ulps
  EXPECT_LT(worst_tanh, 5e-7);  // absolute: 1 - 2/(e^2x + 1) loses relative accuracy only near 0
  EXPECT_EQ(cpu::fast::exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(cpu::fast::exp(-100.0f), 0.0f);
  EXPECT_EQ(cpu::fast::tanh(50.0f), 1.0f);
  EXPECT_EQ(cpu::fast::tanh(-50.0f), -1.0f);
}

}  // namespace
}  // namespace troupe::kernels
