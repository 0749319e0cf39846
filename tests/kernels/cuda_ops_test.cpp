// CUDA ops against their CPU references (forward and backward of every op the
// model uses), at shapes that do and do not divide the block or warp size.
// Without a visible GPU every device test skips, saying why; the version
// queries run everywhere.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/logprob.hpp"
#include "kernels/matmul.hpp"
#include "tests/kernels/finite_difference.hpp"

namespace troupe::kernels {
namespace {

using testing::expect_close;
using testing::random_vector;

#define TROUPE_REQUIRE_GPU()                                                        \
  do {                                                                              \
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible: " << cuda_unavailable_reason(); \
  } while (0)

#define CUDA_OK(expr)                                  \
  do {                                                 \
    const Status s_ = (expr);                          \
    ASSERT_TRUE(s_.is_ok()) << #expr << ": " << s_.to_string(); \
  } while (0)

// Copies to and from the device, failing the test (not crashing) on an error.
template <class T>
DeviceArray<T> up(const std::vector<T>& host) {
  auto a = DeviceArray<T>::from_host(host);
  if (!a) {
    ADD_FAILURE() << "upload: " << a.status().to_string();
    return DeviceArray<T>();
  }
  return std::move(a).value();
}
template <class T>
std::vector<T> down(const DeviceArray<T>& d) {
  std::vector<T> host(d.size());
  const Status s = d.download(host);
  if (!s.is_ok()) ADD_FAILURE() << "download: " << s.to_string();
  return host;
}

TEST(CudaRuntime, ReportsVersionsOrNoCuda) {
  if (!cuda_compiled()) {
    EXPECT_EQ(cuda_version_string(), "no CUDA");
    EXPECT_EQ(cuda_device_count(), 0);
    return;
  }
  EXPECT_EQ(cuda_version_string().rfind("runtime ", 0), 0u) << cuda_version_string();
  // NCCL reports major.minor.patch with major >= 2 (ncclGetVersion works without a GPU).
  const std::string nccl = nccl_version_string();
  ASSERT_GE(nccl.size(), 5u) << nccl;
  EXPECT_GE(nccl[0], '2') << nccl;
  EXPECT_GE(cuda_device_count(), 0);
}

TEST(CudaRuntime, NoDeviceMeansUnavailableNotCrash) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a device is visible; this checks the no-device path";
  auto b = DeviceBuffer::create(16);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Status::Code::kUnavailable) << b.status().to_string();
  std::vector<float> a(4, 1.0f), c(4, 0.0f);
  EXPECT_FALSE(cuda_sgemm_host(false, false, 2, 2, 2, 1.0f, a.data(), a.data(), 0.0f, c.data()).is_ok());
}

TEST(CudaGemm, MatchesCpuReferenceAtSeveralShapes) {
  TROUPE_REQUIRE_GPU();
  struct Shape { int m, n, k; bool ta, tb; };
  for (Shape s : {Shape{1, 1, 1, false, false}, Shape{17, 33, 65, false, true}, Shape{128, 384, 128, false, true},
                  Shape{257, 129, 31, true, false}, Shape{64, 260, 128, true, true}}) {
    auto a = random_vector(std::size_t(s.m) * s.k, 1);
    auto b = random_vector(std::size_t(s.k) * s.n, 2);
    auto c = random_vector(std::size_t(s.m) * s.n, 3);
    auto ref = c;
    cpu::sgemm_reference(s.ta, s.tb, s.m, s.n, s.k, 0.5f, a.data(), b.data(), 0.25f, ref.data());
    ASSERT_TRUE(cuda_sgemm_host(s.ta, s.tb, s.m, s.n, s.k, 0.5f, a.data(), b.data(), 0.25f, c.data()).is_ok());
    // cuBLAS may use TF32 or reordered sums: allow float error growing with k
    // (unit-normal inputs, sums of k products of size ~1).
    expect_close("cublas sgemm", c.data(), ref.data(), c.size(), 1e-3 * s.k, 1e-3);
  }
}

TEST(CudaOps, GeluMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (long n : {1L, 255L, 257L, 100003L}) {
    auto x = random_vector(n, 4), dout = random_vector(n, 5);
    std::vector<float> ref(n), got(n), dref(n, 0.0f), dgot(n, 0.0f);
    cpu::gelu_forward(ref.data(), x.data(), n);
    cpu::gelu_backward(dref.data(), x.data(), dout.data(), n);
    auto dx = DeviceBuffer::from_host(x);
    auto dy = DeviceBuffer::create(n);
    auto dd = DeviceBuffer::from_host(dout);
    auto dg = DeviceBuffer::from_host(dgot);
    ASSERT_TRUE(dx && dy && dd && dg);
    ASSERT_TRUE(cuda::gelu_forward(dy->data(), dx->data(), n).is_ok());
    ASSERT_TRUE(cuda::gelu_backward(dg->data(), dx->data(), dd->data(), n).is_ok());
    ASSERT_TRUE(dy->download(got).is_ok());
    ASSERT_TRUE(dg->download(dgot).is_ok());
    // tanhf on the device differs from libm's by a few ulp.
    expect_close("gelu fwd", got.data(), ref.data(), n, 1e-6, 1e-5);
    expect_close("gelu bwd", dgot.data(), dref.data(), n, 1e-6, 1e-5);
  }
}

TEST(CudaOps, LayerNormMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (auto [N, C] : {std::pair{1, 1}, std::pair{9, 31}, std::pair{130, 128}, std::pair{4097, 200}}) {
    auto x = random_vector(std::size_t(N) * C, 6), w = random_vector(C, 7), b = random_vector(C, 8);
    std::vector<float> ref(x.size()), mref(N), rref(N), got(x.size()), mgot(N), rgot(N);
    cpu::layernorm_forward(ref.data(), mref.data(), rref.data(), x.data(), w.data(), b.data(), N, C);
    auto dx = DeviceBuffer::from_host(x), dw = DeviceBuffer::from_host(w), db = DeviceBuffer::from_host(b);
    auto dy = DeviceBuffer::create(x.size()), dm = DeviceBuffer::create(N), dr = DeviceBuffer::create(N);
    ASSERT_TRUE(dx && dw && db && dy && dm && dr);
    ASSERT_TRUE(cuda::layernorm_forward(dy->data(), dm->data(), dr->data(), dx->data(), dw->data(), db->data(), N, C)
                    .is_ok());
    ASSERT_TRUE(dy->download(got).is_ok());
    ASSERT_TRUE(dr->download(rgot).is_ok());
    // Different summation order (warp tree vs sequential) over C <= 200 values.
    expect_close("layernorm out", got.data(), ref.data(), got.size(), 1e-4, 1e-4);
    expect_close("layernorm rstd", rgot.data(), rref.data(), N, 1e-4, 1e-4);
  }
}

TEST(CudaOps, TokenLogprobsAndCrossEntropyMatchCpu) {
  TROUPE_REQUIRE_GPU();
  for (auto [N, V] : {std::pair{1, 2}, std::pair{33, 260}, std::pair{1000, 257}}) {
    auto logits = random_vector(std::size_t(N) * V, 9, 3.0f), dlogp = random_vector(N, 10);
    std::vector<int> targets(N);
    for (int i = 0; i < N; ++i) targets[i] = i % 7 == 3 ? -1 : (i * 31) % V;
    std::vector<float> ref(N), lref(N), dref(logits.size()), ce_ref(N), dce_ref(logits.size());
    cpu::token_logprobs_forward(ref.data(), lref.data(), logits.data(), targets.data(), N, V);
    cpu::token_logprobs_backward(dref.data(), dlogp.data(), logits.data(), lref.data(), targets.data(), N, V);
    cpu::cross_entropy_forward(ce_ref.data(), lref.data(), logits.data(), targets.data(), N, V);
    cpu::cross_entropy_backward(dce_ref.data(), dlogp.data(), logits.data(), lref.data(), targets.data(), N, V);
    auto dl = up(logits), dd = up(dlogp), dp = up(std::vector<float>(N)), ds = up(std::vector<float>(N)),
         dg = up(std::vector<float>(logits.size(), 7.0f));  // 7: the backward must overwrite (=)
    auto dt = up(targets);
    CUDA_OK(cuda::token_logprobs_forward(dp.data(), ds.data(), dl.data(), dt.data(), N, V));
    // expf/logf against a double reference over up to 260 terms.
    expect_close("token logprobs", down(dp).data(), ref.data(), N, 1e-4, 1e-5);
    expect_close("logsumexp", down(ds).data(), lref.data(), N, 1e-4, 1e-5);
    CUDA_OK(cuda::token_logprobs_backward(dg.data(), dd.data(), dl.data(), ds.data(), dt.data(), N, V));
    expect_close("token logprobs backward", down(dg).data(), dref.data(), dref.size(), 1e-5, 1e-4);
    CUDA_OK(cuda::cross_entropy_forward(dp.data(), ds.data(), dl.data(), dt.data(), N, V));
    expect_close("cross-entropy", down(dp).data(), ce_ref.data(), N, 1e-4, 1e-5);
    CUDA_OK(cuda::cross_entropy_backward(dg.data(), dd.data(), dl.data(), ds.data(), dt.data(), N, V));
    expect_close("cross-entropy backward", down(dg).data(), dce_ref.data(), dce_ref.size(), 1e-5, 1e-4);
  }
}

TEST(CudaOps, AddAndAccumulate) {
  TROUPE_REQUIRE_GPU();
  for (long n : {1L, 255L, 257L, 70001L}) {
    auto a = random_vector(n, 30), b = random_vector(n, 31);
    std::vector<float> sum(n), twice(n);
    for (long i = 0; i < n; ++i) sum[i] = a[i] + b[i];
    for (long i = 0; i < n; ++i) twice[i] = sum[i] + a[i];
    auto da = up(a), db = up(b), dc = up(std::vector<float>(n));
    CUDA_OK(cuda::add(dc.data(), da.data(), db.data(), n));
    expect_close("add", down(dc).data(), sum.data(), n, 0.0, 0.0);  // one float add: exact
    CUDA_OK(cuda::accumulate(dc.data(), da.data(), n));
    expect_close("accumulate", down(dc).data(), twice.data(), n, 0.0, 0.0);
  }
}

TEST(CudaOps, EncoderMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (auto [N, C] : {std::pair{1, 1}, std::pair{37, 33}, std::pair{300, 128}}) {
    const int V = 11, maxT = 17;
    std::vector<int> tokens(N), pos(N);
    for (int i = 0; i < N; ++i) {
      tokens[i] = (i * 7) % V;  // repeats, so the backward's atomics collide
      pos[i] = i % maxT;
    }
    auto wte = random_vector(std::size_t(V) * C, 32), wpe = random_vector(std::size_t(maxT) * C, 33),
         dout = random_vector(std::size_t(N) * C, 34);
    std::vector<float> ref(std::size_t(N) * C), dwte(wte.size(), 0.5f), dwpe(wpe.size(), 0.5f);
    auto dwte_d = up(dwte), dwpe_d = up(dwpe);  // start at 0.5: the backward accumulates (+=)
    cpu::encoder_forward(ref.data(), tokens.data(), pos.data(), wte.data(), wpe.data(), N, C);
    cpu::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), pos.data(), N, C);
    auto dt = up(tokens), dpos = up(pos);
    auto dw = up(wte), dp = up(wpe), dd = up(dout), out_d = up(ref);
    CUDA_OK(cuda::encoder_forward(out_d.data(), dt.data(), dpos.data(), dw.data(), dp.data(), N, C));
    expect_close("encoder fwd", down(out_d).data(), ref.data(), ref.size(), 0.0, 0.0);  // one add: exact
    CUDA_OK(cuda::encoder_backward(dwte_d.data(), dwpe_d.data(), dd.data(), dt.data(), dpos.data(), N, C));
    // Sums of up to ~30 unit values in another order.
    expect_close("encoder dwte", down(dwte_d).data(), dwte.data(), dwte.size(), 1e-5, 1e-5);
    expect_close("encoder dwpe", down(dwpe_d).data(), dwpe.data(), dwpe.size(), 1e-5, 1e-5);
  }
}

