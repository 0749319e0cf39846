// AdamW with clipping over a Transformer (model/optimizer.hpp).
#include "model/optimizer.hpp"

#include <cmath>

namespace troupe::model {

AdamW::AdamW(const Transformer& model, AdamWConfig config)
    : config_(config), m_(model.parameters().size(), 0.0f), v_(model.parameters().size(), 0.0f) {}

Result<StepStats> AdamW::step(Transformer& model, float lr) {
  auto params = model.parameters();
  auto grads = model.gradients();
  if (params.size() != m_.size()) {
    return Status::invalid_argument("AdamW::step: model has " + std::to_string(params.size()) +
                                    " parameters, the optimiser was built for " + std::to_string(m_.size()));
  }
  StepStats stats;
  stats.lr = lr;
  stats.grad_norm = std::sqrt(kernels::cpu::global_norm_squared(grads.data(), long(grads.size())));
  ++steps_;
  kernels::AdamWStepParams p;
  p.lr = lr;
  p.beta1 = config_.beta1;
  p.beta2 = config_.beta2;
  p.eps = config_.eps;
  p.step = int(steps_);
  p.grad_scale = kernels::cpu::clip_scale(stats.grad_norm, config_.max_grad_norm);
  for (const ParamTensor& t : model.tensors()) {
    p.weight_decay = t.decay ? config_.weight_decay : 0.0f;
    kernels::cpu::adamw_update(params.data() + t.offset, grads.data() + t.offset, m_.data() + t.offset,
                               v_.data() + t.offset, long(t.numel), p);
  }
  model.set_version(model.version() + 1);
  return stats;
}

}  // namespace troupe::model
