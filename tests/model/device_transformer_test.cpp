// The Transformer's GPU path against its CPU path: forward log-probs,
// accumulated gradients, weight refresh after the host weights change,
// optimiser steps, cached decoding and greedy sampling. Built twice: as
// model_device_test against the real troupe_cuda (skips, saying why, when no
// GPU is visible) and as model_device_emulated_test against
// tests/model/cuda_emulator.cpp, which runs the same device code on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/cuda_runtime.hpp"
#include "model/optimizer.hpp"
#include "model/sampler.hpp"
#include "model/tokenizer.hpp"
#include "model/transformer.hpp"

// The emulated build's tests carry another suite name, so that ctest lists both.
#ifdef TROUPE_EMULATED_DEVICE
#define DEVICE_SUITE EmulatedDeviceTransformer
#define TWO_DEVICE_SUITE EmulatedDeviceTransformerOnTwoDevices
#define PLACEMENT_SUITE EmulatedDevicePlacement
#else
#define DEVICE_SUITE DeviceTransformer
#define TWO_DEVICE_SUITE DeviceTransformerOnTwoDevices
#define PLACEMENT_SUITE DevicePlacement
#endif

namespace troupe::model {
namespace {

// Sums on a GPU run in another order than on the CPU (and cuBLAS may pick
// other kernels); a wrong buffer, offset or missing term is off by O(1).
constexpr double kAtol = 2e-4;
constexpr double kRtol = 2e-3;

ModelConfig small() {
  ModelConfig c;
  c.d_model = 48;
  c.n_layers = 2;
  c.n_heads = 3;  // head size 16
  c.context = 40;
  return c;
}

void expect_close(const char* what, const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(double(got[i]) - want[i]) <= kAtol + kRtol * std::abs(want[i]))) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: device " << got[i] << " cpu " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " off";
}

std::vector<float> span_vec(std::span<const float> s) { return {s.begin(), s.end()}; }

TokenBatch ragged_batch(int context) {
  // Rows of different lengths (right padding), prompts excluded from the loss.
  std::vector<std::vector<int>> prompts = {encode_prompt("12+34="), encode_prompt("7+8="), encode_prompt("999+1=")};
  std::vector<std::vector<int>> responses = {encode_bytes("46"), encode_bytes("15 is the sum"), encode_bytes("1000")};
  for (auto& r : responses) r.push_back(kEos);
  return TokenBatch::from_pairs(prompts, responses, context, 260).value();
}

// Two identical models, the second on the device; skips when there is no device.
class DEVICE_SUITE : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kernels::cuda_device_count() == 0) {
      GTEST_SKIP() << "no CUDA device visible: " << kernels::cuda_unavailable_reason();
    }
    auto a = Transformer::create(small(), 21), b = Transformer::create(small(), 21);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    cpu_ = std::make_unique<Transformer>(std::move(*a));
    gpu_ = std::make_unique<Transformer>(std::move(*b));
    const Status s = gpu_->use_device(true);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_TRUE(gpu_->on_device());
    ASSERT_FALSE(cpu_->on_device());
  }
  std::unique_ptr<Transformer> cpu_, gpu_;
};

TEST_F(DEVICE_SUITE, ForwardAndAccumulatedBackwardMatchTheCpu) {
  const TokenBatch b = ragged_batch(small().context);
  std::vector<float> lc, lg, dlogp;
  ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
  ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
  expect_close("logp", lg, lc);
  for (float x : lg) EXPECT_LE(x, 0.0f);  // log-probabilities
  weighted_nll(b, lc, &dlogp);
  for (Transformer* m : {cpu_.get(), gpu_.get()}) {
    m->zero_grad();
    ASSERT_TRUE(m->backward(dlogp).is_ok());
  }
  const auto g1 = span_vec(gpu_->gradients());
  expect_close("gradients", g1, span_vec(cpu_->gradients()));
  double norm = 0.0;
  for (float g : g1) norm += double(g) * g;
  EXPECT_GT(norm, 0.0);
  // Without zero_grad the next backward adds: twice the gradient.
  ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
  ASSERT_TRUE(gpu_->backward(dlogp).is_ok());
  std::vector<float> twice(g1.size());
  for (std::size_t i = 0; i < g1.size(); ++i) twice[i] = 2.0f * g1[i];
  expect_close("accumulated gradients", span_vec(gpu_->gradients()), twice);
}

