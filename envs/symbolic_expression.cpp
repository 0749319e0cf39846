// The reader and evaluator of symbolic_expression.hpp: a recursive-descent parser over
// bytes into a flat node array, and a recursive evaluator bounded by kMaxNodes.
#include "envs/symbolic_expression.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <string>

namespace troupe::envs {

namespace {

constexpr int kMaxDepth = 200;    // nesting of brackets and unary operators
constexpr size_t kMaxNodes = 4096;  // bounds the evaluator's recursion; no real answer comes close
constexpr double kPi = 3.14159265358979323846;
constexpr double kE = 2.71828182845904523536;
constexpr double kVarX = 'x', kVarY = 'y';

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

using Op = SymbolicExpression::Op;

// Function names read in plain text (longest first where one is a prefix of another).
struct Name {
  std::string_view text;
  Op op;
};
constexpr Name kFunctions[] = {{"sqrt", Op::kSqrt}, {"exp", Op::kExp}, {"sin", Op::kSin}, {"cos", Op::kCos},
                               {"tan", Op::kTan},   {"log", Op::kLog}, {"ln", Op::kLog}};

}  // namespace

class SymbolicParser {
 public:
  SymbolicParser(std::string_view s, SymbolicExpression& out) : s_(s), out_(out) {}

  bool run() {
    out_.root_ = sum(0);
    skip();
    return ok_ && out_.root_ >= 0 && pos_ == s_.size() && out_.nodes_.size() <= kMaxNodes;
  }

