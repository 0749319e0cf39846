// Calcudokubootcamp (KenKen): fill an n x n Latin square over 1..n so that each group
// of cells reaches its target with its operator.
// Identity (upstream's shape): {"groups": {"A": ["+", 7], ...}, "grid": [["A", ...]],
// "size": n} -- the group letter of every cell, and per letter the operator (+ - * /)
// and target. The answer is the LAST [[...]] block: rows separated by commas, numbers
// within a row by whitespace, e.g. [[1 3 2,2 1 3,3 2 1]] ('[', ']' and spaces around
// a row are dropped, as upstream's strip('[] ') does). Right when the rows and columns
// are permutations of 1..n and every group meets its target: + sums, * multiplies,
// - is one cell minus all the others, / is one cell divided by all the others.
// Deviation (DEVIATIONS.md): upstream's / check leaves out every cell equal to the
// dividend, not just the dividend itself, so [2, 2, 1] fails target 1 there (2/2/1 = 1
// is right); we divide by all the other cells.
#include <map>

#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// Up to 52 group labels, as upstream's label regex ([A-Za-z]) reads one letter.
char label(int64_t k) { return static_cast<char>(k < 26 ? 'A' + k : 'a' + (k - 26)); }
constexpr int64_t kMaxGroups = 52;

// Upstream's extract_output: nullopt where it returns None.
std::optional<IntGrid> read_rows(std::string_view block) {
  IntGrid out;
  for (auto row : PyPieces(block, ',')) {
    std::vector<int64_t>& row_out = new_row(out);
    for (auto tok : PyTokens(py_strip(py_strip_chars(row, "[] ")))) {
      auto v = py_int(tok);
      if (!v) return std::nullopt;
      row_out.push_back(*v);
    }
  }
  return out;
}

bool meets(char op, int64_t target, const std::vector<int64_t>& nums) {
  switch (op) {
    case '+': {
      int64_t sum = 0;
      for (int64_t v : nums) sum += v;
      return sum == target;
    }
    case '*': {
      double product = 1;  // values are 1..n here; a double keeps a huge group from overflowing
      for (int64_t v : nums) product *= static_cast<double>(v);
      return product == static_cast<double>(target);
    }
    case '-': {
      int64_t sum = 0;
      for (int64_t v : nums) sum += v;
      for (int64_t v : nums) {
        if (v - (sum - v) == target) return true;
      }
      return false;
    }
    case '/':
      for (size_t k = 0; k < nums.size(); ++k) {
        double rest = 1;
        for (size_t m = 0; m < nums.size(); ++m) {
          if (m != k) rest *= static_cast<double>(nums[m]);
        }
        if (static_cast<double>(nums[k]) / rest == static_cast<double>(target)) return true;
      }
      return false;
    default:
      return false;
  }
}

