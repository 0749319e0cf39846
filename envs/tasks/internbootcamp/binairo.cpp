// Binairobootcamp (Takuzu): fill an even-sized grid with 0 and 1 so that every row and
// column holds as many 0s as 1s, no three equal digits stand in a line, and no two rows
// and no two columns are the same, keeping the given digits.
// Identity (upstream's shape): {"puzzle": [[0, 1 or null]], "solution": [[0 or 1]]}.
// The answer is the LAST [answer]...[/answer] block: one row per line (blank lines
// too: each is an empty row, as upstream reads them), integers separated by whitespace.
// Deviation (DEVIATIONS.md): upstream compares with the stored solution, so another
// grid that meets every rule and every given scores format_score there; we score it 1
// (the generator does not make the solution unique).
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Line = std::vector<int64_t>;

// Balanced, and no three equal digits in a row.
bool line_ok(const Line& line) {
  int64_t ones = 0;
  for (size_t k = 0; k < line.size(); ++k) {
    if (line[k] != 0 && line[k] != 1) return false;
    ones += line[k];
    if (k >= 2 && line[k] == line[k - 1] && line[k] == line[k - 2]) return false;
  }
  return 2 * ones == static_cast<int64_t>(line.size());
}

// Every row and column is balanced without triples, and all rows and all columns differ.
bool valid_binairo(const IntGrid& g) {
  const size_t n = g.size();
  for (const auto& row : g) {
    if (row.size() != n || !line_ok(row)) return false;
  }
  Line col(n);
  for (size_t j = 0; j < n; ++j) {
    for (size_t i = 0; i < n; ++i) col[i] = g[i][j];
    if (!line_ok(col)) return false;
  }
  for (size_t a = 0; a < n; ++a) {  // n is small: pairwise comparison allocates nothing
    for (size_t b = a + 1; b < n; ++b) {
      if (g[a] == g[b]) return false;
      bool same_col = true;
      for (size_t i = 0; i < n && same_col; ++i) same_col = g[i][a] == g[i][b];
      if (same_col) return false;
    }
  }
  return true;
}

std::optional<IntGrid> read_rows(std::string_view block) { return read_int_rows(block, {.skip_blank_lines = false}); }

class Binairo final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Binairobootcamp", "puzzle", "fill a 0/1 grid: balanced lines, no triples, no twins",
                                {{"half_size", 2, 6, "half the grid side (the side is even)"},
                                 {"clue_percent", 10, 90, "share of cells given"}},
                                "Binairobootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 4 is upstream's default (6x6, half the cells given).
    return {{"half_size", level <= 3 ? 2 : (level <= 6 ? 3 : (level <= 9 ? 4 : 5))}, {"clue_percent", 60 - 2 * level}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = 2 * d.at("half_size");
    const IntGrid solution = random_solution(rng, n);
    Json puzzle = Json::array();
    std::string text;
    for (const auto& row : solution) {
      Json prow = Json::array();
      for (size_t j = 0; j < row.size(); ++j) {
        const bool given = rng.chance(d.at("clue_percent"), 100);
        prow.push_back(given ? Json(row[j]) : Json(nullptr));
        text += (j ? " " : "") + (given ? std::to_string(row[j]) : std::string("_"));
      }
      puzzle.push_back(prow);
      text += "\n";
    }
    Case c;
    c.identity = {{"puzzle", puzzle}, {"solution", solution}};
    c.prompt = "Binairo, " + std::to_string(n) + "x" + std::to_string(n) + ": replace every _ with 0 or 1 so that each "
               "row and each column has as many 0s as 1s, no row or column has three equal digits next to each "
               "other, and no two rows (and no two columns) are identical.\n" + text +
               "Write the full grid inside [answer][/answer], one row per line, digits separated by spaces.";
    c.answer = reference_response("[answer]\n" + grid_text(solution, " ", "\n") + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_rows>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const IntGrid got = *kept_reading<read_rows>(extracted);
    const Json& puzzle = identity.at("puzzle");
    if (got.size() != puzzle.size() || !valid_binairo(got)) return 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
      for (size_t j = 0; j < got.size(); ++j) {
        const Json& given = puzzle.at(i).at(j);
        if (!given.is_null() && given != got[i][j]) return 0.0;
      }
    }
    return 1.0;
  }

 private:
  // A valid solved grid by randomised cell-by-cell backtracking: a digit must keep its row
  // and column counts within n/2 and make no triple; a finished row must differ from the
  // rows above, a finished column from the columns to its left. Restarts past a budget.
  static IntGrid random_solution(Rng& rng, int64_t n) {
    const size_t un = static_cast<size_t>(n);
    while (true) {
      IntGrid g = make_grid(n, n, -1);
      int64_t budget = 100000;  // cell placements before starting over
      auto fits = [&](size_t r, size_t c, int64_t v) {
        int64_t in_row = 0, in_col = 0;
        for (size_t k = 0; k < c; ++k) in_row += g[r][k] == v;
        for (size_t k = 0; k < r; ++k) in_col += g[k][c] == v;
        if (in_row + 1 > n / 2 || in_col + 1 > n / 2) return false;
        if (c >= 2 && g[r][c - 1] == v && g[r][c - 2] == v) return false;
        if (r >= 2 && g[r - 1][c] == v && g[r - 2][c] == v) return false;
        return true;
      };
      auto row_done_ok = [&](size_t r) {
        for (size_t k = 0; k < r; ++k) {
          if (g[k] == g[r]) return false;
        }
        return true;
      };
      auto col_done_ok = [&](size_t c) {
        for (size_t k = 0; k < c; ++k) {
          bool same = true;
          for (size_t r = 0; r < un && same; ++r) same = g[r][k] == g[r][c];
          if (same) return false;
        }
        return true;
      };
      std::function<bool(size_t)> place = [&](size_t cell) {
        if (cell == un * un) return true;
        if (--budget < 0) return false;
        const size_t r = cell / un, c = cell % un;
        const int64_t first = rng.uniform(0, 1);
        for (int64_t v : {first, 1 - first}) {
          if (!fits(r, c, v)) continue;
          g[r][c] = v;
          if ((c + 1 < un || row_done_ok(r)) && (r + 1 < un || col_done_ok(c)) && place(cell + 1)) return true;
          g[r][c] = -1;
          if (budget < 0) return false;
        }
        return false;
      };
      if (place(0)) return g;
    }
  }
};
TROUPE_REGISTER_TASK(Binairo);

}  // namespace
}  // namespace troupe::envs
