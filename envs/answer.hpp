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

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envs/task.hpp"

namespace troupe::envs {

// Separates a worked solution's steps from its final answer: "3+6=9,...#579".
inline constexpr char kAnswerMark = '#';

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

// The last / first block, or nullopt.
std::optional<std::string_view> last_block(std::string_view text, std::string_view open, std::string_view close);
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

// Splits on any of `seps`, dropping empty pieces.
std::vector<std::string_view> split_any(std::string_view s, std::string_view seps);

// Verdict for "response must equal expected": the common scorer of our own tasks.
Verdict score_exact(std::string_view response, const std::string& expected, const VerifyOptions& options);

}  // namespace troupe::envs
