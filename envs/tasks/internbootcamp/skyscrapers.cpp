// Skyscrapersbootcamp: fill an n x n grid with building heights 1..n, each once per row
// and column, so that from each edge the number of buildings seen (a taller one hides
// every lower one behind it) matches the clue on that edge.
// Identity (upstream's shape): {"n": n, "clues": {"left": [..], "right": [..],
// "top": [..], "bottom": [..]}} -- left/right per row, top/bottom per column. The
// answer is the LAST [answer]...[/answer] block: one row per non-blank line, heights
// separated by whitespace, each an unsigned run of digits (upstream's isdigit() test:
// a sign makes the block unreadable). Right when every row and column is a
// permutation of 1..n and all four views match.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// How many buildings are seen looking along at(0), at(1), ..., at(n - 1).
template <class At>
int64_t seen_along(size_t n, At at) {
  int64_t count = 0, tallest = -1;
  for (size_t k = 0; k < n; ++k) {
    const int64_t h = at(k);
    if (h > tallest) ++count, tallest = h;
  }
  return count;
}

// The four views of a square grid: for row or column i, looking from the left, the right,
// the top and the bottom. Reads the cells in place (no row or column copies).
int64_t view_left(const IntGrid& g, size_t i) { return seen_along(g.size(), [&](size_t k) { return g[i][k]; }); }
int64_t view_right(const IntGrid& g, size_t i) {
  return seen_along(g.size(), [&](size_t k) { return g[i][g.size() - 1 - k]; });
}
int64_t view_top(const IntGrid& g, size_t i) { return seen_along(g.size(), [&](size_t k) { return g[k][i]; }); }
int64_t view_bottom(const IntGrid& g, size_t i) {
  return seen_along(g.size(), [&](size_t k) { return g[g.size() - 1 - k][i]; });
}

struct Views {
  std::vector<int64_t> left, right, top, bottom;
};

Views views_of(const IntGrid& g) {
  Views v;
  for (size_t i = 0; i < g.size(); ++i) {
    v.left.push_back(view_left(g, i));
    v.right.push_back(view_right(g, i));
    v.top.push_back(view_top(g, i));
    v.bottom.push_back(view_bottom(g, i));
  }
  return v;
}

std::optional<IntGrid> read_rows(std::string_view block) { return read_int_rows(block, {.digits_only = true}); }

std::string joined(const std::vector<int64_t>& v) { return grid_text({v}, " ", ""); }

class Skyscrapers final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Skyscrapersbootcamp", "puzzle", "place skyscrapers so each edge sees its clue",
                                {{"n", 3, 9, "grid side (heights 1..n)"}},
                                "Skyscrapersbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"n", level_lerp(level, 3, 7)}};  // level 4 is upstream's default 4x4
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("n");
    const IntGrid solution = random_latin_square(rng, n);
    const Views v = views_of(solution);
    Case c;
    c.identity = {{"n", n}, {"clues", {{"left", v.left}, {"right", v.right}, {"top", v.top}, {"bottom", v.bottom}}}};
    c.prompt = "Skyscrapers, " + std::to_string(n) + "x" + std::to_string(n) + ": put a building of height 1 to " +
               std::to_string(n) + " in every cell so that each row and each column has every height once. A clue "
               "says how many buildings can be seen from that edge looking along the line; a building hides every "
               "lower building behind it.\nSeen from the top (columns left to right): " + joined(v.top) +
               "\nSeen from the bottom (columns left to right): " + joined(v.bottom) +
               "\nSeen from the left (rows top to bottom): " + joined(v.left) +
               "\nSeen from the right (rows top to bottom): " + joined(v.right) +
               "\nWrite the grid inside [answer][/answer], one row per line, heights separated by spaces.";
    c.answer = reference_response("[answer]\n" + grid_text(solution, " ", "\n") + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_rows>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const IntGrid got = *kept_reading<read_rows>(extracted);
    const auto n = identity_int(identity.at("n"));
    if (!is_latin(got, n)) return 0.0;
    // The clue lists looked up once, not per row (a throw and a 0 both leave format_score,
    // so looking up a list the old order might not have reached changes no score).
    const Json& clues = identity.at("clues");
    const Json &left = clues.at("left"), &right = clues.at("right"), &top = clues.at("top"), &bottom = clues.at("bottom");
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (left.at(i) != view_left(got, i) || right.at(i) != view_right(got, i) || top.at(i) != view_top(got, i) ||
          bottom.at(i) != view_bottom(got, i)) {
        return 0.0;
      }
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Skyscrapers);

}  // namespace
}  // namespace troupe::envs
