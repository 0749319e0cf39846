// reverse and copy: "rev:abcde=" -> "edcba", "copy:abcde=" -> "abcde". Lowercase
// letters; knob `length`. Worked solution: for reversal the characters read from
// the end in groups of four, "edcb|a#edcba"; for copy the groups in order.
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

#include <algorithm>

namespace troupe::envs {
namespace {

template <bool kReverse>
class StringCopy final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{kReverse ? "reverse" : "copy", "sequence",
                                kReverse ? "reverse a string of letters" : "repeat a string of letters",
                                {{"length", 1, 100, "letters in the string"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"length", level_lerp(level, 3, 48)}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::string s;
    for (int64_t i = 0; i < d.at("length"); ++i) s.push_back(static_cast<char>('a' + rng.uniform(0, 25)));
    Case c;
    c.identity = {{"s", s}};
    c.prompt = std::string(kReverse ? "rev:" : "copy:") + s + "=";
    c.answer = expected(c.identity);
    constexpr size_t kGroup = 4;  // letters per step: short enough to track, long enough to be brief
    for (size_t i = 0; i < c.answer.size(); i += kGroup) c.solution += (i ? "|" : "") + c.answer.substr(i, kGroup);
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    std::string s = id.at("s").get<std::string>();
    if (kReverse) std::reverse(s.begin(), s.end());
    return s;
  }
};
TROUPE_REGISTER_TASK(StringCopy<true>);
TROUPE_REGISTER_TASK(StringCopy<false>);

}  // namespace
}  // namespace troupe::envs
