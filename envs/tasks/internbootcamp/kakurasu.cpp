// Kakurasubootcamp: shade cells of an n x n grid so that in each row the column numbers
// (1..n) of its shaded cells add up to the row's target, and in each column the row
// numbers of its shaded cells add up to the column's target.
// Identity (upstream's shape): {"n": n, "row_targets": [..], "col_targets": [..]}. The
// answer is the LAST [answer]...[/answer] block, read by ast.literal_eval as a list of
// n lists of n cells, each equal to 0 or 1 (Python's equality: True and 1.0 count as 1;
// tuples do not count as lists). Right when every row and column meets its target --
// any such shading, not only the generator's.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Kakurasu final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Kakurasubootcamp", "puzzle", "shade cells so weighted row and column sums hit targets",
                                {{"n", 2, 12, "grid side"}, {"fill_percent", 10, 90, "chance that a cell is shaded"}},
                                "Kakurasubootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"n", level_lerp(level, 3, 8)}, {"fill_percent", 50}};  // level 5 is upstream's default n = 5
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("n");
    IntGrid shaded = make_grid(n, n);
    for (auto& row : shaded) {
      for (auto& v : row) v = rng.chance(d.at("fill_percent"), 100) ? 1 : 0;
    }
    std::vector<int64_t> rows(static_cast<size_t>(n), 0), cols(static_cast<size_t>(n), 0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        rows[static_cast<size_t>(i)] += (j + 1) * shaded[static_cast<size_t>(i)][static_cast<size_t>(j)];
        cols[static_cast<size_t>(j)] += (i + 1) * shaded[static_cast<size_t>(i)][static_cast<size_t>(j)];
      }
    }
    Case c;
    c.identity = {{"n", n}, {"row_targets", rows}, {"col_targets", cols}};
    c.prompt = "Kakurasu on a " + std::to_string(n) + "x" + std::to_string(n) + " grid. Columns are numbered 1 to " +
               std::to_string(n) + " from the left and rows 1 to " + std::to_string(n) + " from the top. Shade cells "
               "so that, in every row, the numbers of the columns holding its shaded cells add up to the row's "
               "target, and in every column the numbers of the rows holding its shaded cells add up to the "
               "column's target.\nRow targets, top to bottom: " + grid_text({rows}, " ", "") +
               "\nColumn targets, left to right: " + grid_text({cols}, " ", "") +
               "\nAnswer with a Python list of rows, 1 for shaded and 0 for empty, inside [answer][/answer], for "
               "example [answer][[1, 0], [0, 1]][/answer].";
    c.answer = reference_response("[answer]\n" + python_list_text(shaded) + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<literal_of_block>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const PyValue v = *kept_reading<literal_of_block>(extracted);
    const auto n = identity_index(identity.at("n"));
    if (v.kind != PyValue::Kind::kList || v.items.size() != n) return 0.0;
    std::vector<int64_t> g;  // row by row, one flat array
    g.reserve(n * n);
    for (const auto& row : v.items) {
      if (row.kind != PyValue::Kind::kList || row.items.size() != n) return 0.0;
      for (const auto& cell : row.items) {
        auto x = py_number(cell);
        if (!x || (*x != 0 && *x != 1)) return 0.0;
        g.push_back(static_cast<int64_t>(*x));
      }
    }
    // The target lists looked up once (a throw and a 0 both leave format_score).
    const Json &row_targets = identity.at("row_targets"), &col_targets = identity.at("col_targets");
    for (size_t i = 0; i < n; ++i) {
      int64_t row_sum = 0, col_sum = 0;
      for (size_t j = 0; j < n; ++j) {
        row_sum += static_cast<int64_t>(j + 1) * g[i * n + j];
        col_sum += static_cast<int64_t>(j + 1) * g[j * n + i];
      }
      if (row_targets.at(i) != row_sum || col_targets.at(i) != col_sum) return 0.0;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Kakurasu);

}  // namespace
}  // namespace troupe::envs
