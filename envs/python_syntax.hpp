// Python's text rules that InternBootcamp's verifiers lean on, reimplemented without
// Python: whitespace as str.isspace() sees it (so str.strip() and str.split() agree
// with upstream on Unicode spaces), and ast.literal_eval for the literals a model
// writes in an answer block (numbers, strings, True/False/None, lists, tuples,
// dicts, sets), with Python's equality between them (1 == 1.0 == True).
//
// literal_eval subset, and where it stops (each stop reads as "not a literal", i.e.
// upstream's SyntaxError/ValueError path): complex numbers, integers outside int64,
// \N{...} escapes, f-strings, `set()`, and anything nested deeper than kLiteralMaxDepth or
// holding more than kLiteralMaxValues values -- bounds that keep a 1 MiB hostile block cheap.
// Everything here is a pure function of its input, linear in its length, and safe
// for any bytes (invalid UTF-8 is never rejected: Python never sees it, so each bad
// byte counts as one non-space character).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::envs {

// str.isspace() for one code point (the Unicode White_Space set plus U+001C..U+001F).
bool py_isspace(uint32_t cp);

// The code point starting at s[i] and its length in bytes; an invalid or truncated
// sequence is one byte, returned as 0xFFFD (never a space).
uint32_t decode_code_point(std::string_view s, size_t i, size_t* len);

// The byte length of the whitespace code point starting at s[i] (regex \s, str.isspace),
// or 0 when there is none there. Inline for the ASCII bytes that make up nearly all text.
// REQUIRES: i < s.size()
size_t py_space_len_multibyte(std::string_view s, size_t i);
inline size_t py_space_len(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) ? 1 : 0;
  return py_space_len_multibyte(s, i);
}

// The byte length of the whitespace code point ending just before s[end], or 0 when none
// does (for scans that read backwards). REQUIRES: end <= s.size()
size_t py_space_before(std::string_view s, size_t end);

// str.strip() with no argument.
std::string_view py_strip(std::string_view s);

// str.split() with no argument, as a range that allocates nothing:
//   for (std::string_view token : PyTokens(line)) ...
// Runs of whitespace separate; empty pieces are dropped.
class PyTokens {
 public:
  explicit PyTokens(std::string_view s) : s_(s) {}
  class iterator {
   public:
    iterator(std::string_view s, size_t pos) : s_(s), start_(pos) { advance(); }
    std::string_view operator*() const { return s_.substr(start_, end_ - start_); }
    iterator& operator++() {
      start_ = end_;
      advance();
      return *this;
    }
    bool operator!=(const iterator& other) const { return start_ != other.start_; }

   private:
    void advance();  // skips whitespace from start_, then sets end_ after the token
    std::string_view s_;
    size_t start_, end_ = 0;
  };
  iterator begin() const { return iterator(s_, 0); }
  iterator end() const { return iterator(s_, s_.size()); }

 private:
  std::string_view s_;
};

// str.split(sep) for a one-byte separator, as a range that allocates nothing: every
// piece, empty ones included ("a,,b" gives "a", "", "b"; "" gives one empty piece).
class PyPieces {
 public:
  PyPieces(std::string_view s, char sep) : s_(s), sep_(sep) {}
  class iterator {
   public:
    iterator(std::string_view s, char sep, size_t pos) : s_(s), sep_(sep), start_(pos) { find_end(); }
    std::string_view operator*() const { return s_.substr(start_, end_ - start_); }
    iterator& operator++() {
      start_ = end_ + 1;
      find_end();
      return *this;
    }
    bool operator!=(const iterator& other) const { return start_ != other.start_; }

   private:
    void find_end() {
      const size_t e = start_ <= s_.size() ? s_.find(sep_, start_) : std::string_view::npos;
      end_ = e == std::string_view::npos ? s_.size() : e;
    }
    std::string_view s_;
    char sep_;
    size_t start_, end_ = 0;
  };
  iterator begin() const { return iterator(s_, sep_, 0); }
  iterator end() const { return iterator(s_, sep_, s_.size() + 1); }  // one past the last piece's end

 private:
  std::string_view s_;
  char sep_;
};

// The same, collected (for callers that index the pieces).
std::vector<std::string_view> py_split(std::string_view s);
std::vector<std::string_view> py_split_on(std::string_view s, char sep);

// str.strip(chars) for ASCII `chars`.
std::string_view py_strip_chars(std::string_view s, std::string_view chars);

// int(s) for the forms a model writes: surrounding whitespace, an optional sign, ASCII
// digits (leading zeros allowed). Nullopt where int() raises or the value leaves int64.
std::optional<int64_t> py_int(std::string_view s);

// A value ast.literal_eval returns.
struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict, kSet };
  Kind kind = Kind::kNone;
  int64_t i = 0;         // kBool (0/1) and kInt
  double f = 0.0;        // kFloat
  std::string s;         // kStr (UTF-8) and kBytes
  std::vector<PyValue> items;  // kList, kTuple, kSet; kDict: key, value, key, value ... (keys unique)

  bool is_number() const { return kind == Kind::kBool || kind == Kind::kInt || kind == Kind::kFloat; }
  bool is_sequence() const { return kind == Kind::kList || kind == Kind::kTuple; }
  size_t dict_size() const { return items.size() / 2; }
  const PyValue& dict_key(size_t k) const { return items[2 * k]; }
  const PyValue& dict_value(size_t k) const { return items[2 * k + 1]; }
};

inline constexpr int kLiteralMaxDepth = 100;        // Python's parser gives up near 200 nested brackets
inline constexpr size_t kLiteralMaxValues = 1 << 16;  // far above any grid answer (a 30x30 grid is 931 values)

// ast.literal_eval(text) over the subset above; nullopt where it would raise (or the
// subset stops). Dict keys must be hashable (numbers, strings, bytes, None, tuples of
// those); a repeated key keeps its first position and its last value, as in Python.
std::optional<PyValue> py_literal_eval(std::string_view text);

// ast.literal_eval(text) of the plainest grid answer, a list of lists of decimal integers
// ("[[1, 2], [3, -4]]"), read into one flat array: no PyValue per number, no vector per row.
// Grid answers are nearly always of this form, and building the tree was a third of a grid
// verify. Nullopt when text is not exactly of that form (a tuple, a float, a comment, "+1",
// "01", a trailing text ...): that says nothing about literal_eval, so the caller then
// reads text with py_literal_eval. When this returns rows, py_literal_eval(text) returns the
// same numbers as a kList of kList of kInt (the differential and unit tests check that).
struct PyIntRows {
  std::vector<int64_t> values;   // row after row
  std::vector<size_t> row_sizes;  // one per row, in order
};
std::optional<PyIntRows> py_plain_int_rows(std::string_view text);

// Python's ==: numbers compare by value across bool/int/float; list != tuple;
// dicts and sets compare as unordered collections.
bool py_equal(const PyValue& a, const PyValue& b);

// The number as a double (bool, int, float), else nullopt.
std::optional<double> py_number(const PyValue& v);
// An int or bool, else nullopt (what list indexing accepts).
std::optional<int64_t> py_index(const PyValue& v);
// An int, bool or float with an integral value, else nullopt (what equality with an
// int accepts: (0.0, 1) == (0, 1) in Python).
std::optional<int64_t> py_integral(const PyValue& v);

}  // namespace troupe::envs
