// Training data for the verifier model, built from the env tasks.
//
// For each generated case the builder takes the reference answer's core (what
// the task's rule verifier extracts from the reference response) and writes
// candidate responses of three classes, in the task's own answer format:
//   correct    the reference in an equivalent form: decimals and fractions for
//              integers (7.0, 7/1, \frac{7}{1}), signs, spacing, LaTeX wrappers
//              (\boxed{}, $..$, \text{}), list spacing and brackets, and a
//              reordering where the task's rule verifier accepts one (a set);
//   incorrect  a different answer: off by one, a digit changed, dropped or
//              swapped, another case's answer, a wrong fraction, a reordering
//              the rule verifier rejects (a sequence);
//   invalid    no usable answer: truncated mid-answer, repetitive, or none.
// Right and wrong answers draw their wrappers (none, spaces, \boxed{}, \text{},
// $..$), their rewritings (7 -> 7.0, lists -> "[a, b]") and the response's dress
// (the task's format or a generic one) from the same distributions: the dress
// must never tell the label, or the model learns it instead of comparing.
// Generic cases (options.generic_cases) do the same with answers of no task.
// Labels come from construction and are checked: every incorrect form must be
// scored 0 by the task's rule verifier (which also decides whether a list is a
// set: a reordering it accepts is correct), and every correct or incorrect form
// must agree with `answers_equivalent`, an exact comparator (rationals, lists,
// text after stripping wrappers). Cases whose answer is
// multi-line or longer than kMaxReference bytes (grids) are skipped.
//
// The model sees `verifier_text(question, reference, response)`: the tail of the
// question, the reference core and the tail of the response, so it fits a small
// context. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace troupe::rewards {

enum class VerifierLabel { kCorrect = 0, kIncorrect = 1, kInvalid = 2 };
inline constexpr int kVerifierClasses = 3;
const char* label_name(VerifierLabel l);  // "correct", "incorrect", "invalid"

// Byte budgets of the verifier's input (a 128-token context holds all three plus markers).
inline constexpr size_t kQuestionTail = 32;   // the end of the question says what is asked
inline constexpr size_t kMaxReference = 24;   // longer references (grids) are skipped
inline constexpr size_t kResponseTail = 56;   // final answers sit at the end of a response

struct VerifierExample {
  std::string task;
  std::string question;   // the prompt
  std::string reference;  // the reference answer's core, e.g. "15"
  std::string response;   // the candidate response
  std::string candidate;  // the answer written into the response, before its dress; empty when invalid
  VerifierLabel label = VerifierLabel::kCorrect;
  std::string form;       // how it was made, e.g. "fraction", "digit_change", "truncated"
};

struct VerifierDataOptions {
  int cases_per_task = 200;  // Default: 200 generated cases per task
  int correct_per_case = 2;  // Default: 2
  int incorrect_per_case = 2;  // Default: 2
  int invalid_per_case = 1;  // Default: 1 (invalid responses are easy to tell; fewer needed)
  int min_level = 1, max_level = 5;  // Default: levels 1..5, spread over the cases
  uint64_t seed = 1;
  // Cases of generic answers (no task: random numbers, lists, words, symbol
  // strings in random dresses), appended after the tasks' examples with task
  // kGenericTask. Default: 0.
  int generic_cases = 0;
};

// The `task` of generic examples (not a registry name).
extern const char* const kGenericTask;

// Examples for every task in `tasks` (registry names), in task order, shuffled
// within a task, then options.generic_cases generic ones. Errors: an unknown task name.
Result<std::vector<VerifierExample>> build_verifier_examples(const std::vector<std::string>& tasks,
                                                             const VerifierDataOptions& options);

// The model's input text: "Q:<question tail>\nR:<reference>\nC:<response tail>". The
// question tail has no newline (they become spaces) and the reference none, so the response
// starts after the second newline; read left to right, each byte of the response can look
// back at the short, undressed reference.
std::string verifier_text(std::string_view question, std::string_view reference, std::string_view response);

// Whether two answer cores mean the same: wrappers (\boxed{}, $, \text{}, [..])
// and spaces are dropped; numbers compare as exact rationals (7 = 7.0 = 14/2 =
// \frac{7}{1}); comma- or space-separated lists compare item by item, or as
// multisets when `unordered`; anything else compares as text.
bool answers_equivalent(std::string_view a, std::string_view b, bool unordered = false);

}  // namespace troupe::rewards
