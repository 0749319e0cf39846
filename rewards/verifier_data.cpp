// Verifier training data from the env tasks (see verifier_data.hpp).
#include "rewards/verifier_data.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>
#include <random>

#include "envs/answer.hpp"
#include "envs/registry.hpp"

namespace troupe::rewards {
namespace {

using envs::trim;

// ---- the exact comparator ---------------------------------------------------

// __extension__: GCC/Clang's 128-bit integer, without -Wpedantic's complaint.
__extension__ typedef __int128 Int128;

struct Rational {
  Int128 num = 0, den = 1;  // reduced, den > 0, both below kMaxMagnitude
  bool operator==(const Rational& o) const { return num == o.num && den == o.den; }
};

// 1e18: parts of at most 18 digits; reduced values above it are not compared (no overflow).
constexpr Int128 kMaxMagnitude = static_cast<Int128>(1000000000000000000LL);

std::optional<Rational> reduced(Int128 num, Int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) num = -num, den = -den;
  Int128 a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    const Int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) num /= a, den /= a;
  if (num > kMaxMagnitude || -num > kMaxMagnitude || den > kMaxMagnitude) return std::nullopt;
  return Rational{num, den};
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Drops one layer of \boxed{..}, \text{..}, $..$ or [..] at a time, and spaces.
std::string_view unwrap(std::string_view s) {
  for (;;) {
    s = trim(s);
    if (starts_with(s, "\\boxed{") && ends_with(s, "}")) {
      s = s.substr(7, s.size() - 8);
    } else if (starts_with(s, "\\text{") && ends_with(s, "}")) {
      s = s.substr(6, s.size() - 7);
    } else if (s.size() >= 2 && s.front() == '$' && s.back() == '$') {
      s = s.substr(1, s.size() - 2);
    } else if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
      s = s.substr(1, s.size() - 2);
    } else {
      return s;
    }
  }
}

std::string without_spaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t') out.push_back(c);
  }
  return out;
}

// Digits only, at most 18 of them (fits int64 with room for the comparison's products).
std::optional<Int128> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  Int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// A decimal "-12.50" or integer as a rational.
std::optional<Rational> parse_decimal(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s.remove_prefix(1);
  const size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot), fp = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (dot != std::string_view::npos && fp.empty()) return std::nullopt;
  auto i = parse_digits(ip);
  if (!i) return std::nullopt;
  Rational r{*i, 1};
  if (!fp.empty()) {
    auto f = parse_digits(fp);
    if (!f || ip.size() + fp.size() > 18) return std::nullopt;
    for (size_t k = 0; k < fp.size(); ++k) r.den *= 10, r.num *= 10;
    r.num += *f;
  }
  if (neg) r.num = -r.num;
  return reduced(r.num, r.den);
}

std::optional<Rational> parse_number(std::string_view text) {
  std::string s = without_spaces(unwrap(text));
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && v[0] == '-' && (starts_with(v.substr(1), "\\frac") || starts_with(v.substr(1), "\\dfrac"))) {
    neg = true;
    v.remove_prefix(1);
  }
  for (std::string_view f : {std::string_view("\\dfrac{"), std::string_view("\\frac{")}) {
    if (starts_with(v, f) && ends_with(v, "}")) {
      std::string_view body = v.substr(f.size(), v.size() - f.size() - 1);  // "a}{b"
      const size_t mid = body.find("}{");
      if (mid == std::string_view::npos) return std::nullopt;
      auto a = parse_decimal(body.substr(0, mid)), b = parse_decimal(body.substr(mid + 2));
      if (!a || !b || b->num == 0) return std::nullopt;
      return reduced((neg ? -1 : 1) * a->num * b->den, a->den * b->num);
    }
  }
  const size_t slash = v.find('/');
  if (slash != std::string_view::npos) {
    auto a = parse_decimal(v.substr(0, slash)), b = parse_decimal(v.substr(slash + 1));
    if (!a || !b || b->num == 0) return std::nullopt;
    return reduced(a->num * b->den, a->den * b->num);
  }
  return parse_decimal(v);
}

