// modular_arith: "123*45%7=" -> "5". Knobs: operand digits and the modulus bound.
// Worked solution: the product, then the remainder: "123*45=5535,5535%7=5#5".
#include "envs/decimal.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class ModularArith final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"modular_arith", "arithmetic", "(a*b) mod m",
                                {{"digits", 1, 9, "digits in each operand"},
                                 {"max_modulus", 2, 999, "largest modulus"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"digits", (level + 1) / 2}, {"max_modulus", level_lerp(level, 7, 97)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int n = static_cast<int>(d.at("digits"));
    Case c;
    c.identity = {{"a", rng.digits(n)}, {"b", rng.digits(n)}, {"m", rng.uniform(2, d.at("max_modulus"))}};
    const std::string a = c.identity["a"], b = c.identity["b"];
    const int64_t m = c.identity["m"];
    c.prompt = a + "*" + b + "%" + std::to_string(m) + "=";
    c.answer = expected(c.identity);
    const std::string p = decimal::mul(a, b);
    c.solution = a + "*" + b + "=" + p + "," + p + "%" + std::to_string(m) + "=" + c.answer + kAnswerMark + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    const std::string p = decimal::mul(id.at("a").get<std::string>(), id.at("b").get<std::string>());
    const int64_t m = identity_int(id.at("m"));
    if (m < 1 || m > 1'000'000'000) throw std::invalid_argument("modulus out of range");
    int64_t r = 0;
    for (char ch : p) r = (r * 10 + (ch - '0')) % m;
    return std::to_string(r);
  }
};
TROUPE_REGISTER_TASK(ModularArith);

}  // namespace
}  // namespace troupe::envs
