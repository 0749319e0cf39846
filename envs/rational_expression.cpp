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
  Wide a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    Wide t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    num /= a;
    den /= a;
  }
  constexpr Wide kMax = INT64_MAX;
  if (num > kMax || num < -kMax || den > kMax) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

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
      // "**" and "//" are not arithmetic here (upstream rejects them too).
      if (pos_ + 1 < s_.size() && (s_.substr(pos_, 2) == "**" || s_.substr(pos_, 2) == "//")) return std::nullopt;
      if (eat('*')) {
        auto r = unary(depth);
        if (!r) return std::nullopt;
        left = make(static_cast<Wide>(left->num) * r->num, static_cast<Wide>(left->den) * r->den);
      } else if (eat('/')) {
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
  size_t pos_ = 0;
};

}  // namespace

std::optional<Rational> evaluate_rational(std::string_view expr) { return Parser(expr).parse(); }

}  // namespace troupe::envs
