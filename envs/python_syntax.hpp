// Python's text rules that InternBootcamp's verifiers lean on, reimplemented without
// Python: whitespace as str.isspace() sees it (so str.strip() and str.split() agree
// with upstream on Unicode spaces), and ast.literal_eval for the literals a model
// writes in an answer block (numbers, strings, True/False/None, lists, tuples,
// dicts, sets), with Python's equality between them (1 == 1.0 == True).
//
// literal_eval subset, and where it stops (each stop reads as "not a literal", i.e.
// upstream's SyntaxError/ValueError path): complex numbers, integers outside int64,
// \N{...} escapes, f-strings, `set()`, and anything nested deeper than kMaxDepth or
// holding more than kMaxNodes values -- bounds that keep a 1 MiB hostile block cheap.
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
// or 0 when there is none there. REQUIRES: i < s.size()
size_t py_space_len(std::string_view s, size_t i);

// str.strip() with no argument.
std::string_view py_strip(std::string_view s);

// str.split() with no argument: runs of whitespace separate, empty pieces dropped.
std::vector<std::string_view> py_split(std::string_view s);

// str.split(sep) for a one-byte separator: every piece, empty ones included.
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

inline constexpr int kMaxDepth = 100;        // Python's parser gives up near 200 nested brackets
inline constexpr size_t kMaxNodes = 1 << 16;  // far above any grid answer (a 30x30 grid is 931 values)

// ast.literal_eval(text) over the subset above; nullopt where it would raise (or the
// subset stops). Dict keys must be hashable (numbers, strings, bytes, None, tuples of
// those); a repeated key keeps its first position and its last value, as in Python.
std::optional<PyValue> parse_python_literal(std::string_view text);

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
