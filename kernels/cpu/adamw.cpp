// AdamW, learning-rate schedule and global-norm clipping (kernels/adamw.hpp).
#include "kernels/adamw.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace troupe::kernels {

float LrSchedule::at(int step) const {
  if (warmup_steps > 0 && step <= warmup_steps) return base_lr * float(step) / float(warmup_steps);
  if (kind == Kind::kConstant || total_steps <= warmup_steps) return base_lr;
  const double frac = std::min(1.0, double(step - warmup_steps) / double(total_steps - warmup_steps));
  const double min_lr = double(base_lr) * min_ratio;
  if (kind == Kind::kLinear) return float(base_lr + (min_lr - base_lr) * frac);
  return float(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(std::numbers::pi * frac)));
}

}  // namespace troupe::kernels

namespace troupe::kernels::cpu {

void adamw_update(float* params, const float* grads, float* m, float* v, long n, const AdamWStepParams& p) {
  const float bc1 = 1.0f - std::pow(p.beta1, float(p.step));
  const float bc2 = 1.0f - std::pow(p.beta2, float(p.step));
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (long i = 0; i < n; ++i) {
    const float g = grads[i] * p.grad_scale;
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    const float mhat = m[i] / bc1;
    const float vhat = v[i] / bc2;
    params[i] -= p.lr * (mhat / (std::sqrt(vhat) + p.eps) + p.weight_decay * params[i]);
  }
}

double global_norm_squared(const float* grads, long n) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > (1 << 16))
  for (long i = 0; i < n; ++i) s += double(grads[i]) * grads[i];
  return s;
}

float clip_scale(double norm, float max_norm) {
  if (max_norm <= 0.0f || norm <= max_norm) return 1.0f;
  return float(max_norm / (norm + 1e-6));  // 1e-6 keeps the factor finite for a zero-norm edge case
}

}  // namespace troupe::kernels::cpu
