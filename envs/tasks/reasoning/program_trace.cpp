// program_trace: "a=3;b=a+2;a=b*2;a?" -> "10". A straight-line program over a few
// variables (constants 0..9, + and - only, so values stay small and may go
// negative); the question asks for one variable's final value. Knobs: statements
// and variables. Worked solution: each variable's value after each statement,
// "a=3,b=5,a=10#10" -- the longest-horizon of our own tasks.
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

#include <map>

namespace troupe::envs {
namespace {

constexpr int64_t kMaxConstant = 1'000'000;  // bounds hostile identities: sums stay far from overflow


class ProgramTrace final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"program_trace", "reasoning", "final value of a variable after a short program",
                                {{"statements", 1, 40, "assignments in the program"},
                                 {"variables", 1, 6, "distinct variables"}},
                                ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"statements", level_lerp(level, 2, 14)}, {"variables", level_lerp(level, 1, 4)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t nv = d.at("variables");
    std::string defined;  // variables assigned so far
    Json stmts = Json::array();
    Case c;
    for (int64_t i = 0; i < d.at("statements"); ++i) {
      const char dst = static_cast<char>('a' + rng.uniform(0, nv - 1));
      if (defined.empty() || rng.chance(1, 4)) {
        const int64_t k = rng.uniform(0, 9);
        stmts.push_back({{"dst", std::string(1, dst)}, {"src", ""}, {"op", "="}, {"k", k}});
        c.prompt += std::string(1, dst) + "=" + std::to_string(k) + ";";
      } else {
        const char src = defined[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(defined.size()) - 1))];
        const char op = "+-"[rng.uniform(0, 1)];
        const int64_t k = rng.uniform(1, 9);
        stmts.push_back({{"dst", std::string(1, dst)}, {"src", std::string(1, src)}, {"op", std::string(1, op)}, {"k", k}});
        c.prompt += std::string(1, dst) + "=" + src + op + std::to_string(k) + ";";
      }
      if (defined.find(dst) == std::string::npos) defined.push_back(dst);
    }
    const std::string query(1, defined[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(defined.size()) - 1))]);
    c.identity = {{"program", stmts}, {"query", query}};
    c.prompt += query + "?";
    c.answer = run(c.identity, &c.solution);
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override { return run(id, nullptr); }

  // Runs the program; appends each step to `trace`.
  static std::string run(const Json& id, std::string* trace) {
    std::map<std::string, int64_t> vars;
    for (const auto& s : id.at("program")) {
      const std::string dst = s.at("dst"), src = s.at("src"), op = s.at("op");
      const int64_t k = identity_int(s.at("k"));
      if (k < 0 || k > kMaxConstant) throw std::invalid_argument("constant out of range");
      int64_t v;
      if (op == "=") {
        v = k;
      } else {
        auto it = vars.find(src);
        if (it == vars.end()) throw std::invalid_argument("variable used before assignment");
        if (op == "+") v = it->second + k;
        else if (op == "-") v = it->second - k;
        else throw std::invalid_argument("unknown operator");
      }
      vars[dst] = v;
      if (trace) *trace += (trace->empty() ? "" : ",") + dst + "=" + std::to_string(v);
    }
    auto it = vars.find(id.at("query").get<std::string>());
    if (it == vars.end()) throw std::invalid_argument("query names an unassigned variable");
    return std::to_string(it->second);
  }
};
TROUPE_REGISTER_TASK(ProgramTrace);

}  // namespace
}  // namespace troupe::envs
