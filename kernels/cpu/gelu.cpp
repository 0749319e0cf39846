// GELU, tanh approximation (kernels/gelu.hpp), elementwise on both cores with
// a vectorisable tanh (fast_exp.hpp).
#include "kernels/gelu.hpp"

#include <cmath>

#include "kernels/cpu/fast_exp.hpp"

namespace troupe::kernels::cpu {

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kCubic = 0.044715f;                   // GPT-2's tanh-approximation coefficient
constexpr long kParallelMin = 1 << 15;                // below this, threads cost more than they save
}  // namespace

void gelu_forward(float* out, const float* inp, long n) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (long i = 0; i < n; ++i) {
    const float x = inp[i];
    const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
    out[i] = 0.5f * x * (1.0f + fast::tanh(u));
  }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, long n) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (long i = 0; i < n; ++i) {
    const float x = inp[i];
    const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
    const float t = fast::tanh(u);
    const float sech2 = 1.0f - t * t;
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    dinp[i] += (0.5f * (1.0f + t) + 0.5f * x * sech2 * du) * dout[i];
  }
}

}  // namespace troupe::kernels::cpu
