// Exact evaluation of arithmetic expressions over integers: + - * / and parentheses,
// unary signs, spaces. Used by the 24-points tasks, whose upstream verifiers compare a
// floating-point eval with the target; we compare exact fractions (DEVIATIONS.md).
// Pure functions; any input, however hostile, returns nullopt instead of throwing or
// overflowing (all arithmetic is checked on 128-bit intermediates).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe::envs {

struct Rational {
  int64_t num = 0;
  int64_t den = 1;  // > 0, gcd(num, den) == 1
  bool operator==(const Rational&) const = default;
};

// The value of `expr`, or nullopt on a syntax error, division by zero, overflow,
// or nesting deeper than 256 levels.
std::optional<Rational> evaluate_rational(std::string_view expr);

// The same with × and ÷ read as * and / (exactly as if every "×" had been replaced by "*"
// and every "÷" by "/" first), without making that copy.
std::optional<Rational> evaluate_rational_with_signs(std::string_view expr);

}  // namespace troupe::envs
