// Python text rules and the literal_eval subset (see python_syntax.hpp). The literal
// parser is a recursive descent over bytes, following CPython's tokenizer for the
// pieces it reads (number forms, string prefixes and escapes, implicit line joining
// inside brackets, comments, backslash continuation) and ast.literal_eval for which
// expressions count as literals (a sign only directly on a number).
#include "envs/python_syntax.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <algorithm>
#include <cstring>

namespace troupe::envs {

bool py_isspace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t decode_code_point(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *len = 1;
  if (c < 0x80) return c;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0xFFFD;
  }
  if (i + n > s.size()) return 0xFFFD;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms and values past U+10FFFF are invalid UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0xFFFD;
  *len = n;
  return cp;
}

size_t py_space_len_multibyte(std::string_view s, size_t i) {
  size_t len = 1;
  return py_isspace(decode_code_point(s, i, &len)) ? len : 0;
}

size_t py_space_before(std::string_view s, size_t end) {
  for (size_t n = 1; n <= 3 && n <= end; ++n) {  // U+0085..U+3000 are 2 or 3 bytes in UTF-8
    if (py_space_len(s, end - n) == n) return n;
  }
  return 0;
}

std::string_view py_strip(std::string_view s) {
  // Nearly every string handed here starts and ends with a printable ASCII byte: nothing to
  // strip (a multi-byte space would need a byte >= 0x80 at that end).
  if (s.empty()) return s;
  const auto front = static_cast<unsigned char>(s.front()), back = static_cast<unsigned char>(s.back());
  if (front > 0x20 && front < 0x80 && back > 0x20 && back < 0x80) return s;
  size_t a = 0, n = 0;
  while (a < s.size() && (n = py_space_len(s, a)) > 0) a += n;
  size_t e = s.size();
  while (e > a && (n = py_space_before(s, e)) > 0) e -= n;
  return s.substr(a, e - a);
}

void PyTokens::iterator::advance() {
  while (start_ < s_.size()) {
    const size_t n = py_space_len(s_, start_);
    if (n == 0) break;
    start_ += n;
  }
  end_ = start_;
  while (end_ < s_.size()) {
    const auto c = static_cast<unsigned char>(s_[end_]);
    if (c > 0x20 && c < 0x80) {  // printable ASCII: part of the token, the common case
      ++end_;
      continue;
    }
    if (py_space_len(s_, end_) != 0) break;
    size_t len = 1;
    if (c >= 0x80) decode_code_point(s_, end_, &len);
    end_ += len;
  }
}

std::vector<std::string_view> py_split(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto token : PyTokens(s)) out.push_back(token);
  return out;
}

std::vector<std::string_view> py_split_on(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (auto piece : PyPieces(s, sep)) out.push_back(piece);
  return out;
}

std::string_view py_strip_chars(std::string_view s, std::string_view chars) {
  const size_t a = s.find_first_not_of(chars);
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(chars) - a + 1);
}

