// multiplication: "123*45=" -> "5535". Knobs `digits_a` >= `digits_b`; levels step
// one operand at a time (1x1, 2x1, 2x2, 3x2, ... 6x5). Worked solution: one partial
// product per digit of b, then their sum: "123*5=615,123*40=4920#5535".
#include "envs/decimal.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Multiplication final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"multiplication", "arithmetic", "product of an a-digit and a b-digit number",
                                {{"digits_a", 1, 20, "digits in the first operand"},
                                 {"digits_b", 1, 12, "digits in the second operand"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"digits_a", (level + 2) / 2}, {"digits_b", (level + 1) / 2}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    Case c;
    c.identity = {{"a", rng.digits(static_cast<int>(d.at("digits_a")))},
                  {"b", rng.digits(static_cast<int>(d.at("digits_b")))}};
    const std::string a = c.identity["a"], b = c.identity["b"];
    c.prompt = a + "*" + b + "=";
    c.answer = expected(c.identity);
    for (size_t i = 0; i < b.size(); ++i) {
      std::string part = std::string(1, b[b.size() - 1 - i]) + std::string(i, '0');
      c.solution += (i ? "," : "") + a + "*" + decimal::strip_zeros(part) + "=" + decimal::mul(a, part);
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    return decimal::mul(id.at("a").get<std::string>(), id.at("b").get<std::string>());
  }
};
TROUPE_REGISTER_TASK(Multiplication);

}  // namespace
}  // namespace troupe::envs
