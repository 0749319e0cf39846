// bracket_close: "close ([{<(=" -> ")>}])". Given the open prefix of a Dyck word
// (with some already-closed pairs mixed in), write the closers that complete it.
// Knobs: number of open brackets left and of closed pairs mixed in. Worked
// solution: the stack after the prefix, "([{<(#)>}])".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr std::string_view kOpen = "([{<";
constexpr std::string_view kClose = ")]}>";

class BracketClose final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"bracket_close", "sequence", "close every open bracket of a prefix",
                                {{"open", 1, 60, "brackets left open"}, {"pairs", 0, 60, "closed pairs mixed in"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"open", level_lerp(level, 2, 12)}, {"pairs", level_lerp(level, 0, 10)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    // Interleave `open` unclosed openers with `pairs` complete pairs at random points.
    std::string s, stack;
    int64_t opens = d.at("open"), pairs = d.at("pairs");
    while (opens > 0 || pairs > 0) {
      const size_t k = static_cast<size_t>(rng.uniform(0, 3));
      if (pairs > 0 && (opens == 0 || rng.chance(1, 2))) {
        s += std::string(1, kOpen[k]) + kClose[k];
        --pairs;
      } else {
        s.push_back(kOpen[k]);
        stack.push_back(kOpen[k]);
        --opens;
      }
    }
    Case c;
    c.identity = {{"prefix", s}};
    c.prompt = "close " + s + "=";
    c.answer = expected(c.identity);
    c.solution = stack + kAnswerMark + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    std::string stack;
    for (char ch : id.at("prefix").get<std::string>()) {
      if (auto o = kOpen.find(ch); o != std::string_view::npos) {
        stack.push_back(ch);
      } else if (auto k = kClose.find(ch); k != std::string_view::npos) {
        if (stack.empty() || stack.back() != kOpen[k]) throw std::invalid_argument("prefix is not balanced");
        stack.pop_back();
      } else {
        throw std::invalid_argument("not a bracket");
      }
    }
    std::string out;
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) out.push_back(kClose[kOpen.find(*it)]);
    return out;
  }
};
TROUPE_REGISTER_TASK(BracketClose);

}  // namespace
}  // namespace troupe::envs