std::vector<std::string_view> list_items(std::string_view s) {
  s = unwrap(s);
  if (s.find(',') != std::string_view::npos) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
      const size_t c = s.find(',', start);
      out.push_back(trim(s.substr(start, c == std::string_view::npos ? s.npos : c - start)));
      if (c == std::string_view::npos) break;
      start = c + 1;
    }
    return out;
  }
  return envs::split_any(s, " \t");
}

bool items_equal(std::string_view a, std::string_view b) {
  auto x = parse_number(a), y = parse_number(b);
  if (x && y) return *x == *y;
  if (x || y) return false;
  return unwrap(a) == unwrap(b);
}

}  // namespace

bool answers_equivalent(std::string_view a, std::string_view b, bool unordered) {
  auto x = parse_number(a), y = parse_number(b);
  if (x && y) return *x == *y;
  auto la = list_items(a), lb = list_items(b);
  if (la.size() > 1 || lb.size() > 1) {
    if (la.size() != lb.size()) return false;
    if (!unordered) {
      for (size_t i = 0; i < la.size(); ++i) {
        if (!items_equal(la[i], lb[i])) return false;
      }
      return true;
    }
    std::vector<bool> used(lb.size(), false);
    for (auto item : la) {
      bool found = false;
      for (size_t j = 0; j < lb.size() && !found; ++j) {
        if (!used[j] && items_equal(item, lb[j])) used[j] = found = true;
      }
      if (!found) return false;
    }
    return true;
  }
  if (x || y) return false;
  return unwrap(a) == unwrap(b);
}

const char* label_name(VerifierLabel l) {
  switch (l) {
    case VerifierLabel::kCorrect: return "correct";
    case VerifierLabel::kIncorrect: return "incorrect";
    case VerifierLabel::kInvalid: return "invalid";
  }
  return "?";
}

std::string verifier_text(std::string_view question, std::string_view reference, std::string_view response) {
  auto tail = [](std::string_view s, size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; };
  std::string q(tail(trim(question), kQuestionTail));
  std::replace(q.begin(), q.end(), '\n', ' ');
  std::string out = "Q:" + q + "\nR:" + std::string(reference.substr(0, kMaxReference)) + "\nC:";
  out += tail(response, kResponseTail);
  return out;
}

namespace {

// ---- candidate forms ---------------------------------------------------------

using Rng = std::mt19937_64;

int uniform(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
template <typename T>
const T& pick(Rng& rng, const std::vector<T>& v) {
  return v[size_t(uniform(rng, 0, int(v.size()) - 1))];
}

// Answer formats of many tasks and models, so the verifier learns that the dress
// is not the answer: a response in its task's own format half the time, in one of
// these the other half (after a reasoning preamble the model mostly cannot see).
struct Dress {
  const char* prefix;
  const char* suffix;
};
const std::vector<Dress>& generic_dresses() {
  static const std::vector<Dress> kDresses = {
      {"", ""},
      {"<think>\nWork it out step by step, then check.\n</think>\n[answer]", "[/answer]"},
      {"<think>\nWork it out step by step, then check.\n</think>\n<answer>", "</answer>"},
      {"<think>\nWork it out step by step, then check.\n</think>\n[[", "]]"},
      {"<think>\nWork it out step by step, then check.\n</think>\nFinal Answer: \\boxed{", "}"},
      {"Let me compute. The answer is ", "."},
      {"Answer: ", ""},
      {"So the final answer is $", "$"},
  };
  return kDresses;
}

enum class Kind { kInteger, kList, kText };

struct Reference {
  std::string core;      // e.g. "15", "9,14", "pjq"
  Kind kind = Kind::kText;
  char sep = ',';        // list separator in the reference
  std::vector<std::string> items;
  std::string prefix, suffix;  // the task's answer format around the core
  bool unordered = false;      // the rule verifier accepts a reordering
};

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? std::string(sep) : "") + items[i];
  return out;
}

