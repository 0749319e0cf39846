// BbehDyckLanguagesbootcamp: a bracket sequence and numbered "Thought" steps that
// track its stack; name the first wrong step, or "No".
// Identity (upstream's shape): {"input_sequence": str, "correct_steps": [str],
// "modified_steps": [str], "error_step": int | null, "error_type": str | null}.
// The answer is the LAST match of [answer]\s*(\d+|No)\s*[/answer] (case-insensitive);
// right when it is "no" and error_step is null, or the number equals error_step.
// Our generator sets error_step to the step that really differs first (upstream's
// can point at a step it left unchanged; see DEVIATIONS.md -- scoring follows the identity).
#include <charconv>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr std::string_view kOpen = "([{<";
constexpr std::string_view kClose = ")]}>";

// a equals `lower` ignoring ASCII case; `lower` is in lower case (every caller's literal),
// so only a's bytes are mapped.
inline bool iequal(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != lower[i]) return false;
  }
  return true;
}
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string stack_text(const std::string& stack) {
  if (stack.empty()) return "empty";
  std::string s;
  for (char c : stack) s += (s.empty() ? "" : " ") + std::string(1, c);
  return s;
}

class BbehDyckLanguages final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"BbehDyckLanguagesbootcamp", "logic", "find the first wrong step of a bracket-stack trace",
                                {{"min_length", 2, 60, "shortest sequence"},
                                 {"max_length", 2, 80, "longest sequence"},
                                 {"error_percent", 0, 100, "chance that a step is corrupted"}},
                                "BbehDyckLanguagesbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"min_length", 2 + level}, {"max_length", 6 + 2 * level}, {"error_percent", 80}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t lo = d.at("min_length"), hi = std::max(lo, d.at("max_length"));
    const int64_t target = rng.uniform(lo, hi);
    std::string seq, stack;
    std::vector<std::string> stacks;  // the stack after each bracket
    while (static_cast<int64_t>(seq.size()) < target) {
      if (stack.empty() || (rng.chance(3, 5) && static_cast<int64_t>(seq.size() + stack.size()) < target)) {
        const char o = kOpen[static_cast<size_t>(rng.uniform(0, 3))];
        seq.push_back(o);
        stack.push_back(o);
      } else {
        seq.push_back(kClose[kOpen.find(stack.back())]);
        stack.pop_back();
      }
      stacks.push_back(stack);
    }
    std::vector<std::string> correct{
        "Thought 1: We should process each input one by one and keep track of the stack configuration.",
        "Thought 2: stack: empty"};
    for (size_t i = 0; i < seq.size(); ++i) {
      correct.push_back("Thought " + std::to_string(i + 3) + ": " + seq[i] + " ; stack: " + stack_text(stacks[i]));
    }
    std::vector<std::string> shown_brackets(seq.size());
    for (size_t i = 0; i < seq.size(); ++i) shown_brackets[i] = std::string(1, seq[i]);
    std::vector<std::string> shown_stacks = stacks;
    Json error_step = nullptr, error_type = nullptr;
    if (rng.chance(d.at("error_percent"), 100)) {
      const size_t at = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(seq.size()) - 1));
      std::string wrong = stacks[at];
      if (rng.chance(1, 2) || wrong.empty()) {
        // The stack description at one step is wrong; later steps carry the wrong stack on.
        if (!wrong.empty() && rng.chance(1, 2)) {
          wrong.erase(static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(wrong.size()) - 1)), 1);
        } else {
          wrong.insert(static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(wrong.size()))), 1,
                       kOpen[static_cast<size_t>(rng.uniform(0, 3))]);
        }
        error_type = "corrupt_stack_state";
        shown_stacks[at] = wrong;
        for (size_t i = at + 1; i < seq.size(); ++i) {
          if (kOpen.find(seq[i]) != std::string_view::npos) {
            wrong.push_back(seq[i]);
          } else if (!wrong.empty()) {
            wrong.pop_back();
          }
          shown_stacks[i] = wrong;
        }
      } else {
        // The bracket read at one step is not the input's.
        char other;
        do other = "([{<)]}>"[rng.uniform(0, 7)]; while (other == seq[at]);
        shown_brackets[at] = std::string(1, other);
        error_type = "misinterpret_input";
      }
      error_step = static_cast<int64_t>(at + 3);
    }
    std::vector<std::string> modified(correct.begin(), correct.begin() + 2);
    for (size_t i = 0; i < seq.size(); ++i) {
      modified.push_back("Thought " + std::to_string(i + 3) + ": " + shown_brackets[i] + " ; stack: " +
                         stack_text(shown_stacks[i]));
    }
    const std::string last = shown_stacks.empty() ? "" : shown_stacks.back();
    const size_t k = modified.size() + 1;
    if (last.empty()) {
      modified.push_back("Thought " + std::to_string(k) + ": Now, we have reached the end. The final stack is empty.");
      modified.push_back("Thought " + std::to_string(k + 1) + ": So the answer is empty");
    } else {
      std::string closers;
      for (auto it = last.rbegin(); it != last.rend(); ++it) {
        closers += (closers.empty() ? "" : " ") + std::string(1, kClose[kOpen.find(*it)]);
      }
      modified.push_back("Thought " + std::to_string(k) + ": Now, we have reached the end. The final stack is \"" +
                         stack_text(last) + "\".");
      modified.push_back("Thought " + std::to_string(k + 1) + ": So the answer is " + closers);
    }
    Case c;
    c.identity = {{"input_sequence", seq}, {"correct_steps", correct}, {"modified_steps", modified},
                  {"error_step", error_step}, {"error_type", error_type}};
    std::string steps;
    for (const auto& s : modified) steps += s + "\n";
    c.prompt = "Below is a bracket sequence and a step-by-step trace of a stack-based check of it. Find the first "
               "step (its Thought number) that is wrong, or answer No if every step is right.\nInput: " + seq + "\n" +
               steps + "Put the final answer inside [answer][/answer].";
    c.answer = reference_response("[answer]" + (error_step.is_null() ? std::string("No") : std::to_string(identity_int(error_step))) +
                                  "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    // Case-insensitive scan for "[answer]" ws* (digits | "no") ws* "[/answer]"; keep the last.
    std::optional<std::string> last;
    constexpr std::string_view kOpenTag = "[answer]", kCloseTag = "[/answer]";
    for (size_t i = response.find('['); i != std::string_view::npos && i + kOpenTag.size() <= response.size();
         i = response.find('[', i + 1)) {  // find() jumps with memchr over long reasoning text
      if (!iequal(response.substr(i, kOpenTag.size()), kOpenTag)) continue;
      size_t j = i + kOpenTag.size();
      while (j < response.size() && is_ws(response[j])) ++j;
      size_t start = j;
      while (j < response.size() && response[j] >= '0' && response[j] <= '9') ++j;
      if (j == start) {
        if (!iequal(response.substr(j, 2), "no")) continue;
        j += 2;
      }
      const std::string_view token = response.substr(start, j - start);
      while (j < response.size() && is_ws(response[j])) ++j;
      if (!iequal(response.substr(j, kCloseTag.size()), kCloseTag)) continue;
      // Python's str.capitalize(): first letter upper, the rest lower (written in place).
      std::string& kept = last.emplace(token);
      for (size_t k = 0; k < kept.size(); ++k) {
        kept[k] = k == 0 ? ascii_upper(kept[k]) : ascii_lower(kept[k]);
      }
      i = j + kCloseTag.size() - 1;  // the next search starts after this match
    }
    return last;
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const Json& step = *identity_fields<1>(identity, {"error_step"})[0];
    if (step.is_null()) return iequal(extracted, "no") ? 1.0 : 0.0;
    char digits[24];  // the step number as str() writes it, without a std::string
    const auto written = std::to_chars(digits, digits + sizeof digits, identity_int(step));
    // Byte by byte: a few digits, where operator== is a memcmp call.
    const auto size = static_cast<size_t>(written.ptr - digits);
    if (extracted.size() != size) return 0.0;
    for (size_t k = 0; k < size; ++k) {
      if (extracted[k] != digits[k]) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(BbehDyckLanguages);

}  // namespace
}  // namespace troupe::envs
