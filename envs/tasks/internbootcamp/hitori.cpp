// Hitoribootcamp: shade cells of a number grid so that no number repeats among the
// unshaded cells of any row or column, no two shaded cells touch across or down, and
// the unshaded cells form one connected area.
// Identity (upstream's shape): {"grid": [[int]]}. The answer is the LAST
// [answer]...[/answer] block, read by ast.literal_eval as a list of (row, column)
// tuples counted from 0 (lists make it unreadable, as upstream's isinstance check does).
// Right (as upstream) when the cells are distinct, inside the grid, never adjacent, and
// leave unique rows and columns of unshaded numbers that hang together -- any such
// shading, not only the generator's. Coordinates must be whole numbers (2.0 counts as 2).
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

// Whether the cells not in `shaded` form one 4-connected area (and there is at least one).
bool unshaded_connected(int64_t n, const std::set<Cell>& shaded) {
  std::set<Cell> seen;
  std::vector<Cell> stack;
  int64_t total = 0;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      if (shaded.count({r, c})) continue;
      ++total;
      if (stack.empty() && seen.empty()) stack.push_back({r, c}), seen.insert({r, c});
    }
  }
  if (total == 0) return false;
  while (!stack.empty()) {
    const auto [r, c] = stack.back();
    stack.pop_back();
    for (int d = 0; d < 4; ++d) {
      const Cell next{r + kOrthoDr[d], c + kOrthoDc[d]};
      if (next.first < 0 || next.second < 0 || next.first >= n || next.second >= n || shaded.count(next) || seen.count(next)) continue;
      seen.insert(next);
      stack.push_back(next);
    }
  }
  return static_cast<int64_t>(seen.size()) == total;
}

bool adjacent_to(const std::set<Cell>& cells, Cell cell) {
  for (int d = 0; d < 4; ++d) {
    if (cells.count({cell.first + kOrthoDr[d], cell.second + kOrthoDc[d]})) return true;
  }
  return false;
}

