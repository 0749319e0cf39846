// Cryptomathbootcamp: a letter addition (SEND+MORE=MONEY style); give each letter a
// digit, different letters different digits, no leading zero in a multi-letter word.
// Identity (upstream's shape): {"left_terms": [str], "right_term": str,
// "leading_letters": [str], "all_letters": [str]} (upstream's lists come from Python
// sets in any order; ours are sorted). The answer is the LAST [[...]] on one line; with
// spaces removed, every LETTER=DIGITS pair in it (a later pair for the same letter
// wins). Nothing extracted when there is no pair. Right when the letters are exactly
// the puzzle's, leading letters are not 0, the values are distinct and the sum holds.
// Deviation (DEVIATIONS.md): upstream accepts any integer for a letter (A=12); a
// letter stands for one digit, so we require 0-9.
#include <algorithm>
#include <array>
#include <set>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr int kUnset = -1;
constexpr int kNotADigit = 10;  // a value above 9 (upstream's \d+ takes any digit run)

// Upstream's pairs: with spaces removed, every LETTER=DIGITS match of ([A-Z])=(\d+), a later
// pair for the same letter winning. value[l] is the letter's value (kNotADigit above 9,
// kUnset when absent). Returns whether there was any pair.
bool parse_pairs(std::string_view b, std::array<int, 26>& value) {
  value.fill(kUnset);
  bool any = false;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i] != '=') continue;
    size_t l = i;  // spaces do not count: upstream removes them first
    while (l > 0 && b[l - 1] == ' ') --l;
    size_t r = i + 1;
    while (r < b.size() && b[r] == ' ') ++r;
    if (l == 0 || b[l - 1] < 'A' || b[l - 1] > 'Z' || r >= b.size() || b[r] < '0' || b[r] > '9') continue;
    int v = 0;
    size_t k = r;
    for (; k < b.size() && ((b[k] >= '0' && b[k] <= '9') || b[k] == ' '); ++k) {
      if (b[k] != ' ') v = std::min(kNotADigit, v * 10 + (b[k] - '0'));
    }
    value[static_cast<size_t>(b[l - 1] - 'A')] = v;
    any = true;
    i = k - 1;
  }
  return any;
}

class Cryptomath final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Cryptomathbootcamp", "puzzle", "find the digit of every letter in a letter sum",
                                {{"addends", 2, 6, "terms added on the left"},
                                 {"max_value", 9, 9999, "each addend is drawn from [1, max_value]"}},
                                "Cryptomathbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Upstream's default draws 4 addends from [1, 999].
    return {{"addends", level <= 3 ? 2 : (level <= 7 ? 3 : 4)},
            {"max_value", level <= 2 ? 99 : (level <= 8 ? 999 : 9999)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::vector<int64_t> addends;
    int64_t sum = 0;
    for (int64_t i = 0; i < d.at("addends"); ++i) {
      addends.push_back(rng.uniform(1, d.at("max_value")));
      sum += addends.back();
    }
    // Each digit that occurs gets its own random letter.
    std::vector<char> letters;
    for (char c = 'A'; c <= 'Z'; ++c) letters.push_back(c);
    rng.shuffle(letters);
    std::array<char, 10> letter_of{};
    size_t used = 0;
    auto word = [&](int64_t v) {
      std::string s = std::to_string(v);
      for (auto& ch : s) {
        const size_t digit = static_cast<size_t>(ch - '0');
        if (letter_of[digit] == 0) letter_of[digit] = letters[used++];
        ch = letter_of[digit];
      }
      return s;
    };
    std::vector<std::string> left;
    for (auto a : addends) left.push_back(word(a));
    const std::string right = word(sum);
    std::set<std::string> leading, all;
    for (const auto& t : left) {
      if (t.size() > 1) leading.insert(t.substr(0, 1));
    }
    if (right.size() > 1) leading.insert(right.substr(0, 1));
    std::vector<std::pair<char, int>> pairs;
    for (int digit = 0; digit < 10; ++digit) {
      if (letter_of[static_cast<size_t>(digit)] != 0) {
        all.insert(std::string(1, letter_of[static_cast<size_t>(digit)]));
        pairs.push_back({letter_of[static_cast<size_t>(digit)], digit});
      }
    }
    std::sort(pairs.begin(), pairs.end());
    std::string equation, answer;
    for (const auto& t : left) equation += (equation.empty() ? "" : "+") + t;
    equation += "=" + right;
    for (const auto& [ch, digit] : pairs) answer += (answer.empty() ? "" : ",") + std::string(1, ch) + "=" + std::to_string(digit);
    Case c;
    c.identity = {{"left_terms", left}, {"right_term", right},
                  {"leading_letters", std::vector<std::string>(leading.begin(), leading.end())},
                  {"all_letters", std::vector<std::string>(all.begin(), all.end())}};
    c.prompt = "In the letter sum below every letter stands for one digit 0-9; different letters are different "
               "digits, and the first letter of a word with more than one letter is not 0.\n" + equation +
               "\nFind the digit of every letter. Write the assignment on one line in double square brackets, "
               "e.g. [[A=1,B=2,C=3]].";
    c.answer = reference_response("[[" + answer + "]]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block_line(response, "[[", "]]");
    std::array<int, 26> value;
    if (!block || !parse_pairs(*block, value)) return std::nullopt;
    return std::string(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    std::array<int, 26> value;
    parse_pairs(extracted, value);
    auto index = [](const std::string& letter) {
      if (letter.size() != 1 || letter[0] < 'A' || letter[0] > 'Z') throw std::invalid_argument("not a letter");
      return static_cast<size_t>(letter[0] - 'A');
    };
    std::array<bool, 26> in_puzzle{};
    for (const auto& l : identity.at("all_letters").get<std::vector<std::string>>()) in_puzzle[index(l)] = true;
    for (size_t l = 0; l < 26; ++l) {
      if (in_puzzle[l] != (value[l] != kUnset)) return 0.0;  // the letters must be exactly the puzzle's
      if (value[l] == kNotADigit) return 0.0;
    }
    for (const auto& l : identity.at("leading_letters").get<std::vector<std::string>>()) {
      if (value[index(l)] == 0) return 0.0;
    }
    std::array<bool, 10> seen{};
    for (size_t l = 0; l < 26; ++l) {
      if (value[l] == kUnset) continue;
      if (seen[static_cast<size_t>(value[l])]) return 0.0;
      seen[static_cast<size_t>(value[l])] = true;
    }
    auto number = [&](const std::string& term) {
      if (term.size() > 36) throw std::invalid_argument("term too long");  // 10^36 fits in 128 bits
      __extension__ __int128 n = 0;  // up to 26 letters: beyond int64 but within 128 bits
      for (char ch : term) n = n * 10 + value[index(std::string(1, ch))];
      return n;
    };
    __extension__ __int128 left = 0;
    for (const auto& t : identity.at("left_terms").get<std::vector<std::string>>()) left += number(t);
    return left == number(identity.at("right_term").get<std::string>()) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Cryptomath);

}  // namespace
}  // namespace troupe::envs
