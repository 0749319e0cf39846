// Preference data: JSON lines {"prompt", "chosen", "rejected"} (one pair per
// line, UTF-8; other keys are ignored), and a generator that writes such pairs
// from the open-ended env tasks, where a well-formed on-topic sentence is
// preferred to a generic, off-topic, repetitive, rambling, truncated one or one
// that misses a required word (envs/open_ended.hpp). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace troupe::rewards {

struct PreferencePair {
  std::string prompt, chosen, rejected;
};

// Errors: the file cannot be opened; a line that is not a JSON object with
// string "prompt", "chosen" and "rejected" (named by path:line).
Result<std::vector<PreferencePair>> read_preference_jsonl(const std::string& path);
[[nodiscard]] Status write_preference_jsonl(const std::string& path, const std::vector<PreferencePair>& pairs);

// `n` pairs from the "describe" task at levels 1..5, seeded. A fifth of them
// compare a good answer with a generic one that still passes the rule check:
// the preference model has to learn more than the rule verifier knows.
std::vector<PreferencePair> generate_preference_pairs(int n, uint64_t seed);

}  // namespace troupe::rewards