// Value-preserving rewriting of an integer (decimals, fractions, a sign).
std::string integer_form(Rng& rng, const std::string& n, std::string* form) {
  const bool neg = !n.empty() && n[0] == '-';
  std::vector<std::pair<std::string, std::string>> f = {
      {"decimal", n + ".0"},
      {"decimal2", n + ".00"},
      {"fraction", n + "/1"},
      {"latex_frac", neg ? "-\\frac{" + n.substr(1) + "}{1}" : "\\frac{" + n + "}{1}"}};
  if (!neg) f.push_back({"plus", "+" + n});
  const auto& p = pick(rng, f);
  *form = p.first;
  return p.second;
}

// A wrapper around an answer that leaves its meaning alone: none (40%), spaces,
// \boxed{}, \text{} (not around numbers) or $..$. Right and wrong answers draw
// their wrappers from this same distribution, so the dress never tells the
// label and the model has to compare what is inside. Sets *form to the
// wrapper's name, or leaves it when there is none.
std::string wrap_answer(Rng& rng, const std::string& v, bool numeric, std::string* form) {
  switch (uniform(rng, 0, 9)) {
    case 0: case 1: *form = "spacing"; return " " + v + " ";
    case 2: case 3: *form = "boxed"; return "\\boxed{" + v + "}";
    case 4: *form = "dollar"; return "$" + v + "$";
    case 5:
      if (numeric) return v;
      *form = "text";
      return "\\text{" + v + "}";
    default: return v;
  }
}

char change_char(Rng& rng, char c) {
  if (c >= '0' && c <= '9') return char('0' + (c - '0' + uniform(rng, 1, 9)) % 10);
  if (c >= 'a' && c <= 'z') return char('a' + (c - 'a' + uniform(rng, 1, 25)) % 26);
  if (c >= 'A' && c <= 'Z') return char('A' + (c - 'A' + uniform(rng, 1, 25)) % 26);
  static const std::string kBrackets = "()[]{}<>";
  return kBrackets[size_t(uniform(rng, 0, int(kBrackets.size()) - 1))];
}

std::string integer_wrong(Rng& rng, const std::string& n, std::string* form) {
  const long long v = std::stoll(n);
  switch (uniform(rng, 0, 6)) {
    case 0: *form = "off_by_one"; return std::to_string(v + (uniform(rng, 0, 1) ? 1 : -1));
    case 1: *form = "off_by_small"; return std::to_string(v + uniform(rng, 2, 12) * (uniform(rng, 0, 1) ? 1 : -1));
    case 2: {
      *form = "digit_change";
      std::string s = n;
      size_t i = size_t(uniform(rng, s[0] == '-' ? 1 : 0, int(s.size()) - 1));
      s[i] = change_char(rng, s[i]);
      if (s.size() > 1 && s[0] == '0') s[0] = '1';
      if (s.size() > 2 && s[0] == '-' && s[1] == '0') s[1] = '1';
      return s;
    }
    case 3: *form = "sign"; return v == 0 ? "1" : std::to_string(-v);
    case 4: *form = "digit_extra"; return n + std::to_string(uniform(rng, 0, 9));
    case 5: *form = "wrong_fraction"; return n + "/" + std::to_string(uniform(rng, 2, 9));
    default: *form = "wrong_decimal"; return n + "." + std::to_string(uniform(rng, 1, 9));
  }
}

