// gcd: "gcd 84,36=" -> "12". Knob: digits of each number. Worked solution: the
// Euclidean steps "84%36=12,36%12=0#12".
#include "envs/answer.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Gcd final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"gcd", "arithmetic", "greatest common divisor of two numbers",
                                {{"digits", 1, 18, "digits of each number"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"digits", level_lerp(level, 1, 8)}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int n = static_cast<int>(d.at("digits"));
    // A shared factor half the time, so the answer is not almost always 1.
    int64_t a = *parse_int(rng.digits(n)), b = *parse_int(rng.digits(n));
    if (rng.chance(1, 2) && n > 1) {
      const int64_t f = rng.uniform(2, 12);
      a = a / f * f;
      b = b / f * f;
      if (a == 0) a = f;
      if (b == 0) b = f;
    }
    Case c;
    c.identity = {{"a", a}, {"b", b}};
    c.prompt = "gcd " + std::to_string(a) + "," + std::to_string(b) + "=";
    c.answer = expected(c.identity);
    int64_t x = std::max(a, b), y = std::min(a, b);
    bool first = true;
    while (y != 0) {
      c.solution += (first ? "" : ",") + std::to_string(x) + "%" + std::to_string(y) + "=" + std::to_string(x % y);
      first = false;
      const int64_t r = x % y;
      x = y;
      y = r;
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    int64_t a = identity_int(id.at("a")), b = identity_int(id.at("b"));
    if (a < 0 || b < 0) throw std::invalid_argument("negative operand");
    while (b != 0) {
      const int64_t r = a % b;
      a = b;
      b = r;
    }
    return std::to_string(a);
  }
};
TROUPE_REGISTER_TASK(Gcd);

}  // namespace
}  // namespace troupe::envs
