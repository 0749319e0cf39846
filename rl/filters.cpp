// Loop detection for the online filter (see filters.hpp).
#include "rl/filters.hpp"

namespace troupe::rl {

bool is_looping(std::span<const int32_t> tokens, const LoopOptions& o) {
  const size_t n = tokens.size();
  for (int p = 1; p <= o.max_period; ++p) {
    const size_t need = static_cast<size_t>(p) * static_cast<size_t>(o.min_repeats);
    if (need > n) break;
    bool periodic = true;
    for (size_t i = n - need; i + p < n && periodic; ++i) periodic = tokens[i] == tokens[i + p];
    if (periodic) return true;
  }
  return false;
}

}  // namespace troupe::rl
