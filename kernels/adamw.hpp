// The optimiser's kernels: AdamW with decoupled weight decay, a learning-rate
// schedule (linear warm-up, then constant, cosine or linear decay), and
// global-norm gradient clipping. Thread-safe: no state.
#pragma once

#include <string>

namespace troupe::kernels {

// One AdamW step's constants.
struct AdamWStepParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;           // Default: 0.9 (Adam paper)
  float beta2 = 0.999f;         // Default: 0.999 (Adam paper)
  float eps = 1e-8f;            // Default: 1e-8 (Adam paper)
  float weight_decay = 0.0f;    // decoupled: p -= lr * wd * p
  int step = 1;                 // 1-based, for bias correction
  float grad_scale = 1.0f;      // multiplies every gradient (global-norm clipping)
};

// Learning rate at a step: linear warm-up from 0 over warmup_steps, then
// constant, cosine or linear decay to min_ratio·base_lr at total_steps.
struct LrSchedule {
  enum class Kind { kConstant, kCosine, kLinear };
  float base_lr = 1e-3f;
  int warmup_steps = 0;
  int total_steps = 0;        // 0: no decay
  Kind kind = Kind::kConstant;
  float min_ratio = 0.1f;     // Default: decay to 10% of base_lr
  float at(int step) const;   // step is 1-based
};

}  // namespace troupe::kernels

namespace troupe::kernels::cpu {

// params, m, v (n) updated in place from grads (n): m = b1·m + (1-b1)·g,
// v = b2·v + (1-b2)·g², p -= lr·(m̂/(sqrt(v̂)+eps) + wd·p), g = grad_scale·grads.
void adamw_update(float* params, const float* grads, float* m, float* v, long n, const AdamWStepParams& p);

// sum g² accumulated in double (the global norm is the sqrt of the sum over all tensors).
double global_norm_squared(const float* grads, long n);
// The factor that brings a gradient of norm `norm` to at most max_norm
// (1 when it already is, or when max_norm <= 0 disables clipping).
float clip_scale(double norm, float max_norm);

}  // namespace troupe::kernels::cpu
