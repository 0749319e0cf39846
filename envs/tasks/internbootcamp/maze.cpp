// Mazebootcamp: find a path through a grid maze from the start cell to the end cell,
// moving up, down, left or right over open cells.
// Identity (upstream's shape): {"grid": [[0|1]] (1 = wall), "start_pos": [r, c],
// "end_pos": [r, c], "difficulty": 1..3, "seed": null, "solution_path": [[r, c], ...]}.
// The answer is the LAST ```json ... ``` block, read as a Python literal (upstream's
// ast.literal_eval); any block counts as extracted, as upstream then returns the raw
// text. Right, as upstream's validate_maze_solution decides, when it is a non-empty
// list or tuple whose first and last items are the tuples start_pos and end_pos (a
// list [0, 0] is not equal to the tuple (0, 0) in Python), every item is a pair of
// in-bounds coordinates of an open cell, and each step moves to a 4-neighbour.
// Coordinates are (row, column); the stored solution_path is one shortest path.
#include <deque>

#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Grid = std::vector<std::vector<int64_t>>;
using Cell = std::pair<int64_t, int64_t>;

constexpr int kDr[] = {0, 1, 0, -1};
constexpr int kDc[] = {1, 0, -1, 0};

// Breadth-first shortest path over open cells; empty when there is none.
std::vector<Cell> shortest_path(const Grid& g, Cell from, Cell to) {
  const int64_t rows = static_cast<int64_t>(g.size()), cols = static_cast<int64_t>(g[0].size());
  std::vector<int64_t> parent(static_cast<size_t>(rows * cols), -1);
  auto id = [&](Cell c) { return static_cast<size_t>(c.first * cols + c.second); };
  std::deque<Cell> queue{from};
  parent[id(from)] = static_cast<int64_t>(id(from));
  while (!queue.empty()) {
    const Cell c = queue.front();
    queue.pop_front();
    if (c == to) break;
    for (int k = 0; k < 4; ++k) {
      const Cell n{c.first + kDr[k], c.second + kDc[k]};
      if (n.first < 0 || n.first >= rows || n.second < 0 || n.second >= cols) continue;
      if (g[static_cast<size_t>(n.first)][static_cast<size_t>(n.second)] != 0 || parent[id(n)] >= 0) continue;
      parent[id(n)] = static_cast<int64_t>(id(c));
      queue.push_back(n);
    }
  }
  if (parent[id(to)] < 0) return {};
  std::vector<Cell> path{to};
  while (path.back() != from) {
    const int64_t p = parent[id(path.back())];
    path.push_back({p / cols, p % cols});
  }
  return {path.rbegin(), path.rend()};
}

// A path step upstream can use: `x, y = step` unpacks it (a list or tuple of two) and
// maze[x][y] indexes with it (an int, or a bool, which Python indexes with as 0 or 1).
// Anything else raises there or never matches (a float index is a TypeError).
bool step_of(const PyValue& v, int64_t* r, int64_t* c) {
  if (!v.is_sequence() || v.items.size() != 2) return false;
  const auto a = py_index(v.items[0]), b = py_index(v.items[1]);
  if (!a || !b) return false;
  *r = *a;
  *c = *b;
  return true;
}

