// Named prompt recipes for reward models behind OpenAI-compatible servers.
//
// compass_verifier: the CompassVerifier protocol. The question, the standard
// (reference) answer and the candidate's response go into one user message
// between "<Original Question Begin>"-style markers; the model answers with a
// judgement letter, alone or as \boxed{X}: A = correct, B = incorrect, C =
// invalid (truncated, repetitive, no answer). The prompt text is ours; the
// markers and the letter mapping are the protocol's, so a CompassVerifier
// served by vLLM, SGLang or LMDeploy can be called with it, and `troupe serve`
// answers it with its own three-way verifier. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rewards/verifier_data.hpp"

namespace troupe::rewards {

std::string compass_prompt(std::string_view question, std::string_view reference, std::string_view response);

// The judgement in a CompassVerifier reply: the last \boxed{A|B|C}, else a
// reply that is just the letter (optionally followed by punctuation or text),
// else the last standalone A, B or C after "Judg" (judgement/judgment).
std::optional<VerifierLabel> parse_compass_judgement(std::string_view reply);

// The letter for a label: A, B or C.
char compass_letter(VerifierLabel label);

struct CompassFields {
  std::string question, reference, response;
};
// The three fields of a prompt in the compass_verifier layout, or nullopt.
std::optional<CompassFields> parse_compass_prompt(std::string_view prompt);

}  // namespace troupe::rewards
