// base_conversion: "255>b2=" -> "11111111". A decimal number to base 2..16 (digits
// 0-9a-f). Knobs: decimal digits of the number and the largest target base.
// Worked solution: the remainders of repeated division, least significant first:
// "r1,1,1,1,1,1,1,1#11111111".
#include "envs/answer.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

class BaseConversion final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"base_conversion", "arithmetic", "decimal number to base 2..16",
                                {{"digits", 1, 18, "decimal digits of the number"},
                                 {"max_base", 2, 16, "largest target base (smallest is 2)"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"digits", level_lerp(level, 1, 9)}, {"max_base", level_lerp(level, 2, 16)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    Case c;
    const int64_t base = rng.uniform(2, d.at("max_base"));
    c.identity = {{"n", rng.digits(static_cast<int>(d.at("digits")))}, {"base", base}};
    c.prompt = c.identity["n"].get<std::string>() + ">b" + std::to_string(base) + "=";
    c.answer = expected(c.identity);
    c.solution = "r";
    for (size_t i = c.answer.size(); i-- > 0;) c.solution += std::string(1, c.answer[i]) + (i ? "," : "");
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    auto n = parse_int(id.at("n").get<std::string>());
    const int64_t base = identity_int(id.at("base"));
    if (!n || *n < 0 || base < 2 || base > 16) throw std::invalid_argument("bad n or base");
    uint64_t v = static_cast<uint64_t>(*n);
    std::string out;
    do {
      out.insert(out.begin(), kDigits[v % static_cast<uint64_t>(base)]);
      v /= static_cast<uint64_t>(base);
    } while (v);
    return out;
  }
};
TROUPE_REGISTER_TASK(BaseConversion);

}  // namespace
}  // namespace troupe::envs
