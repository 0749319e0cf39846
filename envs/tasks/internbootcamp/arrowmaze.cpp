// Arrowmazebootcamp: every cell of a grid holds one of eight arrows; from the start,
// each move goes any number of cells in the direction of the current cell's arrow,
// until the end cell '○'. The answer numbers the visited cells 1, 2, 3, ... in a grid
// of the maze's shape (0 = not visited).
// Identity (upstream's shape): {"input_grid": [[str]] (or that grid as JSON text),
// "start_position": [r, c] (absent: (0, 0))}. The answer is the LAST ```json ... ```
// block; upstream turns ' into " and ( ) into [ ] and reads it as JSON, and any block
// counts as extracted. Right, as upstream's check decides, when it is a grid of numbers
// of the maze's shape whose positive cells, ordered by value (ties in row order), start
// at the start, step each time along the arrow of the cell they leave (a positive
// multiple of it), never leave from '○', and end on '○'.
#include <algorithm>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

struct Arrow {
  std::string_view symbol;
  int dr, dc;
};
constexpr Arrow kArrows[] = {{"↑", -1, 0}, {"↓", 1, 0},  {"←", 0, -1}, {"→", 0, 1},
                             {"↖", -1, -1}, {"↗", -1, 1}, {"↙", 1, -1}, {"↘", 1, 1}};
constexpr std::string_view kEnd = "○";

const Arrow* arrow_of(std::string_view s) {
  for (const auto& a : kArrows) {
    if (a.symbol == s) return &a;
  }
  return nullptr;
}

int sign(int64_t v) { return (v > 0) - (v < 0); }

// A number cell of the candidate grid as Python compares it: bools are 0/1; anything else
// (string, null, list) makes upstream's `label > 0` raise.
double label_of(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (!v.is_number()) throw std::invalid_argument("not a number");
  return v.get<double>();
}

// Fast path for the usual answer, a JSON array of arrays of plain integers: the labels
// row by row, or nullopt for anything else (then nlohmann's parser decides).
std::optional<std::vector<std::vector<double>>> integer_grid(std::string_view s) {
  std::vector<std::vector<double>> rows;
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  auto eat = [&](char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  if (!eat('[')) return std::nullopt;
  if (eat(']')) return rows;
  do {
    if (!eat('[')) return std::nullopt;
    rows.emplace_back();
    if (eat(']')) continue;
    do {
      ws();
      const bool neg = i < s.size() && s[i] == '-';
      if (neg) ++i;
      const size_t start = i;
      int64_t v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 15) v = v * 10 + (s[i++] - '0');
      if (i == start || (s[start] == '0' && i - start > 1)) return std::nullopt;
      if (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || (s[i] >= '0' && s[i] <= '9'))) return std::nullopt;
      rows.back().push_back(static_cast<double>(neg ? -v : v));
    } while (eat(','));
    if (!eat(']')) return std::nullopt;
  } while (eat(','));
  if (!eat(']')) return std::nullopt;
  ws();
  if (i != s.size()) return std::nullopt;
  return rows;
}

