// A recursive-descent evaluator with exact, overflow-checked fractions.
#include "envs/rational_expression.hpp"

#include <numeric>

namespace troupe::envs {
namespace {

__extension__ typedef __int128 Wide;  // GCC/Clang 128-bit integer: products of two int64 never overflow

constexpr int kMaxDepth = 256;  // parentheses deeper than this are refused (stack safety)

std::optional<Rational> make(Wide num, Wide den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  constexpr Wide kMax = INT64_MAX;
  const Wide mag = num < 0 ? -num : num;
  if (mag <= kMax && den <= kMax) {
    // Both fit in 64 bits, as nearly always: reduce there. 128-bit division and remainder
    // are library calls (__divti3, __modti3), a fifth of a 24-points verify.
    const auto n = static_cast<int64_t>(num), d = static_cast<int64_t>(den);
    if (d == 1) return Rational{n, 1};
    const auto g = static_cast<int64_t>(std::gcd(static_cast<uint64_t>(mag), static_cast<uint64_t>(d)));
    return Rational{n / g, d / g};  // g >= 1: d > 0
  }
  Wide a = mag, b = den;
  while (b != 0) {
    Wide t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    num /= a;
    den /= a;
  }
  if (num > kMax || num < -kMax || den > kMax) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

class Parser {
 public:
  Parser(std::string_view s, bool signs) : s_(s), signs_(signs) {}

  std::optional<Rational> parse() {
    auto v = expr(0);
    skip();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // The operator at p, '*' or '/' also for the signs × and ÷ (UTF-8 C3 97 and C3 B7) when
  // they are read, with its length in bytes; otherwise the byte there ('\0' past the end).
  char op_at(size_t p, size_t* len) const {
    *len = 1;
    if (p >= s_.size()) return '\0';
    if (signs_ && s_[p] == '\xC3' && p + 1 < s_.size()) {
      *len = 2;
      if (s_[p + 1] == '\x97') return '*';
      if (s_[p + 1] == '\xB7') return '/';
      *len = 1;
    }
    return s_[p];
  }
  // eat() for '*' and '/', which may be written as signs.
  bool eat_op(char c) {
    skip();
    size_t len = 0;
    if (op_at(pos_, &len) != c) return false;
    pos_ += len;
    return true;
  }
  std::optional<Rational> expr(int depth) {
    auto left = term(depth);
    while (left) {
      if (eat('+')) {
        auto r = term(depth);
        if (!r) return std::nullopt;
        left = make(static_cast<Wide>(left->num) * r->den + static_cast<Wide>(r->num) * left->den,
                    static_cast<Wide>(left->den) * r->den);
      } else if (eat('-')) {
        auto r = term(depth);
        if (!r) return std::nullopt;
        left = make(static_cast<Wide>(left->num) * r->den - static_cast<Wide>(r->num) * left->den,
                    static_cast<Wide>(left->den) * r->den);
      } else {
        break;
      }
    }
    return left;
  }
  std::optional<Rational> term(int depth) {
    auto left = unary(depth);
    while (left) {
      skip();
      // "**" and "//" are not arithmetic here (upstream rejects them too); with signs read,
      // "×*" is "**" as well, as if the signs had been replaced first.
      size_t len = 0, len2 = 0;
      const char op = op_at(pos_, &len);
      if ((op == '*' || op == '/') && op_at(pos_ + len, &len2) == op) return std::nullopt;
      if (eat_op('*')) {
        auto r = unary(depth);
        if (!r) return std::nullopt;
        left = make(static_cast<Wide>(left->num) * r->num, static_cast<Wide>(left->den) * r->den);
      } else if (eat_op('/')) {
        auto r = unary(depth);
        if (!r) return std::nullopt;
        left = make(static_cast<Wide>(left->num) * r->den, static_cast<Wide>(left->den) * r->num);
      } else {
        break;
      }
    }
    return left;
  }
  std::optional<Rational> unary(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    if (eat('-')) {
      auto v = unary(depth + 1);
      if (!v) return std::nullopt;
      return Rational{-v->num, v->den};
    }
    if (eat('+')) return unary(depth + 1);
    if (eat('(')) {
      auto v = expr(depth + 1);
      if (!v || !eat(')')) return std::nullopt;
      return v;
    }
    skip();
    size_t start = pos_;
    Wide v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_] - '0');
      if (v > INT64_MAX) return std::nullopt;
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return Rational{static_cast<int64_t>(v), 1};
  }

  std::string_view s_;
  bool signs_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<Rational> evaluate_rational(std::string_view expr) { return Parser(expr, false).parse(); }

std::optional<Rational> evaluate_rational_with_signs(std::string_view expr) { return Parser(expr, true).parse(); }

}  // namespace troupe::envs
