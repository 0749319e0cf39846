// LayerNorm (kernels/layernorm.hpp). Rows are independent, so the forward runs
// rows on both cores; the backward reduces dweight/dbias and stays serial.
#include "kernels/layernorm.hpp"

#include <cmath>

namespace troupe::kernels::cpu {

namespace {
constexpr float kEps = 1e-5f;  // GPT-2 / torch.nn.LayerNorm default
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C) {
#pragma omp parallel for schedule(static) if (long(N) * C > 32768)
  for (int n = 0; n < N; ++n) {
    const float* x = inp + long(n) * C;
    float m = 0.0f;
    for (int c = 0; c < C; ++c) m += x[c];
    m /= float(C);
    float var = 0.0f;
    for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    var /= float(C);
    const float s = 1.0f / std::sqrt(var + kEps);
    float* o = out + long(n) * C;
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = inp + long(n) * C;
    const float* d = dout + long(n) * C;
    float* di = dinp + long(n) * C;
    const float m = mean[n], s = rstd[n];
    // dnorm = d * weight; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
    float dnorm_mean = 0.0f, dnorm_xhat_mean = 0.0f;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      const float dn = d[c] * weight[c];
      dnorm_mean += dn;
      dnorm_xhat_mean += dn * xhat;
    }
    dnorm_mean /= float(C);
    dnorm_xhat_mean /= float(C);
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      const float dn = d[c] * weight[c];
      dbias[c] += d[c];
      dweight[c] += d[c] * xhat;
      di[c] += s * (dn - dnorm_mean - xhat * dnorm_xhat_mean);
    }
  }
}

}  // namespace troupe::kernels::cpu
