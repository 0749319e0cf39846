// Answer extraction (see answer.hpp). All scanning is linear: no backtracking regex.
#include "envs/answer.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>

#include "envs/python_syntax.hpp"

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

namespace {

// The number of UTF-8 continuation bytes (10xxxxxx) among the eight bytes of x, without a
// popcount instruction (the build targets baseline x86-64, where __builtin_popcountll is a
// library call): each continuation byte leaves one bit (its bit 7) set in m; shifting
// those bits to bit 0 of their byte and multiplying by 0x01..01 sums the eight bytes into
// the top byte (the sum is at most 8, so no byte carries).
inline size_t continuation_bytes8(const char* p) {
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t m = (x & kHigh & ~(x << 1)) >> 7;
  return static_cast<size_t>((m * 0x0101010101010101ull) >> 56);
}

// Whether s holds at least n code points, reading only as far as needed: ordinary
// responses settle within their first n or so bytes.
bool has_code_points(std::string_view s, size_t n) {
  if (s.size() < n) return false;
  // A code point is 1-4 bytes, so 4n bytes hold n of them -- unless the text is not UTF-8
  // (stray continuation bytes count zero); the gate has always let such 4n-byte text pass.
  if (s.size() / 4 >= n) return true;
  // The first n bytes all ASCII: n code points already. One OR over them, eight bytes at a
  // time, settles nearly every response before the counting loop below.
  uint64_t any_high = 0;
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + k, 8);
    any_high |= x;
  }
  for (; k < n; ++k) any_high |= static_cast<unsigned char>(s[k]);
  if ((any_high & 0x8080808080808080ull) == 0) return true;
  size_t cont = 0, i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if (x & 0x8080808080808080ull) cont += continuation_bytes8(s.data() + i);  // ASCII words hold none
    if (i + 8 - cont >= n) return true;
  }
  for (; i < s.size(); ++i) cont += (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  return s.size() - cont >= n;
}

}  // namespace

