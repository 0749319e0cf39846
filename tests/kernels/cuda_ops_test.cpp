// CUDA ops against their CPU references, at shapes that do and do not divide the
// block size. Without a visible GPU every device test skips, saying why; the
// version queries run everywhere.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"
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

TEST(CudaOps, TokenLogprobsMatchCpu) {
  TROUPE_REQUIRE_GPU();
  for (auto [N, V] : {std::pair{1, 2}, std::pair{33, 260}, std::pair{1000, 257}}) {
    auto logits = random_vector(std::size_t(N) * V, 9, 3.0f);
    std::vector<int> targets(N);
    for (int i = 0; i < N; ++i) targets[i] = i % 7 == 3 ? -1 : (i * 31) % V;
    std::vector<float> ref(N), lref(N), got(N);
    cpu::token_logprobs_forward(ref.data(), lref.data(), logits.data(), targets.data(), N, V);
    // Targets travel as float-sized words: DeviceBuffer holds floats.
    std::vector<float> tbits(N);
    std::memcpy(tbits.data(), targets.data(), sizeof(int) * N);
    auto dl = DeviceBuffer::from_host(logits), dt = DeviceBuffer::from_host(tbits);
    auto dp = DeviceBuffer::create(N), ds = DeviceBuffer::create(N);
    ASSERT_TRUE(dl && dt && dp && ds);
    ASSERT_TRUE(cuda::token_logprobs_forward(dp->data(), ds->data(), dl->data(),
                                             reinterpret_cast<const int*>(dt->data()), N, V)
                    .is_ok());
    ASSERT_TRUE(dp->download(got).is_ok());
    // expf/logf vs double reference, sums of up to 260 terms.
    expect_close("token logprobs", got.data(), ref.data(), N, 1e-4, 1e-5);
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
