// KorPuzzleLogicPuzzlebootcamp: a small logic grid -- from clues, match each year to a
// windmill and a family.
// Identity (upstream's shape): {"assignments": [{"year": int, "windmill": str,
// "family": str}, ...], "clues": [str], "years_order": [int]}. The answer is the LAST
// [[...]] (DOTALL); newlines read as spaces; entries are separated by commas, each
// "YEAR WINDMILL FAMILY" with single words or several (names may contain spaces).
// Any block counts as extracted. Right when every year of the identity has exactly one
// entry and each entry's names are that year's windmill and family.
// Deviation (DEVIATIONS.md): upstream keeps only entries of exactly three words and
// checks those, so names with spaces are never checked and an answer with no such entry
// ("[[ ]]") is right on every case; we check every year.
// Our generator adds clues until exactly one assignment fits them (checked by brute force
// over both permutations, so the size is capped at 5 entries).
#include <algorithm>
#include <numeric>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

const std::vector<std::string> kWindmills = {"Vlietmolen", "Westmolen", "Zemelmolen", "De Hoop", "Korenbloem",
                                             "De Valk",   "Nooitgedacht"};
const std::vector<std::string> kFamilies = {"Bakker", "Visser", "Van Dijk", "De Jong", "Mulder", "Smit", "Van Leeuwen"};

// A clue constrains (windmill index -> slot, family index -> slot) assignments.
struct Clue {
  enum Kind { kOwnedBy, kNotOwnedBy, kBuiltIn, kFamilyIn, kAfter } kind;
  int a, b;  // windmill / family / slot indices, by kind
  std::string text;
};

// mill_slot[w] = slot of windmill w; fam_slot[f] = slot of family f.
bool holds(const Clue& c, const std::vector<int>& mill_slot, const std::vector<int>& fam_slot) {
  switch (c.kind) {
    case Clue::kOwnedBy: return mill_slot[static_cast<size_t>(c.a)] == fam_slot[static_cast<size_t>(c.b)];
    case Clue::kNotOwnedBy: return mill_slot[static_cast<size_t>(c.a)] != fam_slot[static_cast<size_t>(c.b)];
    case Clue::kBuiltIn: return mill_slot[static_cast<size_t>(c.a)] == c.b;
    case Clue::kFamilyIn: return fam_slot[static_cast<size_t>(c.a)] == c.b;
    case Clue::kAfter: return mill_slot[static_cast<size_t>(c.a)] == fam_slot[static_cast<size_t>(c.b)] + 1;
  }
  return false;
}

// Number of assignments that satisfy every clue, stopping at 2.
int count_solutions(size_t n, const std::vector<Clue>& clues) {
  std::vector<int> mills(n), fams(n);
  std::iota(mills.begin(), mills.end(), 0);
  int found = 0;
  do {
    std::iota(fams.begin(), fams.end(), 0);
    do {
      bool ok = true;
      for (const auto& c : clues) ok = ok && holds(c, mills, fams);
      if (ok && ++found >= 2) return found;
    } while (std::next_permutation(fams.begin(), fams.end()));
  } while (std::next_permutation(mills.begin(), mills.end()));
  return found;
}

// The next whitespace-separated word of s from pos (ASCII whitespace; Python's split()
// also splits on Unicode spaces, which the names never contain), or "" at the end.
std::string_view next_word(std::string_view s, size_t& pos) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (pos < s.size() && space(s[pos])) ++pos;
  const size_t start = pos;
  while (pos < s.size() && !space(s[pos])) ++pos;
  return s.substr(start, pos - start);
}