std::string text_wrong(Rng& rng, const std::string& t, std::string* form) {
  std::string s = t;
  switch (uniform(rng, 0, 3)) {
    case 0: {
      *form = "char_change";
      size_t i = size_t(uniform(rng, 0, int(s.size()) - 1));
      s[i] = change_char(rng, s[i]);
      return s;
    }
    case 1:
      *form = "char_drop";
      if (s.size() > 1) {
        s.erase(size_t(uniform(rng, 0, int(s.size()) - 1)), 1);
        return s;
      }
      return s + s;
    case 2: {
      *form = "char_swap";
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != s[i + 1]) {
          std::swap(s[i], s[i + 1]);
          return s;
        }
      }
      return s + "x";
    }
    default: *form = "char_extra"; s.insert(s.begin() + uniform(rng, 0, int(s.size())), s[0]); return s;
  }
}

std::string list_wrong(Rng& rng, const Reference& r, std::string* form) {
  std::vector<std::string> items = r.items;
  const std::string sep(1, r.sep);
  switch (uniform(rng, 0, 3)) {
    case 0: {
      *form = "item_change";
      auto& it = items[size_t(uniform(rng, 0, int(items.size()) - 1))];
      it = std::to_string(std::stoll(it) + (uniform(rng, 0, 1) ? 1 : -1) * uniform(rng, 1, 5));
      return join(items, sep);
    }
    case 1: *form = "item_drop"; items.erase(items.begin() + uniform(rng, 0, int(items.size()) - 1)); return join(items, sep);
    case 2: *form = "item_extra"; items.push_back(std::to_string(uniform(rng, 0, 30))); return join(items, sep);
    default:
      *form = "reordered";
      std::reverse(items.begin(), items.end());
      return join(items, sep);
  }
}

// The items written another way: spaces after separators, brackets, spaced commas.
std::string list_rewrite(Rng& rng, const std::vector<std::string>& items, char sep, std::string* form) {
  switch (uniform(rng, 0, 2)) {
    case 0: *form = "list_spacing"; return join(items, sep == ',' ? ", " : "  ");
    case 1: *form = "list_brackets"; return "[" + join(items, ", ") + "]";
    default: *form = "list_commas"; return join(items, sep == ',' ? " , " : ",");
  }
}

std::string list_form(Rng& rng, const Reference& r, std::string* form) {
  if (r.unordered && uniform(rng, 0, 3) == 0) {
    std::vector<std::string> items(r.items.rbegin(), r.items.rend());
    *form = "reordered_set";
    return join(items, std::string(1, r.sep));
  }
  return list_rewrite(rng, r.items, r.sep, form);
}

std::string invalid_response(Rng& rng, const Reference& r, const std::string& full_answer, std::string* form) {
  switch (uniform(rng, 0, 2)) {
    case 0: {
      *form = "truncated";
      const size_t think = full_answer.rfind("</think>");
      if (think != std::string::npos && think > 40 && uniform(rng, 0, 1)) {
        return full_answer.substr(0, size_t(uniform(rng, 20, int(think) - 1)));  // cut mid-reasoning
      }
      static const std::vector<std::string> kOpen = {"\\boxed{", "[answer]", "<answer>", "$", "The answer is ",
                                                     "So the result is"};
      std::string open = pick(rng, kOpen);
      std::string part = r.core.size() > 1 ? r.core.substr(0, size_t(uniform(rng, 0, int(r.core.size()) - 1))) : "";
      if (uniform(rng, 0, 1) == 0) {
        const Dress& d = pick(rng, generic_dresses());
        if (*d.suffix != '\0') return d.prefix + part;  // the closing mark never came
      }
      if (open.back() != ' ' && open.back() != 's') return r.prefix + open + part;
      return r.prefix + open + (uniform(rng, 0, 1) ? "" : part + " and then");
    }
    case 1: {
      *form = "repetitive";
      static const std::vector<std::string> kUnits = {"wait, ", "so so ", "hmm ", "let me check. ", "the the ", "and "};
      std::string unit = uniform(rng, 0, 2) == 0 ? r.core + " " : pick(rng, kUnits);
      std::string out;
      while (out.size() < 70) out += unit;  // 70 bytes: the tail the model sees is all repetition
      return out;
    }
    default: {
      *form = "no_answer";
      static const std::vector<std::string> kNone = {"", "I don't know.", "I cannot solve this.", "N/A", "???",
                                                     "The question is unclear.", "[answer][/answer]", "\\boxed{}",
                                                     "Let me think about it."};
      return pick(rng, kNone);
    }
  }
}

