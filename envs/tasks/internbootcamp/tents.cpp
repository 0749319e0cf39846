// Tentsbootcamp: place tents on empty cells so that every tent touches a tree across or
// down, every tree has exactly one tent across or down from it, no two tents touch (not
// even diagonally), and each row and column holds the number of tents its clue says.
// Identity (upstream's shape): {"grid": [[1 = tree, 0 = empty]], "row_clues": [..],
// "col_clues": [..], "solution": [[r, c], ...] (0-based tents)}. The answer is the LAST
// [answer]...[/answer] block, read by ast.literal_eval as a list of (row, column)
// tuples counted from 1 (lists make it unreadable, as upstream's isinstance check does).
// Right (as upstream, which does not use the stored solution): distinct tents on empty
// cells inside the grid, rules above, clues met.
#include <map>
#include <set>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Cell = std::pair<int64_t, int64_t>;

bool readable(std::string_view block) {
  const auto& v = read_and_keep<literal_of_block>(block);
  if (!v || v->kind != PyValue::Kind::kList) return false;
  for (const auto& t : v->items) {
    if (t.kind != PyValue::Kind::kTuple || t.items.size() != 2) return false;
  }
  return true;
}

class Tents final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Tentsbootcamp", "puzzle", "pair every tree with a tent, tents never touching",
                                {{"rows", 2, 16, "grid rows"}, {"cols", 2, 16, "grid columns"},
                                 {"tent_percent", 10, 100, "chance that a free spot gets a tent"}},
                                "Tentsbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    const int64_t side = level_lerp(level, 3, 10);  // level 4 is upstream's default 5x5
    return {{"rows", side}, {"cols", side}, {"tent_percent", 60}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t rows = d.at("rows"), cols = d.at("cols");
    // Tents and their trees, added one pair at a time so the rules hold throughout: a new
    // tent touches no tent and sits next to no tree already placed; its tree goes on a free
    // neighbour that no other tent touches across or down.
    IntGrid grid = make_grid(rows, cols);
    std::set<Cell> tents;
    auto inside = [&](int64_t r, int64_t c) { return r >= 0 && c >= 0 && r < rows && c < cols; };
    auto tree_at = [&](int64_t r, int64_t c) { return inside(r, c) && grid[static_cast<size_t>(r)][static_cast<size_t>(c)] == 1; };
    auto touches_tent = [&](int64_t r, int64_t c, bool diagonal) {
      for (int64_t dr = -1; dr <= 1; ++dr) {
        for (int64_t dc = -1; dc <= 1; ++dc) {
          if ((dr || dc) && (diagonal || !dr || !dc) && tents.count({r + dr, c + dc})) return true;
        }
      }
      return false;
    };
    Json solution = Json::array();
    for (int64_t k : random_permutation(rng, rows * cols)) {
      const int64_t r = k / cols, c = k % cols;
      if (tree_at(r, c) || tents.count({r, c}) || touches_tent(r, c, true)) continue;
      bool next_to_tree = false;
      for (int dir = 0; dir < 4; ++dir) next_to_tree = next_to_tree || tree_at(r + kOrthoDr[dir], c + kOrthoDc[dir]);
      if (next_to_tree) continue;
      std::vector<Cell> spots;
      for (int dir = 0; dir < 4; ++dir) {
        const int64_t tr = r + kOrthoDr[dir], tc = c + kOrthoDc[dir];
        if (inside(tr, tc) && !tree_at(tr, tc) && !tents.count({tr, tc}) && !touches_tent(tr, tc, false)) spots.push_back({tr, tc});
      }
      // The first feasible pair is always taken, so every case has a tent.
      if (spots.empty() || (!tents.empty() && !rng.chance(d.at("tent_percent"), 100))) continue;
      const Cell tree = rng.pick(spots);
      grid[static_cast<size_t>(tree.first)][static_cast<size_t>(tree.second)] = 1;
      tents.insert({r, c});
      solution.push_back({r, c});
    }
    std::vector<int64_t> row_clues(static_cast<size_t>(rows), 0), col_clues(static_cast<size_t>(cols), 0);
    for (auto [r, c] : tents) ++row_clues[static_cast<size_t>(r)], ++col_clues[static_cast<size_t>(c)];
    std::string picture;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) picture += tree_at(r, c) ? "T" : ".";
      picture += "  " + std::to_string(row_clues[static_cast<size_t>(r)]) + "\n";
    }
    std::string answer;
    for (const Json& t : solution) {
      answer += (answer.empty() ? "(" : ", (") + std::to_string(t[0].get<int64_t>() + 1) + ", " + std::to_string(t[1].get<int64_t>() + 1) + ")";
    }
    Case out;
    out.identity = {{"grid", grid}, {"row_clues", row_clues}, {"col_clues", col_clues}, {"solution", solution}};
    out.prompt = "Tents puzzle. In the grid below T is a tree and . an empty cell; the number after each row is how "
                 "many tents that row holds, and the column counts, left to right, are " + grid_text({col_clues}, " ", "") +
                 ".\n" + picture + "Put tents on empty cells so that every tent is directly left, right, above or "
                 "below a tree, every tree has exactly one tent directly beside it in those four directions, and no "
                 "two tents touch, not even diagonally. Answer with the tents as a Python list of (row, column) "
                 "tuples counted from 1 inside [answer][/answer], for example [answer][(1, 2), (3, 4)][/answer].";
    out.answer = reference_response("[answer]\n[" + answer + "]\n[/answer]");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, readable);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const PyValue v = *kept_reading<literal_of_block>(extracted);
    const Json& grid = identity.at("grid");
    const auto rows = static_cast<int64_t>(grid.size()), cols = static_cast<int64_t>(grid.at(0).size());
    auto tree = [&](int64_t r, int64_t c) {
      const Json& cell = grid.at(static_cast<size_t>(r)).at(static_cast<size_t>(c));
      return !(cell.is_null() || cell == 0 || cell == false);  // Python truthiness of the cell
    };
    std::set<Cell> tents;
    for (const auto& t : v.items) {
      // Upstream subtracts 1 from each and indexes the grid with it: integers (or bools) only.
      auto r = py_index(t.items[0]), c = py_index(t.items[1]);
      if (!r || !c) return 0.0;
      const Cell cell{*r - 1, *c - 1};
      if (!tents.insert(cell).second) return 0.0;  // the same tent twice
      if (cell.first < 0 || cell.second < 0 || cell.first >= rows || cell.second >= cols || tree(cell.first, cell.second)) return 0.0;
    }
    for (auto [r, c] : tents) {
      for (int64_t dr = -1; dr <= 1; ++dr) {
        for (int64_t dc = -1; dc <= 1; ++dc) {
          if ((dr || dc) && tents.count({r + dr, c + dc})) return 0.0;
        }
      }
    }
    std::map<Cell, int64_t> tents_beside;  // per tree
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < static_cast<int64_t>(grid.at(static_cast<size_t>(r)).size()); ++c) {
        if (tree(r, c)) tents_beside[{r, c}] = 0;
      }
    }
    std::vector<int64_t> row_count(static_cast<size_t>(rows), 0), col_count(static_cast<size_t>(cols), 0);
    for (auto [r, c] : tents) {
      bool beside_tree = false;
      for (int d = 0; d < 4; ++d) {
        const int64_t nr = r + kOrthoDr[d], nc = c + kOrthoDc[d];
        if (nr >= 0 && nc >= 0 && nr < rows && nc < cols && tree(nr, nc)) beside_tree = true, ++tents_beside[{nr, nc}];
      }
      if (!beside_tree) return 0.0;
      ++row_count[static_cast<size_t>(r)], ++col_count[static_cast<size_t>(c)];
    }
    for (const auto& [cell, n] : tents_beside) {
      if (n != 1) return 0.0;
    }
    return identity.at("row_clues") == row_count && identity.at("col_clues") == col_count ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Tents);

}  // namespace
}  // namespace troupe::envs