class KorPuzzleLogicPuzzle final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"KorPuzzleLogicPuzzlebootcamp", "logic", "match years, windmills and families from clues",
                                {{"entries", 3, 5, "years (and windmills and families) to match"}},
                                "KorPuzzleLogicPuzzlebootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"entries", level <= 3 ? 3 : (level <= 7 ? 4 : 5)}};  // upstream: 4
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const size_t n = static_cast<size_t>(d.at("entries"));
    std::vector<std::string> mills = kWindmills, fams = kFamilies;
    rng.shuffle(mills);
    rng.shuffle(fams);
    mills.resize(n);
    fams.resize(n);
    const int64_t first_year = rng.uniform(160, 180) * 10, step = rng.pick(std::vector<int64_t>{10, 20, 23, 25});
    std::vector<int64_t> years;
    for (size_t i = 0; i < n; ++i) years.push_back(first_year + step * static_cast<int64_t>(i));
    // The truth: windmill i and family perm[i] stand in slot slot_of_mill[i].
    std::vector<int> mill_slot(n), fam_slot(n);
    std::iota(mill_slot.begin(), mill_slot.end(), 0);
    std::iota(fam_slot.begin(), fam_slot.end(), 0);
    rng.shuffle(mill_slot);
    rng.shuffle(fam_slot);
    std::vector<Clue> clues;
    auto y = [&](int slot) { return std::to_string(years[static_cast<size_t>(slot)]); };
    // Draws one true clue; nullopt when the drawn pair does not fit the drawn kind.
    auto draw = [&]() -> std::optional<Clue> {
      const int w = static_cast<int>(rng.uniform(0, static_cast<int64_t>(n) - 1));
      const int f = static_cast<int>(rng.uniform(0, static_cast<int64_t>(n) - 1));
      const std::string& mill = mills[static_cast<size_t>(w)];
      const std::string& fam = fams[static_cast<size_t>(f)];
      Clue c{};
      switch (rng.uniform(0, 4)) {
        case 0:
          if (mill_slot[static_cast<size_t>(w)] != fam_slot[static_cast<size_t>(f)]) return std::nullopt;
          c = {Clue::kOwnedBy, w, f, mill + " belongs to the " + fam + " family."};
          break;
        case 1:
          if (mill_slot[static_cast<size_t>(w)] == fam_slot[static_cast<size_t>(f)]) return std::nullopt;
          c = {Clue::kNotOwnedBy, w, f, "The " + fam + " family does not own " + mill + "."};
          break;
        case 2:
          c = {Clue::kBuiltIn, w, mill_slot[static_cast<size_t>(w)], mill + " was built in " + y(mill_slot[static_cast<size_t>(w)]) + "."};
          break;
        case 3:
          c = {Clue::kFamilyIn, f, fam_slot[static_cast<size_t>(f)],
               "The " + fam + " family's mill dates from " + y(fam_slot[static_cast<size_t>(f)]) + "."};
          break;
        default:
          if (mill_slot[static_cast<size_t>(w)] != fam_slot[static_cast<size_t>(f)] + 1) return std::nullopt;
          c = {Clue::kAfter, w, f, mill + " was built " + std::to_string(step) + " years after the " + fam + " family's mill."};
          break;
      }
      return c;
    };
    for (int solutions = 2; solutions != 1; solutions = count_solutions(n, clues)) {
      std::optional<Clue> c;
      auto repeated = [&](const Clue& x) {
        return std::any_of(clues.begin(), clues.end(), [&](const Clue& other) { return other.text == x.text; });
      };
      while (!c || repeated(*c)) c = draw();
      clues.push_back(*c);
    }
    Case out;
    out.identity = {{"assignments", Json::array()}, {"clues", Json::array()}, {"years_order", years}};
    std::string answer;
    for (size_t slot = 0; slot < n; ++slot) {
      const size_t w = static_cast<size_t>(std::find(mill_slot.begin(), mill_slot.end(), static_cast<int>(slot)) - mill_slot.begin());
      const size_t f = static_cast<size_t>(std::find(fam_slot.begin(), fam_slot.end(), static_cast<int>(slot)) - fam_slot.begin());
      out.identity["assignments"].push_back({{"year", years[slot]}, {"windmill", mills[w]}, {"family", fams[f]}});
      answer += (answer.empty() ? "" : ", ") + std::to_string(years[slot]) + " " + mills[w] + " " + fams[f];
    }
    std::string listed;
    for (size_t i = 0; i < clues.size(); ++i) {
      out.identity["clues"].push_back(clues[i].text);
      listed += std::to_string(i + 1) + ". " + clues[i].text + "\n";
    }
    std::string year_list;
    for (auto v : years) year_list += (year_list.empty() ? "" : ", ") + std::to_string(v);
    out.prompt = "Each of " + std::to_string(n) + " windmills was built in a different one of the years " + year_list +
                 " and is owned by a different family. The clues below are all true:\n" + listed +
                 "Give one entry per year, in the order of the years, as YEAR WINDMILL FAMILY; separate entries with "
                 "commas and put them all in double square brackets, e.g. [[" + y(0) + " " + mills[0] + " " + fams[0] +
                 ", ...]].";
    out.answer = reference_response("[[" + answer + "]]");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[[", "]]"});
    if (!block) return std::nullopt;
    return std::string(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const Json& assignments = identity.at("assignments");
    if (assignments.empty() || assignments.size() > 64) return 0.0;
    uint64_t seen = 0;  // bit k: year k has its entry
    std::string_view rest = extracted;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view entry = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t pos = 0;
      const std::string_view first = next_word(entry, pos);
      if (first.empty()) continue;  // upstream drops empty pieces too
      auto year = parse_int(first);
      if (!year) return 0.0;
      size_t k = 0;
      while (k < assignments.size() && identity_int(assignments[k].at("year")) != *year) ++k;
      if (k == assignments.size() || (seen >> k & 1)) return 0.0;
      seen |= uint64_t{1} << k;
      // The remaining words must be the windmill's words, then the family's.
      for (const char* key : {"windmill", "family"}) {
        const std::string& name = assignments[k].at(key).get_ref<const std::string&>();
        size_t npos = 0;
        for (std::string_view want = next_word(name, npos); !want.empty(); want = next_word(name, npos)) {
          if (next_word(entry, pos) != want) return 0.0;
        }
      }
      if (!next_word(entry, pos).empty()) return 0.0;
    }
    return seen == (assignments.size() == 64 ? ~uint64_t{0} : (uint64_t{1} << assignments.size()) - 1) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(KorPuzzleLogicPuzzle);

}  // namespace
}  // namespace troupe::envs
