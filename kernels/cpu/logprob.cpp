// Token log-probabilities and cross-entropy (kernels/logprob.hpp).
#include "kernels/logprob.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/fast_exp.hpp"

namespace troupe::kernels::cpu {

namespace {

void forward_row(float* logp, float* lse, const float* x, int target, int V) {
  float m = x[0];
  for (int v = 1; v < V; ++v) m = std::max(m, x[v]);
  float s = 0.0f;
  for (int v = 0; v < V; ++v) s += fast::exp(x[v] - m);
  *lse = m + std::log(s);
  *logp = target >= 0 ? x[target] - *lse : 0.0f;
}

void backward_row(float* dx, float dlogp, const float* x, float lse, int target, int V) {
  if (target < 0) {
    std::fill(dx, dx + V, 0.0f);
    return;
  }
  for (int v = 0; v < V; ++v) dx[v] = -dlogp * fast::exp(x[v] - lse);
  dx[target] += dlogp;
}

}  // namespace

void token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N, int V) {
  for (int n = 0; n < N; ++n) {
    const float* x = logits + long(n) * V;
    double m = x[0];
    for (int v = 1; v < V; ++v) m = std::max(m, double(x[v]));
    double s = 0.0;
    for (int v = 0; v < V; ++v) s += std::exp(double(x[v]) - m);
    const double l = m + std::log(s);
    lse[n] = float(l);
    logp[n] = targets[n] >= 0 ? float(double(x[targets[n]]) - l) : 0.0f;
  }
}

void token_logprobs_forward_fast(float* logp, float* lse, const float* logits, const int* targets, int N, int V) {
#pragma omp parallel for schedule(static) if (long(N) * V > 32768)
  for (int n = 0; n < N; ++n) forward_row(&logp[n], &lse[n], logits + long(n) * V, targets[n], V);
}

void token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                             const int* targets, int N, int V) {
  for (int n = 0; n < N; ++n) {
    float* dx = dlogits + long(n) * V;
    const float* x = logits + long(n) * V;
    for (int v = 0; v < V; ++v) {
      const double p = std::exp(double(x[v]) - double(lse[n]));
      const double onehot = v == targets[n] ? 1.0 : 0.0;
      dx[v] = targets[n] >= 0 ? float(double(dlogp[n]) * (onehot - p)) : 0.0f;
    }
  }
}

void token_logprobs_backward_fast(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                                  const int* targets, int N, int V) {
#pragma omp parallel for schedule(static) if (long(N) * V > 32768)
  for (int n = 0; n < N; ++n) backward_row(dlogits + long(n) * V, dlogp[n], logits + long(n) * V, lse[n], targets[n], V);
}

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V) {
  token_logprobs_forward_fast(losses, lse, logits, targets, N, V);
  for (int n = 0; n < N; ++n) losses[n] = -losses[n];
}

void cross_entropy_backward(float* dlogits, const float* dlosses, const float* logits, const float* lse,
                            const int* targets, int N, int V) {
  // d loss / d logp = -1, so the upstream gradient flips sign.
  std::vector<float> dlogp(dlosses, dlosses + N);
  for (float& d : dlogp) d = -d;
  token_logprobs_backward_fast(dlogits, dlogp.data(), logits, lse, targets, N, V);
}

}  // namespace troupe::kernels::cpu
