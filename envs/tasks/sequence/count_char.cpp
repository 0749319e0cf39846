// count_char: "count a:abacad=" -> "3". Letters from a small alphabet so the
// target recurs. Knobs: string length and alphabet size. Worked solution: the
// positions (1-based) where it occurs, "1,3,5#3".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class CountChar final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"count_char", "sequence", "occurrences of a letter in a string",
                                {{"length", 1, 120, "letters in the string"},
                                 {"alphabet", 2, 26, "distinct letters used"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"length", level_lerp(level, 4, 60)}, {"alphabet", level_lerp(level, 3, 8)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t k = d.at("alphabet");
    std::string s;
    for (int64_t i = 0; i < d.at("length"); ++i) s.push_back(static_cast<char>('a' + rng.uniform(0, k - 1)));
    const std::string target(1, static_cast<char>('a' + rng.uniform(0, k - 1)));
    Case c;
    c.identity = {{"s", s}, {"c", target}};
    c.prompt = "count " + target + ":" + s + "=";
    c.answer = expected(c.identity);
    bool first = true;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != target[0]) continue;
      c.solution += (first ? "" : ",") + std::to_string(i + 1);
      first = false;
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    const std::string s = id.at("s").get<std::string>(), t = id.at("c").get<std::string>();
    if (t.size() != 1) throw std::invalid_argument("target must be one character");
    size_t n = 0;
    for (char ch : s) n += ch == t[0];
    return std::to_string(n);
  }
};
TROUPE_REGISTER_TASK(CountChar);

}  // namespace
}  // namespace troupe::envs