std::optional<int64_t> py_int(std::string_view s) {
  s = py_strip(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  // digit (_? digit)*: int() takes single underscores between digits, as literals do.
  if (s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
  uint64_t v = 0;
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[k];
    if (c == '_') {
      if (s[k - 1] == '_') return std::nullopt;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (kLimit - static_cast<uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

namespace {

using Kind = PyValue::Kind;

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);  // boost-style combine
  return h * 0xBF58476D1CE4E5B9ull;
}

// A hash consistent with Python's == (1, 1.0 and True hash alike; list != tuple); nullopt
// for unhashable values (list, dict, set), whose use as a key or set member is a TypeError.
std::optional<uint64_t> py_hash(const PyValue& v) {
  switch (v.kind) {
    case Kind::kNone:
      return 0x4E6F6E65ull;
    case Kind::kBool:
    case Kind::kInt:
      return mix(1, static_cast<uint64_t>(v.i));
    case Kind::kFloat: {
      if (v.f == std::trunc(v.f) && std::fabs(v.f) < 9.2e18) return mix(1, static_cast<uint64_t>(static_cast<int64_t>(v.f)));
      uint64_t bits = 0;
      std::memcpy(&bits, &v.f, sizeof(bits));
      return mix(2, bits);
    }
    case Kind::kStr:
    case Kind::kBytes: {
      uint64_t h = v.kind == Kind::kStr ? 3 : 4;
      for (unsigned char c : v.s) h = (h ^ c) * 0x100000001b3ull;  // FNV-1a
      return mix(h, v.s.size());
    }
    case Kind::kTuple: {
      uint64_t h = 5;
      for (const auto& item : v.items) {
        auto k = py_hash(item);
        if (!k) return std::nullopt;
        h = mix(h, *k);
      }
      return h;
    }
    default:
      return std::nullopt;
  }
}

// One distinct member of a set or dict: its hash, the index of its first occurrence in
// items and of its last (whose value a dict display keeps).
struct Member {
  uint64_t hash;
  size_t first, last;
};

// The distinct members of v (its items, or a dict's keys), sorted by hash; nullopt when a
// member is unhashable. Members are compared with py_equal only within equal hashes.
std::optional<std::vector<Member>> distinct_members(const PyValue& v) {
  const size_t step = v.kind == Kind::kDict ? 2 : 1;
  std::vector<std::pair<uint64_t, size_t>> h;
  for (size_t k = 0; k < v.items.size(); k += step) {
    auto x = py_hash(v.items[k]);
    if (!x) return std::nullopt;
    h.push_back({*x, k});
  }
  std::stable_sort(h.begin(), h.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Member> out;
  for (size_t i = 0; i < h.size();) {
    size_t j = i;
    while (j < h.size() && h[j].first == h[i].first) ++j;
    const size_t run_start = out.size();
    for (size_t k = i; k < j; ++k) {  // in source order within the run
      bool seen = false;
      for (size_t m = run_start; m < out.size() && !seen; ++m) {
        if (py_equal(v.items[out[m].first], v.items[h[k].second])) seen = true, out[m].last = h[k].second;
      }
      if (!seen) out.push_back({h[k].first, h[k].second, h[k].second});
    }
    i = j;
  }
  return out;
}

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : t_(text) {}

  std::optional<PyValue> parse() {
    skip_space();
    if (at_end()) return std::nullopt;
    // eval mode: an expression list; "1, 2" is a tuple, "1," too.
    bool constant = false;
    auto first = expr(&constant);
    if (!first) return std::nullopt;
    skip_space();
    PyValue out;
    if (peek() == ',') {
      out.kind = Kind::kTuple;
      out.items.push_back(std::move(*first));
      while (peek() == ',') {
        ++p_;
        skip_space();
        if (at_end()) break;
        auto next = expr(&constant);
        if (!next) return std::nullopt;
        out.items.push_back(std::move(*next));
        skip_space();
      }
    } else {
      out = std::move(*first);
    }
    skip_space();
    if (!at_end()) return std::nullopt;
    return out;
  }

 private:
  bool at_end() const { return p_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[p_]; }

  // Spaces, tabs, form feeds, comments and backslash continuations; newlines too
  // inside brackets (implicit line joining) and trailing at the top level.
  void skip_space() {
    while (!at_end()) {
      const char c = t_[p_];
      if (c == ' ' || c == '\t' || c == '\f') {
        ++p_;
      } else if (c == '#') {
        while (!at_end() && t_[p_] != '\n' && t_[p_] != '\r') ++p_;
      } else if (c == '\\' && p_ + 1 < t_.size() && (t_[p_ + 1] == '\n' || t_[p_ + 1] == '\r')) {
        p_ += 2;
        if (t_[p_ - 1] == '\r' && peek() == '\n') ++p_;
      } else if (c == '\n' || c == '\r') {
        if (depth_ > 0 || !started_) {  // inside brackets, or blank and comment lines before the expression
          ++p_;
          continue;
        }
        // A newline outside brackets ends the expression: only blank lines and comments may follow.
        size_t q = p_;
        while (q < t_.size()) {
          const char d = t_[q];
          if (d == ' ' || d == '\t' || d == '\f' || d == '\n' || d == '\r') {
            ++q;
          } else if (d == '#') {
            while (q < t_.size() && t_[q] != '\n' && t_[q] != '\r') ++q;
          } else {
            return;  // more text after the line break: the caller finds no valid continuation
          }
        }
        p_ = q;
      } else {
        return;
      }
    }
  }

  bool count_node() {
    started_ = true;
    return ++nodes_ <= kLiteralMaxValues;
  }

  // An expression literal_eval accepts: an atom, or a sign directly on a numeric
  // constant (parentheses around the constant allowed, nothing else). `constant` is
  // set when the value is a bare numeric constant, which a sign may apply to.
  std::optional<PyValue> expr(bool* constant) {
    skip_space();
    const char c = peek();
    if (c == '+' || c == '-') {
      ++p_;
      started_ = true;
      bool inner_constant = false;
      auto v = atom(&inner_constant);
      if (!v || !inner_constant) return std::nullopt;
      if (c == '-') {
        if (v->kind == Kind::kInt) {
          if (v->i == std::numeric_limits<int64_t>::min()) return std::nullopt;
          v->i = -v->i;
        } else {
          v->f = -v->f;
        }
      }
      *constant = false;  // -(-1) is a UnaryOp on a UnaryOp: malformed
      return v;
    }
    return atom(constant);
  }

  std::optional<PyValue> atom(bool* constant) {
    skip_space();
    *constant = false;
    if (at_end() || !count_node()) return std::nullopt;
    const char c = t_[p_];
    if (c == '(' || c == '[' || c == '{') {
      if (++depth_ > kLiteralMaxDepth) return std::nullopt;
      auto v = c == '(' ? paren(constant) : (c == '[' ? list() : brace());
      --depth_;
      return v;
    }
    if (c == '"' || c == '\'') return strings();
    if (is_digit(c) || (c == '.' && p_ + 1 < t_.size() && is_digit(t_[p_ + 1]))) {
      *constant = true;
      return number();
    }
    if (is_ident_start(c)) {
      const size_t start = p_;
      while (!at_end() && is_ident_char(t_[p_])) ++p_;
      const std::string_view word = t_.substr(start, p_ - start);
      if (!at_end() && (t_[p_] == '\'' || t_[p_] == '"')) {
        p_ = start;
        return strings();  // a prefixed string: r'..', b"..", ...
      }
      PyValue v;
      if (word == "True" || word == "False") {
        v.kind = Kind::kBool;
        v.i = word == "True";
        return v;
      }
      if (word == "None") return v;
      return std::nullopt;
    }
    return std::nullopt;
  }

  // After '(': the empty tuple, a parenthesised value, or a tuple.
  std::optional<PyValue> paren(bool* constant) {
    ++p_;
    skip_space();
    PyValue out;
    out.kind = Kind::kTuple;
    if (peek() == ')') {
      ++p_;
      return out;
    }
    bool inner_constant = false;
    auto first = expr(&inner_constant);
    if (!first) return std::nullopt;
    skip_space();
    if (peek() == ')') {
      ++p_;
      *constant = inner_constant;
      return first;
    }
    out.items.reserve(4);  // room for the pairs and triples answers are made of: one allocation
    out.items.push_back(std::move(*first));
    if (!sequence_tail(out, ')')) return std::nullopt;
    return out;
  }

  // The rest of a comma-separated sequence after its first item, up to `close`.
  bool sequence_tail(PyValue& out, char close) {
    while (true) {
      skip_space();
      if (peek() == close) {
        ++p_;
        return true;
      }
      if (peek() != ',') return false;
      ++p_;
      skip_space();
      if (peek() == close) {
        ++p_;
        return true;
      }
      bool constant = false;
      auto v = expr(&constant);
      if (!v) return false;
      out.items.push_back(std::move(*v));
    }
  }

  std::optional<PyValue> list() {
    ++p_;
    PyValue out;
    out.kind = Kind::kList;
    skip_space();
    if (peek() == ']') {
      ++p_;
      return out;
    }
    bool constant = false;
    auto first = expr(&constant);
    if (!first) return std::nullopt;
    out.items.reserve(8);  // a grid row: one allocation instead of growing 1, 2, 4, 8
    out.items.push_back(std::move(*first));
    if (!sequence_tail(out, ']')) return std::nullopt;
    return out;
  }

  std::optional<PyValue> brace() {
    ++p_;
    PyValue out;
    out.kind = Kind::kDict;
    skip_space();
    if (peek() == '}') {
      ++p_;
      return out;
    }
    bool constant = false;
    auto first = expr(&constant);
    if (!first) return std::nullopt;
    skip_space();
    if (peek() != ':') {
      out.kind = Kind::kSet;
      out.items.push_back(std::move(*first));
      if (!sequence_tail(out, '}')) return std::nullopt;
      for (const auto& item : out.items) {
        if (!py_hash(item)) return std::nullopt;  // unhashable: TypeError
      }
      return out;
    }
    PyValue key = std::move(*first);
    while (true) {
      ++p_;  // ':'
      auto value = expr(&constant);
      if (!value) return std::nullopt;
      out.items.push_back(std::move(key));
      out.items.push_back(std::move(*value));
      skip_space();
      if (peek() == '}') {
        ++p_;
        return dedupe_keys(std::move(out));
      }
      if (peek() != ',') return std::nullopt;
      ++p_;
      skip_space();
      if (peek() == '}') {
        ++p_;
        return dedupe_keys(std::move(out));
      }
      auto next = expr(&constant);
      if (!next) return std::nullopt;
      key = std::move(*next);
      skip_space();
      if (peek() != ':') return std::nullopt;
    }
  }

  // A dict display with its repeated keys folded: first position, last value.
  static std::optional<PyValue> dedupe_keys(PyValue d) {
    auto members = distinct_members(d);
    if (!members) return std::nullopt;  // unhashable key: TypeError
    if (members->size() * 2 == d.items.size()) return d;
    std::sort(members->begin(), members->end(), [](const Member& a, const Member& b) { return a.first < b.first; });
    PyValue out;
    out.kind = Kind::kDict;
    for (const Member& m : *members) {
      out.items.push_back(std::move(d.items[m.first]));
      out.items.push_back(std::move(d.items[m.last + 1]));
    }
    return out;
  }

  // A number token: decimal/hex/octal/binary integers and floats, with single
  // underscores between digits. Integers outside int64 and imaginary numbers stop.
  std::optional<PyValue> number() {
    const size_t start = p_;
    // Maximal munch over the characters a number token can hold; the grammar check follows.
    while (!at_end()) {
      const char c = t_[p_];
      if (is_ident_char(c) || c == '.') {
        ++p_;
      } else if ((c == '+' || c == '-') && (t_[p_ - 1] == 'e' || t_[p_ - 1] == 'E') &&
                 !(t_.size() > start + 1 && t_[start] == '0' && (t_[start + 1] == 'x' || t_[start + 1] == 'X'))) {
        ++p_;
      } else {
        break;
      }
    }
    const std::string_view tok = t_.substr(start, p_ - start);
    PyValue v;
    // The common case, a plain decimal integer of at most 18 digits (it fits in int64): read
    // at once. "0" is one; a longer token with a leading 0 takes the full path below.
    if (tok.size() <= 18 && (tok[0] != '0' || tok.size() == 1)) {
      int64_t value = 0;
      size_t k = 0;
      while (k < tok.size() && is_digit(tok[k])) value = value * 10 + (tok[k++] - '0');
      if (k == tok.size()) {
        v.kind = Kind::kInt;
        v.i = value;
        return v;
      }
    }
    if (tok.size() > 2 && tok[0] == '0' && std::string_view("xXoObB").find(tok[1]) != std::string_view::npos) {
      const int base = (tok[1] == 'x' || tok[1] == 'X') ? 16 : ((tok[1] == 'o' || tok[1] == 'O') ? 8 : 2);
      uint64_t value = 0;
      bool digit_before = false;
      for (size_t k = 2; k < tok.size(); ++k) {
        if (tok[k] == '_') {
          if (k + 1 == tok.size() || tok[k + 1] == '_') return std::nullopt;  // '0x_1' is fine, '0x1_' is not
          continue;
        }
        const int d = hex_value(tok[k]);
        if (d < 0 || d >= base) return std::nullopt;
        if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - static_cast<uint64_t>(d)) /
                        static_cast<uint64_t>(base)) {
          return std::nullopt;
        }
        value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
        digit_before = true;
      }
      if (!digit_before) return std::nullopt;
      v.kind = Kind::kInt;
      v.i = static_cast<int64_t>(value);
      return v;
    }
    // Decimal: check digit groups (digit (_? digit)*), at most one '.', an optional exponent.
    std::string clean;
    size_t k = 0;
    auto digit_part = [&](bool required) {
      const size_t before = k;
      while (k < tok.size() && is_digit(tok[k])) {
        clean.push_back(tok[k++]);
        if (k + 1 < tok.size() && tok[k] == '_' && is_digit(tok[k + 1])) ++k;
      }
      return !required || k > before;
    };
    const bool int_digits = k < tok.size() && is_digit(tok[k]);
    digit_part(false);
    bool is_float = false;
    if (k < tok.size() && tok[k] == '.') {
      is_float = true;
      clean.push_back(tok[k++]);
      digit_part(false);
    }
    if (k < tok.size() && (tok[k] == 'e' || tok[k] == 'E')) {
      is_float = true;
      clean.push_back('e');
      ++k;
      if (k < tok.size() && (tok[k] == '+' || tok[k] == '-')) clean.push_back(tok[k++]);
      if (!digit_part(true)) return std::nullopt;
    }
    if (k != tok.size()) return std::nullopt;  // 'j', stray letters or underscores, a second '.'
    if (!is_float) {
      // Decimal integers may not start with 0 unless they are all zeros ("00" is fine, "01" not).
      if (clean.size() > 1 && clean[0] == '0' && clean.find_first_not_of('0') != std::string::npos) {
        return std::nullopt;
      }
      v.kind = Kind::kInt;
      auto [end, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), v.i);
      if (ec != std::errc() || end != clean.data() + clean.size()) return std::nullopt;
      return v;
    }
    if (!int_digits && clean.size() < 2) return std::nullopt;
    v.kind = Kind::kFloat;
    auto [end, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), v.f);
    if (end != clean.data() + clean.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range) {
      // A float literal past the range is inf in Python, one below it 0.0.
      const size_t e = clean.find('e');
      v.f = e != std::string::npos && clean[e + 1] == '-' ? 0.0 : std::numeric_limits<double>::infinity();
    } else if (ec != std::errc()) {
      return std::nullopt;
    }
    return v;
  }

  // One or more adjacent string literals, concatenated (str with str, bytes with bytes).
  std::optional<PyValue> strings() {
    PyValue out;
    bool first = true;
    while (true) {
      skip_space();
      const size_t start = p_;
      while (!at_end() && is_ident_char(t_[p_])) ++p_;
      std::string prefix(t_.substr(start, p_ - start));
      if (at_end() || (t_[p_] != '\'' && t_[p_] != '"')) {
        if (first) return std::nullopt;
        p_ = start;
        return out;
      }
      bool raw = false, bytes = false;
      for (char& ch : prefix) {
        ch = static_cast<char>(ch | 0x20);  // lower-case
        if (ch == 'r') {
          if (raw) return std::nullopt;
          raw = true;
        } else if (ch == 'b') {
          if (bytes) return std::nullopt;
          bytes = true;
        } else if (ch != 'u' || prefix.size() != 1) {
          return std::nullopt;  // f-strings, 'ur', unknown prefixes
        }
      }
      const Kind kind = bytes ? Kind::kBytes : Kind::kStr;
      if (!first && kind != out.kind) return std::nullopt;  // b'' '' mixes bytes and str
      out.kind = kind;
      first = false;
      if (!string_body(raw, bytes, out.s)) return std::nullopt;
    }
  }

  // After the prefix: the quoted body, decoded into `out`.
  bool string_body(bool raw, bool bytes, std::string& out) {
    const char q = t_[p_];
    const bool triple = p_ + 2 < t_.size() && t_[p_ + 1] == q && t_[p_ + 2] == q;
    p_ += triple ? 3 : 1;
    while (true) {
      if (at_end()) return false;
      const char c = t_[p_];
      if (c == q && (!triple || (p_ + 2 < t_.size() && t_[p_ + 1] == q && t_[p_ + 2] == q))) {
        p_ += triple ? 3 : 1;
        return true;
      }
      if ((c == '\n' || c == '\r') && !triple) return false;
      if (bytes && static_cast<unsigned char>(c) >= 0x80) return false;  // bytes literals are ASCII
      if (c != '\\') {
        out.push_back(c);
        ++p_;
        continue;
      }
      if (p_ + 1 >= t_.size()) return false;
      const char e = t_[p_ + 1];
      if (raw) {  // the backslash stays; it only keeps the next quote from ending the string
        out.push_back('\\');
        out.push_back(e);
        p_ += 2;
        continue;
      }
      p_ += 2;
      switch (e) {
        case '\n': break;  // line continuation inside the string
        case '\r':
          if (peek() == '\n') ++p_;
          break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': {
          if (p_ + 2 > t_.size() || hex_value(t_[p_]) < 0 || hex_value(t_[p_ + 1]) < 0) return false;
          const uint32_t v = static_cast<uint32_t>(hex_value(t_[p_]) * 16 + hex_value(t_[p_ + 1]));
          p_ += 2;
          if (bytes) {
            out.push_back(static_cast<char>(v));
          } else {
            append_utf8(out, v);
          }
          break;
        }
        case 'u':
        case 'U': {
          if (bytes) {  // not an escape in bytes: kept as written
            out.push_back('\\');
            out.push_back(e);
            break;
          }
          const size_t n = e == 'u' ? 4 : 8;
          uint32_t v = 0;
          for (size_t k = 0; k < n; ++k) {
            if (at_end() || hex_value(t_[p_]) < 0) return false;
            v = v * 16 + static_cast<uint32_t>(hex_value(t_[p_++]));
          }
          if (v > 0x10FFFF) return false;
          append_utf8(out, v);
          break;
        }
        case 'N':
          if (!bytes) return false;  // \N{name} needs the Unicode name table: outside the subset
          out.push_back('\\');
          out.push_back('N');
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && !at_end() && t_[p_] >= '0' && t_[p_] <= '7'; ++k) {
              v = v * 8 + static_cast<uint32_t>(t_[p_++] - '0');
            }
            if (bytes) {
              out.push_back(static_cast<char>(v & 0xFF));
            } else {
              append_utf8(out, v);
            }
          } else {
            out.push_back('\\');  // unknown escapes keep their backslash
            out.push_back(e);
          }
      }
    }
  }

  std::string_view t_;
  size_t p_ = 0;
  int depth_ = 0;
  size_t nodes_ = 0;
  bool started_ = false;  // a token has been read: from then on a newline outside brackets ends the expression
};

}  // namespace