class Hitori final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Hitoribootcamp", "puzzle", "shade repeated numbers away, shaded cells apart, rest connected",
                                {{"size", 3, 12, "grid side"}},
                                "Hitoribootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"size", level_lerp(level, 3, 9)}};  // level 4 is upstream's default 5x5
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    // As upstream: a Latin square (so the unshaded cells never repeat), a random set of
    // shaded cells that never touch and keep the rest connected, then each shaded cell
    // takes the number of an unshaded cell in its row (or column), so it must be shaded.
    const int64_t n = d.at("size");
    IntGrid grid = random_latin_square(rng, n);
    std::set<Cell> shaded;
    for (int64_t k : random_permutation(rng, n * n)) {
      const Cell cell{k / n, k % n};
      if (adjacent_to(shaded, cell)) continue;
      shaded.insert(cell);
      if (!unshaded_connected(n, shaded)) shaded.erase(cell);
    }
    for (auto [r, c] : shaded) {
      std::vector<Cell> same_row, same_col;
      for (int64_t k = 0; k < n; ++k) {
        if (k != c && !shaded.count({r, k})) same_row.push_back({r, k});
        if (k != r && !shaded.count({k, c})) same_col.push_back({k, c});
      }
      const auto& from = same_row.empty() ? same_col : same_row;
      if (from.empty()) continue;
      const Cell src = rng.pick(from);
      grid[static_cast<size_t>(r)][static_cast<size_t>(c)] = grid[static_cast<size_t>(src.first)][static_cast<size_t>(src.second)];
    }
    std::string answer;
    for (auto [r, c] : shaded) answer += (answer.empty() ? "(" : ", (") + std::to_string(r) + ", " + std::to_string(c) + ")";
    Case out;
    out.identity = {{"grid", grid}};
    out.prompt = "Hitori on a " + std::to_string(n) + "x" + std::to_string(n) + " grid:\n" + grid_text(grid, " ", "\n") +
                 "\nShade some cells so that no number appears twice among the unshaded cells of any row or column, "
                 "no two shaded cells share a side, and all unshaded cells stay connected through shared sides. List "
                 "the shaded cells as a Python list of (row, column) tuples counted from 0 inside [answer][/answer], "
                 "for example [answer][(0, 1), (2, 3)][/answer].";
    out.answer = reference_response("[answer]\n[" + answer + "]\n[/answer]");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, readable);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const PyValue v = *kept_reading<literal_of_block>(extracted);
    const Json& grid = identity.at("grid");
    if (auto numbers = small_int_grid(grid)) return judge_small(v, *numbers, grid.size()) ? 1.0 : 0.0;
    return judge_general(v, grid) ? 1.0 : 0.0;
  }

 private:
  static constexpr size_t kSmallSide = 64;  // far above upstream's grids (5x5 by default)

  // The grid's numbers row by row when it is square, at most kSmallSide wide, and all
  // integers (every grid either generator writes); else nullopt (judge_general reads it).
  static std::optional<std::vector<int64_t>> small_int_grid(const Json& grid) {
    const size_t n = grid.size();
    if (!grid.is_array() || n > kSmallSide) return std::nullopt;
    std::vector<int64_t> out;
    out.reserve(n * n);
    for (const Json& row : grid) {
      if (!row.is_array() || row.size() != n) return std::nullopt;
      for (const Json& x : row) {
        if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
          return std::nullopt;
        }
        out.push_back(x.get<int64_t>());
      }
    }
    return out;
  }

  // judge_general on a small integer grid, with the shading as a flat bitmap instead of sets.
  static bool judge_small(const PyValue& v, const std::vector<int64_t>& grid, size_t n) {
    std::vector<char> shaded(n * n, 0);
    for (const auto& t : v.items) {
      auto r = py_integral(t.items[0]), c = py_integral(t.items[1]);
      if (!r || !c || *r < 0 || *c < 0 || *r >= static_cast<int64_t>(n) || *c >= static_cast<int64_t>(n)) return false;
      char& cell = shaded[static_cast<size_t>(*r) * n + static_cast<size_t>(*c)];
      if (cell) return false;  // listed twice
      cell = 1;
    }
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < n; ++c) {
        if (!shaded[r * n + c]) continue;
        if ((r > 0 && shaded[(r - 1) * n + c]) || (r + 1 < n && shaded[(r + 1) * n + c]) || (c > 0 && shaded[r * n + c - 1]) ||
            (c + 1 < n && shaded[r * n + c + 1])) {
          return false;
        }
      }
    }
    // No number twice among the unshaded cells of a row or column (n <= 64: pairs are cheap).
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < n; ++k) {
        for (size_t j = 0; j < k; ++j) {
          if (!shaded[i * n + k] && !shaded[i * n + j] && grid[i * n + k] == grid[i * n + j]) return false;
          if (!shaded[k * n + i] && !shaded[j * n + i] && grid[k * n + i] == grid[j * n + i]) return false;
        }
      }
    }
    // The unshaded cells hang together: a flood fill from the first reaches all of them.
    size_t total = 0, start = n * n;
    for (size_t k = 0; k < n * n; ++k) {
      if (shaded[k]) continue;
      ++total;
      if (start == n * n) start = k;
    }
    if (total == 0) return false;
    std::vector<char> seen(n * n, 0);
    std::vector<size_t> stack{start};
    seen[start] = 1;
    size_t reached = 1;
    while (!stack.empty()) {
      const size_t k = stack.back();
      stack.pop_back();
      const size_t r = k / n, c = k % n;
      const size_t next[4] = {r > 0 ? k - n : k, r + 1 < n ? k + n : k, c > 0 ? k - 1 : k, c + 1 < n ? k + 1 : k};
      for (size_t m : next) {
        if (m == k || shaded[m] || seen[m]) continue;
        seen[m] = 1;
        ++reached;
        stack.push_back(m);
      }
    }
    return reached == total;
  }

  // Upstream's checks on any grid the identity holds (numbers compared as JSON values).
  static bool judge_general(const PyValue& v, const Json& grid) {
    const auto n = static_cast<int64_t>(grid.size());
    std::set<Cell> shaded;
    for (const auto& t : v.items) {
      auto r = py_integral(t.items[0]), c = py_integral(t.items[1]);
      if (!r || !c || *r < 0 || *c < 0 || *r >= n || *c >= n) return false;
      if (!shaded.insert({*r, *c}).second) return false;  // listed twice
    }
    for (const Cell& cell : shaded) {
      if (adjacent_to(shaded, cell)) return false;
    }
    for (int64_t i = 0; i < n; ++i) {
      std::set<Json> in_row, in_col;
      for (int64_t k = 0; k < n; ++k) {
        if (!shaded.count({i, k}) && !in_row.insert(grid.at(static_cast<size_t>(i)).at(static_cast<size_t>(k))).second) return false;
        if (!shaded.count({k, i}) && !in_col.insert(grid.at(static_cast<size_t>(k)).at(static_cast<size_t>(i))).second) return false;
      }
    }
    return unshaded_connected(n, shaded);
  }
};
TROUPE_REGISTER_TASK(Hitori);

}  // namespace
}  // namespace troupe::envs