Result<Reference> reference_of(const envs::Task& task, const envs::Case& c) {
  Reference r;
  auto v = task.verify(c.identity, c.answer);
  if (!v) return v.status();
  r.core = v->extracted_answer.empty() ? std::string(envs::first_line_answer(c.answer)) : v->extracted_answer;
  r.core = std::string(trim(r.core));
  if (r.core.empty() || r.core.size() > kMaxReference || r.core.find('\n') != std::string::npos) {
    return Status::out_of_range("reference not usable");
  }
  const size_t pos = c.answer.rfind(r.core);
  if (pos == std::string::npos) return Status::out_of_range("reference core not found in the answer");
  r.prefix = c.answer.substr(0, pos);
  r.suffix = c.answer.substr(pos + r.core.size());
  if (envs::parse_int(r.core) && r.core[0] != '+' && (r.core.size() == 1 || r.core[0] != '0')) {
    r.kind = Kind::kInteger;
    return r;
  }
  for (char sep : {',', ' '}) {
    auto parts = envs::split_any(r.core, std::string_view(&sep, 1));
    if (parts.size() < 2) continue;
    bool ints = true;
    for (auto p : parts) ints = ints && envs::parse_int(p).has_value() && p.size() < 10;
    if (!ints) continue;
    r.kind = Kind::kList;
    r.sep = sep;
    for (auto p : parts) r.items.emplace_back(p);
    // Probe the rule verifier: does it accept the reference reordered?
    std::vector<std::string> rev(r.items.rbegin(), r.items.rend());
    const std::string reordered = join(rev, std::string(1, sep));
    if (reordered != r.core) {
      auto rv = task.verify(c.identity, r.prefix + reordered + r.suffix);
      r.unordered = rv.is_ok() && rv->score >= 1.0;
    }
    return r;
  }
  r.kind = Kind::kText;
  return r;
}


// ---- generic answers ------------------------------------------------------------
//
// Answers of no task: random integers, decimals, words and strings of symbols,
// in random dresses. They teach what every family shares, that the judgement is
// "is the candidate's final answer the reference, up to dress", on more shapes
// of answer than the training families' own (mostly numbers), so the model has
// to compare the bytes rather than learn the training families' answer types.
// Nothing here is modelled on a held-out family: the alphabet is printable ASCII.

std::string random_word(Rng& rng) {
  std::string w;
  const int n = uniform(rng, 1, 8);
  const int style = uniform(rng, 0, 2);  // lower, Capitalised, UPPER
  for (int i = 0; i < n; ++i) {
    const char c = char('a' + uniform(rng, 0, 25));
    w.push_back(style == 2 || (style == 1 && i == 0) ? char(c - 'a' + 'A') : c);
  }
  return w;
}

std::string random_symbols(Rng& rng) {
  static const std::string kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-*/=()[]{}<>,.:;_'!?#%&|^~";
  std::string s;
  const int n = uniform(rng, 1, 20);
  for (int i = 0; i < n; ++i) {
    if (i > 0 && i + 1 < n && uniform(rng, 0, 7) == 0 && s.back() != ' ') {
      s.push_back(' ');
    } else {
      s.push_back(kAlphabet[size_t(uniform(rng, 0, int(kAlphabet.size()) - 1))]);
    }
  }
  return s;
}