TEST(CudaOps, LayerNormBackwardMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (auto [N, C] : {std::pair{1, 1}, std::pair{9, 31}, std::pair{300, 128}, std::pair{1000, 200}}) {
    auto x = random_vector(std::size_t(N) * C, 35, 2.0f), w = random_vector(C, 36), b = random_vector(C, 37),
         dout = random_vector(std::size_t(N) * C, 38);
    std::vector<float> out(x.size()), mean(N), rstd(N), dx(x.size(), 0.25f), dw(C, 0.25f), db(C, 0.25f);
    auto dx_d = up(dx), dw_d = up(dw), db_d = up(db);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    cpu::layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(),
                            rstd.data(), N, C);
    auto xd = up(x), wd = up(w), dd = up(dout), md = up(mean), rd = up(rstd);
    CUDA_OK(cuda::layernorm_backward(dx_d.data(), dw_d.data(), db_d.data(), dd.data(), xd.data(), wd.data(),
                                     md.data(), rd.data(), N, C));
    // Row sums of C <= 200 terms; column sums of N <= 1000 unit terms in chunks.
    expect_close("layernorm dinp", down(dx_d).data(), dx.data(), dx.size(), 1e-4, 1e-4);
    expect_close("layernorm dweight", down(dw_d).data(), dw.data(), C, 1e-3, 1e-4);
    expect_close("layernorm dbias", down(db_d).data(), db.data(), C, 1e-3, 1e-4);
  }
}

