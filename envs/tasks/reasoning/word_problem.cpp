// word_problem: "Ann has 3 pens. She gets 5, then gives 2 away. How many now?" -> "6".
// A short story of `steps` gains and losses of one item. Knobs: steps and the
// largest quantity. Worked solution: the running count "3+5=8,8-2=6#6".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

const std::vector<std::string> kNames{"Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal"};
const std::vector<std::string> kItems{"pens", "cups", "eggs", "figs", "toys", "nuts", "cards", "coins"};

class WordProblem final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"word_problem", "reasoning", "count items through a short story of gains and losses",
                                {{"steps", 1, 12, "gains and losses after the start"},
                                 {"max_value", 2, 999, "largest starting amount or change"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"steps", level_lerp(level, 1, 6)}, {"max_value", level < 6 ? 9 : 50}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const std::string name = rng.pick(kNames), item = rng.pick(kItems);
    const int64_t start = rng.uniform(1, d.at("max_value"));
    int64_t have = start;
    std::vector<int64_t> changes;
    Case c;
    c.prompt = name + " has " + std::to_string(have) + " " + item + ".";
    c.solution = std::to_string(have);
    for (int64_t i = 0; i < d.at("steps"); ++i) {
      // Losses never take the count below zero, so every story is possible.
      const bool lose = have > 0 && rng.chance(1, 2);
      const int64_t k = lose ? rng.uniform(1, std::min(have, d.at("max_value"))) : rng.uniform(1, d.at("max_value"));
      changes.push_back(lose ? -k : k);
      c.prompt += std::string(lose ? " Loses " : " Gets ") + std::to_string(k) + ".";
      c.solution += std::string(i ? "," : "=") + std::to_string(have) + (lose ? "-" : "+") + std::to_string(k) + "=" +
                    std::to_string(have + changes.back());
      have += changes.back();
    }
    c.prompt += " How many " + item + "?";
    c.identity = {{"start", start}, {"changes", changes}, {"name", name}, {"item", item}};
    c.answer = expected(c.identity);
    c.solution = c.solution.substr(c.solution.find('=') + 1) + kAnswerMark + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    int64_t have = identity_int(id.at("start"));
    // Bounded like the changes, so the sum cannot overflow (the verify fuzzer found an overflow here).
    if (have > (int64_t{1} << 40) || have < -(int64_t{1} << 40)) throw std::invalid_argument("start out of range");
    for (const auto& v : id.at("changes")) {
      const int64_t x = identity_int(v);
      if (x > (int64_t{1} << 40) || x < -(int64_t{1} << 40)) throw std::invalid_argument("change out of range");
      have += x;
    }
    return std::to_string(have);
  }
};
TROUPE_REGISTER_TASK(WordProblem);

}  // namespace
}  // namespace troupe::envs
