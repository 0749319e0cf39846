// Thermometersbootcamp: fill an n x n grid with 1..n, each once per row and column, so
// that along every thermometer the numbers rise strictly from the bulb to the tip.
// Identity (upstream's shape): {"size": n, "thermometers": [{"bulb": [r, c], "path":
// [[r, c], ...]}], "enforce_latin": true} (paths start at the bulb, 0-based cells;
// without enforce_latin only the 1..n range and the thermometers count). The answer
// is the LAST [answer]...[/answer] block: one row per non-blank line, integers
// separated by whitespace; as upstream, a block that is not a non-empty square of
// numbers is no answer at all.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

std::optional<IntGrid> read_square(std::string_view block) {
  auto out = read_int_rows(block);
  if (!out || out->empty() || out->size() != (*out)[0].size()) return std::nullopt;  // upstream: IndexError or None
  for (const auto& row : *out) {
    if (row.size() != (*out)[0].size()) return std::nullopt;
  }
  return out;
}

std::string cell_text(const Json& cell) {
  return "(" + std::to_string(cell.at(0).get<int64_t>()) + ", " + std::to_string(cell.at(1).get<int64_t>()) + ")";
}

class Thermometers final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Thermometersbootcamp", "puzzle", "fill a Latin square rising along each thermometer",
                                {{"size", 3, 9, "grid side"}, {"thermometers", 1, 12, "number of thermometers"}},
                                "Thermometersbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Level 5 is upstream's default (5x5, three thermometers).
    return {{"size", level_lerp(level, 3, 8)}, {"thermometers", level_lerp(level, 2, 6)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t n = d.at("size");
    const IntGrid solution = random_latin_square(rng, n);
    Json thermometers = Json::array();
    std::string text;
    for (int64_t t = 0; t < d.at("thermometers"); ++t) {
      // As upstream: from a random bulb, step to a random unvisited neighbour holding a larger
      // number until none is left; keep paths of two cells or more (a bulb holding 1 always
      // gives one, so the retries end).
      std::vector<std::pair<int64_t, int64_t>> path;
      while (path.size() < 2) {
        path = {{rng.uniform(0, n - 1), rng.uniform(0, n - 1)}};
        while (true) {
          const auto [r, c] = path.back();
          std::vector<std::pair<int64_t, int64_t>> next;
          for (int dir = 0; dir < 4; ++dir) {
            const int64_t nr = r + kOrthoDr[dir], nc = c + kOrthoDc[dir];
            if (nr < 0 || nc < 0 || nr >= n || nc >= n || std::find(path.begin(), path.end(), std::make_pair(nr, nc)) != path.end()) continue;
            if (solution[static_cast<size_t>(nr)][static_cast<size_t>(nc)] > solution[static_cast<size_t>(r)][static_cast<size_t>(c)]) next.push_back({nr, nc});
          }
          if (next.empty()) break;
          path.push_back(rng.pick(next));
        }
      }
      Json cells = Json::array();
      for (auto [r, c] : path) cells.push_back({r, c});
      thermometers.push_back({{"bulb", cells[0]}, {"path", cells}});
      text += "- thermometer " + std::to_string(t + 1) + ":";
      for (const auto& cell : cells) text += " " + cell_text(cell);
      text += "\n";
    }
    Case c;
    c.identity = {{"size", n}, {"thermometers", thermometers}, {"enforce_latin", true}};
    c.prompt = "Thermometers on a " + std::to_string(n) + "x" + std::to_string(n) + " grid: write 1 to " +
               std::to_string(n) + " in every row and every column, each once. Each thermometer below is a chain of "
               "cells (row, column), counted from 0, starting at its bulb; the numbers must strictly increase from "
               "the bulb to the end of the chain.\n" + text +
               "Write the grid inside [answer][/answer], one row per line, numbers separated by spaces.";
    c.answer = reference_response("[answer]\n" + grid_text(solution, " ", "\n") + "\n[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    return last_readable_block(response, [](std::string_view b) { return read_and_keep<read_square>(b).has_value(); });
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const IntGrid got = *kept_reading<read_square>(extracted);
    const auto n = identity_int(identity.at("size"));
    if (static_cast<int64_t>(got.size()) != n) return 0.0;
    for (const auto& row : got) {
      for (int64_t v : row) {
        if (v < 1 || v > n) return 0.0;
      }
    }
    const auto latin_field = identity.find("enforce_latin");
    const bool latin = latin_field == identity.end() || latin_field->get<bool>();
    if (latin && !is_latin(got, n)) return 0.0;
    for (const Json& t : identity.at("thermometers")) {
      const Json& path = *identity_fields<1>(t, {"path"})[0];
      // Each cell's value read once: it is the larger of one pair and the smaller of the next.
      auto value = [&](const Json& cell) { return got.at(identity_index(cell.at(0))).at(identity_index(cell.at(1))); };
      int64_t a = path.empty() ? 0 : value(path[0]);
      for (size_t k = 0; k + 1 < path.size(); ++k) {
        const int64_t b = value(path[k + 1]);
        if (a >= b) return 0.0;
        a = b;
      }
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Thermometers);

}  // namespace
}  // namespace troupe::envs
