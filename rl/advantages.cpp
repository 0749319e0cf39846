// Group-normalised and leave-one-out advantages (see advantages.hpp).
#include "rl/advantages.hpp"

#include <cassert>
#include <cmath>

namespace troupe::rl {

GroupAdvantages group_advantages(std::span<const float> rewards, const AdvantageOptions& options) {
  assert(!rewards.empty());
  const size_t n = rewards.size();
  GroupAdvantages out;
  double sum = 0;
  for (float r : rewards) sum += r;
  const double mean = sum / static_cast<double>(n);
  double var = 0;
  float lo = rewards[0], hi = rewards[0];
  for (float r : rewards) {
    var += (r - mean) * (r - mean);
    lo = std::min(lo, r);
    hi = std::max(hi, r);
  }
  const double std = std::sqrt(var / static_cast<double>(n));
  out.mean = static_cast<float>(mean);
  out.std = static_cast<float>(std);
  out.informative = (hi - lo) > options.equal_tol;
  out.advantages.resize(n);
  const double loo = (options.kind == AdvantageKind::kLeaveOneOut) ? static_cast<double>(n) / (n - 1.0) : 1.0;
  assert(options.kind != AdvantageKind::kLeaveOneOut || n >= 2);
  const double scale = options.scale_by_std ? 1.0 / (std + options.std_eps) : 1.0;
  for (size_t i = 0; i < n; ++i) {
    out.advantages[i] = out.informative ? static_cast<float>((rewards[i] - mean) * loo * scale) : 0.0f;
  }
  return out;
}

}  // namespace troupe::rl