class Calcudoku final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Calcudokubootcamp", "puzzle", "fill a KenKen grid meeting every group's target",
                                {{"size", 3, 9, "grid side"}, {"max_group", 1, 5, "largest group of cells"}},
                                "Calcudokubootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 6 is upstream's default (6x6, groups of 1 to 4 cells).
    return {{"size", level_lerp(level, 3, 8)}, {"max_group", level <= 2 ? 2 : (level <= 4 ? 3 : 4)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size");
    const IntGrid solution = random_latin_square(rng, n);
    IntGrid group = random_regions(rng, n, n, d.at("max_group"));
    // More groups than labels (only with small groups on a big grid): merge single cells
    // into a neighbouring group until the labels suffice.
    int64_t count = 0;
    for (const auto& row : group) count = std::max(count, 1 + *std::max_element(row.begin(), row.end()));
    while (count > kMaxGroups) merge_one_single(rng, group, count);
    // Operators and targets; each group's first cell in reading order carries the clue.
    std::vector<std::vector<int64_t>> values(static_cast<size_t>(count));
    std::vector<std::pair<int64_t, int64_t>> first(static_cast<size_t>(count), {-1, -1});
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        const auto g = static_cast<size_t>(group[static_cast<size_t>(r)][static_cast<size_t>(c)]);
        values[g].push_back(solution[static_cast<size_t>(r)][static_cast<size_t>(c)]);
        if (first[g].first < 0) first[g] = {r, c};
      }
    }
    Json groups = Json::object();
    std::vector<std::string> clue(static_cast<size_t>(count));
    for (size_t g = 0; g < values.size(); ++g) {
      const auto [op, target] = pick_operation(rng, values[g]);
      groups[std::string(1, label(static_cast<int64_t>(g)))] = {std::string(1, op), target};
      clue[g] = std::string(1, op) + std::to_string(target);
    }
    Json grid = Json::array();
    std::string spec;
    for (int64_t r = 0; r < n; ++r) {
      Json row = Json::array();
      for (int64_t c = 0; c < n; ++c) {
        const auto g = group[static_cast<size_t>(r)][static_cast<size_t>(c)];
        row.push_back(std::string(1, label(g)));
        spec += (c ? " " : "") + std::string(1, label(g)) + (first[static_cast<size_t>(g)] == std::make_pair(r, c) ? clue[static_cast<size_t>(g)] : "");
      }
      grid.push_back(row);
      spec += "\n";
    }
    Case out;
    out.identity = {{"groups", groups}, {"grid", grid}, {"size", n}};
    out.prompt = "Calcudoku (KenKen) on a " + std::to_string(n) + "x" + std::to_string(n) + " grid: write 1 to " +
                 std::to_string(n) + " in every row and every column, each number once. The letters below split the "
                 "grid into groups; one cell of each group shows the group's operator and target. The group's "
                 "numbers must reach the target: + their sum, * their product, - one number minus all the others, "
                 "/ one number divided by all the others. Numbers may repeat inside a group when they are in "
                 "different rows and columns.\n" + spec +
                 "Give the filled grid in double square brackets, numbers separated by spaces and rows by commas, "
                 "for example [[1 2 3,3 1 2,2 3 1]].";
    out.answer = reference_response("[[" + grid_text(solution, " ", ",") + "]]");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_rows>(b).has_value(); }, {"[[", "]]"});
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const IntGrid got = *kept_reading<read_rows>(extracted);
    const auto n = identity_int(identity.at("size"));
    if (static_cast<int64_t>(got.size()) != n) return 0.0;
    for (const auto& row : got) {
      if (static_cast<int64_t>(row.size()) != n) return 0.0;
    }
    if (!is_latin(got, n)) return 0.0;
    const Json& grid = identity.at("grid");
    // Each group's numbers, by label: one-letter labels (all of ours and upstream's) in a
    // table, any other label in a map.
    std::vector<std::vector<int64_t>> by_letter(256);
    std::map<std::string, std::vector<int64_t>, std::less<>> by_name;
    auto numbers = [&](std::string_view label) -> std::vector<int64_t>& {
      if (label.size() == 1) return by_letter[static_cast<unsigned char>(label[0])];
      auto it = by_name.find(label);
      return it != by_name.end() ? it->second : by_name[std::string(label)];
    };
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      for (size_t j = 0; j < static_cast<size_t>(n); ++j) {
        numbers(grid.at(i).at(j).get_ref<const std::string&>()).push_back(got[i][j]);
      }
    }
    for (const auto& [name, rule] : identity.at("groups").items()) {
      const auto& op = rule.at(0).get_ref<const std::string&>();
      if (op.size() != 1 || !meets(op[0], identity_int(rule.at(1)), numbers(name))) return 0.0;
    }
    return 1.0;
  }

 private:
  // An operator and target the group's values reach, chosen at random among those that
  // give a positive integer, as upstream does; a single cell is "+ value". A / whose
  // dividend value repeats in the group is skipped, so upstream's verifier agrees on our cases.
  static std::pair<char, int64_t> pick_operation(Rng& rng, const std::vector<int64_t>& v) {
    int64_t sum = 0, product = 1;
    for (int64_t x : v) sum += x, product *= x;
    if (v.size() == 1) return {'+', sum};
    const int64_t top = *std::max_element(v.begin(), v.end());
    std::vector<std::pair<char, int64_t>> options{{'+', sum}, {'*', product}};
    if (2 * top - sum > 0) options.push_back({'-', 2 * top - sum});
    const int64_t rest = product / top;
    if (top % rest == 0 && std::count(v.begin(), v.end(), top) == 1) options.push_back({'/', top / rest});
    return rng.pick(options);
  }

  // Folds one random single-cell group into a neighbouring group and renumbers the rest.
  static void merge_one_single(Rng& rng, IntGrid& group, int64_t& count) {
    const int64_t n = static_cast<int64_t>(group.size());
    std::vector<int64_t> size(static_cast<size_t>(count), 0);
    for (const auto& row : group) {
      for (int64_t g : row) ++size[static_cast<size_t>(g)];
    }
    std::vector<std::pair<int64_t, int64_t>> singles;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        if (size[static_cast<size_t>(group[static_cast<size_t>(r)][static_cast<size_t>(c)])] == 1) singles.push_back({r, c});
      }
    }
    const auto [r, c] = singles.empty() ? std::make_pair(int64_t{0}, int64_t{0}) : rng.pick(singles);
    std::vector<int64_t> neighbours;
    for (int d = 0; d < 4; ++d) {
      const int64_t nr = r + kOrthoDr[d], nc = c + kOrthoDc[d];
      if (nr >= 0 && nc >= 0 && nr < n && nc < n) neighbours.push_back(group[static_cast<size_t>(nr)][static_cast<size_t>(nc)]);
    }
    const int64_t gone = group[static_cast<size_t>(r)][static_cast<size_t>(c)];
    int64_t into = rng.pick(neighbours);
    for (auto& row : group) {
      for (auto& g : row) {
        if (g == gone) g = into;
      }
    }
    for (auto& row : group) {
      for (auto& g : row) {
        if (g > gone) --g;
      }
    }
    --count;
  }
};
TROUPE_REGISTER_TASK(Calcudoku);

}  // namespace
}  // namespace troupe::envs
