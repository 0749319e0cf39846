// Killersudokubootcamp: a Sudoku without givens whose cells are grouped in cages; the
// numbers of a cage are distinct and add up to the cage's sum.
// Identity (upstream's shape): {"solution": [[int]], "cages": [{"cells": [[r, c], ...],
// "sum": s}], "size": n, "subgrid_size": sqrt(n)} (0-based cells). The answer is the
// LAST [answer]...[/answer] block: one row per non-blank line, numbers separated by
// commas. Right when every row, column and box holds 1..n once and every cage holds
// distinct numbers with its sum -- any such grid, not only the stored solution.
// Deviation (DEVIATIONS.md): upstream compares sets, so it also accepts a grid with
// extra rows or extra numbers in a row (the correct grid plus a line "1,1,1,1"); we
// require exactly n rows of n numbers.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

std::optional<IntGrid> read_rows(std::string_view block) {
  IntGrid out;
  for (auto line : PyPieces(py_strip(block), '\n')) {
    line = py_strip(line);
    if (line.empty()) continue;
    std::vector<int64_t>& row_out = new_row(out);
    for (auto piece : PyPieces(line, ',')) {
      auto v = py_int(piece);
      if (!v) return std::nullopt;
      row_out.push_back(*v);
    }
  }
  return out;
}

class KillerSudoku final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Killersudokubootcamp", "puzzle", "solve a Sudoku from cage sums alone",
                                {{"box", 2, 3, "box side; the grid is box^2 x box^2"},
                                 {"max_cage", 1, 6, "largest cage"}},
                                "Killersudokubootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 6 is upstream's default (9x9, cages of one or two cells).
    return {{"box", level <= 3 ? 2 : 3}, {"max_cage", level <= 3 ? 1 + level : (level <= 6 ? 2 : (level <= 8 ? 3 : 4))}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t box = d.at("box"), n = box * box;
    const IntGrid solution = random_sudoku(rng, box);
    // Cages: connected groups of distinct numbers, as upstream requires.
    const IntGrid cage = random_regions(rng, n, n, d.at("max_cage"), [&](const auto& cells, int64_t r, int64_t c) {
      for (auto [cr, cc] : cells) {
        if (solution[static_cast<size_t>(cr)][static_cast<size_t>(cc)] == solution[static_cast<size_t>(r)][static_cast<size_t>(c)]) return false;
      }
      return true;
    });
    int64_t count = 0;
    for (const auto& row : cage) count = std::max(count, 1 + *std::max_element(row.begin(), row.end()));
    std::vector<Json> cells(static_cast<size_t>(count), Json::array());
    std::vector<int64_t> sums(static_cast<size_t>(count), 0);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        const auto k = static_cast<size_t>(cage[static_cast<size_t>(r)][static_cast<size_t>(c)]);
        cells[k].push_back({r, c});
        sums[k] += solution[static_cast<size_t>(r)][static_cast<size_t>(c)];
      }
    }
    Json cages = Json::array();
    std::string text;
    for (size_t k = 0; k < cells.size(); ++k) {
      cages.push_back({{"cells", cells[k]}, {"sum", sums[k]}});
      text += "- cage " + std::to_string(k + 1) + ", sum " + std::to_string(sums[k]) + ":";
      for (const Json& cell : cells[k]) {
        text += " (" + std::to_string(cell[0].get<int64_t>() + 1) + ", " + std::to_string(cell[1].get<int64_t>() + 1) + ")";
      }
      text += "\n";
    }
    Case c;
    c.identity = {{"solution", solution}, {"cages", cages}, {"size", n}, {"subgrid_size", box}};
    c.prompt = "Killer Sudoku, " + std::to_string(n) + "x" + std::to_string(n) + ", with no given numbers: fill 1 to " +
               std::to_string(n) + " so that each row, each column and each " + std::to_string(box) + "x" +
               std::to_string(box) + " box holds every number once. The cells (row, column), counted from 1, are "
               "split into cages; the numbers in a cage are all different and add up to the cage's sum.\n" + text +
               "Write the grid inside [answer][/answer], one row per line, numbers separated by commas.";
    c.answer = reference_response("[answer]\n" + grid_text(solution, ",", "\n") + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_rows>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const IntGrid got = *kept_reading<read_rows>(extracted);
    const auto n = identity_int(identity.at("size")), box = identity_int(identity.at("subgrid_size"));
    if (!is_latin(got, n) || box < 1 || n % box != 0) return 0.0;
    for (int64_t bi = 0; bi < n; bi += box) {
      for (int64_t bj = 0; bj < n; bj += box) {
        if (bi + box > n || bj + box > n) return 0.0;  // upstream indexes past the grid: not right
        if (box * box != n) return 0.0;  // a box of other than n cells never holds 1..n once each
        auto cell = [&](size_t k) {
          return got[static_cast<size_t>(bi) + k / static_cast<size_t>(box)][static_cast<size_t>(bj) + k % static_cast<size_t>(box)];
        };
        if (!values_are_1_to_n(static_cast<size_t>(n), cell)) return 0.0;
      }
    }
    for (const Json& cage : identity.at("cages")) {
      const auto [cells_field, sum_field] = identity_fields<2>(cage, {"cells", "sum"});
      const Json& cells = *cells_field;
      uint64_t seen = 0;            // values 1..63 as bits: no allocation per cage
      std::vector<int64_t> larger;  // values past 63 (only in grids larger than 63x63)
      int64_t sum = 0;
      bool repeated = false;
      for_each_element(cells, [&](const Json& cell) {
        if (repeated) return;
        const int64_t v = got.at(identity_index(cell.at(0))).at(identity_index(cell.at(1)));  // 1..n: is_latin held
        repeated = v < 64 ? (seen >> v & 1) : std::find(larger.begin(), larger.end(), v) != larger.end();
        if (v < 64) {
          seen |= uint64_t{1} << v;
        } else {
          larger.push_back(v);
        }
        sum += v;
      });
      if (repeated || *sum_field != sum) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(KillerSudoku);

}  // namespace
}  // namespace troupe::envs
