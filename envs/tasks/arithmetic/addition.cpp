// addition: "123+456=" -> "579". The warm-start benchmark at 3 digits (level 3).
// Knob `digits` sets both operands' length; level L is L-digit addition, and knobs up
// to 30 digits allow train-short/test-long evaluations. Worked solution: one column
// at a time from the right with its carry, e.g. "3+6+0=9,2+5+0=7,1+4+0=5#579".
#include "envs/decimal.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Addition final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"addition", "arithmetic", "sum of two n-digit numbers, answer only",
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
    c.prompt = a + "+" + b + "=";
    c.answer = expected(c.identity);
    int carry = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const int x = a[a.size() - 1 - i] - '0', y = b[b.size() - 1 - i] - '0';
      c.solution += (i ? "," : "") + std::to_string(x) + "+" + std::to_string(y) + "+" + std::to_string(carry) +
                    "=" + std::to_string(x + y + carry);
      carry = (x + y + carry) / 10;
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    return decimal::add(id.at("a").get<std::string>(), id.at("b").get<std::string>());
  }
};
TROUPE_REGISTER_TASK(Addition);

}  // namespace
}  // namespace troupe::envs
