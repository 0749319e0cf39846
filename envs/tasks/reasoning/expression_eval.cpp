// expression_eval: "3+5*2-4=" -> "9". Integer + - * with usual precedence. Knobs:
// number of operators and operand bound. Worked solution: each multiplication
// folded first, then left to right: "5*2=10,3+10=13,13-4=9#9" -- a multi-step
// task whose horizon grows with the operator count.
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// Evaluates tokens [n0, op0, n1, op1, ...]; appends each step to `trace` when non-null.
int64_t evaluate(const std::vector<int64_t>& nums, const std::string& ops, std::string* trace) {
  if (nums.size() != ops.size() + 1) throw std::invalid_argument("operands and operators do not match");
  constexpr int64_t kBound = 1'000'000;  // identities keep operands small; this bounds products below 2^63
  std::vector<int64_t> terms{nums[0]};
  std::string add_ops;
  auto step = [&](int64_t a, char op, int64_t b, int64_t r) {
    if (trace) *trace += (trace->empty() ? "" : ",") + std::to_string(a) + op + std::to_string(b) + "=" + std::to_string(r);
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    if (nums[i + 1] > kBound || nums[i + 1] < -kBound || terms.back() > kBound * kBound || terms.back() < -kBound * kBound) {
      throw std::invalid_argument("operand out of range");
    }
    if (ops[i] == '*') {
      const int64_t r = terms.back() * nums[i + 1];
      step(terms.back(), '*', nums[i + 1], r);
      terms.back() = r;
    } else if (ops[i] == '+' || ops[i] == '-') {
      terms.push_back(nums[i + 1]);
      add_ops.push_back(ops[i]);
    } else {
      throw std::invalid_argument("unknown operator");
    }
  }
  int64_t acc = terms[0];
  for (size_t i = 0; i < add_ops.size(); ++i) {
    const int64_t r = add_ops[i] == '+' ? acc + terms[i + 1] : acc - terms[i + 1];
    step(acc, add_ops[i], terms[i + 1], r);
    acc = r;
  }
  return acc;
}

class ExpressionEval final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"expression_eval", "arithmetic", "evaluate an integer expression with + - *",
                                {{"ops", 1, 20, "operators in the expression"},
                                 {"max_operand", 2, 999, "largest operand"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"ops", level_lerp(level, 1, 8)}, {"max_operand", level < 6 ? 9 : 20}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::vector<int64_t> nums{rng.uniform(0, d.at("max_operand"))};
    std::string ops;
    for (int64_t i = 0; i < d.at("ops"); ++i) {
      ops.push_back("+-*"[rng.uniform(0, 2)]);
      nums.push_back(rng.uniform(0, d.at("max_operand")));
    }
    Case c;
    c.identity = {{"nums", nums}, {"ops", ops}};
    c.prompt = std::to_string(nums[0]);
    for (size_t i = 0; i < ops.size(); ++i) c.prompt += ops[i] + std::to_string(nums[i + 1]);
    c.prompt += "=";
    c.answer = expected(c.identity);
    evaluate(nums, ops, &c.solution);
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    return std::to_string(evaluate(identity_ints(id.at("nums")), id.at("ops").get<std::string>(), nullptr));
  }
};
TROUPE_REGISTER_TASK(ExpressionEval);

}  // namespace
}  // namespace troupe::envs