TEST(CudaOps, MatmulMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  struct Shape { int N, C, OC; bool bias; };
  for (Shape s : {Shape{1, 1, 1, true}, Shape{17, 33, 65, true}, Shape{300, 128, 260, false},
                  Shape{257, 64, 192, true}}) {
    auto x = random_vector(std::size_t(s.N) * s.C, 39), w = random_vector(std::size_t(s.OC) * s.C, 40),
         b = random_vector(s.OC, 41), dout = random_vector(std::size_t(s.N) * s.OC, 42);
    const float* bias = s.bias ? b.data() : nullptr;
    std::vector<float> ref(std::size_t(s.N) * s.OC), dx(x.size(), 0.5f), dw(w.size(), 0.5f), db(s.OC, 0.5f);
    auto dx_d = up(dx), dw_d = up(dw), db_d = up(db);
    cpu::matmul_forward(ref.data(), x.data(), w.data(), bias, s.N, s.C, s.OC);
    cpu::matmul_backward(dx.data(), dw.data(), s.bias ? db.data() : nullptr, dout.data(), x.data(), w.data(), s.N,
                         s.C, s.OC);
    auto xd = up(x), wd = up(w), bd = up(b), dd = up(dout), od = up(ref);
    CUDA_OK(cuda::matmul_forward(od.data(), xd.data(), wd.data(), s.bias ? bd.data() : nullptr, s.N, s.C, s.OC));
    CUDA_OK(cuda::matmul_backward(dx_d.data(), dw_d.data(), s.bias ? db_d.data() : nullptr, dd.data(), xd.data(),
                                  wd.data(), s.N, s.C, s.OC));
    // Float sums of C, OC or N unit products (cuBLAS may reorder them).
    expect_close("matmul fwd", down(od).data(), ref.data(), ref.size(), 1e-4 * s.C, 1e-4);
    expect_close("matmul dinp", down(dx_d).data(), dx.data(), dx.size(), 1e-4 * s.OC, 1e-4);
    expect_close("matmul dweight", down(dw_d).data(), dw.data(), dw.size(), 1e-4 * s.N, 1e-4);
    expect_close("matmul dbias", down(db_d).data(), db.data(), db.size(), 1e-4 * s.N, 1e-4);
  }
}

