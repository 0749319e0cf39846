// digit_sum: "dsum 98765=" -> "35". Knob: number of digits. Worked solution: the
// running sum "9,17,24,30,35#35".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class DigitSum final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"digit_sum", "arithmetic", "sum of the digits of a number",
                                {{"digits", 1, 100, "digits in the number"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"digits", level_lerp(level, 2, 40)}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    Case c;
    c.identity = {{"n", rng.digits(static_cast<int>(d.at("digits")))}};
    const std::string n = c.identity["n"];
    c.prompt = "dsum " + n + "=";
    c.answer = expected(c.identity);
    int s = 0;
    for (size_t i = 0; i < n.size(); ++i) {
      s += n[i] - '0';
      c.solution += (i ? "," : "") + std::to_string(s);
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    int64_t s = 0;
    for (char ch : id.at("n").get<std::string>()) {
      if (ch < '0' || ch > '9') throw std::invalid_argument("not a digit string");
      s += ch - '0';
    }
    return std::to_string(s);
  }
};
TROUPE_REGISTER_TASK(DigitSum);

}  // namespace
}  // namespace troupe::envs
