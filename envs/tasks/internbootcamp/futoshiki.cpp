// Futoshikibootcamp: fill an n x n grid with 1..n, each once per row and column,
// keeping the given numbers and every inequality between neighbouring cells.
// Identity (upstream's shape): {"size": n, "initial": [[int]] (0 = empty),
// "inequalities": [{"cell1": [r, c], "cell2": [r, c], "symbol": ">" or "<"}]}, cell2
// being right of or below cell1. The answer is the LAST [answer]...[/answer] block,
// read by ast.literal_eval as a list (or tuple) of n rows. Right when it keeps the
// givens, every row and column holds exactly the values 1..n (Python's equality:
// 2.0 counts as 2), and cell1 symbol cell2 holds for every inequality.
#include <cmath>
#include <stdexcept>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// The numbers the literal holds, row by row in one flat array, or nullopt when it is not an
// n x n grid of numbers (upstream: a length check fails, or a set/comparison of non-numbers does).
std::optional<std::vector<double>> number_grid(const PyValue& v, size_t n) {
  if (!v.is_sequence() || v.items.size() != n) return std::nullopt;
  std::vector<double> out;
  out.reserve(n * n);
  for (const auto& row : v.items) {
    if (!row.is_sequence() || row.items.size() != n) return std::nullopt;
    for (const auto& cell : row.items) {
      auto x = py_number(cell);
      if (!x) return std::nullopt;
      out.push_back(*x);
    }
  }
  return out;
}
std::optional<std::vector<double>> number_grid(const BlockLiteral& literal, size_t n) {
  if (!literal.rows) return number_grid(literal.tree, n);
  const PyIntRows& rows = *literal.rows;
  if (rows.row_sizes.size() != n) return std::nullopt;
  for (size_t size : rows.row_sizes) {
    if (size != n) return std::nullopt;
  }
  return std::vector<double>(rows.values.begin(), rows.values.end());
}

// Whether the n numbers at(0..n-1), in any order, are exactly 1..n (as sorted() == [1..n]
// compares them: 2.0 counts as 2).
template <class At>
bool holds_1_to_n(size_t n, At at) {
  return values_are_1_to_n(n, [&](size_t k) {
    const double x = at(k);
    return x >= 1 && x <= static_cast<double>(n) && x == std::floor(x) ? static_cast<int64_t>(x) : int64_t{-1};
  });
}

class Futoshiki final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Futoshikibootcamp", "puzzle", "fill a Latin square that keeps every inequality",
                                {{"size", 3, 9, "grid side"},
                                 {"inequality_percent", 0, 100, "chance of an inequality between two neighbours"},
                                 {"retain_percent", 0, 90, "share of cells given"}},
                                "Futoshikibootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 5 is upstream's default (5x5, 30% inequalities, 30% given).
    return {{"size", level_lerp(level, 3, 8)},
            {"inequality_percent", level <= 5 ? 40 - 2 * (level - 1) : 30},
            {"retain_percent", level <= 5 ? 50 - 5 * (level - 1) : 30 - 2 * (level - 5)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size");
    const IntGrid solution = random_latin_square(rng, n);
    Json inequalities = Json::array();
    std::string ineq_text;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        for (bool down : {false, true}) {
          const int64_t i2 = i + down, j2 = j + !down;
          if (i2 >= n || j2 >= n || !rng.chance(d.at("inequality_percent"), 100)) continue;
          const bool greater = solution[static_cast<size_t>(i)][static_cast<size_t>(j)] > solution[static_cast<size_t>(i2)][static_cast<size_t>(j2)];
          const std::string symbol = greater ? ">" : "<";
          inequalities.push_back({{"cell1", {i, j}}, {"cell2", {i2, j2}}, {"symbol", symbol}});
          ineq_text += "- (" + std::to_string(i) + ", " + std::to_string(j) + ") " + symbol + " (" + std::to_string(i2) +
                       ", " + std::to_string(j2) + ")\n";
        }
      }
    }
    // The givens: a random retain_percent share of the cells, as upstream samples them.
    IntGrid initial = make_grid(n, n);
    const auto order = random_permutation(rng, n * n);
    const int64_t keep = n * n * d.at("retain_percent") / 100;
    for (int64_t k = 0; k < keep; ++k) {
      const auto cell = static_cast<size_t>(order[static_cast<size_t>(k)]);
      initial[cell / static_cast<size_t>(n)][cell % static_cast<size_t>(n)] = solution[cell / static_cast<size_t>(n)][cell % static_cast<size_t>(n)];
    }
    std::string grid;
    for (const auto& row : initial) {
      for (size_t j = 0; j < row.size(); ++j) grid += (j ? " " : "") + (row[j] ? std::to_string(row[j]) : std::string("_"));
      grid += "\n";
    }
    Case c;
    c.identity = {{"size", n}, {"initial", initial}, {"inequalities", inequalities}};
    c.prompt = "Futoshiki on a " + std::to_string(n) + "x" + std::to_string(n) + " grid: place 1 to " +
               std::to_string(n) + " so that no number repeats in a row or a column, the given numbers stay, and "
               "every inequality between two neighbouring cells holds. Cells are (row, column), counted from 0; "
               "_ is empty.\n" + grid + (ineq_text.empty() ? "There are no inequalities.\n" : "Inequalities:\n" + ineq_text) +
               "Answer with the grid as a Python list of rows inside [answer][/answer], for example "
               "[answer][[1, 2], [2, 1]][/answer].";
    c.answer = reference_response("[answer]\n" + python_list_text(solution) + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<block_literal>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const auto n = identity_index(identity.at("size"));
    const auto grid = number_grid(*kept_reading<block_literal>(extracted), n);
    if (!grid) return 0.0;
    auto cell = [&](size_t i, size_t j) { return (*grid)[i * n + j]; };
    const Json& initial = identity.at("initial");
    for (size_t i = 0; i < n; ++i) {
      const Json& row = initial.at(i);
      for (size_t j = 0; j < n; ++j) {
        const Json& g = row.at(j);
        // The stored integer read in place; get<double>() (which throws for a non-number) otherwise.
        const auto* gi = g.get_ptr<const Json::number_integer_t*>();
        const auto* gu = g.get_ptr<const Json::number_unsigned_t*>();
        const double given = gi ? static_cast<double>(*gi) : gu ? static_cast<double>(*gu) : g.get<double>();
        if (given != 0 && cell(i, j) != given) return 0.0;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!holds_1_to_n(n, [&](size_t k) { return cell(i, k); }) || !holds_1_to_n(n, [&](size_t k) { return cell(k, i); })) {
        return 0.0;
      }
    }
    // A cell of an inequality: out of the grid is upstream's IndexError (at() throws here too).
    auto at = [&](const Json& rc) {
      const size_t r = identity_index(rc.at(0)), c = identity_index(rc.at(1));
      if (r >= n || c >= n) throw std::out_of_range("inequality cell outside the grid");
      return cell(r, c);
    };
    for (const Json& ineq : identity.at("inequalities")) {
      const auto [cell1, cell2, symbol_field] = identity_fields<3>(ineq, {"cell1", "cell2", "symbol"});
      const double a = at(*cell1), b = at(*cell2);
      // symbol == ">" without building a JSON string to compare with (an allocation each time).
      const Json& symbol = *symbol_field;
      const bool greater = symbol.is_string() && symbol.get_ref<const std::string&>() == ">";
      if (!(greater ? a > b : a < b)) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Futoshiki);

}  // namespace
}  // namespace troupe::envs