class Arrowmaze final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Arrowmazebootcamp", "puzzle", "follow the arrows of a grid from start to end",
                                {{"size", 3, 12, "rows and columns of the grid"},
                                 {"max_steps", 2, 16, "most cells on the planted path"}},
                                "Arrowmazebootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"size", level_lerp(level, 4, 9)}, {"max_steps", level_lerp(level, 3, 9)}};  // upstream: 6x6, 5 steps
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size"), max_steps = d.at("max_steps");
    using Cell = std::pair<int64_t, int64_t>;
    const Cell start{0, 0}, end{n - 1, n - 1};
    auto inside = [&](Cell c) { return c.first >= 0 && c.first < n && c.second >= 0 && c.second < n; };
    std::vector<Cell> path;
    while (true) {
      // A random walk of arrow moves that must reach the end within max_steps cells; the end
      // is taken as soon as it lies on a line from here and the walk is long enough.
      path = {start};
      while (path.size() < static_cast<size_t>(max_steps) && path.back() != end) {
        const Cell c = path.back();
        const int64_t dr = end.first - c.first, dc = end.second - c.second;
        const bool in_line = dr == 0 || dc == 0 || dr == dc || dr == -dc;
        if (in_line && (path.size() >= 3 || path.size() + 1 >= static_cast<size_t>(max_steps) || rng.chance(1, 4))) {
          path.push_back(end);
          break;
        }
        std::vector<Cell> options;
        for (const auto& a : kArrows) {
          for (int64_t k = 1; inside({c.first + k * a.dr, c.second + k * a.dc}); ++k) {
            const Cell next{c.first + k * a.dr, c.second + k * a.dc};
            if (std::find(path.begin(), path.end(), next) == path.end() && next != end) options.push_back(next);
          }
        }
        if (options.empty()) break;
        path.push_back(rng.pick(options));
      }
      if (path.back() == end) break;
    }
    std::vector<std::vector<std::string>> grid(static_cast<size_t>(n), std::vector<std::string>(static_cast<size_t>(n)));
    for (auto& row : grid) {
      for (auto& cell : row) cell = std::string(kArrows[rng.uniform(0, 7)].symbol);
    }
    std::vector<std::vector<int64_t>> labels(static_cast<size_t>(n), std::vector<int64_t>(static_cast<size_t>(n), 0));
    for (size_t i = 0; i < path.size(); ++i) {
      const auto [r, c] = path[i];
      labels[static_cast<size_t>(r)][static_cast<size_t>(c)] = static_cast<int64_t>(i) + 1;
      if (i + 1 == path.size()) break;
      const int dr = sign(path[i + 1].first - r), dc = sign(path[i + 1].second - c);
      for (const auto& a : kArrows) {
        if (a.dr == dr && a.dc == dc) grid[static_cast<size_t>(r)][static_cast<size_t>(c)] = std::string(a.symbol);
      }
    }
    grid[static_cast<size_t>(end.first)][static_cast<size_t>(end.second)] = std::string(kEnd);
    std::string picture, answer;
    for (size_t r = 0; r < grid.size(); ++r) {
      for (size_t c = 0; c < grid.size(); ++c) {
        picture += (c ? " " : "") + grid[r][c];
        answer += (c ? ", " : (r ? ",\n [" : "[[")) + std::to_string(labels[r][c]);
      }
      picture += "\n";
      answer += "]";
    }
    answer += "]";
    Case out;
    out.identity = {{"input_grid", grid}, {"start_position", {start.first, start.second}}};
    out.prompt = "Arrow maze. Each cell shows an arrow pointing in one of eight directions; " + std::string(kEnd) +
                 " marks the end. Start at the top-left cell (row 0, column 0). From a cell you move in the direction "
                 "of its arrow, any number of cells, and land on a cell whose arrow you follow next, until you land "
                 "on " + std::string(kEnd) + ".\n" + picture +
                 "Answer with a grid of the same shape in a json code block: the cells you land on numbered 1 (the "
                 "start), 2, 3, ... in order, every other cell 0.\nFinal-answer: ```json\n[[1, 0, 0], [0, 0, 2], "
                 "...]\n```";
    out.answer = reference_response("Final-answer: ```json\n" + answer + "\n```");
    return out;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_fenced_json(response);
    if (!block) return std::nullopt;
    std::string s(*block);
    for (char& ch : s) {
      if (ch == '\'') ch = '"';
      if (ch == '(') ch = '[';
      if (ch == ')') ch = ']';
    }
    return s;
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    Json parsed;  // only when the identity holds the grid as JSON text
    const Json* grid_ptr = &identity.at("input_grid");
    if (grid_ptr->is_string()) {
      parsed = Json::parse(grid_ptr->get<std::string>());
      grid_ptr = &parsed;
    }
    const Json& grid = *grid_ptr;
    int64_t start_r = 0, start_c = 0;
    if (identity.contains("start_position")) {
      const auto s = identity_ints(identity.at("start_position"));
      if (s.size() != 2) return 0.0;  // upstream compares a 2-tuple with it: never equal
      start_r = s[0];
      start_c = s[1];
    }
    std::optional<std::vector<std::vector<double>>> fast = integer_grid(extracted);
    if (!fast) {
      // Anything but plain integers: read it as Python's json.loads would, then apply its `label > 0`.
      const Json cand = Json::parse(extracted, nullptr, /*allow_exceptions=*/false);
      if (cand.is_discarded() || !cand.is_array()) return 0.0;
      fast.emplace();
      for (const auto& row : cand) {
        if (!row.is_array()) return 0.0;
        fast->emplace_back();
        for (const auto& v : row) fast->back().push_back(label_of(v));
      }
    }
    const std::vector<std::vector<double>>& cand = *fast;
    const size_t rows = grid.size(), cols = rows > 0 ? grid.at(0).size() : 0;
    if (cand.size() != rows) return 0.0;
    for (const auto& row : cand) {
      if (row.size() != cols) return 0.0;
    }
    struct Labeled {
      double label;
      int64_t r, c;
    };
    std::vector<Labeled> cells;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        const double label = cand[r][c];
        if (label > 0) cells.push_back({label, static_cast<int64_t>(r), static_cast<int64_t>(c)});
      }
    }
    if (cells.empty()) return 0.0;
    std::stable_sort(cells.begin(), cells.end(), [](const Labeled& a, const Labeled& b) { return a.label < b.label; });
    if (cells[0].r != start_r || cells[0].c != start_c) return 0.0;
    auto symbol = [&](int64_t r, int64_t c) -> const std::string& {
      return grid.at(static_cast<size_t>(r)).at(static_cast<size_t>(c)).get_ref<const std::string&>();
    };
    for (size_t i = 0; i + 1 < cells.size(); ++i) {
      const std::string& here = symbol(cells[i].r, cells[i].c);
      const Arrow* a = arrow_of(here);
      if (here == kEnd || a == nullptr) return 0.0;
      const int64_t dr = cells[i + 1].r - cells[i].r, dc = cells[i + 1].c - cells[i].c;
      // A positive multiple of the arrow: same signs, and for diagonals equal steps.
      if (sign(dr) != a->dr || sign(dc) != a->dc) return 0.0;
      if (a->dr != 0 && a->dc != 0 && dr * a->dr != dc * a->dc) return 0.0;
    }
    return symbol(cells.back().r, cells.back().c) == kEnd ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(Arrowmaze);

}  // namespace
}  // namespace troupe::envs
