// AdamW with clipping over a Transformer (model/optimizer.hpp).
#include "model/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

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
  // The step walks every tensor in pieces of at most kPiece floats, all pieces
  // in one parallel region (a region per tensor meant ~50 barriers per step,
  // each a stall when the OS deschedules a thread). The norm's partial sums are
  // added in piece order, so the result does not depend on the thread count.
  constexpr std::size_t kPiece = std::size_t{1} << 15;
  struct Piece {
    std::size_t offset, n;
    bool decay;
  };
  std::vector<Piece> pieces;
  for (const ParamTensor& t : model.tensors()) {
    for (std::size_t o = 0; o < t.numel; o += kPiece) pieces.push_back({t.offset + o, std::min(kPiece, t.numel - o), t.decay});
  }
  const long P = long(pieces.size());
  std::vector<double> partial(pieces.size());
#pragma omp parallel for schedule(static)
  for (long i = 0; i < P; ++i) {
    partial[i] = kernels::cpu::global_norm_squared(grads.data() + pieces[i].offset, long(pieces[i].n));
  }
  double sum = 0.0;
  for (double x : partial) sum += x;
  StepStats stats;
  stats.lr = lr;
  stats.grad_norm = std::sqrt(sum);
  ++steps_;
  kernels::AdamWStepParams p;
  p.lr = lr;
  p.beta1 = config_.beta1;
  p.beta2 = config_.beta2;
  p.eps = config_.eps;
  p.step = int(steps_);
  p.grad_scale = kernels::cpu::clip_scale(stats.grad_norm, config_.max_grad_norm);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < P; ++i) {
    kernels::AdamWStepParams pp = p;
    pp.weight_decay = pieces[i].decay ? config_.weight_decay : 0.0f;
    const std::size_t o = pieces[i].offset;
    kernels::cpu::adamw_update(params.data() + o, grads.data() + o, m_.data() + o, v_.data() + o, long(pieces[i].n),
                               pp);
  }
  model.set_version(model.version() + 1);
  return stats;
}

}  // namespace troupe::model
