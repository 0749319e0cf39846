// subtraction: "523-871=" -> "-348". Knob `digits` sets both operands' length
// (level L = L digits); the answer may be negative. Worked solution: the larger
// minus the smaller, then the sign: "871-523=348,neg#-348".
#include "envs/decimal.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Subtraction final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"subtraction", "arithmetic", "difference of two n-digit numbers, may be negative",
                                {{"digits", 1, 30, "digits in each operand"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"digits", level}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int n = static_cast<int>(d.at("digits"));
    Case c;
    c.identity = {{"a", rng.digits(n)}, {"b", rng.digits(n)}};
    const std::string a = c.identity["a"], b = c.identity["b"];
    c.prompt = a + "-" + b + "=";
    c.answer = expected(c.identity);
    const bool neg = decimal::less(a, b);
    c.solution = neg ? b + "-" + a + "=" + c.answer.substr(1) + ",neg" : a + "-" + b + "=" + c.answer;
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    return decimal::sub(id.at("a").get<std::string>(), id.at("b").get<std::string>());
  }
};
TROUPE_REGISTER_TASK(Subtraction);

}  // namespace
}  // namespace troupe::envs
