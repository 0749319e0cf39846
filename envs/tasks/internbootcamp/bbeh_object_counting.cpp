// Bbehobjectcountingbootcamp: a long list of possessions (mine and my relatives'),
// asked for the sum or difference of how many things of two categories I have.
// Identity (upstream's shape): {"items": [str], "categories": [str, str],
// "operation": "sum"|"difference", "correct_answer": int, "_sums": [int, int]}.
// The answer: the LAST [answer]...[/answer] block, commas and spaces removed, the
// part after its last '=', then the last integer in it (-?\d+).
#include <algorithm>
#include <limits>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

const std::vector<std::string> kCategories{"fruits", "animals/insects", "cars", "mobiles", "musical instruments"};
const std::vector<std::vector<std::string>> kVocab{
    {"apples", "bananas", "plums", "peaches", "grapes", "mangoes", "pears", "cherries"},
    {"ants", "goats", "rabbits", "beetles", "sheep", "ducks", "crickets", "snails"},
    {"sedans", "hatchbacks", "convertibles", "coupes", "pickup trucks", "minivans"},
    {"smartphones", "flip phones", "feature phones", "old handsets"},
    {"violins", "flutes", "drums", "trumpets", "cellos", "harmonicas", "banjos"}};
const std::vector<std::string> kStories{"that I bought last week", "from my neighbour", "that I found at a market",
                                        "which were a gift", "kept in the shed", ""};
const std::vector<std::string> kPeople{"grandmother", "grandfather", "mother", "father", "sister",
                                       "brother", "uncle", "aunt", "cousin", "friend"};

class BbehObjectCounting final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Bbehobjectcountingbootcamp", "reasoning",
                                "count my things of two categories among distractors",
                                {{"max_items", 1, 20, "items of mine per counted category"},
                                 {"max_count", 5, 1000, "largest count per item"},
                                 {"max_other_people", 0, 40, "most distractor lines about relatives"}},
                                "Bbehobjectcountingbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"max_items", 2 + level / 2}, {"max_count", level_lerp(level, 20, 200)},
            {"max_other_people", level_lerp(level, 2, 15)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    std::vector<size_t> cats{0, 1, 2, 3, 4};
    rng.shuffle(cats);
    const bool sum = rng.chance(1, 2);
    std::vector<std::string> items;
    int64_t sums[2] = {0, 0};
    auto line = [&](size_t cat, int64_t n) {
      std::string story = rng.pick(kStories);
      return "I have " + std::to_string(n) + " " + rng.pick(kVocab[cat]) + (story.empty() ? "" : " " + story) + ".";
    };
    for (int k = 0; k < 2; ++k) {
      for (int64_t i = rng.uniform(1, d.at("max_items")); i > 0; --i) {
        const int64_t n = rng.uniform(5, d.at("max_count"));
        items.push_back(line(cats[static_cast<size_t>(k)], n));
        sums[k] += n;
      }
    }
    for (size_t k = 2; k < cats.size(); ++k) {
      for (int64_t i = rng.uniform(0, 3); i > 0; --i) items.push_back(line(cats[k], rng.uniform(1, d.at("max_count"))));
    }
    for (int64_t i = rng.uniform(d.at("max_other_people") / 2, d.at("max_other_people")); i > 0; --i) {
      const size_t cat = static_cast<size_t>(rng.uniform(0, 4));
      items.push_back("My " + rng.pick(kPeople) + " has " + std::to_string(rng.uniform(1, 300)) + " " +
                      rng.pick(kVocab[cat]) + ".");
    }
    rng.shuffle(items);
    const int64_t answer = sum ? sums[0] + sums[1] : std::abs(sums[0] - sums[1]);
    Case c;
    const std::string c1 = kCategories[cats[0]], c2 = kCategories[cats[1]];
    c.identity = {{"items", items}, {"categories", {c1, c2}}, {"operation", sum ? "sum" : "difference"},
                  {"correct_answer", answer}, {"_sums", {sums[0], sums[1]}}};
    std::string text;
    for (const auto& it : items) text += it + " ";
    c.prompt = text + "\nCounting only what I own myself (not my relatives), " +
               (sum ? "how many " + c1 + " and " + c2 + " do I have in total?"
                    : "what is the absolute difference between the number of " + c1 + " and the number of " + c2 +
                          " I have?") +
               " Give the number inside [answer][/answer].";
    c.answer = reference_response("[answer]" + std::to_string(answer) + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block) return std::nullopt;
    // The block without commas and spaces: a view of it when it holds none (no copy).
    std::string_view raw = trim(*block);
    std::string removed;
    if (std::any_of(raw.begin(), raw.end(), [](char ch) { return ch == ',' || ch == ' '; })) {
      removed.reserve(raw.size());
      for (char ch : raw) {
        if (ch != ',' && ch != ' ') removed.push_back(ch);
      }
      raw = removed;
    }
    if (auto eq = raw.rfind('='); eq != std::string_view::npos) raw = raw.substr(eq + 1);
    // The last match of -?\d+ : the last digit run, with a '-' right before it.
    size_t end = raw.size();
    while (end > 0 && !(raw[end - 1] >= '0' && raw[end - 1] <= '9')) --end;
    if (end == 0) return std::nullopt;
    size_t start = end;
    while (start > 0 && raw[start - 1] >= '0' && raw[start - 1] <= '9') --start;
    if (start > 0 && raw[start - 1] == '-') --start;
    // Built inside the optional (a std::string returned here would be moved into it).
    return std::optional<std::string>(std::in_place, raw.substr(start, end - start));
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const int64_t want = identity_int(*identity_fields<1>(identity, {"correct_answer"})[0]);
    // `extracted` is extract()'s -?\d+ match: its value read here as parse_int reads it (no
    // trimming or '+' to handle; more than 19 digits or past int64 is no number), without a call.
    std::string_view digits = extracted;
    const bool neg = !digits.empty() && digits[0] == '-';
    if (neg) digits.remove_prefix(1);
    if (digits.empty() || digits.size() > 19) return 0.0;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return 0.0;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return 0.0;
    return (neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v)) == want ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(BbehObjectCounting);

}  // namespace
}  // namespace troupe::envs