TEST_F(DEVICE_SUITE, OptimiserStepsOnTheHostWeightsReachTheDevice) {
  const TokenBatch b = ragged_batch(small().context);
  AdamW oc(*cpu_, AdamWConfig{}), og(*gpu_, AdamWConfig{});
  std::vector<float> lc, lg, dc, dg;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 5; ++step) {
    ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
    ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
    expect_close("logp after optimiser steps", lg, lc);
    const double loss = weighted_nll(b, lg, &dg);
    weighted_nll(b, lc, &dc);
    if (step == 0) first = loss;
    last = loss;
    cpu_->zero_grad();
    gpu_->zero_grad();
    ASSERT_TRUE(cpu_->backward(dc).is_ok());
    ASSERT_TRUE(gpu_->backward(dg).is_ok());
    ASSERT_TRUE(oc.step(*cpu_, 1e-2f).is_ok());
    ASSERT_TRUE(og.step(*gpu_, 1e-2f).is_ok());
  }
  EXPECT_LT(last, first);  // the device model learns
  expect_close("weights after 5 steps", span_vec(std::as_const(*gpu_).parameters()),
               span_vec(std::as_const(*cpu_).parameters()));
}

TEST_F(DEVICE_SUITE, LoadedWeightsReplaceTheDeviceCopy) {
  auto other = Transformer::create(small(), 99);
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(cpu_->load_parameters(std::as_const(*other).parameters(), 7).is_ok());
  ASSERT_TRUE(gpu_->load_parameters(std::as_const(*other).parameters(), 7).is_ok());
  const TokenBatch b = ragged_batch(small().context);
  std::vector<float> lc, lg;
  ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
  ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
  expect_close("logp after load_parameters", lg, lc);
  // A write through the mutable span is seen too.
  for (float& w : cpu_->parameters()) w *= 0.5f;
  for (float& w : gpu_->parameters()) w *= 0.5f;
  ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
  ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
  expect_close("logp after writing parameters()", lg, lc);
}

TEST_F(DEVICE_SUITE, CachedDecodeMatchesTheCpuCache) {
  KvCache cc = cpu_->make_cache(3, 20), gc = gpu_->make_cache(3, 20);
  EXPECT_EQ(cc.device, nullptr);
  ASSERT_NE(gc.device, nullptr);
  EXPECT_TRUE(gc.k.empty());  // the keys live on the device only
  const std::vector<std::vector<int>> seqs = {
      {kBos, 'a', 'b', 'c', 'd', 'e', 'f', 'g'}, {kBos, '1', '+', '2', '=', kSep, '3', kEos}, {kBos, 'z', 'z', 'z', 'z', 'z', 'z', 'z'}};
  std::vector<float> lc(3 * 260), lg(3 * 260);
  for (int step = 0; step < 8; ++step) {
    const int toks[3] = {seqs[0][step], seqs[1][step], seqs[2][step]};
    ASSERT_TRUE(cpu_->decode(cc, toks, lc.data()).is_ok());
    ASSERT_TRUE(gpu_->decode(gc, toks, lg.data()).is_ok());
    expect_close("decode logits", lg, lc);
  }
  EXPECT_EQ(gc.len, cc.len);
}

TEST_F(DEVICE_SUITE, GreedySamplingMatchesTheCpu) {
  // Trained a little, so greedy choices are clear-cut rather than near-ties.
  const TokenBatch b = ragged_batch(small().context);
  AdamW oc(*cpu_, AdamWConfig{});
  std::vector<float> lc, dc;
  for (int step = 0; step < 20; ++step) {
    ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
    weighted_nll(b, lc, &dc);
    cpu_->zero_grad();
    ASSERT_TRUE(cpu_->backward(dc).is_ok());
    ASSERT_TRUE(oc.step(*cpu_, 1e-2f).is_ok());
  }
  ASSERT_TRUE(gpu_->load_parameters(std::as_const(*cpu_).parameters(), cpu_->version()).is_ok());
  Sampler sc(std::move(*cpu_)), sg(std::move(*gpu_));
  ASSERT_TRUE(sg.model().on_device());
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 12;
  const std::vector<std::vector<int>> prompts = {encode_prompt("12+34="), encode_prompt("7+8=")};
  auto rc = sc.sample(prompts, p), rg = sg.sample(prompts, p);
  ASSERT_TRUE(rc.is_ok() && rg.is_ok());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ((*rg)[i].tokens, (*rc)[i].tokens) << i;
    std::vector<float> a = (*rg)[i].logprobs, w = (*rc)[i].logprobs;
    if (a.size() == w.size()) expect_close("behaviour log-probs", a, w);
  }
}

