// The compass_verifier recipe (see recipes.hpp).
#include "rewards/recipes.hpp"

#include <cctype>

namespace troupe::rewards {
namespace {

constexpr std::string_view kQOpen = "<Original Question Begin>:\n", kQClose = "\n<Original Question End>";
constexpr std::string_view kAOpen = "<Standard Answer Begin>:\n", kAClose = "\n<Standard Answer End>";
constexpr std::string_view kCOpen = "<Candidate's Answer Begin>:\n", kCClose = "\n<Candidate's Answer End>";

std::optional<VerifierLabel> from_letter(char c) {
  switch (c) {
    case 'A': return VerifierLabel::kCorrect;
    case 'B': return VerifierLabel::kIncorrect;
    case 'C': return VerifierLabel::kInvalid;
    default: return std::nullopt;
  }
}

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::optional<std::string> between(std::string_view s, std::string_view open, std::string_view close, size_t* from) {
  const size_t a = s.find(open, *from);
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = s.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  *from = b + close.size();
  return std::string(s.substr(a + open.size(), b - a - open.size()));
}

}  // namespace

std::string compass_prompt(std::string_view question, std::string_view reference, std::string_view response) {
  std::string p =
      "You grade answers. Decide whether the candidate's FINAL answer agrees with the standard answer.\n"
      "- The question is valid and the standard answer is right; do not solve the problem again.\n"
      "- Look only at the final answer, not at the reasoning before it.\n"
      "- Forms that mean the same thing agree: 1/2 and 0.5, \\boxed{7} and 7, a set in another order,\n"
      "  other spacing or LaTeX. Every part of a multi-part answer must agree.\n"
      "- A response that is cut off, repeats itself, refuses, or gives no final answer is invalid.\n"
      "Reply with one letter: A = CORRECT, B = INCORRECT, C = INVALID.\n\n";
  p += kQOpen;
  p += question;
  p += kQClose;
  p += "\n\n";
  p += kAOpen;
  p += reference;
  p += kAClose;
  p += "\n\n";
  p += kCOpen;
  p += response;
  p += kCClose;
  p += "\n\nJudgement:";
  return p;
}

std::optional<CompassFields> parse_compass_prompt(std::string_view prompt) {
  size_t at = 0;
  auto q = between(prompt, kQOpen, kQClose, &at);
  if (!q) return std::nullopt;
  auto a = between(prompt, kAOpen, kAClose, &at);
  if (!a) return std::nullopt;
  // The candidate's response may itself contain anything; its end marker is the last one.
  const size_t c0 = prompt.find(kCOpen, at);
  const size_t c1 = prompt.rfind(kCClose);
  if (c0 == std::string_view::npos || c1 == std::string_view::npos || c1 < c0 + kCOpen.size()) return std::nullopt;
  return CompassFields{std::move(*q), std::move(*a), std::string(prompt.substr(c0 + kCOpen.size(), c1 - c0 - kCOpen.size()))};
}

char compass_letter(VerifierLabel label) {
  switch (label) {
    case VerifierLabel::kCorrect: return 'A';
    case VerifierLabel::kIncorrect: return 'B';
    case VerifierLabel::kInvalid: return 'C';
  }
  return 'C';
}

std::optional<VerifierLabel> parse_compass_judgement(std::string_view reply) {
  const size_t boxed = reply.rfind("\\boxed{");
  if (boxed != std::string_view::npos && boxed + 8 < reply.size() + 1) {
    std::string_view rest = reply.substr(boxed + 7);
    size_t i = 0;
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i < rest.size()) {
      auto l = from_letter(rest[i]);
      if (l && (i + 1 >= rest.size() || !is_word(rest[i + 1]))) return l;
    }
  }
  size_t s = 0;
  while (s < reply.size() && std::isspace(static_cast<unsigned char>(reply[s]))) ++s;
  if (s < reply.size()) {
    auto l = from_letter(reply[s]);
    if (l && (s + 1 == reply.size() || !is_word(reply[s + 1]))) return l;
  }
  const size_t j = reply.rfind("Judg");
  if (j != std::string_view::npos) {
    for (size_t i = reply.size(); i-- > j;) {
      auto l = from_letter(reply[i]);
      if (l && !is_word(reply[i - 1]) && (i + 1 == reply.size() || !is_word(reply[i + 1]))) return l;
    }
  }
  return std::nullopt;
}

}  // namespace troupe::rewards
