// Synthetic scored rollouts shaped like real ones, for tests, the benchmark and
// demos of the replay store: a prompt, a response of roughly `response_bytes` of
// reasoning text, one token per 4 bytes with a behaviour log-prob each, and rule /
// verifier / preference reward components. Deterministic in `spec` (same spec,
// same bytes), so a reader can regenerate what a writer stored and compare.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "wire/messages.hpp"

namespace troupe::storage {

struct SyntheticSpec {
  uint64_t rollout_id = 1;
  uint64_t prompt_id = 1;
  int32_t group_index = 0;
  std::string task = "arith";
  uint64_t policy_version = 0;
  size_t response_bytes = 2048;  // length of response_text; the encoded value is ~3x this (text + 4-byte token + 4-byte log-prob per 4 bytes)
  bool correct = true;           // rule score 1 (else 0); the verifier agrees unless `disagree`
  bool disagree = false;         // verifier scores the opposite of the rule
};

wire::ScoredRolloutT synthetic_rollout(const SyntheticSpec& spec);
wire::Bytes synthetic_rollout_bytes(const SyntheticSpec& spec);

}  // namespace troupe::storage