TEST_F(DEVICE_SUITE, BackToTheCpu) {
  ASSERT_TRUE(gpu_->use_device(false).is_ok());
  EXPECT_FALSE(gpu_->on_device());
  const TokenBatch b = ragged_batch(small().context);
  std::vector<float> lc, lg;
  ASSERT_TRUE(cpu_->forward(b, &lc).is_ok());
  ASSERT_TRUE(gpu_->forward(b, &lg).is_ok());
  EXPECT_EQ(lg, lc);  // the same CPU code on the same weights
}

// Two models on two devices, used in turn from one thread: each call makes its model's device
// current (the emulator fails a copy that touches another device's memory), and both compute
// what the CPU computes.
TEST(TWO_DEVICE_SUITE, ModelsOnDifferentDevicesShareAThread) {
  if (kernels::cuda_device_count() < 2) {
    GTEST_SKIP() << "needs two CUDA devices, " << kernels::cuda_device_count() << " visible";
  }
  auto cpu = Transformer::create(small(), 21), d0 = Transformer::create(small(), 21),
       d1 = Transformer::create(small(), 21);
  ASSERT_TRUE(cpu.is_ok() && d0.is_ok() && d1.is_ok());
  auto placed0 = place_model(*d0, "cuda", 0);
  auto placed1 = place_model(*d1, "cuda", 1);
  ASSERT_TRUE(placed0.is_ok()) << placed0.status().to_string();
  ASSERT_TRUE(placed1.is_ok()) << placed1.status().to_string();
  EXPECT_EQ(*placed0, "cuda:0");
  EXPECT_EQ(*placed1, "cuda:1");
  const TokenBatch b = ragged_batch(small().context);
  std::vector<float> lc, l0, l1;
  ASSERT_TRUE(cpu->forward(b, &lc).is_ok());
  for (int round = 0; round < 2; ++round) {  // alternate, so each call finds the other device current
    Status s = d1->forward(b, &l1);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    s = d0->forward(b, &l0);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    expect_close("device 0 log-probs", l0, lc);
    expect_close("device 1 log-probs", l1, lc);
    std::vector<float> dlogp(l0.size(), 0.5f);
    s = d1->backward(dlogp);  // d1's last forward was before d0's
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  KvCache c0 = d0->make_cache(2, 8), c1 = d1->make_cache(2, 8);
  std::vector<float> g0(2 * 260), g1(2 * 260);
  const int tokens[2] = {kBos, 'x'};
  Status s = d0->decode(c0, tokens, g0.data());
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  s = d1->decode(c1, tokens, g1.data());
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  expect_close("decode logits, device 1 vs 0", g1, g0);
}

TEST(PLACEMENT_SUITE, AGpuThatDoesNotExistIsNamed) {
  if (kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible: " << kernels::cuda_unavailable_reason();
  auto m = Transformer::create(small(), 1);
  ASSERT_TRUE(m.is_ok());
  const int missing = kernels::cuda_device_count();
  auto placed = place_model(*m, "cuda", missing);
  ASSERT_FALSE(placed.is_ok());
  EXPECT_NE(placed.status().message().find("CUDA device " + std::to_string(missing) + " does not exist"),
            std::string::npos)
      << placed.status().message();
  EXPECT_FALSE(m->on_device());
}

TEST(DeviceTransformerWithoutDevice, UseDeviceFailsClearlyAndTheModelStaysOnTheCpu) {
  if (kernels::cuda_device_count() > 0) GTEST_SKIP() << "a device is visible; this checks the no-device path";
  auto m = Transformer::create(small(), 1);
  ASSERT_TRUE(m.is_ok());
  const Status s = m->use_device(true);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find("no CUDA device"), std::string::npos) << s.message();
  EXPECT_FALSE(m->on_device());
  // "auto" with a GPU named by the placement still falls back to the CPU.
  auto placed = place_model(*m, "auto", 1);
  ASSERT_TRUE(placed.is_ok()) << placed.status().to_string();
  EXPECT_EQ(*placed, "cpu");
  EXPECT_FALSE(m->on_device());
}

}  // namespace
}  // namespace troupe::model
