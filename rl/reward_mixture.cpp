// Mixture-of-Rewards (see reward_mixture.hpp).
#include "rl/reward_mixture.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace troupe::rl {

std::optional<RewardSourceKind> parse_source_kind(const std::string& name) {
  if (name == "rule") return RewardSourceKind::kRule;
  if (name == "verifier") return RewardSourceKind::kVerifier;
  if (name == "preference") return RewardSourceKind::kPreference;
  return std::nullopt;
}

std::optional<Normalisation> parse_normalisation(const std::string& name) {
  if (name == "none") return Normalisation::kNone;
  if (name == "group") return Normalisation::kGroup;
  if (name == "running") return Normalisation::kRunning;
  return std::nullopt;
}

float RunningNormaliser::update(const std::string& task, RewardSourceKind kind, float x) {
  auto& m = moments_[{task, static_cast<int>(kind)}];
  float z;
  if (m.count == 0) {
    m.mean = x;
    m.var = 1;
    z = 0;
  } else {
    // 1e-4 keeps the z-score finite while a source has only ever said one thing.
    z = static_cast<float>((x - m.mean) / std::sqrt(m.var + 1e-4));
    const double d = x - m.mean;
    m.mean += alpha_ * d;
    m.var = (1 - alpha_) * (m.var + alpha_ * d * d);
  }
  ++m.count;
  return z;
}

namespace {

const SourceScore* find_score(const std::vector<SourceScore>& s, RewardSourceKind k) {
  for (const auto& x : s) {
    if (x.kind == k) return &x;
  }
  return nullptr;
}

}  // namespace

std::vector<MixedReward> mix_group(const Recipe& recipe, const std::string& task,
                                   const std::vector<std::vector<SourceScore>>& scores, RunningNormaliser* running) {
  const size_t n = scores.size();
  std::vector<MixedReward> out(n);
  // Normalised value of each (response, source); group statistics need every response first.
  std::map<int, std::vector<float>> norm;
  std::vector<RewardSourceKind> kinds;
  for (const auto& sw : recipe.sources) kinds.push_back(sw.kind);
  for (auto k : recipe.fallback) {
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  for (auto k : kinds) {
    auto& v = norm[static_cast<int>(k)];
    v.assign(n, 0.0f);
    double sum = 0, sq = 0;
    int count = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto* s = find_score(scores[i], k);
      if (s && s->ok) sum += s->raw, sq += s->raw * s->raw, ++count;
    }
    const double mean = count ? sum / count : 0;
    const double std = count ? std::sqrt(std::max(0.0, sq / count - mean * mean)) : 0;
    for (size_t i = 0; i < n; ++i) {
      const auto* s = find_score(scores[i], k);
      if (!s || !s->ok) continue;
      switch (recipe.normalise) {
        case Normalisation::kNone: v[i] = s->raw; break;
        // 1e-6: a group that agrees completely normalises to 0, not to NaN.
        case Normalisation::kGroup: v[i] = static_cast<float>((s->raw - mean) / (std + 1e-6)); break;
        case Normalisation::kRunning:
          assert(running != nullptr);
          v[i] = running->update(task, k, s->raw);
          break;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    std::map<int, float> weight;  // effective weight per source kind
    for (const auto& sw : recipe.sources) {
      const auto* s = find_score(scores[i], sw.kind);
      if (s && s->ok) {
        weight[static_cast<int>(sw.kind)] += sw.weight;
        continue;
      }
      for (auto fb : recipe.fallback) {
        const auto* f = find_score(scores[i], fb);
        if (fb != sw.kind && f && f->ok) {
          weight[static_cast<int>(fb)] += sw.weight;
          break;
        }
      }
    }
    double wsum = 0;
    for (auto& [_, w] : weight) wsum += w;
    auto& r = out[i];
    r.any_source = wsum > 0;
    for (auto k : kinds) {
      MixedComponent c;
      c.kind = k;
      const auto* s = find_score(scores[i], k);
      c.ok = s && s->ok;
      c.raw = s ? s->raw : 0;
      if (s) c.latency_ms = s->latency_ms, c.detail = s->detail;
      c.normalised = norm[static_cast<int>(k)][i];
      c.weight = wsum > 0 ? static_cast<float>(weight[static_cast<int>(k)] / wsum) : 0.0f;
      r.total += c.weight * c.normalised;
      if (s || c.weight > 0) r.components.push_back(c);
    }
  }
  return out;
}

}  // namespace troupe::rl
