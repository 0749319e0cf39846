// parity: "parity 10110=" -> "1" (the number of ones, mod 2). Knob: bit count.
// Worked solution: the running parity "1,1,0,0,1#1" -- a long-horizon credit
// assignment probe, since every bit matters.
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Parity final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"parity", "sequence", "parity of a bit string",
                                {{"length", 1, 200, "bits in the string"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"length", level_lerp(level, 3, 60)}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::string bits;
    for (int64_t i = 0; i < d.at("length"); ++i) bits.push_back(rng.chance(1, 2) ? '1' : '0');
    Case c;
    c.identity = {{"bits", bits}};
    c.prompt = "parity " + bits + "=";
    c.answer = expected(c.identity);
    int p = 0;
    for (size_t i = 0; i < bits.size(); ++i) {
      p ^= bits[i] == '1';
      c.solution += (i ? "," : "") + std::to_string(p);
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    int p = 0;
    for (char ch : id.at("bits").get<std::string>()) {
      if (ch != '0' && ch != '1') throw std::invalid_argument("not a bit string");
      p ^= ch == '1';
    }
    return std::to_string(p);
  }
};
TROUPE_REGISTER_TASK(Parity);

}  // namespace
}  // namespace troupe::envs
