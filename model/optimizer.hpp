// AdamW over a Transformer's contiguous parameters, with weight decay on the
// tensors marked `decay` only (matrices and embeddings), global-norm gradient
// clipping, and a step count that the checkpoint saves so that training
// resumes bit-identically. Owned by the one thread that trains its model.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.hpp"
#include "kernels/adamw.hpp"
#include "model/transformer.hpp"

namespace troupe::model {

struct AdamWConfig {
  float beta1 = 0.9f;          // Default: 0.9
  float beta2 = 0.98f;         // Default: 0.98 (ANCHORS.md's supervised recipe)
  float eps = 1e-8f;           // Default: 1e-8
  float weight_decay = 0.1f;   // Default: 0.1, on decay tensors only
  float max_grad_norm = 1.0f;  // Default: 1.0; <= 0 disables clipping
};

struct StepStats {
  double grad_norm = 0.0;  // before clipping
  float lr = 0.0f;
};

class AdamW {
 public:
  AdamW(const Transformer& model, AdamWConfig config);

  // Clips the model's gradients to max_grad_norm (global norm), applies one
  // AdamW update with learning rate `lr`, and bumps the model's version.
  // Does not zero the gradients. Errors: a model of another size.
  [[nodiscard]] Result<StepStats> step(Transformer& model, float lr);

  const AdamWConfig& config() const { return config_; }
  int64_t steps() const { return steps_; }
  // The moments, laid out like the parameters (for checkpoints).
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }
  void set_steps(int64_t s) { steps_ = s; }

 private:
  AdamWConfig config_;
  std::vector<float> m_, v_;
  int64_t steps_ = 0;
};

}  // namespace troupe::model
