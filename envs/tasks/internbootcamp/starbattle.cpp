// Starbattlebootcamp: place one star in every row, every column and every lettered region
// of a square grid so that no two stars touch, not even diagonally.
// Identity (upstream's shape): {"input_grid": [["A", "B", ...], ...]} (a JSON string of
// the grid is read too, as upstream does; an optional "n" gives the stars per line and
// region, default 1). The answer is the LAST ```json {...} ``` block (upstream's regex:
// "```json", whitespace, the shortest {...} followed by whitespace and "```"); its text,
// with ' turned into " and ( ) into [ ], is read as JSON: region letter -> list of
// [row, column] pairs counted from 1. A block that is not such JSON is extracted but wrong.
// Deviation (DEVIATIONS.md): upstream checks only the regions, rows and columns the answer
// mentions, so "{}" (or any partial placement) scores 1 there; we also require every
// region, row and column of the grid to hold its n stars.
#include <map>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// The last match of upstream's ```json\s*(\{[\s\S]*?\})\s*``` in a left-to-right scan, in
// O(n log n): the closing braces that whitespace and ``` follow are found once, then each
// start takes the first of them after its opening brace.
std::optional<std::string_view> last_json_fence(std::string_view t) {
  constexpr std::string_view kOpen = "```json", kFence = "```";
  std::vector<size_t> closes;  // positions of '}' followed by \s* and ```
  for (size_t i = t.find('}'); i != std::string_view::npos; i = t.find('}', i + 1)) {
    size_t j = i + 1;
    while (j < t.size()) {
      const size_t len = py_space_len(t, j);
      if (len == 0) break;
      j += len;
    }
    if (t.substr(j, kFence.size()) == kFence) closes.push_back(i);
  }
  std::optional<std::string_view> last;
  size_t pos = 0;
  while (true) {
    const size_t a = t.find(kOpen, pos);
    if (a == std::string_view::npos) return last;
    size_t q = a + kOpen.size();
    while (q < t.size()) {
      const size_t len = py_space_len(t, q);
      if (len == 0) break;
      q += len;
    }
    if (q >= t.size() || t[q] != '{') {
      pos = a + 1;
      continue;
    }
    auto it = std::upper_bound(closes.begin(), closes.end(), q);
    if (it == closes.end()) return last;  // no later start can close either
    last = t.substr(q, *it + 1 - q);
    size_t end = *it + 1;
    while (py_space_len(t, end) > 0) end += py_space_len(t, end);  // a fence follows, so end stays in range
    pos = end + kFence.size();
  }
}

std::string letter(int64_t k) { return std::string(1, static_cast<char>('A' + k)); }

