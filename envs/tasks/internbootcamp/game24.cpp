// Game24bootcamp: combine every given number once with + - * / and parentheses to
// reach the target. Identity (upstream's shape): {"puzzle": "a b c d", "target": int}
// (a target given as a string is read too). The answer is the last \boxed{...}
// (or, when "\boxed " with a space occurs, the text after the last "\boxed " up to
// a '$'); LaTeX \times, \div, \left, \right and "**" are normalised away first.
// The numbers written must be exactly the puzzle's numbers (as decimal strings).
// Deviation (DEVIATIONS.md): upstream compares Python's float eval with the target,
// so e.g. 8/(3-8/3) = 24 fails there; we evaluate exact fractions.
#include <algorithm>

#include "envs/internbootcamp_task.hpp"
#include "envs/rational_expression.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// Upstream's last_boxed_only_string + remove_boxed; nullopt where it returns None or raises.
std::optional<std::string> extract_boxed(std::string_view s) {
  constexpr std::string_view kSpaced = "\\boxed ";
  if (s.find(kSpaced) != std::string_view::npos) {
    std::string_view tail = s.substr(s.rfind(kSpaced) + kSpaced.size());
    return std::string(tail.substr(0, tail.find('$')));
  }
  size_t idx = s.rfind("\\boxed");
  if (idx == std::string_view::npos) return std::nullopt;  // "\fbox" would fail remove_boxed's assert anyway
  int open = 0;
  for (size_t i = idx; i < s.size(); ++i) {
    if (s[i] == '{') ++open;
    if (s[i] == '}' && --open == 0) {
      std::string_view whole = s.substr(idx, i + 1 - idx);
      if (!whole.starts_with("\\boxed{")) return std::nullopt;  // remove_boxed's assert
      return std::string(whole.substr(7, whole.size() - 8));
    }
  }
  return std::nullopt;
}

class Game24 final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Game24bootcamp", "math", "reach the target from the numbers with + - * /",
                                {{"num_numbers", 2, 6, "numbers in the puzzle"},
                                 {"range_max", 2, 1000, "numbers are drawn from [0, range_max)"},
                                 {"target_max", 1, 100000, "largest target"}},
                                "Game24bootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"num_numbers", level <= 3 ? 3 : (level <= 8 ? 4 : 5)},
            {"range_max", level_lerp(level, 10, 100)},
            {"target_max", level_lerp(level, 30, 100)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    // As upstream: draw numbers, then combine random pairs with random operators until
    // one value is left; keep it when it is an integer in [0, target_max].
    while (true) {
      std::vector<int64_t> numbers;
      for (int64_t i = 0; i < d.at("num_numbers"); ++i) numbers.push_back(rng.uniform(0, d.at("range_max") - 1));
      for (int attempt = 0; attempt < 100; ++attempt) {
        std::vector<std::pair<Rational, std::string>> pool;
        for (auto n : numbers) pool.push_back({Rational{n, 1}, std::to_string(n)});
        bool ok = true;
        while (pool.size() > 1 && ok) {
          size_t i = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(pool.size()) - 1));
          size_t j = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(pool.size()) - 2));
          if (j >= i) ++j;
          const char op = "+-*/"[rng.uniform(0, 3)];
          std::string e = "(" + pool[i].second + op + pool[j].second + ")";
          auto v = evaluate_rational(e);
          if (!v) {
            ok = false;
            break;
          }
          pool[std::min(i, j)] = {*v, e};
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(std::max(i, j)));
        }
        if (!ok || pool[0].first.den != 1 || pool[0].first.num < 0 || pool[0].first.num > d.at("target_max")) continue;
        std::string expr = pool[0].second;
        if (pool.size() == 1 && numbers.size() > 1) expr = expr.substr(1, expr.size() - 2);
        std::string puzzle;
        for (auto n : numbers) puzzle += (puzzle.empty() ? "" : " ") + std::to_string(n);
        Case c;
        c.identity = {{"puzzle", puzzle}, {"target", pool[0].first.num}};
        c.prompt = "Use each of the numbers " + puzzle + " exactly once, with +, -, *, / and parentheses, to make " +
                   std::to_string(pool[0].first.num) +
                   ". Think it through, then give the expression in \\boxed{}, for example \\boxed{6*6-6/6}.";
        c.answer = reference_response("Final Answer: \\boxed{" + expr + "}");
        return c;
      }
    }
  }

  std::optional<std::string> extract(std::string_view response) const override { return extract_boxed(response); }

  double judge(const std::string& extracted, const Json& identity) const override {
    const std::string& puzzle = identity.at("puzzle").get_ref<const std::string&>();
    const Json& t = identity.at("target");
    const int64_t target = t.is_string() ? std::stoll(t.get<std::string>()) : identity_int(t);
    // Upstream's replacements ("**" dropped, \times \div \left \right); each needs "**" or a
    // backslash, so without those the text stands as it is and no copy is made.
    std::string_view s = extracted;
    std::string replaced;
    if (s.find("**") != std::string_view::npos || s.find('\\') != std::string_view::npos) {
      replaced = replace_all(extracted, "**", "");
      replaced = replace_all(std::move(replaced), "\\times", "*");
      replaced = replace_all(std::move(replaced), "\\div", "/");
      replaced = replace_all(std::move(replaced), "\\left", "");
      replaced = replace_all(std::move(replaced), "\\right", "");
      s = replaced;
    }
    // The digit runs written must be exactly the puzzle's numbers, as a multiset of strings.
    if (!same_multiset(split_any(puzzle, " \t\n"), digit_runs(s))) return 0.0;
    auto v = evaluate_rational(s);
    return v && *v == Rational{target, 1} ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Game24);

}  // namespace
}  // namespace troupe::envs