std::string random_integer(Rng& rng) {
  const int digits = uniform(rng, 1, 7);
  std::string s(1, char('1' + uniform(rng, 0, 8)));
  if (digits == 1 && uniform(rng, 0, 4) == 0) s = "0";
  for (int i = 1; i < digits; ++i) s.push_back(char('0' + uniform(rng, 0, 9)));
  return uniform(rng, 0, 4) == 0 && s != "0" ? "-" + s : s;
}

// A generic reference: its core, kind, and a dress from generic_dresses() as its "format".
Reference generic_reference(Rng& rng) {
  Reference r;
  switch (uniform(rng, 0, 5)) {
    case 0: r.core = random_integer(rng), r.kind = Kind::kInteger; break;
    case 1: {
      r.kind = Kind::kList;
      r.sep = uniform(rng, 0, 1) ? ',' : ' ';
      const int n = uniform(rng, 2, 6);
      for (int i = 0; i < n; ++i) r.items.push_back(std::to_string(uniform(rng, -20, 99)));
      r.core = join(r.items, std::string(1, r.sep));
      break;
    }
    case 2: r.core = random_integer(rng) + "." + std::to_string(uniform(rng, 1, 999)); break;
    case 3: {
      const int n = uniform(rng, 1, 3);
      for (int i = 0; i < n; ++i) r.core += (i ? " " : "") + random_word(rng);
      break;
    }
    default: r.core = random_symbols(rng); break;
  }
  if (r.kind == Kind::kText && r.core.back() == '0' && r.core.find('.') != std::string::npos) r.core += "1";
  const Dress& d = pick(rng, generic_dresses());
  r.prefix = d.prefix;
  r.suffix = d.suffix;
  return r;
}

const std::vector<std::string>& generic_questions() {
  static const std::vector<std::string> kQuestions = {
      "Solve the problem and give the final answer.", "What is the result? Reply with the answer only.",
      "Find the value asked for and state it at the end.", "Work it out, then write the final answer.",
      "Answer the question above; end with your answer."};
  return kQuestions;
}

// Whether the task's rule verifier scores `response` 1 for the case (no task: undecided).
using RuleCheck = std::function<std::optional<bool>(const std::string& response)>;

// The examples of one case: correct forms, wrong forms, invalid responses.
void add_case(Rng& rng, const std::string& task, const std::string& question, const Reference& r,
              const std::string& full_answer, const std::string& previous_core, const RuleCheck& rule,
              const VerifierDataOptions& o, std::vector<VerifierExample>* out) {
  std::string unused;  // names of rewritings not recorded
  auto add = [&](std::string core_or_response, VerifierLabel label, std::string form, bool wrap) {
    VerifierExample e;
    e.task = task;
    e.question = question;
    e.reference = r.core;
    if (wrap) e.candidate = core_or_response;
    if (wrap && uniform(rng, 0, 1) == 0) {
      const Dress& d = pick(rng, generic_dresses());
      e.response = d.prefix + core_or_response + d.suffix;
    } else {
      e.response = wrap ? r.prefix + core_or_response + r.suffix : std::move(core_or_response);
    }
    e.label = label;
    e.form = std::move(form);
    out->push_back(std::move(e));
  };
  // Correct: the reference, or (for numbers and lists, half the time) a rewriting of the same value.
  for (int k = 0; k < o.correct_per_case; ++k) {
    std::string form = "exact";
    std::string s = r.core;
    if (r.kind == Kind::kInteger && uniform(rng, 0, 1) == 0) {
      s = integer_form(rng, r.core, &form);
    } else if (r.kind == Kind::kList && uniform(rng, 0, 1) == 0) {
      s = list_form(rng, r, &form);
    }
    s = wrap_answer(rng, s, r.kind != Kind::kText, form == "exact" ? &form : &unused);
    if (!answers_equivalent(r.core, s, r.unordered)) continue;  // the comparator has the last word
    add(s, VerifierLabel::kCorrect, form, true);
  }
  // Incorrect: another value, rewritten and wrapped like the right ones.
  for (int k = 0; k < o.incorrect_per_case; ++k) {
    std::string form;
    std::string s;
    if (!previous_core.empty() && uniform(rng, 0, 5) == 0) {
      s = previous_core, form = "other_case";
    } else if (r.kind == Kind::kInteger) {
      s = integer_wrong(rng, r.core, &form);
      if (form != "wrong_fraction" && form != "wrong_decimal" && uniform(rng, 0, 1) == 0) {
        s = integer_form(rng, s, &unused);  // a wrong value in a right value's rewriting
      }
    } else if (r.kind == Kind::kList) {
      s = list_wrong(rng, r, &form);
      if (uniform(rng, 0, 1) == 0) {
        std::vector<std::string> items;
        for (auto item : envs::split_any(s, std::string_view(&r.sep, 1))) items.emplace_back(item);
        s = list_rewrite(rng, items, r.sep, &unused);  // a wrong list written like the right ones
      }
    } else {
      s = text_wrong(rng, r.core, &form);
    }
    s = wrap_answer(rng, s, r.kind != Kind::kText, &unused);
    if (answers_equivalent(r.core, s, r.unordered)) continue;
    // Wrong only if the task's rule verifier agrees (a changed expression may still reach the target).
    auto accepted = rule(r.prefix + s + r.suffix);
    if (!accepted || *accepted) continue;
    add(s, VerifierLabel::kIncorrect, form, true);
  }
  for (int k = 0; k < o.invalid_per_case; ++k) {
    std::string form;
    std::string s = invalid_response(rng, r, full_answer, &form);
    add(s, VerifierLabel::kInvalid, form, false);
  }
}

}  // namespace

