// RolloutSummary: the few fields of a stored rollout that listing, statistics and
// sampling need, kept beside the full FlatBuffer so that scanning a million
// rollouts reads ~100 bytes each instead of 2-32 KB.
//
// The encoding is a versioned little-endian record written by `encode` and read
// back by `decode`, which checks every length and rejects a record that is short,
// long, or of an unknown version (Status::corruption). Plain data; thread-safe to
// copy. Summaries are derived from the verified value when a rollout is appended
// and never change afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.hpp"
#include "wire/messages.hpp"

namespace troupe::storage {

// One reward source's contribution (wire::RewardComponent), if the rollout had one.
struct SourceScore {
  bool present = false;
  bool ok = true;
  float raw = 0;
  float normalised = 0;
};

struct RolloutSummary {
  // Index into `sources`, the same order as wire::RewardSource.
  static constexpr int kRule = 0, kVerifier = 1, kPreference = 2, kNumSources = 3;
  // A source "passes" a rollout at or above this raw score (rule scores are 0/1,
  // model scores probabilities), so pass rate and disagreement share one threshold.
  static constexpr float kPassThreshold = 0.5f;

  uint64_t id = 0;  // the store's id (not encoded: it is the key)
  uint64_t rollout_id = 0;
  uint64_t prompt_id = 0;
  uint64_t policy_version = 0;
  uint64_t created_unix_ms = 0;
  uint64_t scored_unix_ms = 0;
  int32_t group_index = 0;
  int32_t difficulty = 0;
  uint32_t value_bytes = 0;
  uint32_t response_tokens = 0;
  uint8_t finish = 0;  // wire::FinishReason
  bool answer_found = false;
  float total = 0;
  std::array<SourceScore, kNumSources> sources{};
  std::string task;

  static RolloutSummary from(const wire::ScoredRollout& r, uint32_t value_bytes);
  std::string encode() const;
  static Result<RolloutSummary> decode(uint64_t id, std::string_view bytes);

  // The rule source's verdict when there is one, else total >= kPassThreshold.
  bool passed() const;
  // True when at least two present, ok sources fall on different sides of kPassThreshold.
  bool sources_disagree() const;
};

const char* source_name(int source);

}  // namespace troupe::storage
