// linear_equation: "3x+5=20;x=" -> "5", and from level 6 unknowns on both sides
// "7x-4=3x+8;x=" -> "3". The solution is always an integer (chosen first). Knobs:
// the coefficient bound and whether x appears on both sides. Worked solution:
// "4x=12,x=12/4#3".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

std::string term(int64_t coef, bool first) {  // "+3x", "-x", "3x"
  std::string s = coef < 0 ? "-" : (first ? "" : "+");
  const int64_t a = coef < 0 ? -coef : coef;
  return s + (a == 1 ? "" : std::to_string(a)) + "x";
}
std::string constant(int64_t v) { return v < 0 ? std::to_string(v) : "+" + std::to_string(v); }

class LinearEquation final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"linear_equation", "algebra", "solve a linear equation in x (integer root)",
                                {{"max_coef", 2, 999, "largest |coefficient| and |root|"},
                                 {"both_sides", 0, 1, "1: x on both sides"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"max_coef", level_lerp(level, 5, 50)}, {"both_sides", level >= 6 ? 1 : 0}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t m = d.at("max_coef");
    const int64_t x = rng.uniform(-m, m);
    int64_t a = rng.uniform(1, m), c2 = 0;
    if (d.at("both_sides")) {
      do c2 = rng.uniform(-m, m); while (c2 == a || c2 == 0);
    }
    const int64_t b = rng.uniform(-m, m);
    const int64_t rhs = (a - c2) * x + b;  // a x + b = c2 x + d  =>  d = (a - c2) x + b
    Case c;
    c.identity = {{"a", a}, {"b", b}, {"c", c2}, {"d", rhs}};  // a x + b = c x + d
    c.prompt = term(a, true) + constant(b) + "=" + (c2 ? term(c2, true) + constant(rhs) : std::to_string(rhs)) + ";x=";
    c.answer = expected(c.identity);
    const int64_t k = a - c2, r = rhs - b;
    c.solution = std::to_string(k) + "x=" + std::to_string(r) + ",x=" + std::to_string(r) + "/" + std::to_string(k) +
                 kAnswerMark + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    const int64_t a = identity_int(id.at("a")), b = identity_int(id.at("b"));
    const int64_t c2 = identity_int(id.at("c")), dd = identity_int(id.at("d"));
    constexpr int64_t kBound = int64_t{1} << 40;  // keeps the differences below from overflowing
    for (int64_t v : {a, b, c2, dd}) {
      if (v > kBound || v < -kBound) throw std::invalid_argument("coefficient out of range");
    }
    const int64_t k = a - c2, r = dd - b;
    if (k == 0 || r % k != 0) throw std::invalid_argument("equation has no integer root");
    return std::to_string(r / k);
  }
};
TROUPE_REGISTER_TASK(LinearEquation);

}  // namespace
}  // namespace troupe::envs