struct AttnShape { int B, T, C, NH; };

TEST(CudaOps, AttentionMatchesCpuWithAndWithoutMask) {
  TROUPE_REQUIRE_GPU();
  // T = 33 and 130 do not divide the warp or the block; hs = 1, 4, 16, 24.
  for (AttnShape s : {AttnShape{1, 1, 4, 4}, AttnShape{2, 7, 12, 3}, AttnShape{3, 33, 64, 4},
                      AttnShape{2, 130, 48, 2}}) {
    for (bool masked : {false, true}) {
      const std::size_t nqkv = std::size_t(s.B) * s.T * 3 * s.C, nout = std::size_t(s.B) * s.T * s.C,
                        natt = std::size_t(s.B) * s.NH * s.T * s.T;
      auto qkv = random_vector(nqkv, 43), dout = random_vector(nout, 44);
      std::vector<uint8_t> mask(std::size_t(s.B) * s.T, 1);
      for (int b = 0; b < s.B; ++b) {
        for (int t = s.T - b; t < s.T; ++t) mask[std::size_t(b) * s.T + t] = 0;  // b padding keys at the end
      }
      const uint8_t* kv = masked ? mask.data() : nullptr;
      std::vector<float> out(nout), att(natt), dqkv(nqkv, 0.5f);
      auto dqkv_d = up(dqkv);  // accumulates (+=) onto 0.5
      cpu::attention_forward(out.data(), att.data(), qkv.data(), kv, s.B, s.T, s.C, s.NH);
      cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.NH);
      auto qd = up(qkv), dd = up(dout), od = up(std::vector<float>(nout)), ad = up(std::vector<float>(natt)),
           scratch = up(std::vector<float>(natt));
      auto md = up(mask);
      CUDA_OK(cuda::attention_forward(od.data(), ad.data(), qd.data(), masked ? md.data() : nullptr, s.B, s.T, s.C,
                                      s.NH));
      // Float scores and exps against the double reference.
      expect_close("attention out", down(od).data(), out.data(), nout, 1e-5, 1e-4);
      expect_close("attention probs", down(ad).data(), att.data(), natt, 1e-6, 1e-4);
      CUDA_OK(cuda::attention_backward(dqkv_d.data(), scratch.data(), dd.data(), qd.data(), ad.data(), s.B, s.T, s.C,
                                       s.NH));
      expect_close("attention dqkv", down(dqkv_d).data(), dqkv.data(), nqkv, 1e-4, 1e-4);
    }
  }
}

