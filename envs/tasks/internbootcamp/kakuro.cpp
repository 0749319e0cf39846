// Kakurobootcamp: fill the white cells of a Kakuro grid with digits 1-9 so that every
// run (maximal line of white cells to the right of / below a clue cell) sums to its
// clue without repeating a digit.
// Identity (upstream's shape): {"grid": [[cell]], "solution": {"(r, c)": digit}} where a
// cell is {"type": "white"} or {"type": "black"} with optional "right": [sum, length]
// and "down": [sum, length]. Upstream's generator only makes one 3x3 layout; ours
// makes larger ones in the same shape. The answer is the LAST [answer]...[/answer]
// block, read by ast.literal_eval as a dict whose keys are strings "(row, col)"
// (0-based; outer parentheses optional) and whose values are the digits.
// Right (as upstream): every key names a white cell, every value is within 1..9, and
// every clue's run has the clue's length, is fully answered, sums to the clue and
// holds distinct digits. White cells outside every clued run are not checked.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Coord = std::pair<int64_t, int64_t>;

// The white cells of the run that starts after (r, c), going right or down, as
// upstream scans it (a ragged row ends the run).
std::vector<Coord> run_after(const std::vector<std::vector<bool>>& white, int64_t r, int64_t c, bool down) {
  std::vector<Coord> run;
  for (int64_t i = r + down, j = c + !down; i < static_cast<int64_t>(white.size()) &&
                                            j < static_cast<int64_t>(white[static_cast<size_t>(i)].size()) &&
                                            white[static_cast<size_t>(i)][static_cast<size_t>(j)];
       i += down, j += !down) {
    run.push_back({i, j});
  }
  return run;
}

// The answer dict with its keys parsed; nullopt where upstream's extract_output returns None.
std::optional<std::vector<std::pair<Coord, PyValue>>> read_answer(std::string_view block) {
  auto v = literal_of_block(block);
  if (!v || v->kind != PyValue::Kind::kDict) return std::nullopt;
  std::vector<std::pair<Coord, PyValue>> out;
  for (size_t k = 0; k < v->dict_size(); ++k) {
    const PyValue& key = v->dict_key(k);
    if (key.kind != PyValue::Kind::kStr) return std::nullopt;  // str.strip on anything else raises
    const auto parts = py_split_on(py_strip_chars(key.s, "()"), ',');
    if (parts.size() != 2) return std::nullopt;
    auto r = py_int(parts[0]), c = py_int(parts[1]);
    if (!r || !c) return std::nullopt;
    // Two keys naming one cell ("(0,1)" and "(0, 1)"): the later value wins, as in the dict upstream builds.
    bool replaced = false;
    for (auto& [coord, value] : out) {
      if (coord == Coord{*r, *c}) value = v->dict_value(k), replaced = true;
    }
    if (!replaced) out.push_back({{*r, *c}, v->dict_value(k)});
  }
  return out;
}