const char* const kGenericTask = "generic";

Result<std::vector<VerifierExample>> build_verifier_examples(const std::vector<std::string>& tasks,
                                                             const VerifierDataOptions& o) {
  std::vector<VerifierExample> all;
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    auto task = envs::find_task(tasks[ti]);
    if (!task) return task.status();
    Rng rng(o.seed * 1000003u + ti);  // a stream per task: adding a task leaves the others' data unchanged
    std::vector<VerifierExample> mine;
    std::string previous_core;
    const int levels = std::max(1, o.max_level - o.min_level + 1);
    for (int i = 0; i < o.cases_per_task; ++i) {
      const int level = o.min_level + i % levels;
      auto c = (*task)->generate_level(o.seed * 7919u + uint64_t(i), level);
      if (!c) return c.status().with_context(tasks[ti]);
      auto ref = reference_of(**task, *c);
      if (!ref) continue;
      RuleCheck rule = [&](const std::string& response) -> std::optional<bool> {
        auto rv = (*task)->verify(c->identity, response);
        if (!rv) return std::nullopt;
        return rv->score >= 1.0;
      };
      add_case(rng, tasks[ti], c->prompt, *ref, c->answer, previous_core, rule, o, &mine);
      previous_core = ref->core;
    }
    std::shuffle(mine.begin(), mine.end(), rng);
    for (auto& e : mine) all.push_back(std::move(e));
  }
  if (o.generic_cases > 0) {
    Rng rng(o.seed * 1000003u + 999983u);  // its own stream, after the tasks'
    std::vector<VerifierExample> mine;
    std::string previous_core;
    const RuleCheck no_rule = [](const std::string&) -> std::optional<bool> { return false; };
    for (int i = 0; i < o.generic_cases; ++i) {
      const Reference r = generic_reference(rng);
      const std::string question = pick(rng, generic_questions());
      add_case(rng, kGenericTask, question, r, r.prefix + r.core + r.suffix, previous_core, no_rule, o, &mine);
      previous_core = r.core;
    }
    std::shuffle(mine.begin(), mine.end(), rng);
    for (auto& e : mine) all.push_back(std::move(e));
  }
  return all;
}

}  // namespace troupe::rewards