TEST(CudaOps, AttentionDecodeMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (AttnShape s : {AttnShape{1, 1, 4, 1}, AttnShape{3, 33, 64, 4}, AttnShape{5, 300, 96, 3}}) {
    const int N = s.B, maxT = s.T, C = s.C;
    auto q = random_vector(std::size_t(N) * C, 45), k = random_vector(std::size_t(N) * maxT * C, 46),
         v = random_vector(k.size(), 47);
    std::vector<int> len(N);
    for (int n = 0; n < N; ++n) len[n] = 1 + (n * 37) % maxT;  // rows at different lengths
    std::vector<float> ref(std::size_t(N) * C);
    cpu::attention_decode_forward(ref.data(), q.data(), k.data(), v.data(), len.data(), N, maxT, C, s.NH);
    auto qd = up(q), kd = up(k), vd = up(v), od = up(ref);
    auto ld = up(len);
    CUDA_OK(cuda::attention_decode_forward(od.data(), qd.data(), kd.data(), vd.data(), ld.data(), N, maxT, C, s.NH));
    expect_close("attention decode", down(od).data(), ref.data(), ref.size(), 1e-5, 1e-4);
  }
}

TEST(CudaOps, KvCacheAppendPlacesEachRowAtItsPosition) {
  TROUPE_REQUIRE_GPU();
  const int N = 5, maxT = 9, C = 33;
  auto qkv = random_vector(std::size_t(N) * 3 * C, 49);
  std::vector<int> pos = {0, 8, 3, 3, 5};
  std::vector<float> k(std::size_t(N) * maxT * C, -1.0f), v(k.size(), -1.0f);
  auto kd = up(k), vd = up(v), qd = up(std::vector<float>(std::size_t(N) * C)), src = up(qkv);
  auto pd = up(pos);
  CUDA_OK(cuda::kv_cache_append(kd.data(), vd.data(), qd.data(), src.data(), pd.data(), N, maxT, C));
  const auto kg = down(kd), vg = down(vd), qg = down(qd);
  for (int r = 0; r < N; ++r) {
    for (int c = 0; c < C; ++c) {
      const float* row = qkv.data() + std::size_t(r) * 3 * C;
      EXPECT_EQ(qg[std::size_t(r) * C + c], row[c]);
      EXPECT_EQ(kg[(std::size_t(r) * maxT + pos[r]) * C + c], row[C + c]);
      EXPECT_EQ(vg[(std::size_t(r) * maxT + pos[r]) * C + c], row[2 * C + c]);
    }
    // Other positions are untouched.
    const int other = (pos[r] + 1) % maxT;
    EXPECT_EQ(kg[(std::size_t(r) * maxT + other) * C], -1.0f);
    EXPECT_EQ(vg[(std::size_t(r) * maxT + other) * C], -1.0f);
  }
}

TEST(CudaOps, GlobalNormMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  for (long n : {1L, 257L, 1000003L}) {
    auto g = random_vector(n, 48);
    const double ref = cpu::global_norm_squared(g.data(), n);
    auto gd = up(g);
    double got = -1.0;
    CUDA_OK(cuda::global_norm_squared(&got, gd.data(), n));
    EXPECT_NEAR(got, ref, 1e-9 * ref + 1e-12) << n;  // both sum float squares in double
  }
}

TEST(CudaOps, AdamWMatchesCpu) {
  TROUPE_REQUIRE_GPU();
  const long n = 10007;
  auto p = random_vector(n, 10), g = random_vector(n, 11), m = random_vector(n, 12, 0.1f);
  std::vector<float> v(n, 0.01f);
  auto pc = p, mc = m, vc = v;
  AdamWStepParams hp;
  hp.lr = 1e-2f;
  hp.weight_decay = 0.1f;
  hp.step = 3;
  hp.grad_scale = 0.5f;
  cpu::adamw_update(pc.data(), g.data(), mc.data(), vc.data(), n, hp);
  auto dp = DeviceBuffer::from_host(p), dg = DeviceBuffer::from_host(g), dm = DeviceBuffer::from_host(m),
       dv = DeviceBuffer::from_host(v);
  ASSERT_TRUE(dp && dg && dm && dv);
  ASSERT_TRUE(cuda::adamw_update(dp->data(), dg->data(), dm->data(), dv->data(), n, hp).is_ok());
  ASSERT_TRUE(dp->download(p).is_ok());
  // sqrtf and division may round differently (FMA contraction on the device).
  expect_close("adamw params", p.data(), pc.data(), n, 1e-6, 1e-5);
}

}  // namespace
}  // namespace troupe::kernels
