// KorPuzzle24Pointsbootcamp: combine the given numbers (each once) with + - × ÷ and
// parentheses to make 24.
// Identity (upstream's shape): {"numbers": [int, ...]} (sorted). The answer is the LAST
// [[...]] on one line (upstream's regex has no DOTALL), stripped. Right when its digit
// runs are exactly the numbers (as a multiset) and the expression, with × and ÷ read as
// * and /, equals 24 exactly.
// Deviation (DEVIATIONS.md): upstream runs Python's eval on the text, so any Python
// syntax passes (2**3, 24e0 -- whose digits are not a "number" to its \b\d+\b --,
// 2_4, 12//1); we read only the four operations, parentheses and the numbers.
#include <algorithm>

#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/rational_expression.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr int64_t kTarget = 24;

struct Value {
  int64_t num, den;  // den > 0; values stay tiny (five numbers up to 13), so no overflow
  std::string text;
};

int64_t gcd(int64_t a, int64_t b) {
  a = a < 0 ? -a : a;
  while (b != 0) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a == 0 ? 1 : a;
}

Value combine(const Value& a, const Value& b, char op) {
  int64_t n = 0, d = 1;
  switch (op) {
    case '+': n = a.num * b.den + b.num * a.den; d = a.den * b.den; break;
    case '-': n = a.num * b.den - b.num * a.den; d = a.den * b.den; break;
    case '*': n = a.num * b.num; d = a.den * b.den; break;
    default: n = a.num * b.den; d = a.den * b.num; break;  // '/', REQUIRES b != 0
  }
  if (d < 0) {
    n = -n;
    d = -d;
  }
  const int64_t g = gcd(n, d);
  return {n / g, d / g, "(" + a.text + " " + op + " " + b.text + ")"};
}

// Depth-first search over every pair and operation; the expression of a solution or "".
std::string solve(std::vector<Value> vals) {
  if (vals.size() == 1) return vals[0].num == kTarget && vals[0].den == 1 ? vals[0].text : "";
  for (size_t i = 0; i < vals.size(); ++i) {
    for (size_t j = 0; j < vals.size(); ++j) {
      if (i == j) continue;
      for (char op : {'+', '-', '*', '/'}) {
        if (op == '/' && vals[j].num == 0) continue;
        if ((op == '+' || op == '*') && j < i) continue;  // commutative: one order suffices
        std::vector<Value> next;
        for (size_t k = 0; k < vals.size(); ++k) {
          if (k != i && k != j) next.push_back(vals[k]);
        }
        next.push_back(combine(vals[i], vals[j], op));
        std::string found = solve(std::move(next));
        if (!found.empty()) return found;
      }
    }
  }
  return "";
}

class KorPuzzle24Points final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"KorPuzzle24Pointsbootcamp", "math", "make 24 from the numbers with + - × ÷",
                                {{"count", 3, 5, "numbers in the puzzle"},
                                 {"max_num", 4, 20, "numbers are drawn from [1, max_num]"}},
                                "KorPuzzle24Pointsbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"count", level <= 2 ? 3 : (level <= 8 ? 4 : 5)}, {"max_num", level_lerp(level, 6, 13)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    while (true) {
      std::vector<int64_t> numbers;
      std::vector<Value> vals;
      for (int64_t i = 0; i < d.at("count"); ++i) {
        numbers.push_back(rng.uniform(1, d.at("max_num")));
        vals.push_back({numbers.back(), 1, std::to_string(numbers.back())});
      }
      std::string expr = solve(vals);
      if (expr.empty()) continue;
      expr = expr.substr(1, expr.size() - 2);  // the outer parentheses
      std::sort(numbers.begin(), numbers.end());
      std::string listed;
      for (auto n : numbers) listed += (listed.empty() ? "" : ", ") + std::to_string(n);
      Case c;
      c.identity = {{"numbers", numbers}};
      c.prompt = "Make 24 from the numbers " + listed +
                 ". Use every number exactly once, combine them with +, -, × (or *), ÷ (or /) and parentheses; "
                 "the usual order of operations holds. Reason it out, then put the expression alone inside double "
                 "square brackets on one line, e.g. [[(7 - 3) × (8 - 2)]].";
      c.answer = reference_response("[[" + replace_all(replace_all(expr, "*", "×"), "/", "÷") + "]]");
      return c;
    }
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block_line(response, "[[", "]]");
    if (!block) return std::nullopt;
    return std::string(py_strip(*block));
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    std::vector<int64_t> want = identity_ints(identity.at("numbers"));
    std::vector<int64_t> got;
    got.reserve(want.size());
    for (auto run : digit_runs(extracted)) {
      // Python's eval refuses 08 (a leading zero); more than 18 digits is never a puzzle number.
      if ((run.size() > 1 && run[0] == '0') || run.size() > 18) return 0.0;
      got.push_back(*parse_int(run));
    }
    if (!same_multiset(std::move(want), std::move(got))) return 0.0;
    auto v = evaluate_rational_with_signs(extracted);  // × and ÷ read as * and /
    return v && *v == Rational{kTarget, 1} ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(KorPuzzle24Points);

}  // namespace
}  // namespace troupe::envs
