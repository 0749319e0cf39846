// Answer extraction: pulling the answer out of a model's response.
//
// Two families. Our own tasks (small byte-level policies) answer on the first line:
// the answer is the first line, after its last '#' when there is one (a worked
// solution is "steps#answer"), trimmed of spaces. InternBootcamp-style tasks gate on
// length and "</think>" and then read a marked block ([[...]], \boxed{...}, ```...```)
// from the text. Every function here is pure, allocation-light, linear in the
// response length (no regex: a 1 MiB hostile response must stay cheap) and safe for
// any bytes, including invalid UTF-8.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envs/task.hpp"

namespace troupe::envs {

// Separates a worked solution's steps from its final answer: "3+6=9,...#579".
inline constexpr char kAnswerMark = '#';

// ASCII case mapping, inline: std::tolower/std::toupper are library calls that consult the
// locale, and Python's str.lower() of the ASCII letters the verifiers compare is this.
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }
inline char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }

// Space, tab, CR, LF, VT, FF trimmed from both ends.
std::string_view trim(std::string_view s);

// Our own tasks' rule: the first line, after its last kAnswerMark, trimmed.
std::string_view first_line_answer(std::string_view response);

// Number of Unicode code points as Python's len(str) counts them (continuation
// bytes 0x80-0xBF are not counted; invalid bytes count as one each).
size_t code_points(std::string_view s);

// InternBootcamp's gate before extraction: false when the response is shorter than
// options.short_threshold code points (short_penalty) or lacks "</think>" (format_penalty).
bool passes_gate(std::string_view response, const VerifyOptions& options);

// Whether "</think>" occurs in text (scanned from the end, where it usually is).
bool contains_think_close(std::string_view text);

// The contents of every non-overlapping open...close block, left to right, as
// Python's re.findall(open(.*?)close, flags=DOTALL) finds them.
std::vector<std::string_view> find_blocks(std::string_view text, std::string_view open, std::string_view close);

// Every match of the regex open([class]+)close, left to right, non-overlapping, where
// `in_class` tests one byte -- e.g. \[\[([A-Z]+)\]\]. Linear in the text.
std::vector<std::string_view> find_runs(std::string_view text, std::string_view open, std::string_view close,
                                        bool (*in_class)(char));

// The last / first block, or nullopt. last_block equals find_blocks(...).back() but reads
// the response from its end: it only scans back to the close that precedes the last
// block (see answer.cpp), so a 32 KB reasoning prefix without blocks costs two memchr
// passes at most and usually none.
//
// Whether an occurrence of `a` can share a byte with an occurrence of `b` in some text (then
// reading from the end is not exact and last_block scans forward). constexpr and inline:
// last_block's tags are literals, so the compiler settles this at compile time where it can
// (asked at run time, a dozen comparisons per call were a tenth of a short verify).
constexpr bool tags_can_overlap(std::string_view a, std::string_view b) {
  auto same = [](std::string_view x, size_t from, std::string_view y, size_t n) {
    for (size_t k = 0; k < n; ++k) {
      if (x[from + k] != y[k]) return false;
    }
    return true;
  };
  for (size_t d = 1; d < a.size(); ++d) {  // b starts d bytes into a
    if (same(a, d, b, std::min(a.size() - d, b.size()))) return true;
  }
  for (size_t d = 1; d < b.size(); ++d) {  // a starts d bytes into b
    if (same(b, d, a, std::min(b.size() - d, a.size()))) return true;
  }
  return a == b;
}
// last_block for non-empty tags that cannot overlap: reads from the end (see answer.cpp).
std::optional<std::string_view> last_block_disjoint(std::string_view text, std::string_view open,
                                                    std::string_view close);
// last_block where the tags may overlap (or one is empty): find_blocks' last.
inline std::optional<std::string_view> last_block_forward(std::string_view text, std::string_view open,
                                                          std::string_view close) {
  auto blocks = find_blocks(text, open, close);
  if (blocks.empty()) return std::nullopt;
  return blocks.back();
}
inline std::optional<std::string_view> last_block(std::string_view text, std::string_view open, std::string_view close) {
  if (!open.empty() && !close.empty() && !tags_can_overlap(open, close)) return last_block_disjoint(text, open, close);
  return last_block_forward(text, open, close);
}
// Literal tags with tags_can_overlap settled while compiling: the constructor is consteval,
// so last_block(text, {"[answer]", "[/answer]"}) does no overlap test at run time. (GCC
// inlined the test on string views but did not fold it: ~5% of a short text task's verify.)
struct BlockTags {
  std::string_view open, close;
  bool disjoint;  // both non-empty and unable to overlap
  consteval BlockTags(std::string_view o, std::string_view c)
      : open(o), close(c), disjoint(!o.empty() && !c.empty() && !tags_can_overlap(o, c)) {}
};
inline std::optional<std::string_view> last_block(std::string_view text, const BlockTags& tags) {
  return tags.disjoint ? last_block_disjoint(text, tags.open, tags.close) : last_block_forward(text, tags.open, tags.close);
}

// The last match of re.findall(open(.*?)close) WITHOUT re.DOTALL: a block never spans a
// newline (e.g. InternBootcamp's r'\[\[(.*?)\]\]'). Reads lines from the end.
std::optional<std::string_view> last_block_line(std::string_view text, std::string_view open,
                                                std::string_view close);

// The last match of re.findall(r'```json\s*([\s\S]*?)\s*```'): the fenced block's
// contents without the whitespace around them. Its open and close overlap (both start
// with ```), so it is one forward, memchr-driven scan.
std::optional<std::string_view> last_fenced_json(std::string_view text);

std::optional<std::string_view> first_block(std::string_view text, std::string_view open, std::string_view close);

// The contents of the last \boxed{...} with balanced braces, or nullopt.
std::optional<std::string_view> last_boxed(std::string_view text);

// The text after the last "</think>", or the whole text when there is none.
std::string_view after_think(std::string_view text);

// Parses an optionally signed decimal integer occupying all of `s` (after trim).
// Nullopt when it is not one or does not fit in int64.
std::optional<int64_t> parse_int(std::string_view s);

// Parses text as Python's float() does: surrounding whitespace, an optional sign,
// decimal or exponent notation, "inf"/"infinity"/"nan" in any case. No hex.
std::optional<double> parse_python_float(std::string_view s);

// Python's str.replace(from, to): every non-overlapping occurrence, left to right.
std::string replace_all(std::string s, std::string_view from, std::string_view to);

// The maximal runs of ASCII digits in s, left to right ("12+3" -> "12", "3").
std::vector<std::string_view> digit_runs(std::string_view s);

// Splits on any of `seps`, dropping empty pieces.
std::vector<std::string_view> split_any(std::string_view s, std::string_view seps);

// Whether a and b hold the same values, each as often, in any order (Python's
// sorted(a) == sorted(b)); the sizes are compared before anything is sorted.
template <class T>
bool same_multiset(std::vector<T> a, std::vector<T> b) {
  if (a.size() != b.size()) return false;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// Verdict for "response must equal expected": the common scorer of our own tasks.
Verdict score_exact(std::string_view response, const std::string& expected, const VerifyOptions& options);

}  // namespace troupe::envs
