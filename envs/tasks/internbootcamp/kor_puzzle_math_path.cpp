// KorPuzzleMathPathbootcamp: fill the blanks of "?+?*?-?=10" with digits 0-9 so the
// equation holds (multiplication and division before addition and subtraction).
// Identity (upstream's shape): {"operators": ["+", "*", ...], "target": int, "num_vars": int}.
// The answer is the LAST [[...]] on one line (no DOTALL). Upstream's reading, which we
// keep: split at the first '='; the right side must be the target (Python int());
// the tokens of the left side are its digit runs and + - * / (anything else is
// skipped); they must alternate number, operator, ..., number with every number 0-9
// and the operators exactly the puzzle's; * and / go first, left to right, and
// division is integer division, as upstream's generator computes the target.
// Deviation (DEVIATIONS.md): upstream takes x/0 to be 0; we count a division by zero
// as wrong.
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// Upstream's evaluate_expression with integer division; nullopt on a division by zero.
// Numbers are digits and there are at most a few hundred, so products are bounded by
// checking against a generous limit.
std::optional<int64_t> evaluate(std::vector<int64_t> nums, std::vector<char> ops) {
  constexpr int64_t kLimit = int64_t{1} << 60;  // beyond it no target of ours or upstream's is reachable
  size_t i = 0;
  while (i < ops.size()) {
    if (ops[i] != '*' && ops[i] != '/') {
      ++i;
      continue;
    }
    const int64_t a = nums[i], b = nums[i + 1];
    if (ops[i] == '/' && b == 0) return std::nullopt;
    if (ops[i] == '*' && b != 0 && (a > kLimit / b || a < -kLimit / b)) return std::nullopt;
    // Operands here are products of digits, never negative, so C++'s truncation is Python's floor.
    nums[i] = ops[i] == '*' ? a * b : a / b;
    nums.erase(nums.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ops.erase(ops.begin() + static_cast<std::ptrdiff_t>(i));
  }
  __extension__ __int128 result = nums[0];
  for (size_t k = 0; k < ops.size(); ++k) result += ops[k] == '+' ? nums[k + 1] : -nums[k + 1];
  if (result > kLimit || result < -kLimit) return std::nullopt;
  return static_cast<int64_t>(result);
}

class KorPuzzleMathPath final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"KorPuzzleMathPathbootcamp", "math", "fill an equation's blanks with digits",
                                {{"max_ops", 1, 8, "most operators in the equation"},
                                 {"division", 0, 1, "whether / may occur"}},
                                "KorPuzzleMathPathbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"max_ops", level_lerp(level, 1, 7)}, {"division", level >= 3 ? 1 : 0}};  // upstream: 4 ops, division on
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const std::vector<char> allowed = d.at("division") ? std::vector<char>{'+', '-', '*', '/'}
                                                       : std::vector<char>{'+', '-', '*'};
    while (true) {
      const int64_t n_ops = rng.uniform(std::max<int64_t>(1, d.at("max_ops") / 2), d.at("max_ops"));
      std::vector<char> ops;
      std::vector<int64_t> nums{rng.uniform(0, 9)};
      for (int64_t i = 0; i < n_ops; ++i) {
        ops.push_back(rng.pick(allowed));
        if (ops.back() != '/') {
          nums.push_back(rng.uniform(0, 9));
          continue;
        }
        // A divisor of the previous number, so the division is exact where it matters most.
        std::vector<int64_t> divisors;
        for (int64_t x = 1; x <= 9; ++x) {
          if (nums.back() % x == 0) divisors.push_back(x);
        }
        nums.push_back(rng.pick(divisors));
      }
      auto target = evaluate(nums, ops);
      if (!target || *target < -50 || *target > 100) continue;  // upstream's target range
      std::string blanks = "?", filled = std::to_string(nums[0]);
      for (size_t i = 0; i < ops.size(); ++i) {
        blanks += std::string(1, ops[i]) + "?";
        filled += std::string(1, ops[i]) + std::to_string(nums[i + 1]);
      }
      Case c;
      c.identity = {{"operators", Json::array()}, {"target", *target}, {"num_vars", nums.size()}};
      for (char op : ops) c.identity["operators"].push_back(std::string(1, op));
      c.prompt = "Replace each ? with a digit from 0 to 9 (digits may repeat) so that the equation holds:\n" + blanks +
                 "=" + std::to_string(*target) +
                 "\nMultiplication and division come before addition and subtraction; division is whole-number "
                 "division. Write the completed equation on one line inside double square brackets, e.g. "
                 "[[3+4*2=11]].";
      c.answer = reference_response("[[" + filled + "=" + std::to_string(*target) + "]]");
      return c;
    }
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block_line(response, "[[", "]]");
    if (!block) return std::nullopt;
    return std::string(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const size_t eq = extracted.find('=');
    if (eq == std::string::npos) return 0.0;
    auto right = parse_int(py_strip(std::string_view(extracted).substr(eq + 1)));
    if (!right || *right != identity_int(identity.at("target"))) return 0.0;
    std::vector<int64_t> nums;
    std::vector<char> ops;
    size_t tokens = 0;
    const std::string_view left = std::string_view(extracted).substr(0, eq);
    for (size_t i = 0; i < left.size(); ++i) {
      const char ch = left[i];
      if (ch >= '0' && ch <= '9') {
        size_t j = i;
        int64_t v = 0;
        while (j < left.size() && left[j] >= '0' && left[j] <= '9') v = std::min<int64_t>(10, v * 10 + (left[j++] - '0'));
        if (tokens % 2 == 1 || v > 9) return 0.0;  // a number where an operator belongs, or not one digit
        nums.push_back(v);
        ++tokens;
        i = j - 1;
      } else if (ch == '+' || ch == '-' || ch == '*' || ch == '/') {
        if (tokens % 2 == 0) return 0.0;  // an operator where a number belongs
        ops.push_back(ch);
        ++tokens;
      }
    }
    if (tokens % 2 == 0) return 0.0;
    const Json& want = identity.at("operators");
    if (want.size() != ops.size()) return 0.0;
    for (size_t k = 0; k < ops.size(); ++k) {
      if (want[k].get<std::string>() != std::string(1, ops[k])) return 0.0;
    }
    auto value = evaluate(nums, ops);
    return value && *value == identity_int(identity.at("target")) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(KorPuzzleMathPath);

}  // namespace
}  // namespace troupe::envs