 private:
  int32_t fail() {
    ok_ = false;
    return -1;
  }
  int32_t node(Op op, int32_t a = -1, int32_t b = -1, double value = 0) {
    if (!ok_ || out_.nodes_.size() >= kMaxNodes) return fail();
    out_.nodes_.push_back({op, a, b, value});
    return static_cast<int32_t>(out_.nodes_.size()) - 1;
  }
  bool at(std::string_view w) const { return s_.substr(pos_, w.size()) == w; }
  bool eat(std::string_view w) {
    skip();
    if (!at(w)) return false;
    pos_ += w.size();
    return true;
  }
  // A LaTeX command name at pos_ (after '\'), without consuming it.
  std::string_view command() const {
    if (pos_ >= s_.size() || s_[pos_] != '\\') return {};
    size_t e = pos_ + 1;
    while (e < s_.size() && is_letter(s_[e])) ++e;
    return s_.substr(pos_ + 1, e - pos_ - 1);
  }
  // Blanks, LaTeX spacing, and \left / \right (the bracket after them is read as usual).
  void skip() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        ++pos_;
      } else if (c == '\\' && pos_ + 1 < s_.size() &&
                 (s_[pos_ + 1] == ',' || s_[pos_ + 1] == ';' || s_[pos_ + 1] == '!' || s_[pos_ + 1] == ':' ||
                  s_[pos_ + 1] == ' ')) {
        pos_ += 2;
      } else if (std::string_view cmd = command(); cmd == "left" || cmd == "right" || cmd == "quad" || cmd == "qquad") {
        pos_ += 1 + cmd.size();
      } else {
        return;
      }
    }
  }

  int32_t sum(int depth) {
    int32_t lhs = product(depth);
    while (ok_) {
      if (eat("+")) {
        lhs = node(Op::kAdd, lhs, product(depth));
      } else if (eat("-") || eat("\xe2\x88\x92")) {  // '-' or U+2212 MINUS SIGN
        lhs = node(Op::kSub, lhs, product(depth));
      } else {
        break;
      }
    }
    return lhs;
  }

  int32_t product(int depth) {
    int32_t lhs = signed_factor(depth);
    while (ok_) {
      skip();
      if (at("**")) break;  // only after a base, handled by power()
      if (eat("*") || eat("\\cdot") || eat("\\times") || eat("\xc3\x97") || eat("\xe2\x8b\x85") || eat("\xc2\xb7")) {
        lhs = node(Op::kMul, lhs, signed_factor(depth));  // *, \cdot, \times, ×, ⋅, ·
      } else if (eat("/") || eat("\\div") || eat("\xc3\xb7")) {
        lhs = node(Op::kDiv, lhs, signed_factor(depth));  // /, \div, ÷
      } else if (starts_primary(false)) {
        lhs = node(Op::kMul, lhs, power(depth));  // implicit: 2x, x y, 2(x+1)
      } else {
        break;
      }
    }
    return lhs;
  }

  int32_t signed_factor(int depth) {
    if (depth > kMaxDepth) return fail();
    if (eat("+")) return signed_factor(depth + 1);
    if (eat("-") || eat("\xe2\x88\x92")) return node(Op::kNeg, signed_factor(depth + 1));
    return power(depth);
  }

  int32_t power(int depth) {
    int32_t base = primary(depth);
    skip();
    if (eat("**")) return node(Op::kPow, base, signed_factor(depth + 1));
    if (eat("^")) return node(Op::kPow, base, exponent(depth + 1));
    return base;
  }

  // After '^': a braced group, or one signed primary (x^2, x^-1, x^{2y}).
  int32_t exponent(int depth) {
    if (depth > kMaxDepth) return fail();
    if (eat("-") || eat("\xe2\x88\x92")) return node(Op::kNeg, exponent(depth + 1));
    if (eat("+")) return exponent(depth + 1);
    // A whole number after ^ (x^10 is x to the tenth, as sympy's convert_xor reads it).
    return primary(depth);
  }

  // Whether a factor starts here (for implicit multiplication and implicit arguments).
  bool starts_primary(bool argument) {
    skip();
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (is_digit(c) || c == '.' || c == '(' || c == '{' || c == '[' || at("\xcf\x80")) return true;  // π
    if (is_letter(c)) return !(argument && function_at() != nullptr);
    if (c == '\\') {
      const std::string_view cmd = command();
      if (cmd == "frac" || cmd == "dfrac" || cmd == "tfrac" || cmd == "sqrt" || cmd == "pi") return true;
      if (!argument) {
        for (const auto& f : kFunctions) {
          if (cmd == f.text) return true;
        }
      }
    }
    return false;
  }

  // The plain-text function name at pos_, if one starts here.
  const Name* function_at() const {
    for (const auto& f : kFunctions) {
      if (at(f.text)) return &f;
    }
    return nullptr;
  }

  int32_t group(int depth, char open, char close) {
    if (!eat(std::string_view(&open, 1))) return fail();
    const int32_t v = sum(depth + 1);
    if (!eat(std::string_view(&close, 1))) return fail();
    return v;
  }

  // A \frac operand: a braced group, or a single digit or letter (\frac12).
  int32_t operand(int depth) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == '{') return group(depth, '{', '}');
    if (pos_ < s_.size() && is_digit(s_[pos_])) return node(Op::kNum, -1, -1, s_[pos_++] - '0');
    return primary(depth);
  }

  int32_t function(Op op, int depth) {
    int32_t power_of = -1;
    skip();
    if (eat("^")) power_of = exponent(depth + 1);  // \sin^2 x
    if (eat("**")) power_of = signed_factor(depth + 1);
    skip();
    int32_t arg;
    if (pos_ < s_.size() && (s_[pos_] == '(' || s_[pos_] == '{' || s_[pos_] == '[')) {
      arg = primary(depth + 1);
    } else {
      // LaTeX style: the function takes the product that follows (\cos 2x), up to the next
      // operator or function.
      if (!starts_primary(true)) return fail();
      arg = power(depth + 1);
      while (ok_ && starts_primary(true)) arg = node(Op::kMul, arg, power(depth + 1));
    }
    const int32_t f = node(op, arg);
    return power_of >= 0 ? node(Op::kPow, f, power_of) : f;
  }

  int32_t primary(int depth) {
    if (depth > kMaxDepth) return fail();
    skip();
    if (pos_ >= s_.size()) return fail();
    const char c = s_[pos_];
    if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
      const size_t start = pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      }
      if (pos_ - start > 40) return fail();  // no answer has such numbers; keeps strtod cheap
      return node(Op::kNum, -1, -1, std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr));
    }
    if (c == '(') return group(depth, '(', ')');
    if (c == '{') return group(depth, '{', '}');
    if (c == '[') return group(depth, '[', ']');
    if (at("\xcf\x80")) {  // π
      pos_ += 2;
      return node(Op::kNum, -1, -1, kPi);
    }
    if (c == '\\') {
      const std::string_view cmd = command();
      pos_ += 1 + cmd.size();
      if (cmd == "frac" || cmd == "dfrac" || cmd == "tfrac") {
        const int32_t num = operand(depth + 1);
        return node(Op::kDiv, num, operand(depth + 1));
      }
      if (cmd == "sqrt") {
        skip();
        if (pos_ < s_.size() && s_[pos_] == '[') {  // \sqrt[n]{a} = a^(1/n)
          const int32_t n = group(depth, '[', ']');
          const int32_t a = operand(depth + 1);
          return node(Op::kPow, a, node(Op::kDiv, node(Op::kNum, -1, -1, 1), n));
        }
        return node(Op::kSqrt, operand(depth + 1));
      }
      if (cmd == "pi") return node(Op::kNum, -1, -1, kPi);
      for (const auto& f : kFunctions) {
        if (cmd == f.text) return function(f.op, depth + 1);
      }
      return fail();
    }
    if (is_letter(c)) {
      if (at("Poly(")) {
        // sympy's Poly(expr, x, domain='ZZ'): the value is its first argument.
        pos_ += 5;
        const int32_t v = sum(depth + 1);
        int open = 1;
        while (pos_ < s_.size() && open > 0) {
          if (s_[pos_] == '(') ++open;
          if (s_[pos_] == ')') --open;
          ++pos_;
        }
        return open == 0 ? v : fail();
      }
      if (const Name* f = function_at()) {
        pos_ += f->text.size();
        return function(f->op, depth + 1);
      }
      if (at("pi")) {
        pos_ += 2;
        return node(Op::kNum, -1, -1, kPi);
      }
      ++pos_;
      if (c == 'e' || c == 'E') return node(Op::kNum, -1, -1, kE);
      return node(Op::kVar, -1, -1, c);
    }
    return fail();
  }

  std::string_view s_;
  SymbolicExpression& out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::optional<SymbolicExpression> SymbolicExpression::parse(std::string_view text) {
  SymbolicExpression e;
  e.nodes_.reserve(32);
  SymbolicParser p(text, e);
  if (!p.run()) return std::nullopt;
  return e;
}