class Maze final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Mazebootcamp", "puzzle", "find a path through a grid maze",
                                {{"size", 4, 30, "rows and columns of the grid"},
                                 {"difficulty", 1, 3, "upstream's difficulty: more random walls and rooms"}},
                                "Mazebootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"size", level_lerp(level, 5, 20)}, {"difficulty", 1 + (level - 1) * 3 / 10}};  // upstream: 6x6
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size"), difficulty = d.at("difficulty");
    const Cell start{0, 0}, end{n - 1, n - 1};
    while (true) {
      Grid g(static_cast<size_t>(n), std::vector<int64_t>(static_cast<size_t>(n), 1));
      auto at = [&](Cell c) -> int64_t& { return g[static_cast<size_t>(c.first)][static_cast<size_t>(c.second)]; };
      // Randomised depth-first carving in steps of two cells, with an explicit stack.
      std::vector<Cell> stack{start};
      at(start) = 0;
      while (!stack.empty()) {
        const Cell c = stack.back();
        std::vector<int> dirs;
        for (int k = 0; k < 4; ++k) {
          const Cell n2{c.first + 2 * kDr[k], c.second + 2 * kDc[k]};
          if (n2.first >= 0 && n2.first < n && n2.second >= 0 && n2.second < n && at(n2) == 1) dirs.push_back(k);
        }
        if (dirs.empty()) {
          stack.pop_back();
          continue;
        }
        const int k = rng.pick(dirs);
        at({c.first + kDr[k], c.second + kDc[k]}) = 0;
        at({c.first + 2 * kDr[k], c.second + 2 * kDc[k]}) = 0;
        stack.push_back({c.first + 2 * kDr[k], c.second + 2 * kDc[k]});
      }
      // With an even side the carving visits only even cells: open the cell above the end.
      if (n % 2 == 0) at({n - 2, n - 1}) = 0;
      // Random changes, more at higher difficulty: single cells flipped and small rooms opened.
      for (int64_t i = 0; i < difficulty * n / 2; ++i) {
        const Cell c{rng.uniform(0, n - 1), rng.uniform(0, n - 1)};
        if (rng.chance(2, 3)) {
          at(c) = rng.chance(1, 2) ? 1 : 0;
        } else {
          for (int64_t r = c.first; r < std::min(n, c.first + 2); ++r) {
            for (int64_t q = c.second; q < std::min(n, c.second + 2); ++q) at({r, q}) = 0;
          }
        }
      }
      at(start) = 0;
      at(end) = 0;
      std::vector<Cell> path = shortest_path(g, start, end);
      if (path.empty()) continue;  // the flips cut every way through: draw again
      Case c;
      Json sol = Json::array();
      std::string listed;
      for (const auto& [r, q] : path) {
        sol.push_back({r, q});
        listed += (listed.empty() ? "(" : ", (") + std::to_string(r) + ", " + std::to_string(q) + ")";
      }
      c.identity = {{"grid", g}, {"start_pos", {start.first, start.second}}, {"end_pos", {end.first, end.second}},
                    {"difficulty", difficulty}, {"seed", nullptr}, {"solution_path", sol}};
      std::string picture;
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t q = 0; q < n; ++q) {
          picture += Cell{r, q} == start ? 'S' : (Cell{r, q} == end ? 'E' : (at({r, q}) ? '#' : '.'));
        }
        picture += '\n';
      }
      c.prompt = "Find a way through this maze from S (top left) to E (bottom right). '.' is open floor, '#' is "
                 "wall; each move goes one cell up, down, left or right, never diagonally or through a wall.\n" +
                 picture +
                 "Cells are (row, column), counted from 0 at the top left. End with the whole path, start and end "
                 "included, as a list of tuples in a json code block:\nFinal-answer: ```json\n[(0, 0), (0, 1), "
                 "...]\n```";
      c.answer = reference_response("Final-answer: ```json\n[" + listed + "]\n```");
      return c;
    }
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_fenced_json(response);
    if (!block) return std::nullopt;
    return std::string(*block);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const Json& g = identity.at("grid");  // read in place: a copy would cost more than the whole check
    const auto start = identity_ints(identity.at("start_pos"));
    const auto end = identity_ints(identity.at("end_pos"));
    // ast.literal_eval(python_str.strip()); a str, dict or set there never scores 1 either.
    auto path = py_literal_eval(py_strip(extracted));
    if (!path || !path->is_sequence() || path->items.empty()) return 0.0;
    const auto& items = path->items;
    // Python compares the first and last items with tuple(start_pos), tuple(end_pos): a list
    // never equals a tuple; True equals 1 (a float equal to the coordinate passes here but
    // then fails as an index, so it is refused at once).
    auto equals_tuple = [](const PyValue& v, const std::vector<int64_t>& want) {
      if (v.kind != PyValue::Kind::kTuple || v.items.size() != want.size()) return false;
      for (size_t i = 0; i < want.size(); ++i) {
        const auto x = py_index(v.items[i]);
        if (!x || *x != want[i]) return false;
      }
      return true;
    };
    if (!equals_tuple(items.front(), start) || !equals_tuple(items.back(), end)) return 0.0;
    const int64_t rows = static_cast<int64_t>(g.size());
    const int64_t cols = rows > 0 ? static_cast<int64_t>(g.at(0).size()) : 0;
    int64_t pr = 0, pc = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      int64_t r = 0, c = 0;
      if (!step_of(items[i], &r, &c)) return 0.0;  // upstream: unpacking or indexing raises
      if (r < 0 || r >= rows || c < 0 || c >= cols) return 0.0;
      if (identity_int(g.at(static_cast<size_t>(r)).at(static_cast<size_t>(c))) == 1) return 0.0;
      if (i > 0) {
        const int64_t dr = r > pr ? r - pr : pr - r, dc = c > pc ? c - pc : pc - c;
        if (!((dr == 1 && c == pc) || (dc == 1 && r == pr))) return 0.0;
      }
      pr = r;
      pc = c;
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Maze);

}  // namespace
}  // namespace troupe::envs