std::optional<PyValue> py_literal_eval(std::string_view text) {
  // literal_eval strips leading spaces and tabs before parsing (an indented line would
  // otherwise be an IndentationError).
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return LiteralParser(text).parse();
}

std::optional<PyIntRows> py_plain_int_rows(std::string_view text) {
  // The whitespace the literal parser skips inside brackets; a comment or a backslash
  // continuation sends the text to it instead.
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  size_t p = 0;
  auto skip = [&] {
    while (p < text.size() && space(text[p])) ++p;
  };
  // After an item: a comma (and the space after it), or the list's ']' next; false otherwise.
  auto separator = [&] {
    skip();
    if (p < text.size() && text[p] == ',') {
      ++p;
      skip();
      return true;
    }
    return p == text.size() || text[p] == ']';
  };
  while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;  // as py_literal_eval strips
  if (p == text.size() || text[p] != '[') return std::nullopt;
  ++p;
  PyIntRows out;
  size_t nodes = 1;  // the literal parser's count: the outer list, each row, each number
  skip();
  while (p < text.size() && text[p] != ']') {
    if (text[p] != '[') return std::nullopt;
    ++p;
    size_t row = 0;
    skip();
    while (p < text.size() && text[p] != ']') {
      const bool neg = text[p] == '-';
      if (neg) ++p;
      const size_t start = p;
      int64_t v = 0;
      while (p < text.size() && is_digit(text[p]) && p - start < 18) v = v * 10 + (text[p++] - '0');
      // The token must end here (not "12a", "1.5", "1_0", a 19th digit) and be 0 or start
      // with 1-9 ("01" is a syntax error, "00" is not: both are the parser's to decide).
      if (p == start || (p < text.size() && (is_ident_char(text[p]) || text[p] == '.')) ||
          (text[start] == '0' && p - start > 1)) {
        return std::nullopt;
      }
      out.values.push_back(neg ? -v : v);
      ++row;
      if (!separator()) return std::nullopt;
    }
    if (p == text.size()) return std::nullopt;
    ++p;  // the row's ']'
    out.row_sizes.push_back(row);
    nodes += 1 + row;
    if (nodes > kLiteralMaxValues) return std::nullopt;  // where the parser gives up
    if (!separator()) return std::nullopt;
  }
  if (p == text.size()) return std::nullopt;
  ++p;  // the outer ']'
  if (p != text.size()) return std::nullopt;  // anything after it: the parser decides
  return out;
}

