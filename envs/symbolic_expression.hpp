// Real-valued expressions in named variables, read from the two notations a model or
// sympy writes them in, and compared by value.
//
// Notation: numbers (2, 0.5), variables (x, y; a run of letters that is not a known
// name is a product of one-letter variables, as sympy's implicit multiplication reads
// "xy"), + - * / ^ ** with the usual precedence (-x^2 is -(x^2); powers group to the
// right), implicit multiplication ("2x", "2(x+1)", "x sin(y)"), parentheses and braces,
// the constants pi (\pi), e and E; functions sin cos tan exp log ln sqrt with
// parentheses or, LaTeX style, applied to the following product ("\cos x", "sinx");
// LaTeX \frac{a}{b}, \sqrt{a}, \cdot, \times, \div, \left( \right), spacing commands,
// and sympy's Poly(expr, x, domain='ZZ') (its first argument). Unicode × ÷ ⋅ − are
// read as the operators.
//
// Equality is numerical: both sides are evaluated at fixed sample points with x and y
// in [0.4, 2.3] (other variables get fixed values of their own); they are equal when
// every point where the reference is finite agrees to 1e-8 relative (at least three
// such points are required). Pure, no shared state: safe from any thread; parsing is
// linear with bounded recursion.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace troupe::envs {

class SymbolicExpression {
 public:
  // nullopt on any syntax this reader does not know, or nesting deeper than 200.
  static std::optional<SymbolicExpression> parse(std::string_view text);

  // The value with x, y (and every other variable) set; NaN where undefined.
  double evaluate(double x, double y) const;

  // Whether `candidate` equals `reference` at the sample points (see above).
  static bool numerically_equal(const SymbolicExpression& candidate, const SymbolicExpression& reference);

  enum class Op : uint8_t { kNum, kVar, kAdd, kSub, kMul, kDiv, kPow, kNeg, kSin, kCos, kTan, kExp, kLog, kSqrt };
  struct Node {
    Op op;
    int32_t a = -1, b = -1;  // child node indices
    double value = 0;        // kNum: the number; kVar: the variable's letter
  };

 private:
  double eval(int32_t node, double x, double y) const;
  std::vector<Node> nodes_;
  int32_t root_ = -1;
  friend class SymbolicParser;
};

}  // namespace troupe::envs
