// PPO-clip with decoupled staleness correction, OREAL, KL (k3) and entropy terms.
#include "rl/policy_loss.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>

namespace troupe::rl {
namespace {

float at_or(std::span<const float> v, size_t i, float fallback) { return v.empty() ? fallback : v[i]; }

size_t num_sequences(const TokenBatch& b) { return b.seq_offsets.empty() ? 0 : b.seq_offsets.size() - 1; }

// The normaliser of each token's contribution under the chosen TokenNorm,
// counting only sequences selected by `include`.
template <class Pred>
std::vector<double> token_scales(const TokenBatch& b, TokenNorm norm, int64_t norm_total, Pred include) {
  const size_t n = num_sequences(b);
  std::vector<double> scale(n, 0.0);
  int64_t tokens = 0, seqs = 0;
  for (size_t s = 0; s < n; ++s) {
    if (!include(s)) continue;
    int64_t len = b.seq_offsets[s + 1] - b.seq_offsets[s];
    if (len == 0) continue;
    tokens += len;
    ++seqs;
  }
  if (norm_total > 0) (norm == TokenNorm::kTokenMean ? tokens : seqs) = norm_total;
  for (size_t s = 0; s < n; ++s) {
    int64_t len = b.seq_offsets[s + 1] - b.seq_offsets[s];
    if (!include(s) || len == 0) continue;
    scale[s] = norm == TokenNorm::kTokenMean ? 1.0 / static_cast<double>(tokens)
                                             : 1.0 / (static_cast<double>(len) * static_cast<double>(seqs));
  }
  return scale;
}

// Adds the KL (k3) and entropy terms, whose weights are per token `scale`.
void add_regularisers(const TokenBatch& b, size_t t, double scale, const PolicyLossOptions& o,
                      PolicyLossResult& out, double entropy_baseline) {
  const float lp = b.logp[t];
  if (o.kl_coef > 0) {
    // k3 = exp(ref - lp) - (ref - lp) - 1 >= 0; d k3 / d lp = 1 - exp(ref - lp).
    const double d = static_cast<double>(b.logp_ref[t]) - lp;
    const double k3 = std::exp(d) - d - 1.0;
    out.stats.kl += k3 * scale;
    out.loss += o.kl_coef * k3 * scale;
    out.grad_logp[t] += static_cast<float>(o.kl_coef * (1.0 - std::exp(d)) * scale);
  }
  if (o.entropy_coef > 0) {
    // Score-function estimate: grad H = -E[(log pi - b) grad log pi] for the sampled
    // tokens, with the batch's mean log-prob as baseline b to cut variance.
    out.loss -= o.entropy_coef * (-lp) * scale;
    out.grad_logp[t] += static_cast<float>(o.entropy_coef * (lp - entropy_baseline) * scale);
  }
  out.stats.entropy += -lp * scale;
}

double mean_logp(const TokenBatch& b) {
  if (b.logp.empty()) return 0;
  double s = 0;
  for (float x : b.logp) s += x;
  return s / static_cast<double>(b.logp.size());
}

// pi_p / pi_b, truncated at the cap; counts truncations.
double importance_weight(const TokenBatch& b, size_t t, float cap, PolicyLossStats& st) {
  const float prox = at_or(b.logp_prox, t, b.logp[t]);
  const float behav = at_or(b.logp_behav, t, prox);
  double w = std::exp(static_cast<double>(prox) - behav);
  if (w > cap) {
    w = cap;
    st.truncated_fraction += 1;
  }
  return w;
}

void finish_stats(PolicyLossResult& out) {
  if (out.stats.tokens > 0) {
    const double n = static_cast<double>(out.stats.tokens);
    out.stats.clip_fraction /= n;
    out.stats.ratio_mean /= n;
    out.stats.importance_mean /= n;
    out.stats.truncated_fraction /= n;
  }
}

}  // namespace

PolicyLossResult ppo_clip_loss(const TokenBatch& b, std::span<const float> advantages, const PolicyLossOptions& o) {
  const size_t n = num_sequences(b);
  assert(advantages.size() == n);
  PolicyLossResult out;
  out.grad_logp.assign(b.logp.size(), 0.0f);
  const auto scale = token_scales(b, o.norm, o.norm_total, [](size_t) { return true; });
  const double baseline = mean_logp(b);
  for (size_t s = 0; s < n; ++s) {
    const double a = advantages[s];
    for (int32_t t = b.seq_offsets[s]; t < b.seq_offsets[s + 1]; ++t) {
      const size_t i = static_cast<size_t>(t);
      const double w = importance_weight(b, i, o.importance_cap, out.stats) * at_or(b.token_weight, i, 1.0f);
      const double ratio = std::exp(static_cast<double>(b.logp[i]) - at_or(b.logp_prox, i, b.logp[i]));
      const double clipped = std::clamp(ratio, 1.0 - o.clip, 1.0 + o.clip);
      const double unclipped_obj = ratio * a, clipped_obj = clipped * a;
      // min() picks the clipped branch when it is smaller; its gradient is then zero.
      const bool use_clipped = clipped_obj < unclipped_obj;
      const double obj = use_clipped ? clipped_obj : unclipped_obj;
      out.loss += -w * obj * scale[s];
      out.stats.policy_loss += -w * obj * scale[s];
      // d(ratio)/d(logp) = ratio.
      if (!use_clipped) out.grad_logp[i] = static_cast<float>(-w * a * ratio * scale[s]);
      out.stats.clip_fraction += use_clipped ? 1 : 0;
      out.stats.ratio_mean += ratio;
      out.stats.importance_mean += w;
      out.stats.tokens += 1;
      add_regularisers(b, i, scale[s], o, out, baseline);
    }
  }
  finish_stats(out);
  return out;
}

PolicyLossResult oreal_loss(const TokenBatch& b, std::span<const float> rewards, std::span<const int32_t> group_of,
                            const OrealOptions& o) {
  const size_t n = num_sequences(b);
  assert(rewards.size() == n && group_of.size() == n);
  PolicyLossResult out;
  out.grad_logp.assign(b.logp.size(), 0.0f);
  std::map<int32_t, std::pair<int, int>> group_counts;  // group -> (positives, total)
  for (size_t s = 0; s < n; ++s) {
    auto& c = group_counts[group_of[s]];
    c.first += rewards[s] >= o.positive_threshold ? 1 : 0;
    c.second += 1;
  }
  auto positive = [&](size_t s) { return rewards[s] >= o.positive_threshold; };
  const auto pos_scale = token_scales(b, o.base.norm, o.positive_norm_total, positive);
  const auto neg_scale = token_scales(b, o.base.norm, o.negative_norm_total, [&](size_t s) { return !positive(s); });
  const auto all_scale = token_scales(b, o.base.norm, o.base.norm_total, [](size_t) { return true; });
  const double baseline = mean_logp(b);
  for (size_t s = 0; s < n; ++s) {
    const auto [pos, total] = group_counts[group_of[s]];
    const double pass_rate = static_cast<double>(pos) / total;
    for (int32_t t = b.seq_offsets[s]; t < b.seq_offsets[s + 1]; ++t) {
      const size_t i = static_cast<size_t>(t);
      const double w = importance_weight(b, i, o.base.importance_cap, out.stats) * at_or(b.token_weight, i, 1.0f);
      double coef;  // d loss / d logp of this token
      if (positive(s)) {
        coef = -w * pos_scale[s];
      } else {
        coef = o.negative_weight * pass_rate * w * neg_scale[s];
      }
      out.loss += coef * b.logp[i];
      out.stats.policy_loss += coef * b.logp[i];
      out.grad_logp[i] = static_cast<float>(coef);
      out.stats.ratio_mean += std::exp(static_cast<double>(b.logp[i]) - at_or(b.logp_prox, i, b.logp[i]));
      out.stats.importance_mean += w;
      out.stats.tokens += 1;
      add_regularisers(b, i, all_scale[s], o.base, out, baseline);
    }
  }
  finish_stats(out);
  return out;
}

}  // namespace troupe::rl
