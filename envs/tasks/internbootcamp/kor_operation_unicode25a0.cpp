// KorOperationUnicode25a0bootcamp: the operator ■ is defined by f■g = ∂f/∂x + ∂g/∂x;
// compute it for two given functions of x and y.
// Identity (upstream's shape): {"f_latex": str, "g_latex": str, "_f_sympy": str,
// "_g_sympy": str, "_answer_sympy": str} (the answer as sympy prints it, e.g.
// "3*x**2 + exp(x)" or "x*(3*x + 2)"; upstream's may hold Poly(...)). The answer is the
// LAST [[...]] (DOTALL), stripped. Right when it equals _answer_sympy as a function of x
// and y (compared by value at sample points, symbolic_expression.hpp).
// Deviation (DEVIATIONS.md): upstream deletes every backslash and brace and parses what
// is left with sympy's implicit-multiplication rules, so LaTeX answers -- which its own
// prompt asks for, with the example [[2x + \cos x]] -- read as products of letters
// (\frac{2x}{y} becomes f*r*a*c*2*x*y, \cos x becomes c*o*s*x) and score 0; we read LaTeX.
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"
#include "envs/symbolic_expression.hpp"

namespace troupe::envs {
namespace {

// One term of f or g, and its x-derivative, in sympy's text and in LaTeX.
struct Term {
  std::string sympy, latex, derivative;  // derivative "" when it is 0
  bool constant_derivative = false;      // the derivative is a number (or 0)
};

std::string power(const std::string& var, int64_t k, bool latex) {
  if (k == 1) return var;
  return var + (latex ? "^{" + std::to_string(k) + "}" : "**" + std::to_string(k));
}

Term draw_term(Rng& rng, int64_t max_degree) {
  const std::string v = rng.chance(1, 2) ? "x" : "y";
  switch (rng.uniform(0, 6)) {  // upstream's seven kinds, equally likely
    case 0: {
      const int64_t k = rng.uniform(1, max_degree);
      std::string d = k == 1 ? "1" : (std::to_string(k) + "*" + power("x", k - 1, false));
      return {power("x", k, false), power("x", k, true), d, k == 1};
    }
    case 1: {
      const int64_t k = rng.uniform(1, max_degree);
      return {power("y", k, false), power("y", k, true), "", true};
    }
    case 2:
      return {"sin(" + v + ")", "\\sin{\\left(" + v + " \\right)}", v == "x" ? "cos(x)" : "", v != "x"};
    case 3:
      return {"cos(" + v + ")", "\\cos{\\left(" + v + " \\right)}", v == "x" ? "-sin(x)" : "", v != "x"};
    case 4:
      return {"exp(x)", "e^{x}", "exp(x)", false};
    case 5: {
      // c*x**k / y**m (upstream builds it from a Poly in x).
      const int64_t c = rng.uniform(1, 3), k = rng.uniform(0, 2), m = rng.uniform(1, 2);
      const std::string num = k == 0 ? std::to_string(c) : (c == 1 ? "" : std::to_string(c) + "*") + power("x", k, false);
      const std::string num_tex = k == 0 ? std::to_string(c) : (c == 1 ? "" : std::to_string(c) + " ") + power("x", k, true);
      std::string d;
      if (k == 1) d = std::to_string(c) + "/" + power("y", m, false);
      if (k == 2) d = std::to_string(2 * c) + "*x/" + power("y", m, false);
      return {num + "/" + power("y", m, false), "\\frac{" + num_tex + "}{" + power("y", m, true) + "}", d, false};
    }
    default: {
      const std::string n = std::to_string(rng.uniform(1, 5));
      return {n, n, "", true};
    }
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (out.empty()) {
      out = p;
    } else if (p[0] == '-') {
      out += " - " + p.substr(1);
    } else {
      out += " + " + p;
    }
  }
  return out;
}

class KorOperationUnicode25a0 final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"KorOperationUnicode25a0bootcamp", "math",
                                "f■g = ∂f/∂x + ∂g/∂x for two functions of x and y",
                                {{"max_terms", 1, 6, "most terms in f and in g"},
                                 {"max_degree", 1, 6, "highest power of x or y"}},
                                "KorOperationUnicode25a0bootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"max_terms", level_lerp(level, 1, 5)}, {"max_degree", level_lerp(level, 2, 5)}};  // upstream: 3 and 3
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    while (true) {
      std::vector<std::string> f, f_tex, g, g_tex, derivative;
      bool varies = false;  // upstream redraws when the answer is a number
      for (auto* side : {&f, &g}) {
        auto* tex = side == &f ? &f_tex : &g_tex;
        for (int64_t i = rng.uniform(1, d.at("max_terms")); i > 0; --i) {
          Term t = draw_term(rng, d.at("max_degree"));
          side->push_back(t.sympy);
          tex->push_back(t.latex);
          if (!t.derivative.empty()) derivative.push_back(t.derivative);
          varies = varies || !t.constant_derivative;
        }
      }
      if (!varies) continue;
      auto join_tex = [](const std::vector<std::string>& parts) {
        std::string out;
        for (const auto& p : parts) out += (out.empty() ? "" : " + ") + p;
        return out;
      };
      Case c;
      c.identity = {{"f_latex", join_tex(f_tex)}, {"g_latex", join_tex(g_tex)}, {"_f_sympy", join(f)},
                    {"_g_sympy", join(g)}, {"_answer_sympy", join(derivative)}};
      c.prompt = "Define the operator ■ on functions of x and y by f■g = ∂f/∂x + ∂g/∂x.\nWith\n$$f(x, y) = " +
                 c.identity["f_latex"].get<std::string>() + "$$\n$$g(x, y) = " +
                 c.identity["g_latex"].get<std::string>() +
                 "$$\ncompute f■g. Write the result in LaTeX (powers as x^2, fractions as \\frac{a}{b}) inside "
                 "double square brackets, e.g. [[2x + \\cos x]].";
      c.answer = reference_response("[[" + c.identity["_answer_sympy"].get<std::string>() + "]]");
      return c;
    }
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[[", "]]"});
    if (!block) return std::nullopt;
    return std::string(py_strip(*block));
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    auto want = SymbolicExpression::parse(identity.at("_answer_sympy").get<std::string>());
    if (!want) throw std::invalid_argument("unreadable _answer_sympy");
    auto got = SymbolicExpression::parse(extracted);
    return got && SymbolicExpression::numerically_equal(*got, *want) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(KorOperationUnicode25a0);

}  // namespace
}  // namespace troupe::envs
