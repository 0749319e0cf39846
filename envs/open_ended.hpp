// Open-ended tasks: describe a thing in one sentence using given words.
//
// There is no single right answer, so the rule verifier only checks the form
// (one sentence ending in '.', every required word, a word limit, no word used
// more than kMaxRepeats times) and a preference model judges quality. This file
// holds what the task (envs/tasks/open_ended/describe.cpp) and the preference
// data generator (rewards/preference_data.cpp) share: the topics, the case
// generator, the form check and responses of known quality. Pure functions,
// deterministic for a seed; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "envs/rng.hpp"
#include "envs/task.hpp"

namespace troupe::envs {

inline constexpr int kMaxRepeats = 3;  // a word used more often is repetition, not description

// A response in one of these styles; kGood is the best, the others are worse
// than it (kGeneric passes the rule check but leaves the topic unnamed).
enum class DescribeStyle { kGood, kGeneric, kMissingWord, kOffTopic, kRepetitive, kRambling, kTruncated };
inline constexpr int kDescribeStyles = 7;

// Identity: {"topic": noun, "words": [required words], "max_words": n}.
Case describe_case(Rng& rng, int word_count);
// The form check: 1 when the response is one sentence with every required word.
Verdict describe_score(const Json& identity, std::string_view response);
// A response in `style` for the case; kGood passes describe_score.
std::string describe_response(const Json& identity, DescribeStyle style, Rng& rng);

}  // namespace troupe::envs
