// Nonogramsbootcamp: shade the cells of a grid so that each row's and each column's
// runs of shaded cells have the lengths its clue lists, in order.
// Identity (upstream's shape): {"rows": [[int]], "columns": [[int]]} (an empty list for
// a line with nothing shaded). The answer is the LAST [answer]...[/answer] block: one
// grid row per non-blank line; within a line every non-whitespace character is one
// cell, shaded when it is 'X' or 'x' (so "X.X" is three cells, and spaces between
// cells are ignored, as upstream reads them). Right when the shading has exactly the
// given clues -- any such grid, not only the generator's.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

std::vector<int64_t> runs_of(const std::vector<bool>& line) {
  std::vector<int64_t> out;
  int64_t current = 0;
  for (bool shaded : line) {
    if (shaded) {
      ++current;
    } else if (current > 0) {
      out.push_back(current);
      current = 0;
    }
  }
  if (current > 0) out.push_back(current);
  return out;
}

std::string clue_text(const std::vector<int64_t>& clue) {
  if (clue.empty()) return "0";
  std::string out;
  for (int64_t v : clue) out += (out.empty() ? "" : " ") + std::to_string(v);
  return out;
}

// Upstream's reading of the block: rows of shaded flags ('1'/'0'), blank lines dropped.
std::string normalise(std::string_view block) {
  std::string out;
  for (auto line : PyPieces(py_strip(block), '\n')) {
    line = py_strip(line);
    if (line.empty()) continue;
    if (!out.empty()) out.push_back('\n');
    for (size_t i = 0; i < line.size();) {
      size_t len = 1;
      const uint32_t cp = decode_code_point(line, i, &len);
      if (!py_isspace(cp)) out.push_back(cp == 'X' || cp == 'x' ? '1' : '0');
      i += len;
    }
  }
  return out;
}

class Nonograms final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Nonogramsbootcamp", "puzzle", "shade a grid to match its row and column run clues",
                                {{"rows", 2, 25, "grid rows"},
                                 {"cols", 2, 25, "grid columns"},
                                 {"fill_percent", 5, 95, "chance that a cell is shaded"}},
                                "Nonogramsbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 4 is upstream's default 5x5 at 30%.
    const int64_t side = level_lerp(level, 3, 12);
    return {{"rows", side}, {"cols", side}, {"fill_percent", level <= 4 ? 30 : 45}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t rows = d.at("rows"), cols = d.at("cols");
    std::vector<std::vector<bool>> shaded(static_cast<size_t>(rows), std::vector<bool>(static_cast<size_t>(cols)));
    for (auto& row : shaded) {
      for (size_t j = 0; j < row.size(); ++j) row[j] = rng.chance(d.at("fill_percent"), 100);
    }
    Json row_clues = Json::array(), col_clues = Json::array();
    std::string row_text, col_text, answer;
    for (size_t i = 0; i < shaded.size(); ++i) {
      const auto clue = runs_of(shaded[i]);
      row_clues.push_back(clue);
      row_text += "row " + std::to_string(i + 1) + ": " + clue_text(clue) + "\n";
      for (bool s : shaded[i]) answer.push_back(s ? 'X' : '.');
      answer.push_back('\n');
    }
    for (size_t j = 0; j < static_cast<size_t>(cols); ++j) {
      std::vector<bool> col;
      for (const auto& row : shaded) col.push_back(row[j]);
      const auto clue = runs_of(col);
      col_clues.push_back(clue);
      col_text += "column " + std::to_string(j + 1) + ": " + clue_text(clue) + "\n";
    }
    Case c;
    c.identity = {{"rows", row_clues}, {"columns", col_clues}};
    c.prompt = "Nonogram, " + std::to_string(rows) + " rows by " + std::to_string(cols) +
               " columns. Each clue lists, in order (left to right, or top to bottom), the lengths of the blocks "
               "of consecutive shaded cells in that line; blocks are separated by at least one empty cell, and 0 "
               "means the line is empty.\n" + row_text + col_text +
               "Write the solved grid inside [answer][/answer], one row per line, X for a shaded cell and . for an "
               "empty one, for example:\n[answer]\nX.XX\n.XX.\n[/answer]";
    c.answer = reference_response("[answer]\n" + answer + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block) return std::nullopt;
    return normalise(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    std::vector<std::vector<bool>> grid;
    for (auto line : split_any(extracted, "\n")) {
      grid.emplace_back();
      for (char c : line) grid.back().push_back(c == '1');
    }
    const Json& rows = identity.at("rows");
    const Json& cols = identity.at("columns");
    if (grid.size() != rows.size()) return 0.0;
    for (const auto& row : grid) {
      if (row.size() != cols.size()) return 0.0;
    }
    for (size_t i = 0; i < grid.size(); ++i) {
      if (runs_of(grid[i]) != identity_ints(rows.at(i))) return 0.0;
    }
    for (size_t j = 0; j < cols.size(); ++j) {
      std::vector<bool> col;
      for (const auto& row : grid) col.push_back(row[j]);
      if (runs_of(col) != identity_ints(cols.at(j))) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Nonograms);

}  // namespace
}  // namespace troupe::envs
