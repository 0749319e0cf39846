// BbehMultistepArithmeticbootcamp: expressions over invented binary operators, each
// defined by a condition and two branches; compute A + B - C.
// Identity (upstream's shape): {"operators": [{"symbol", "condition", "true_expr",
// "false_expr"}], "A", "B", "C": str, "A_val", "B_val", "C_val", "answer": number}.
// Scoring reads only "answer": the LAST [answer]...[/answer] block parsed as Python's
// float(), right when within 1e-6. Our generator evaluates every operator exactly as
// the prompt defines it, including operators whose branch reuses an earlier operator
// (upstream's generator evals those as Python and gets 0 or a bitwise and; see
// DEVIATIONS.md -- verification is unaffected, it compares with the identity).
#include <cmath>
#include <functional>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

__extension__ typedef __int128 Value;  // |values| stay below ~10^30 at depth 10; generation retries beyond kLimit
constexpr double kLimit = 1e30;

bool is_prime(Value n) {
  if (n <= 1) return false;
  for (Value i = 2; i * i <= n; ++i) {
    if (n % i == 0) return false;
  }
  return true;
}
Value gcd(Value a, Value b) {
  a = a < 0 ? -a : a;
  b = b < 0 ? -b : b;
  while (b != 0) {
    Value t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// One operator: a condition kind and, for each branch, either a basic formula or a reused operator.
struct OpDef {
  std::string symbol;
  int kind;             // 0 product_positive, 1 a_gt_b, 2 prime, 3 gcd, 4 abs_diff
  int false_variant;    // for a_gt_b: 0 "a - b", 1 "a + b"
  int reuse_true = -1;  // index of an earlier operator, or -1
  int reuse_false = -1;
};

std::string cond_text(int kind) {
  static const char* kText[] = {"a * b > 0", "a > b", "is_prime(a) or is_prime(b)", "math.gcd(a, b) == 1",
                                "abs(a - b) < 2"};
  return kText[kind];
}
std::string branch_text(const OpDef& op, bool branch) {
  static const char* kTrue[] = {"a - b", "a * b", "min(a, b)", "a + b", "a * b"};
  static const char* kFalse[] = {"a + b", "a - b", "max(a, b)", "math.gcd(a, b)", "a - b"};
  if (op.kind == 1 && !branch) return op.false_variant ? "a + b" : "a - b";
  return branch ? kTrue[op.kind] : kFalse[op.kind];
}

Value apply(const std::vector<OpDef>& ops, size_t k, Value a, Value b) {
  const OpDef& op = ops[k];
  bool cond = false;
  switch (op.kind) {
    case 0: cond = a * b > 0; break;
    case 1: cond = a > b; break;
    case 2: cond = is_prime(a) || is_prime(b); break;
    case 3: cond = gcd(a, b) == 1; break;
    default: cond = (a - b < 0 ? b - a : a - b) < 2; break;
  }
  const int reuse = cond ? op.reuse_true : op.reuse_false;
  if (reuse >= 0) return apply(ops, static_cast<size_t>(reuse), a, b);
  switch (op.kind) {
    case 0: return cond ? a - b : a + b;
    case 1: return cond ? a * b : (op.false_variant ? a + b : a - b);
    case 2: return cond ? std::min(a, b) : std::max(a, b);
    case 3: return cond ? a + b : gcd(a, b);
    default: return cond ? a * b : a - b;
  }
}

std::string to_string(Value v) {
  if (v == 0) return "0";
  std::string s;
  const bool neg = v < 0;
  for (Value x = neg ? -v : v; x > 0; x /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
  return neg ? "-" + s : s;
}

class BbehMultistepArithmetic final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"BbehMultistepArithmeticbootcamp", "math",
                                "nested expressions over invented conditional operators",
                                {{"num_operators", 1, 11, "operators defined"},
                                 {"max_depth", 0, 12, "nesting depth of each expression"}},
                                "BbehMultistepArithmeticbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"num_operators", level_lerp(level, 1, 5)}, {"max_depth", level}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    static const std::vector<std::string> kSymbols{"><", ";", "][", "@", "#", "<>", "~", "&", "[]", ":*", "!"};
    while (true) {
      std::vector<std::string> symbols = kSymbols;
      rng.shuffle(symbols);
      symbols.resize(static_cast<size_t>(d.at("num_operators")));
      std::vector<OpDef> ops;
      Json op_json = Json::array();
      for (size_t i = 0; i < symbols.size(); ++i) {
        OpDef op{symbols[i], static_cast<int>(rng.uniform(0, 4)), static_cast<int>(rng.uniform(0, 1))};
        if (i > 0 && rng.chance(3, 10)) {  // upstream's reuse_prob 0.3
          op.reuse_true = static_cast<int>(rng.uniform(0, static_cast<int64_t>(i) - 1));
          if (rng.chance(1, 2)) op.reuse_false = op.reuse_true;
        }
        auto text = [&](bool branch) {
          const int r = branch ? op.reuse_true : op.reuse_false;
          return r >= 0 ? "(a " + symbols[static_cast<size_t>(r)] + " b)" : branch_text(op, branch);
        };
        op_json.push_back({{"symbol", op.symbol}, {"condition", cond_text(op.kind)}, {"true_expr", text(true)},
                           {"false_expr", text(false)}});
        ops.push_back(op);
      }
      Json id = {{"operators", op_json}};
      Value vals[3];
      bool ok = true;
      const char* names[] = {"A", "B", "C"};
      for (int e = 0; e < 3; ++e) {
        auto operand = [&] {
          int64_t x = rng.uniform(-10, 9);
          return x >= 0 ? x + 1 : x;  // -10..10 without 0
        };
        Value v = operand();
        std::string text = to_string(v);
        for (int64_t depth = 0; depth < d.at("max_depth"); ++depth) {
          const Value right = operand();
          const int64_t k = rng.uniform(1, 2);
          std::string composite;
          for (int64_t j = 0; j < k; ++j) {
            const size_t which = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(ops.size()) - 1));
            composite += ops[which].symbol;
            v = apply(ops, which, v, right);
            if (std::fabs(static_cast<double>(v)) > kLimit) ok = false;
          }
          text = "(" + text + " " + composite + " " + to_string(right) + ")";
        }
        id[names[e]] = text;
        vals[e] = v;
      }
      if (!ok) continue;
      const Value answer = vals[0] + vals[1] - vals[2];
      auto as_json = [](Value v) {
        return std::fabs(static_cast<double>(v)) < 9e18 ? Json(static_cast<int64_t>(v)) : Json(static_cast<double>(v));
      };
      id["A_val"] = as_json(vals[0]);
      id["B_val"] = as_json(vals[1]);
      id["C_val"] = as_json(vals[2]);
      id["answer"] = as_json(answer);
      Case c;
      c.identity = id;
      std::string defs;
      for (const auto& o : op_json) {
        defs += "a " + o["symbol"].get<std::string>() + " b is " + o["true_expr"].get<std::string>() + " when " +
                o["condition"].get<std::string>() + ", and " + o["false_expr"].get<std::string>() + " otherwise.\n";
      }
      c.prompt = "New operators on integers:\n" + defs +
                 "Several operators written together apply left to right with the same right operand: "
                 "a @; b means (a @ b) ; b.\nA = " + id["A"].get<std::string>() + "\nB = " + id["B"].get<std::string>() +
                 "\nC = " + id["C"].get<std::string>() + "\nWhat is A + B - C? Give the number inside "
                 "[answer][/answer].";
      c.answer = reference_response("[answer]" + to_string(answer) + "[/answer]");
      return c;
    }
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block || !parse_python_float(*block)) return std::nullopt;
    return std::string(trim(*block));
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const double got = *parse_python_float(extracted);
    const double want = identity_fields<1>(identity, {"answer"})[0]->get<double>();
    return std::fabs(got - want) < 1e-6 ? 1.0 : 0.0;  // upstream's tolerance
  }
};
TROUPE_REGISTER_TASK(BbehMultistepArithmetic);

}  // namespace
}  // namespace troupe::envs
