// Answer extraction (see answer.hpp). All scanning is linear: no backtracking regex.
#include "envs/answer.hpp"

#include <cctype>
#include <cstring>
#include <charconv>
#include <limits>

namespace troupe::envs {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view first_line_answer(std::string_view response) {
  std::string_view line = response.substr(0, response.find('\n'));
  size_t mark = line.rfind(kAnswerMark);
  if (mark != std::string_view::npos) line.remove_prefix(mark + 1);
  return trim(line);
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool passes_gate(std::string_view response, const VerifyOptions& options) {
  // Cheap byte bound first: a code point is at most 4 bytes.
  if (options.short_penalty && response.size() < 4 * options.short_threshold &&
      code_points(response) < options.short_threshold) {
    return false;
  }
  if (options.format_penalty && !contains_think_close(response)) return false;
  return true;
}

bool contains_think_close(std::string_view text) {
  // Searched from the end: in real responses "</think>" sits just before the answer, after
  // kilobytes of reasoning, so a backward scan for its last byte finds it almost at once.
  constexpr std::string_view kClose = "</think>";
  size_t n = text.size();
  while (n >= kClose.size()) {
    const void* p = memrchr(text.data(), '>', n);
    if (p == nullptr) return false;
    const size_t at = static_cast<size_t>(static_cast<const char*>(p) - text.data());
    if (at + 1 >= kClose.size() && text.substr(at + 1 - kClose.size(), kClose.size()) == kClose) return true;
    n = at;
  }
  return false;
}

std::vector<std::string_view> find_blocks(std::string_view text, std::string_view open, std::string_view close) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t a = text.find(open, pos);
    if (a == std::string_view::npos) break;
    size_t b = text.find(close, a + open.size());
    if (b == std::string_view::npos) break;
    out.push_back(text.substr(a + open.size(), b - a - open.size()));
    pos = b + close.size();
  }
  return out;
}

std::vector<std::string_view> find_runs(std::string_view text, std::string_view open, std::string_view close,
                                        bool (*in_class)(char)) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t a = text.find(open, pos);
    if (a == std::string_view::npos) break;
    size_t j = a + open.size();
    while (j < text.size() && in_class(text[j])) ++j;
    if (j > a + open.size() && text.substr(j, close.size()) == close) {
      out.push_back(text.substr(a + open.size(), j - a - open.size()));
      pos = j + close.size();
    } else {
      // No match starting at a; the class run [a+open, j) holds no `open` when open starts outside
      // the class, so resuming at a+1 stays linear overall.
      pos = a + 1;
    }
  }
  return out;
}

std::optional<std::string_view> last_block(std::string_view text, std::string_view open, std::string_view close) {
  // The last block of re.findall is the last match of the left-to-right scan; find_blocks is linear.
  auto blocks = find_blocks(text, open, close);
  if (blocks.empty()) return std::nullopt;
  return blocks.back();
}

std::optional<std::string_view> first_block(std::string_view text, std::string_view open, std::string_view close) {
  size_t a = text.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = text.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  return text.substr(a + open.size(), b - a - open.size());
}

std::optional<std::string_view> last_boxed(std::string_view text) {
  constexpr std::string_view kBoxed = "\\boxed{";
  size_t start = text.rfind(kBoxed);
  if (start == std::string_view::npos) return std::nullopt;
  size_t i = start + kBoxed.size();
  int depth = 1;
  for (size_t j = i; j < text.size(); ++j) {
    if (text[j] == '{') ++depth;
    if (text[j] == '}' && --depth == 0) return text.substr(i, j - i);
  }
  return std::nullopt;
}

std::string_view after_think(std::string_view text) {
  constexpr std::string_view kClose = "</think>";
  size_t p = text.rfind(kClose);
  return p == std::string_view::npos ? text : text.substr(p + kClose.size());
}

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit after the overflow check below
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

std::optional<double> parse_python_float(std::string_view s) {
  s = trim(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 400) return std::nullopt;  // longer than any float Python would print
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "inf" || lower == "infinity") return neg ? -std::numeric_limits<double>::infinity()
                                                        : std::numeric_limits<double>::infinity();
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  // from_chars accepts "inf"/"nan" too but never hex under chars_format::general.
  if (!std::isdigit(static_cast<unsigned char>(s[0])) && s[0] != '.') return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Python gives inf for overflow and 0 for underflow; tell them apart by the exponent's sign.
    v = lower.find("e-") != std::string::npos ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

std::vector<std::string_view> split_any(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find_first_of(seps, i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Verdict score_exact(std::string_view response, const std::string& expected, const VerifyOptions& options) {
  Verdict v;
  std::string_view got = first_line_answer(response);
  v.extracted = !got.empty();
  v.extracted_answer = std::string(got.substr(0, 256));  // a hostile 1 MiB line is not echoed back whole
  v.score = got == expected ? 1.0 : (v.extracted ? options.format_score : 0.0);
  return v;
}

}  // namespace troupe::envs