std::optional<double> py_number(const PyValue& v) {
  if (v.kind == Kind::kBool || v.kind == Kind::kInt) return static_cast<double>(v.i);
  if (v.kind == Kind::kFloat) return v.f;
  return std::nullopt;
}

std::optional<int64_t> py_index(const PyValue& v) {
  if (v.kind == Kind::kBool || v.kind == Kind::kInt) return v.i;
  return std::nullopt;
}

std::optional<int64_t> py_integral(const PyValue& v) {
  if (v.kind == Kind::kFloat) {
    if (!std::isfinite(v.f) || v.f != std::trunc(v.f) || std::fabs(v.f) >= 9.2e18) return std::nullopt;
    return static_cast<int64_t>(v.f);
  }
  return py_index(v);
}

bool py_equal(const PyValue& a, const PyValue& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind != Kind::kFloat && b.kind != Kind::kFloat) return a.i == b.i;
    return *py_number(a) == *py_number(b);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kNone:
      return true;
    case Kind::kStr:
    case Kind::kBytes:
      return a.s == b.s;
    case Kind::kList:
    case Kind::kTuple:
      if (a.items.size() != b.items.size()) return false;
      for (size_t k = 0; k < a.items.size(); ++k) {
        if (!py_equal(a.items[k], b.items[k])) return false;
      }
      return true;
    case Kind::kSet:
    case Kind::kDict: {
      // Unordered: the distinct members must match one to one (and, for dicts, their values).
      auto ma = distinct_members(a), mb = distinct_members(b);
      if (!ma || !mb || ma->size() != mb->size()) return false;
      for (const Member& x : *ma) {
        auto it = std::lower_bound(mb->begin(), mb->end(), x.hash, [](const Member& m, uint64_t h) { return m.hash < h; });
        bool found = false;
        for (; it != mb->end() && it->hash == x.hash && !found; ++it) {
          if (!py_equal(a.items[x.first], b.items[it->first])) continue;
          if (a.kind == Kind::kDict && !py_equal(a.items[x.last + 1], b.items[it->last + 1])) return false;
          found = true;
        }
        if (!found) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace troupe::envs
