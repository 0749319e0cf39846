// Mixture-of-Rewards: one task's recipe turns the scores of several reward
// sources (rule verifier, verifier model, preference model) into one reward.
//
// Each source's raw score is normalised (none; z-score within the prompt's
// group; or a running z-score per task and source), then mixed with the
// recipe's weights over the sources that answered. A source that failed is
// replaced by the first fallback source that answered, which takes over its
// weight; with no fallback its weight is dropped and the rest renormalised.
// Every component is kept, so the replay store shows what each source said.
// `RunningNormaliser` is not thread-safe: one per reward actor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace troupe::rl {

enum class RewardSourceKind { kRule = 0, kVerifier = 1, kPreference = 2 };
enum class Normalisation { kNone, kGroup, kRunning };

std::optional<RewardSourceKind> parse_source_kind(const std::string& name);
std::optional<Normalisation> parse_normalisation(const std::string& name);

struct SourceWeight {
  RewardSourceKind kind;
  float weight;
};

struct Recipe {
  std::vector<SourceWeight> sources;
  std::vector<RewardSourceKind> fallback;
  Normalisation normalise = Normalisation::kNone;
};

// What one source said about one response.
struct SourceScore {
  RewardSourceKind kind;
  float raw = 0;
  bool ok = true;  // false: the source failed (timeout, error)
  float latency_ms = 0;  // how long the source took (0 for the rule verifier)
  std::string detail;    // e.g. the verifier's label, or why the source failed
};

struct MixedComponent {
  RewardSourceKind kind;
  float raw = 0;
  float normalised = 0;
  float weight = 0;   // effective weight after fallback and renormalisation (0 if unused)
  bool ok = true;
  float latency_ms = 0;
  std::string detail;
};

struct MixedReward {
  float total = 0;
  std::vector<MixedComponent> components;
  bool any_source = false;  // false: no source answered; total is 0 and the rollout should not be trained on
};

// Exponentially weighted mean and variance per (task, source); the window is the
// EMA's effective length. Bounded: one entry per (task, source) seen.
class RunningNormaliser {
 public:
  explicit RunningNormaliser(double window = 256) : alpha_(2.0 / (window + 1.0)) {}
  // Updates the statistics with `x` and returns x's z-score before the update.
  float update(const std::string& task, RewardSourceKind kind, float x);

 private:
  struct Moments {
    double mean = 0, var = 1;
    int64_t count = 0;
  };
  double alpha_;
  std::map<std::pair<std::string, int>, Moments> moments_;
};

// Mixes the rewards of one prompt group. `scores[i]` holds every source's score
// for response i. REQUIRES: `running` is non-null when recipe.normalise == kRunning.
std::vector<MixedReward> mix_group(const Recipe& recipe, const std::string& task,
                                   const std::vector<std::vector<SourceScore>>& scores,
                                   RunningNormaliser* running);

}  // namespace troupe::rl