class Kakuro final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Kakurobootcamp", "puzzle", "fill a Kakuro grid so every run sums to its clue",
                                {{"size", 3, 10, "grid side, the clue row and column included"},
                                 {"black_percent", 0, 40, "share of inner cells made black"}},
                                "Kakurobootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 1 is upstream's only layout (3x3: one clue cell, two runs of two).
    return {{"size", level_lerp(level, 3, 9)}, {"black_percent", level_lerp(level, 0, 25)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size");
    std::vector<std::vector<bool>> white;
    IntGrid digits;
    for (int attempt = 0;; ++attempt) {
      if (attempt == 20) {
        // Rare: no layout filled within its budget. The all-white interior with a Latin
        // square of side n-1 (at most 9) is always a valid fill.
        white = layout(rng, n, 0);
        digits = make_grid(n, n);
        const IntGrid latin = random_latin_square(rng, n - 1);
        for (int64_t r = 1; r < n; ++r) {
          for (int64_t c = 1; c < n; ++c) digits[static_cast<size_t>(r)][static_cast<size_t>(c)] = latin[static_cast<size_t>(r - 1)][static_cast<size_t>(c - 1)];
        }
        break;
      }
      white = layout(rng, n, d.at("black_percent"));
      if (fill(rng, white, digits)) break;
    }
    Json grid = Json::array(), solution = Json::object();
    std::string clues, cells, answer;
    for (int64_t r = 0; r < n; ++r) {
      Json row = Json::array();
      for (int64_t c = 0; c < n; ++c) {
        if (white[static_cast<size_t>(r)][static_cast<size_t>(c)]) {
          row.push_back({{"type", "white"}});
          const std::string key = "(" + std::to_string(r) + ", " + std::to_string(c) + ")";
          const std::string digit = std::to_string(digits[static_cast<size_t>(r)][static_cast<size_t>(c)]);
          solution[key] = digits[static_cast<size_t>(r)][static_cast<size_t>(c)];
          cells += (cells.empty() ? "" : ", ") + key;
          answer += (answer.empty() ? "" : ", ") + ("\"" + key + "\": " + digit);
          continue;
        }
        Json cell = {{"type", "black"}};
        std::string clue;
        for (bool down : {false, true}) {
          const auto run = run_after(white, r, c, down);
          if (run.empty()) continue;
          int64_t sum = 0;
          for (auto [i, j] : run) sum += digits[static_cast<size_t>(i)][static_cast<size_t>(j)];
          cell[down ? "down" : "right"] = {sum, static_cast<int64_t>(run.size())};
          clue += std::string(clue.empty() ? "" : "; ") + "the " + std::to_string(run.size()) + " cells " +
                  (down ? "below it" : "to its right") + " sum to " + std::to_string(sum);
        }
        if (!clue.empty()) clues += "- black (" + std::to_string(r) + ", " + std::to_string(c) + "): " + clue + "\n";
        row.push_back(cell);
      }
      grid.push_back(row);
    }
    Case out;
    out.identity = {{"grid", grid}, {"solution", solution}};
    out.prompt = "Solve this Kakuro on a " + std::to_string(n) + "x" + std::to_string(n) +
                 " grid (rows and columns numbered from 0). Black cells hold clues about the white cells next to "
                 "them; every white cell takes a digit from 1 to 9, and the cells of one run (a line of white "
                 "cells running right or down from a clue) must add up to the clue and use no digit twice.\n"
                 "Clues:\n" + clues + "White cells to fill: " + cells +
                 "\nGive the answer as a Python dict from \"(row, col)\" to digit inside [answer][/answer], "
                 "for example [answer]{\"(0, 1)\": 3, \"(0, 2)\": 5}[/answer].";
    out.answer = reference_response("[answer]\n{" + answer + "}\n[/answer]");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_answer>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const auto answer = *kept_reading<read_answer>(extracted);
    if (answer.empty()) return 0.0;
    const Json& grid = identity.at("grid");
    const int64_t rows = static_cast<int64_t>(grid.size()), cols = static_cast<int64_t>(grid.at(0).size());
    // Cell types read once: 'w' white, 'b' black, '?' anything else.
    std::vector<std::string> type(static_cast<size_t>(rows));
    std::vector<std::vector<bool>> white(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      for (const Json& cell : grid.at(static_cast<size_t>(r))) {
        auto it = cell.find("type");
        const std::string* t = it != cell.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
        const char kind = t && *t == "white" ? 'w' : (t && *t == "black" ? 'b' : '?');
        type[static_cast<size_t>(r)].push_back(kind);
        white[static_cast<size_t>(r)].push_back(kind == 'w');
      }
    }
    if (rows * cols > (1 << 20)) throw std::invalid_argument("grid larger than 2^20 cells");  // bounds a hostile identity
    // The answered values on a flat grid; NaN marks a cell the answer leaves out.
    std::vector<double> value(static_cast<size_t>(rows * cols), std::numeric_limits<double>::quiet_NaN());
    for (const auto& [coord, v] : answer) {
      const auto [r, c] = coord;
      if (r < 0 || c < 0 || r >= rows || c >= cols || type[static_cast<size_t>(r)].at(static_cast<size_t>(c)) != 'w') return 0.0;
      auto x = py_number(v);
      if (!x || !(*x >= 1 && *x <= 9)) return 0.0;  // a non-number fails upstream's comparison (format_score)
      value[static_cast<size_t>(r * cols + c)] = *x;
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < static_cast<int64_t>(type[static_cast<size_t>(r)].size()); ++c) {
        if (type[static_cast<size_t>(r)][static_cast<size_t>(c)] != 'b') continue;
        const Json& cell = grid.at(static_cast<size_t>(r)).at(static_cast<size_t>(c));
        for (bool down : {false, true}) {
          auto clue = cell.find(down ? "down" : "right");
          if (clue == cell.end()) continue;
          const double sum = clue->at(0).get<double>();
          const auto length = identity_int(clue->at(1));
          const auto run = run_after(white, r, c, down);
          if (static_cast<int64_t>(run.size()) != length) return 0.0;
          double total = 0;
          std::vector<double> seen;
          for (const auto& [i, j] : run) {
            if (j >= cols) return 0.0;  // a ragged row longer than the first: upstream never reads it either
            const double x = value[static_cast<size_t>(i * cols + j)];
            if (std::isnan(x)) return 0.0;
            total += x;
            if (std::find(seen.begin(), seen.end(), x) == seen.end()) seen.push_back(x);
          }
          if (total != sum || static_cast<int64_t>(seen.size()) != length) return 0.0;
        }
      }
    }
    return 1.0;
  }

 private:
  // White cells: the inner (n-1)^2 cells less a random share, then trimmed until every
  // white cell lies in an across run and a down run of at least two cells.
  static std::vector<std::vector<bool>> layout(Rng& rng, int64_t n, int64_t black_percent) {
    std::vector<std::vector<bool>> white(static_cast<size_t>(n), std::vector<bool>(static_cast<size_t>(n), false));
    for (int64_t r = 1; r < n; ++r) {
      for (int64_t c = 1; c < n; ++c) white[static_cast<size_t>(r)][static_cast<size_t>(c)] = !rng.chance(black_percent, 100);
    }
    auto at = [&](int64_t r, int64_t c) {
      return r >= 0 && c >= 0 && r < n && c < n && white[static_cast<size_t>(r)][static_cast<size_t>(c)];
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (int64_t r = 1; r < n; ++r) {
        for (int64_t c = 1; c < n; ++c) {
          if (!at(r, c)) continue;
          if ((!at(r, c - 1) && !at(r, c + 1)) || (!at(r - 1, c) && !at(r + 1, c))) {
            white[static_cast<size_t>(r)][static_cast<size_t>(c)] = false;
            changed = true;
          }
        }
      }
    }
    return white;
  }

  // Digits for the white cells, distinct within each run, by randomised backtracking
  // with a work bound; false when the bound is hit or there is no white cell.
  static bool fill(Rng& rng, const std::vector<std::vector<bool>>& white, IntGrid& digits) {
    const int64_t n = static_cast<int64_t>(white.size());
    digits = make_grid(n, n);
    std::vector<Coord> cells;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        if (white[static_cast<size_t>(r)][static_cast<size_t>(c)]) cells.push_back({r, c});
      }
    }
    if (cells.empty()) return false;
    int64_t budget = 20000;  // backtracking steps before the layout is given up
    std::function<bool(size_t)> place = [&](size_t k) {
      if (k == cells.size()) return true;
      if (--budget < 0) return false;
      const auto [r, c] = cells[k];
      std::vector<bool> used(10, false);
      for (int d = 0; d < 4; ++d) {  // walk the across and down runs through (r, c)
        for (int64_t i = r + kOrthoDr[d], j = c + kOrthoDc[d];
             i >= 0 && j >= 0 && i < n && j < n && white[static_cast<size_t>(i)][static_cast<size_t>(j)];
             i += kOrthoDr[d], j += kOrthoDc[d]) {
          used[static_cast<size_t>(digits[static_cast<size_t>(i)][static_cast<size_t>(j)])] = true;
        }
      }
      for (int64_t v : random_permutation(rng, 9)) {
        if (used[static_cast<size_t>(v + 1)]) continue;
        digits[static_cast<size_t>(r)][static_cast<size_t>(c)] = v + 1;
        if (place(k + 1)) return true;
      }
      digits[static_cast<size_t>(r)][static_cast<size_t>(c)] = 0;
      return false;
    };
    return place(0);
  }
};
TROUPE_REGISTER_TASK(Kakuro);

}  // namespace
}  // namespace troupe::envs