double SymbolicExpression::eval(int32_t n, double x, double y) const {
  const Node& nd = nodes_[static_cast<size_t>(n)];
  switch (nd.op) {
    case Op::kNum: return nd.value;
    case Op::kVar:
      if (nd.value == kVarX) return x;
      if (nd.value == kVarY) return y;
      // Another letter: a fixed value of its own in [0.5, 2), unrelated to x and y.
      return 0.5 + static_cast<double>((static_cast<int>(nd.value) * 37) % 29) / 29.0 * 1.5;
    case Op::kAdd: return eval(nd.a, x, y) + eval(nd.b, x, y);
    case Op::kSub: return eval(nd.a, x, y) - eval(nd.b, x, y);
    case Op::kMul: return eval(nd.a, x, y) * eval(nd.b, x, y);
    case Op::kDiv: return eval(nd.a, x, y) / eval(nd.b, x, y);
    case Op::kPow: return std::pow(eval(nd.a, x, y), eval(nd.b, x, y));
    case Op::kNeg: return -eval(nd.a, x, y);
    case Op::kSin: return std::sin(eval(nd.a, x, y));
    case Op::kCos: return std::cos(eval(nd.a, x, y));
    case Op::kTan: return std::tan(eval(nd.a, x, y));
    case Op::kExp: return std::exp(eval(nd.a, x, y));
    case Op::kLog: return std::log(eval(nd.a, x, y));
    case Op::kSqrt: return std::sqrt(eval(nd.a, x, y));
  }
  return std::nan("");
}

double SymbolicExpression::evaluate(double x, double y) const { return eval(root_, x, y); }

bool SymbolicExpression::numerically_equal(const SymbolicExpression& candidate, const SymbolicExpression& reference) {
  // Points chosen off any simple rational relation between x and y, inside every function's domain.
  constexpr double kX[] = {0.7, 1.3, 2.1, 0.45, 1.85, 1.1};
  constexpr double kY[] = {1.1, 0.6, 1.7, 2.3, 0.9, 1.45};
  constexpr double kRelTol = 1e-8;  // far above double rounding of these small expressions, far below any real difference
  int compared = 0;
  for (size_t i = 0; i < std::size(kX); ++i) {
    const double want = reference.evaluate(kX[i], kY[i]);
    if (!std::isfinite(want)) continue;
    const double got = candidate.evaluate(kX[i], kY[i]);
    if (!std::isfinite(got)) return false;
    if (std::fabs(got - want) > kRelTol * std::max({1.0, std::fabs(got), std::fabs(want)})) return false;
    ++compared;
  }
  return compared >= 3;
}

}  // namespace troupe::envs
