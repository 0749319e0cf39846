// prefix_sum: "cumsum 1,2,3=" -> "1,3,6". Every output element depends on all
// earlier inputs: a longer-horizon task whose answer grows with the input.
// Knobs: length and largest element. Worked solution: "1+0=1,2+1=3,3+3=6#1,3,6".
#include "envs/exact_answer_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class PrefixSum final : public ExactAnswerTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"prefix_sum", "sequence", "running sums of a list",
                                {{"length", 1, 64, "list length"}, {"max_value", 1, 999, "largest element"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"length", level_lerp(level, 2, 12)}, {"max_value", level < 6 ? 9 : 99}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::vector<int64_t> xs;
    for (int64_t i = 0; i < d.at("length"); ++i) xs.push_back(rng.uniform(0, d.at("max_value")));
    Case c;
    c.identity = {{"list", xs}};
    std::string in;
    for (size_t i = 0; i < xs.size(); ++i) in += (i ? "," : "") + std::to_string(xs[i]);
    c.prompt = "cumsum " + in + "=";
    c.answer = expected(c.identity);
    int64_t s = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      c.solution += (i ? "," : "") + std::to_string(xs[i]) + "+" + std::to_string(s) + "=" + std::to_string(s + xs[i]);
      s += xs[i];
    }
    c.solution += std::string(1, kAnswerMark) + c.answer;
    return c;
  }
  std::string expected(const Json& id) const override {
    std::string out;
    int64_t s = 0;
    bool first = true;
    for (const auto& v : id.at("list")) {
      const int64_t x = identity_int(v);
      if (x > (int64_t{1} << 40) || x < -(int64_t{1} << 40)) throw std::invalid_argument("element out of range");
      s += x;  // at most 2^40 per element over a list far shorter than 2^20: no overflow
      out += (first ? "" : ",") + std::to_string(s);
      first = false;
    }
    return out;
  }
};
TROUPE_REGISTER_TASK(PrefixSum);

}  // namespace
}  // namespace troupe::envs