class Starbattle final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Starbattlebootcamp", "puzzle", "one star per row, column and region, stars never touching",
                                {{"size", 4, 12, "grid side (and number of regions)"}},
                                "Starbattlebootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"size", level_lerp(level, 4, 10)}};  // level 2 is upstream's default 5x5
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size");
    // Star columns per row: a permutation with neighbouring rows' columns at least 2 apart.
    std::vector<int64_t> col;
    std::function<bool()> place = [&]() {
      if (static_cast<int64_t>(col.size()) == n) return true;
      for (int64_t c : random_permutation(rng, n)) {
        if (std::find(col.begin(), col.end(), c) != col.end() || (!col.empty() && std::abs(col.back() - c) < 2)) continue;
        col.push_back(c);
        if (place()) return true;
        col.pop_back();
      }
      return false;
    };
    place();  // n >= 4 always has such a permutation, and the search finds one quickly
    std::vector<std::pair<int64_t, int64_t>> stars;
    for (int64_t r = 0; r < n; ++r) stars.push_back({r, col[static_cast<size_t>(r)]});
    const IntGrid region = regions_from_seeds(rng, n, n, stars);
    Json grid = Json::array();
    std::string text;
    for (const auto& row : region) {
      Json jrow = Json::array();
      for (size_t c = 0; c < row.size(); ++c) {
        jrow.push_back(letter(row[c]));
        text += (c ? " " : "") + letter(row[c]);
      }
      grid.push_back(jrow);
      text += "\n";
    }
    std::string answer;
    for (int64_t k = 0; k < n; ++k) {
      answer += (k ? ", '" : "'") + letter(k) + "': [(" + std::to_string(stars[static_cast<size_t>(k)].first + 1) + ", " +
                std::to_string(stars[static_cast<size_t>(k)].second + 1) + ")]";
    }
    Case c;
    c.identity = {{"input_grid", grid}};
    c.prompt = "Star Battle on a " + std::to_string(n) + "x" + std::to_string(n) + " grid. Each letter marks the region "
               "its cell belongs to:\n" + text + "Place stars so that every row, every column and every region holds "
               "exactly one star, and no two stars touch, not even at a corner. Rows and columns are counted from 1. "
               "End with the stars grouped by region in a json code block, for example\n```json\n{'A': [(1, 2)], "
               "'B': [(3, 1)]}\n```";
    c.answer = reference_response("Final answer:\n```json\n{" + answer + "}\n```");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_json_fence(response);
    if (!block) return std::nullopt;
    return std::string(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    std::string text = extracted;
    for (char& ch : text) ch = ch == '\'' ? '"' : (ch == '(' ? '[' : (ch == ')' ? ']' : ch));
    const Json answer = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object()) return 0.0;  // upstream returns the unparsed text, which then fails
    const Json& raw = identity.at("input_grid");
    Json parsed;  // only for an identity that holds the grid as JSON text: the list is read in place
    if (raw.is_string()) parsed = Json::parse(raw.get_ref<const std::string&>());
    const Json& grid = raw.is_string() ? parsed : raw;
    const int64_t n = identity.contains("n") ? identity_int(identity.at("n")) : 1;
    const auto rows = static_cast<int64_t>(grid.size()), cols = static_cast<int64_t>(grid.at(0).size());
    std::vector<std::pair<int64_t, int64_t>> stars;
    std::map<std::string, int64_t, std::less<>> per_region;
    for (const auto& [name, coords] : answer.items()) {
      if (!coords.is_array() || static_cast<int64_t>(coords.size()) != n) return 0.0;
      for (const Json& rc : coords) {
        // A pair of integers (JSON true/false act as 1/0, as Python's bools do).
        if (!rc.is_array() || rc.size() != 2) return 0.0;
        int64_t v[2];
        for (size_t k = 0; k < 2; ++k) {
          if (rc[k].is_boolean()) {
            v[k] = rc[k].get<bool>();
          } else if (rc[k].is_number_integer()) {
            v[k] = rc[k].get<int64_t>();
          } else {
            return 0.0;
          }
        }
        if (v[0] < 1 || v[0] > rows || v[1] < 1 || v[1] > cols) return 0.0;
        const Json& cell = grid.at(static_cast<size_t>(v[0] - 1)).at(static_cast<size_t>(v[1] - 1));
        if (!cell.is_string() || cell.get_ref<const std::string&>() != name) return 0.0;
        stars.push_back({v[0], v[1]});
        ++per_region[name];
      }
    }
    // Every region of the grid, every row and every column: n stars (upstream checks only those named).
    // Every region letter of the grid must be one the answer filled.
    for (const Json& row : grid) {
      for (const Json& cell : row) {
        if (!cell.is_string() || !per_region.count(cell.get_ref<const std::string&>())) return 0.0;
      }
    }
    std::vector<int64_t> in_row(static_cast<size_t>(rows) + 1, 0), in_col(static_cast<size_t>(cols) + 1, 0);
    for (auto [r, c] : stars) ++in_row[static_cast<size_t>(r)], ++in_col[static_cast<size_t>(c)];
    for (int64_t r = 1; r <= rows; ++r) {
      if (in_row[static_cast<size_t>(r)] != n) return 0.0;
    }
    for (int64_t c = 1; c <= cols; ++c) {
      if (in_col[static_cast<size_t>(c)] != n) return 0.0;
    }
    for (size_t i = 0; i < stars.size(); ++i) {
      for (size_t j = i + 1; j < stars.size(); ++j) {
        if (std::abs(stars[i].first - stars[j].first) <= 1 && std::abs(stars[i].second - stars[j].second) <= 1) return 0.0;
      }
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Starbattle);

}  // namespace
}  // namespace troupe::envs
