// Online filters: which rollouts and groups are worth a gradient step.
//
// Truncated responses (stopped by the length limit) have no verdict worth
// trusting; looping responses (the tail repeats one short pattern) teach the
// policy to loop. Both are dropped before the learner sees them, and counted.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace troupe::rl {

struct LoopOptions {
  int max_period = 8;    // Default: 8 tokens, the longest repeating pattern looked for
  int min_repeats = 4;   // Default: 4 back-to-back repeats at the end count as a loop
};

// True when the last tokens are one pattern of period 1..max_period repeated at
// least min_repeats times back to back.
bool is_looping(std::span<const int32_t> tokens, const LoopOptions& options = {});

}  // namespace troupe::rl
