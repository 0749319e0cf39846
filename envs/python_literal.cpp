// Recursive descent over Python literal syntax (see python_literal.hpp).
#include "envs/python_literal.hpp"

#include "envs/answer.hpp"

namespace troupe::envs {
namespace {

constexpr int64_t kSaturate = int64_t{1} << 62;

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view s) : s_(s) {}

  std::optional<PyLiteral> parse() {
    // Top level: a single expression, or a bare tuple when a comma follows.
    auto first = value(0);
    if (!first) return std::nullopt;
    skip(0);
    if (pos_ == s_.size()) return first;
    if (s_[pos_] != ',') return std::nullopt;
    PyLiteral tuple;
    tuple.kind = PyLiteral::Kind::kTuple;
    tuple.items.push_back(std::move(*first));
    while (pos_ < s_.size() && s_[pos_] == ',') {
      ++pos_;
      skip(0);
      if (pos_ == s_.size()) break;  // a trailing comma
      auto next = value(0);
      if (!next) return std::nullopt;
      tuple.items.push_back(std::move(*next));
      skip(0);
    }
    if (pos_ != s_.size()) return std::nullopt;
    return tuple;
  }

 private:
  // Skips blanks, comments and continuations; newlines only inside brackets (depth > 0).
  void skip(int depth) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\f') {
        ++pos_;
      } else if ((c == '\n' || c == '\r') && depth > 0) {
        ++pos_;
      } else if (c == '\\' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') {
        pos_ += 2;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  std::optional<PyLiteral> value(int depth) {
    if (depth > kMaxLiteralDepth) return std::nullopt;
    skip(depth);
    if (pos_ >= s_.size()) return std::nullopt;
    const char c = s_[pos_];
    if (c == '(' || c == '[') return sequence(depth, c);
    bool neg = false;
    if (c == '-' || c == '+') {  // literal_eval allows one sign before a number
      neg = c == '-';
      ++pos_;
      skip(depth);
    }
    return integer(neg);
  }

  std::optional<PyLiteral> integer(bool neg) {
    const size_t start = pos_;
    int64_t v = 0;
    bool last_digit = false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        v = std::min(kSaturate, v * 10 + (c - '0'));
        last_digit = true;
      } else if (c == '_' && last_digit && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9') {
        last_digit = false;
      } else {
        break;
      }
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    // Python refuses a leading zero ("07") unless the number is all zeros.
    if (s_[start] == '0' && v != 0) return std::nullopt;
    // A letter or '.' right after the digits is another literal kind (1.5, 1e3, 0x1, 1j).
    if (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return std::nullopt;
    }
    PyLiteral out;
    out.value = neg ? -v : v;
    return out;
  }

  std::optional<PyLiteral> sequence(int depth, char open) {
    const char close = open == '(' ? ')' : ']';
    ++pos_;
    PyLiteral out;
    out.kind = open == '(' ? PyLiteral::Kind::kTuple : PyLiteral::Kind::kList;
    bool comma = false;
    while (true) {
      skip(depth + 1);
      if (pos_ >= s_.size()) return std::nullopt;
      if (s_[pos_] == close) {
        ++pos_;
        break;
      }
      if (!out.items.empty() && !comma) return std::nullopt;  // two values without a comma
      auto item = value(depth + 1);
      if (!item) return std::nullopt;
      out.items.push_back(std::move(*item));
      skip(depth + 1);
      comma = pos_ < s_.size() && s_[pos_] == ',';
      if (comma) {
        ++pos_;
      } else if (pos_ >= s_.size() || s_[pos_] != close) {
        return std::nullopt;
      }
      if (!comma && out.kind == PyLiteral::Kind::kTuple && out.items.size() == 1) {
        // "(x)" is x in parentheses, not a tuple.
        ++pos_;
        return std::move(out.items[0]);
      }
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<PyLiteral> parse_python_literal(std::string_view text) {
  return LiteralParser(python_strip(text)).parse();
}

}  // namespace troupe::envs
