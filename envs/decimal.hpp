// Arbitrary-length decimal arithmetic on digit strings, for tasks whose numbers
// outgrow int64 (30-digit sums, 12x6-digit products). Pure functions; they throw
// std::invalid_argument on a string that is not a decimal number (which Task::verify
// turns into a Status), so a malformed identity can never crash a verifier.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

namespace troupe::envs::decimal {

// REQUIRES nothing; throws unless s is 1..kMaxDigits digits, no sign.
inline constexpr size_t kMaxDigits = 4096;  // far above any knob; bounds work on hostile identities

inline void check(std::string_view s) {
  if (s.empty() || s.size() > kMaxDigits ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument("not a decimal number: '" + std::string(s.substr(0, 40)) + "'");
  }
}

inline std::string strip_zeros(std::string s) {
  size_t nz = s.find_first_not_of('0');
  return nz == std::string::npos ? "0" : s.substr(nz);
}

inline std::string add(std::string_view a, std::string_view b) {
  check(a);
  check(b);
  std::string out;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    int s = carry;
    if (i < a.size()) s += a[a.size() - 1 - i] - '0';
    if (i < b.size()) s += b[b.size() - 1 - i] - '0';
    out.push_back(static_cast<char>('0' + s % 10));
    carry = s / 10;
  }
  std::reverse(out.begin(), out.end());
  return strip_zeros(out);
}

// a < b as numbers (no leading zeros assumed after strip_zeros).
inline bool less(std::string_view a, std::string_view b) {
  std::string x = strip_zeros(std::string(a)), y = strip_zeros(std::string(b));
  return x.size() != y.size() ? x.size() < y.size() : x < y;
}

// a - b, with a leading '-' when negative.
inline std::string sub(std::string_view a, std::string_view b) {
  check(a);
  check(b);
  if (less(a, b)) return "-" + sub(b, a);
  std::string out;
  int borrow = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int d = (a[a.size() - 1 - i] - '0') - borrow - (i < b.size() ? b[b.size() - 1 - i] - '0' : 0);
    borrow = d < 0;
    out.push_back(static_cast<char>('0' + (d + 10) % 10));
  }
  std::reverse(out.begin(), out.end());
  return strip_zeros(out);
}

inline std::string mul(std::string_view a, std::string_view b) {
  check(a);
  check(b);
  std::string acc(a.size() + b.size(), 0);  // little-endian digit values
  for (size_t i = 0; i < a.size(); ++i) {
    int carry = 0;
    const int da = a[a.size() - 1 - i] - '0';
    size_t j = 0;
    for (; j < b.size() || carry; ++j) {
      int cur = acc[i + j] + carry + (j < b.size() ? da * (b[b.size() - 1 - j] - '0') : 0);
      acc[i + j] = static_cast<char>(cur % 10);
      carry = cur / 10;
    }
  }
  std::string out;
  for (auto it = acc.rbegin(); it != acc.rend(); ++it) out.push_back(static_cast<char>('0' + *it));
  return strip_zeros(out);
}

}  // namespace troupe::envs::decimal