size_t code_points(std::string_view s) {
  // Code points = bytes - UTF-8 continuation bytes, counted eight bytes at a time.
  size_t cont = 0, i = 0;
  for (; i + 8 <= s.size(); i += 8) cont += continuation_bytes8(s.data() + i);
  for (; i < s.size(); ++i) cont += (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  return s.size() - cont;
}

bool passes_gate(std::string_view response, const VerifyOptions& options) {
  if (options.short_penalty && !has_code_points(response, options.short_threshold)) return false;
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

namespace {

// Whether `needle` occurs at text[q]. A byte loop: the needles are a few bytes long, where
// a call to memcmp costs more than the comparison.
inline bool occurs_at(std::string_view text, size_t q, std::string_view needle) {
  if (q + needle.size() > text.size()) return false;
  for (size_t k = 0; k < needle.size(); ++k) {
    if (text[q + k] != needle[k]) return false;
  }
  return true;
}

// The start of the last occurrence of `needle` that begins in [0, end), or npos. memrchr
// on the needle's first byte, so a long stretch without that byte costs one vector pass.
size_t rfind_before(std::string_view text, std::string_view needle, size_t end) {
  if (needle.empty() || text.size() < needle.size()) return std::string_view::npos;
  size_t limit = std::min(end, text.size() - needle.size() + 1);  // candidate starts are < limit
  while (limit > 0) {
    const void* p = memrchr(text.data(), needle[0], limit);
    if (p == nullptr) return std::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(p) - text.data());
    if (occurs_at(text, at, needle)) return at;
    limit = at;
  }
  return std::string_view::npos;
}

}  // namespace

// last_block where open and close cannot overlap. Why reading from the end is exact: the
// left-to-right scan of re.findall is never inside a block just after a close occurrence
// p (a block that started before p ends at p or earlier, and an open cannot overlap p),
// so every p + |close| is a point where the scan is searching afresh. Between two
// consecutive close occurrences p' < p, the scan finds exactly one block if some open
// lies in [p' + |close|, p - |open|] -- from the first such open to p -- and none
// otherwise. The last block is therefore found in the rightmost such stretch.
std::optional<std::string_view> last_block_disjoint(std::string_view text, std::string_view open,
                                                    std::string_view close) {
  size_t p = rfind_before(text, close, text.size());
  if (open[0] == close[0]) {
    // One backward pass serves both needles ("[answer]" / "[/answer]"): every candidate byte
    // is an open, a close, or neither; the earliest open met before the previous close starts
    // the block that ends at p.
    while (p != std::string_view::npos) {
      size_t first = std::string_view::npos, prev = std::string_view::npos, limit = p;
      while (limit > 0) {
        const void* hit = memrchr(text.data(), open[0], limit);
        if (hit == nullptr) break;
        const size_t q = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
        if (occurs_at(text, q, close)) {
          prev = q;
          break;
        }
        if (q + open.size() <= p && occurs_at(text, q, open)) first = q;
        limit = q;
      }
      if (first != std::string_view::npos) return text.substr(first + open.size(), p - first - open.size());
      p = prev;
    }
    return std::nullopt;
  }
  while (p != std::string_view::npos) {
    const size_t prev = p == 0 ? std::string_view::npos : rfind_before(text, close, p);
    const size_t lo = prev == std::string_view::npos ? 0 : prev + close.size();
    if (p >= lo + open.size()) {
      // The first open in [lo, p - |open|]: walk back over the opens of this stretch.
      size_t first = std::string_view::npos;
      for (size_t o = rfind_before(text, open, p - open.size() + 1); o != std::string_view::npos && o >= lo;
           o = o == 0 ? std::string_view::npos : rfind_before(text, open, o)) {
        first = o;
      }
      if (first != std::string_view::npos) return text.substr(first + open.size(), p - first - open.size());
    }
    p = prev;
  }
  return std::nullopt;
}

std::optional<std::string_view> last_block_line(std::string_view text, std::string_view open,
                                                std::string_view close) {
  // A newline ends every attempt that started before it, so each line is scanned on its
  // own, and the last line holding a block holds the last block.
  size_t end = text.size();
  while (true) {
    const void* nl = end == 0 ? nullptr : memrchr(text.data(), '\n', end);
    const size_t start = nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1;
    std::string_view line = text.substr(start, end - start);
    if (line.size() >= open.size() + close.size()) {
      if (auto b = last_block(line, open, close)) return b;
    }
    if (nl == nullptr) return std::nullopt;
    end = start - 1;
  }
}

std::optional<std::string_view> last_fenced_json(std::string_view text) {
  constexpr std::string_view kOpen = "```json", kFence = "```";
  std::optional<std::string_view> last;
  size_t pos = 0;
  while (true) {
    const size_t a = text.find(kOpen, pos);
    if (a == std::string_view::npos) return last;
    size_t g = a + kOpen.size();
    while (g < text.size()) {
      const size_t n = py_space_len(text, g);
      if (n == 0) break;
      g += n;
    }
    const size_t q = text.find(kFence, g);
    if (q == std::string_view::npos) return last;  // no later open can close either
    // \s*``` after the lazy group: the group stops before the whitespace run ending at q.
    size_t e = q;
    while (e > g) {
      const size_t n = py_space_before(text.substr(g), e - g);
      if (n == 0) break;
      e -= n;
    }
    last = text.substr(g, e - g);
    pos = q + kFence.size();
  }
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
  auto is = [&s](std::string_view word) {  // s equals word (lower case) ignoring ASCII case
    if (s.size() != word.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (ascii_lower(s[i]) != word[i]) return false;
    }
    return true;
  };
  if (is("inf") || is("infinity")) return neg ? -std::numeric_limits<double>::infinity()
                                              : std::numeric_limits<double>::infinity();
  if (is("nan")) return std::numeric_limits<double>::quiet_NaN();
  // from_chars accepts "inf"/"nan" too but never hex under chars_format::general.
  if (!std::isdigit(static_cast<unsigned char>(s[0])) && s[0] != '.') return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Python gives inf for overflow and 0 for underflow; tell them apart by the exponent's sign.
    const bool negative_exponent = s.find("e-") != std::string_view::npos || s.find("E-") != std::string_view::npos;
    v = negative_exponent ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

std::vector<std::string_view> digit_runs(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] < '0' || s[i] > '9') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
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
