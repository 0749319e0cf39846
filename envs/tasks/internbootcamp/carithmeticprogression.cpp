// Carithmeticprogressionbootcamp (Codeforces 382C): the numbers that can be added to
// a list of cards so the cards form an arithmetic progression.
// Identity (upstream's shape): {"n": int, "numbers": [int], "solutions": -1 | 0 | [int, ...]}
// where -1 means infinitely many and 0 none. The answer is the FIRST
// [answer]...[/answer] block: "-1", "0", or whitespace-separated integers (sorted
// before comparing). Scored against identity["solutions"], as upstream does.
#include <algorithm>
#include <set>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

Json solve(const std::vector<int64_t>& numbers) {
  if (numbers.size() == 1) return -1;
  std::vector<int64_t> a = numbers;
  std::sort(a.begin(), a.end());
  int64_t mindiff = INT64_MAX;
  for (size_t i = 0; i + 1 < a.size(); ++i) mindiff = std::min(mindiff, a[i + 1] - a[i]);
  int cnt = 0;
  std::optional<int64_t> insert;
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    const int64_t diff = a[i + 1] - a[i];
    if (diff == mindiff) continue;
    ++cnt;
    if (diff != 2 * mindiff) return 0;
    insert = a[i] + mindiff;
  }
  if (cnt == 0) {
    std::set<int64_t> ans{a.front() - mindiff, a.back() + mindiff};
    if (a.size() == 2 && (a[1] - a[0]) % 2 == 0) ans.insert(a[0] + (a[1] - a[0]) / 2);
    return Json(std::vector<int64_t>(ans.begin(), ans.end()));
  }
  if (cnt == 1 && insert) return Json(std::vector<int64_t>{*insert});
  return 0;
}

class Carithmeticprogression final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Carithmeticprogressionbootcamp", "math",
                                "numbers that complete an arithmetic progression",
                                {{"max_n", 1, 1000, "most cards in a random case"},
                                 {"max_number", 10, 100000000, "largest card value"}},
                                "Carithmeticprogressionbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    static const int64_t kMaxNumber[] = {10, 20, 50, 100, 200, 500, 1000, 10000, 100000, 1000000};
    return {{"max_n", 2 + level}, {"max_number", kMaxNumber[level - 1]}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t hi = d.at("max_number");
    std::vector<int64_t> numbers;
    // Case kinds as upstream mixes them: a single card, two cards an even gap apart,
    // a progression with one inner term removed, a no-solution triple, random cards.
    const int64_t kind = rng.uniform(0, 9);
    if (kind == 0) {
      numbers = {rng.uniform(1, hi)};
    } else if (kind <= 2) {
      const int64_t a = rng.uniform(1, hi);
      numbers = {a, a + 2 * rng.uniform(1, 5)};
    } else if (kind <= 5) {
      const int64_t m = rng.uniform(3, 5), a = rng.uniform(1, hi), step = rng.uniform(1, 5);
      for (int64_t i = 0; i < m; ++i) numbers.push_back(a + i * step);
      numbers.erase(numbers.begin() + rng.uniform(1, m - 2));
    } else if (kind <= 8) {
      const int64_t a = rng.uniform(1, hi);
      int64_t d1, d2;
      do {
        d1 = rng.uniform(1, 5);
        d2 = rng.uniform(1, 5);
      } while (d1 == d2);
      numbers = {a, a + d1, a + d1 + d2 + 1};
    } else {
      const int64_t n = rng.uniform(1, d.at("max_n"));
      for (int64_t i = 0; i < n; ++i) numbers.push_back(rng.uniform(1, hi));
    }
    rng.shuffle(numbers);
    Case c;
    c.identity = {{"n", numbers.size()}, {"numbers", numbers}, {"solutions", solve(numbers)}};
    std::string list;
    for (auto x : numbers) list += (list.empty() ? "" : " ") + std::to_string(x);
    c.prompt = "Alexander holds " + std::to_string(numbers.size()) + " cards: " + list +
               ".\nWhich integers could one more card carry so that all the cards together form an arithmetic "
               "progression?\nAnswer inside [answer][/answer]: -1 if infinitely many integers work, 0 if none "
               "does, otherwise all of them in increasing order separated by spaces, e.g. [answer]-2 10[/answer].";
    std::string final_text;
    const Json& s = c.identity["solutions"];
    if (s.is_array()) {
      for (const auto& x : s) final_text += (final_text.empty() ? "" : " ") + std::to_string(identity_int(x));
    } else {
      final_text = std::to_string(identity_int(s));
    }
    c.answer = reference_response("[answer]" + final_text + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = first_block(response, "[answer]", "[/answer]");
    if (!block) return std::nullopt;
    std::string_view content = trim(*block);
    if (content == "-1" || content == "0") return std::string(content);
    // Anything else must be integers separated by whitespace (else upstream returns None).
    for (auto tok : split_any(content, " \t\n\r\v\f")) {
      if (!parse_int(tok)) return std::nullopt;
    }
    return std::string(content);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const Json& want = *identity_fields<1>(identity, {"solutions"})[0];
    if (extracted == "-1" || extracted == "0") return want.is_number_integer() && identity_int(want) == std::stoll(extracted);
    if (!want.is_array()) return 0.0;
    std::vector<int64_t> got;
    for (auto tok : split_any(extracted, " \t\n\r\v\f")) got.push_back(*parse_int(tok));
    std::sort(got.begin(), got.end());
    return got == identity_ints(want) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Carithmeticprogression);

}  // namespace
}  // namespace troupe::envs
