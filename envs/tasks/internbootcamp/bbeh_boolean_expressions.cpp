// Bbehbooleanexpressionsbootcamp: five long boolean expressions (with comparisons and
// facts about capitals mixed in); exactly one is true -- which?
// Identity (upstream's shape): {"expressions": [str], "answer": int (0-based index)}.
// The answer is the LAST [answer]...[/answer] block: its first character after
// trimming, uppercased, must be one of A-E (index = letter - 'A').
#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

struct Capital {
  const char* country;
  const char* capital;
  const char* wrong;
};
const std::vector<Capital> kCapitals{{"Canada", "Ottawa", "Toronto"},    {"Germany", "Berlin", "Munich"},
                                     {"Norway", "Oslo", "Bergen"},       {"Turkey", "Ankara", "Istanbul"},
                                     {"India", "New Delhi", "Mumbai"},   {"Nigeria", "Abuja", "Lagos"},
                                     {"Denmark", "Copenhagen", "Aarhus"}, {"Colombia", "Bogota", "Medellin"},
                                     {"Iran", "Tehran", "Shiraz"},       {"Nepal", "Kathmandu", "Pokhara"}};

// A random expression and its value; depth bounds the nesting.
std::pair<std::string, bool> expression(Rng& rng, int64_t depth) {
  if (depth <= 0 || rng.chance(1, 4)) {
    switch (rng.uniform(0, 2)) {
      case 0: {
        const bool v = rng.chance(1, 2);
        return {v ? "True" : "False", v};
      }
      case 1: {
        const int64_t a = rng.uniform(-9, 9), b = rng.uniform(-9, 9);
        static const char* kOps[] = {"<", ">", "==", "!=", "<=", ">="};
        const int64_t op = rng.uniform(0, 5);
        const bool v = op == 0 ? a < b : op == 1 ? a > b : op == 2 ? a == b : op == 3 ? a != b : op == 4 ? a <= b : a >= b;
        return {"(" + std::to_string(a) + " " + kOps[op] + " " + std::to_string(b) + ")", v};
      }
      default: {
        const Capital& c = rng.pick(kCapitals);
        const bool v = rng.chance(1, 2);
        return {"(The capital of " + std::string(c.country) + " is " + (v ? c.capital : c.wrong) + ")", v};
      }
    }
  }
  const int64_t kind = rng.uniform(0, 2);
  if (kind == 0) {
    auto [e, v] = expression(rng, depth - 1);
    return {"not " + e, !v};
  }
  auto [l, lv] = expression(rng, depth - 1);
  auto [r, rv] = expression(rng, depth - 1);
  return kind == 1 ? std::make_pair("(" + l + " and " + r + ")", lv && rv) : std::make_pair("(" + l + " or " + r + ")", lv || rv);
}

class BbehBooleanExpressions final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Bbehbooleanexpressionsbootcamp", "logic", "pick the one true boolean expression",
                                {{"max_depth", 1, 8, "nesting depth of each expression"},
                                 {"num_choices", 2, 5, "expressions to choose from"}},
                                "Bbehbooleanexpressionsbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"max_depth", 1 + level / 2}, {"num_choices", level < 3 ? 3 : 5}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t k = d.at("num_choices");
    const int64_t answer = rng.uniform(0, k - 1);
    std::vector<std::string> exprs;
    for (int64_t i = 0; i < k; ++i) {
      while (true) {  // about half of all expressions are true: a few tries suffice
        auto [e, v] = expression(rng, d.at("max_depth"));
        if (v != (i == answer)) continue;
        for (int64_t n = rng.chance(7, 10) ? rng.uniform(1, 3) : 0; n > 0; --n) e = "not not " + e;
        exprs.push_back(e);
        break;
      }
    }
    Case c;
    c.identity = {{"expressions", exprs}, {"answer", answer}};
    c.prompt = "Exactly one of these expressions is True. Which one?\n";
    for (int64_t i = 0; i < k; ++i) c.prompt += std::string(1, static_cast<char>('A' + i)) + ") " + exprs[static_cast<size_t>(i)] + "\n";
    c.prompt += "Answer with its letter inside [answer][/answer], e.g. [answer]C[/answer].";
    c.answer = reference_response("[answer]" + std::string(1, static_cast<char>('A' + answer)) + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block) return std::nullopt;
    std::string_view t = trim(*block);
    if (t.empty()) return std::nullopt;
    const char letter = ascii_upper(t[0]);
    if (letter < 'A' || letter > 'E') return std::nullopt;
    return std::string(1, letter);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    return extracted[0] - 'A' == identity_int(*identity_fields<1>(identity, {"answer"})[0]) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(BbehBooleanExpressions);

}  // namespace
}  // namespace troupe::envs
