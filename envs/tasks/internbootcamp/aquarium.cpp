// Aquariumbootcamp: every column of the grid is its own aquarium, filled with water from
// the bottom row up to some level; find each column's level from the clues.
// Identity (upstream's shape): {"regions": [[column id per cell]], "row_clues": [..],
// "col_clues": [..]}. Levels count from 0 at the bottom row; a column at level k fills
// k + 1 cells, so col_clues[c] = level + 1, and row_clues[r] counts the columns whose
// level is at least r (r = 0 is the bottom row). As upstream, the regions are the
// columns themselves. The answer is the LAST [answer]...[/answer] block: the levels,
// left to right, as integers separated by whitespace. Right when it has one level per
// column, level + 1 matches each column clue, and the row counts match.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

std::optional<std::vector<int64_t>> read_levels(std::string_view block) {
  // [int(t) for t in block.split()]: the tokens of every line of the stripped block, in order.
  std::vector<int64_t> out;
  out.reserve(16);  // one allocation for upstream's sizes, not four or five from empty
  if (is_ascii(block)) {
    if (!scan_ascii_int_rows(block, false, [&](int64_t v) __attribute__((always_inline)) { out.push_back(v); }, [](size_t) {})) return std::nullopt;
    return out;
  }
  for (auto tok : PyTokens(block)) {
    auto v = py_int(tok);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

class Aquarium final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Aquariumbootcamp", "puzzle", "find the water level of each column aquarium",
                                {{"rows", 2, 20, "grid rows"}, {"cols", 2, 20, "grid columns (one aquarium each)"}},
                                "Aquariumbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"rows", level_lerp(level, 3, 10)}, {"cols", level_lerp(level, 3, 10)}};  // level 4: upstream's 5x5
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t rows = d.at("rows"), cols = d.at("cols");
    std::vector<int64_t> level(static_cast<size_t>(cols)), col_clues, row_clues;
    for (auto& k : level) k = rng.uniform(0, rows - 1);
    for (int64_t k : level) col_clues.push_back(k + 1);
    for (int64_t r = 0; r < rows; ++r) row_clues.push_back(std::count_if(level.begin(), level.end(), [&](int64_t k) { return k >= r; }));
    IntGrid regions = make_grid(rows, cols);
    for (auto& row : regions) {
      for (size_t c = 0; c < row.size(); ++c) row[c] = static_cast<int64_t>(c);
    }
    Case c;
    c.identity = {{"regions", regions}, {"row_clues", row_clues}, {"col_clues", col_clues}};
    c.prompt = "Aquarium puzzle on a grid of " + std::to_string(rows) + " rows and " + std::to_string(cols) +
               " columns. Each column is a separate tank, filled with water from the bottom row up to a level: "
               "level 0 fills only the bottom cell, level k fills the bottom k+1 cells.\nFilled cells per column, "
               "left to right: " + grid_text({col_clues}, " ", "") + "\nNumber of columns whose water reaches each "
               "row, from the bottom row (row 0) up: " + grid_text({row_clues}, " ", "") +
               "\nGive each column's level, left to right, separated by spaces inside [answer][/answer], for "
               "example [answer]2 0 1[/answer].";
    c.answer = reference_response("[answer]" + grid_text({level}, " ", "") + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_levels>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const std::vector<int64_t> level = *kept_reading<read_levels>(extracted);
    const Json& col_clues = identity.at("col_clues");
    const Json& row_clues = identity.at("row_clues");
    if (level.size() != col_clues.size()) return 0.0;
    for (size_t c = 0; c < level.size(); ++c) {
      if (col_clues.at(c).get<double>() != static_cast<double>(level[c]) + 1.0) return 0.0;  // no int64 overflow at the edge
    }
    for (size_t r = 0; r < row_clues.size(); ++r) {
      const auto reach = std::count_if(level.begin(), level.end(), [&](int64_t k) { return k >= static_cast<int64_t>(r); });
      if (row_clues.at(r) != reach) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Aquarium);

}  // namespace
}  // namespace troupe::envs
