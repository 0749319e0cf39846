// Minesweeperbootcamp: every cell of the grid shows how many of its (up to eight)
// neighbours hold a mine; find the mines.
// Identity (upstream's shape): {"rows": R, "cols": C, "mines": [[r, c], ...]} (0-based).
// The answer is the LAST [answer]...[/answer] block, read by ast.literal_eval as a list
// of two-element lists [[r, c], ...] (tuples make it unreadable, as upstream's
// isinstance check does); repeats collapse, as in upstream's set.
// Deviation (DEVIATIONS.md): upstream requires exactly the stored mines; the counts do not
// always pin them down, so we score 1 for any set of as many mines, inside the grid,
// that gives every cell the same count.
#include <set>
#include <stdexcept>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Cell = std::pair<int64_t, int64_t>;
constexpr int64_t kMaxSide = 1000;  // far above any generator; bounds the count grids a hostile identity could ask for

bool readable(std::string_view block) {
  const auto& v = read_and_keep<literal_of_block>(block);
  if (!v || v->kind != PyValue::Kind::kList) return false;
  for (const auto& coord : v->items) {
    if (coord.kind != PyValue::Kind::kList || coord.items.size() != 2) return false;
  }
  return true;
}

// Each cell's number of neighbouring mines (mines themselves included, as the prompt shows
// them), row by row in one flat array. `mines` holds each cell once.
std::vector<int64_t> counts(int64_t rows, int64_t cols, const std::vector<Cell>& mines) {
  std::vector<int64_t> g(static_cast<size_t>(rows * cols), 0);
  for (auto [r, c] : mines) {
    // A mine more than one cell outside the grid touches no cell of it; skipping it also keeps
    // r + dr from overflowing for an identity's mine at INT64_MIN (the verify fuzzer found one).
    if (r < -1 || c < -1 || r > rows || c > cols) continue;
    for (int64_t dr = -1; dr <= 1; ++dr) {
      for (int64_t dc = -1; dc <= 1; ++dc) {
        const int64_t nr = r + dr, nc = c + dc;
        if ((dr || dc) && nr >= 0 && nc >= 0 && nr < rows && nc < cols) ++g[static_cast<size_t>(nr * cols + nc)];
      }
    }
  }
  return g;
}

class Minesweeper final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Minesweeperbootcamp", "puzzle", "locate the mines from every cell's neighbour count",
                                {{"rows", 2, 20, "grid rows"}, {"cols", 2, 20, "grid columns"},
                                 {"mine_percent", 1, 50, "share of cells holding a mine (at least one mine)"}},
                                "Minesweeperbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 6 is close to upstream's default (8x8, 10 mines).
    const int64_t side = level_lerp(level, 3, 12);
    return {{"rows", side}, {"cols", side}, {"mine_percent", level_lerp(level, 10, 20)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t rows = d.at("rows"), cols = d.at("cols");
    const int64_t count = std::max<int64_t>(1, rows * cols * d.at("mine_percent") / 100);
    const auto order = random_permutation(rng, rows * cols);
    std::set<Cell> mines;
    Json list = Json::array();
    for (int64_t k = 0; k < count; ++k) {
      const Cell cell{order[static_cast<size_t>(k)] / cols, order[static_cast<size_t>(k)] % cols};
      mines.insert(cell);
      list.push_back({cell.first, cell.second});
    }
    const std::vector<int64_t> flat = counts(rows, cols, std::vector<Cell>(mines.begin(), mines.end()));
    IntGrid shown;
    for (int64_t r = 0; r < rows; ++r) shown.emplace_back(flat.begin() + r * cols, flat.begin() + (r + 1) * cols);
    Case c;
    c.identity = {{"rows", rows}, {"cols", cols}, {"mines", list}};
    c.prompt = "Minesweeper on a " + std::to_string(rows) + "x" + std::to_string(cols) + " grid with " +
               std::to_string(count) + " mines. Every cell below, mines included, shows how many of its up to eight "
               "neighbours (across, down and diagonal) hold a mine:\n" + grid_text(shown, " ", "\n") +
               "\nList the mines as [row, column] pairs counted from 0, as a Python list inside [answer][/answer], "
               "for example [answer][[0, 2], [3, 1]][/answer].";
    std::string answer;
    for (const auto& m : list) answer += (answer.empty() ? "[" : ", [") + std::to_string(m[0].get<int64_t>()) + ", " + std::to_string(m[1].get<int64_t>()) + "]";
    c.answer = reference_response("[answer]\n[" + answer + "]\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, readable);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const PyValue v = *kept_reading<literal_of_block>(extracted);
    const auto rows = identity_int(identity.at("rows")), cols = identity_int(identity.at("cols"));
    if (rows < 1 || cols < 1 || rows > kMaxSide || cols > kMaxSide) throw std::invalid_argument("rows/cols outside 1..1000");
    // Sets of cells as sorted vectors without repeats (one allocation each, not a node per cell).
    std::vector<Cell> got, want;
    got.reserve(v.items.size());
    for (const auto& coord : v.items) {
      // Upstream compares as a set of tuples: 1.0 equals 1; anything else never matches a mine.
      auto r = py_integral(coord.items[0]), c = py_integral(coord.items[1]);
      if (!r || !c || *r < 0 || *c < 0 || *r >= rows || *c >= cols) return 0.0;
      got.push_back({*r, *c});
    }
    const Json& mines = identity.at("mines");
    want.reserve(mines.size());
    for (const Json& m : mines) want.push_back({identity_int(m.at(0)), identity_int(m.at(1))});
    auto as_set = [](std::vector<Cell>& cells) {
      std::sort(cells.begin(), cells.end());
      cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
    };
    as_set(got);
    as_set(want);
    if (got.size() != want.size()) return 0.0;
    return counts(rows, cols, got) == counts(rows, cols, want) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Minesweeper);

}  // namespace
}  // namespace troupe::envs
