// sort_numbers: "sort 5,3,9=" -> "3,5,9". Knobs: list length and largest value.
// Worked solution: the list after each smallest element is taken out,
// "3|5|9#3,5,9" (the picks in order).
#include "envs/answer.hpp"
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

#include <algorithm>

namespace troupe::envs {
namespace {

class SortNumbers final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"sort_numbers", "sequence", "sort a comma-separated list ascending",
                                {{"length", 2, 64, "list length"}, {"max_value", 9, 9999, "largest value"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"length", level_lerp(level, 3, 16)}, {"max_value", level < 5 ? 9 : 99}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::vector<int64_t> xs;
    for (int64_t i = 0; i < d.at("length"); ++i) xs.push_back(rng.uniform(0, d.at("max_value")));
    Case c;
    c.identity = {{"list", xs}};
    c.prompt = "sort " + join(xs) + "=";
    c.answer = expected(c.identity);
    std::sort(xs.begin(), xs.end());
    for (size_t i = 0; i < xs.size(); ++i) c.solution += (i ? "|" : "") + std::to_string(xs[i]);
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    auto xs = identity_ints(id.at("list"));
    std::sort(xs.begin(), xs.end());
    return join(xs);
  }
  static std::string join(const std::vector<int64_t>& xs) {
    std::string s;
    for (size_t i = 0; i < xs.size(); ++i) s += (i ? "," : "") + std::to_string(xs[i]);
    return s;
  }
};
TROUPE_REGISTER_TASK(SortNumbers);

}  // namespace
}  // namespace troupe::envs
