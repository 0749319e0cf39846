// Sudokubootcamp: fill an n x n Sudoku (n a square: 4, 9, 16).
// Identity (upstream's shape): {"puzzle": [[int]] (0 = empty), "size": n,
// "region_rows": sqrt(n), "region_cols": sqrt(n)}. The answer is the LAST
// [answer]...[/answer] block: one row per line, integers separated by whitespace
// (blank lines skipped; any other token makes it unreadable). Right when it keeps
// every given and every row, column and region holds 1..n once.
#include "envs/grid_puzzle.hpp"
#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

using Grid = std::vector<std::vector<int64_t>>;

// Calls fn(token, ends_line) for every whitespace-separated token of `block`, and
// fn("", true) at every line end (so rows can be told apart); no allocation.
template <class Fn>
void for_each_token(std::string_view block, Fn&& fn) {
  size_t i = 0;
  while (i < block.size()) {
    const char c = block[i];
    if (c == '\n') {
      fn(std::string_view(), true);
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      ++i;
    } else {
      size_t j = i;
      while (j < block.size() && block[j] != ' ' && block[j] != '\t' && block[j] != '\n' && block[j] != '\r' &&
             block[j] != '\v' && block[j] != '\f') {
        ++j;
      }
      fn(block.substr(i, j - i), false);
      i = j;
    }
  }
  fn(std::string_view(), true);
}

// The numbers of a block row by row, one flat array, and where each non-blank line ends.
struct Reading {
  std::vector<int64_t> cells;
  std::vector<size_t> row_ends;
};

// The block read as upstream's int() calls read it; nullopt where one of them raises. A token
// of at most 18 ASCII digits (every cell of a real answer) is read in place.
std::optional<Reading> read_grid(std::string_view block) {
  Reading out;
  out.cells.reserve(256);
  out.row_ends.reserve(16);
  bool readable = true;
  for_each_token(block, [&](std::string_view tok, bool ends_line) {
    if (!readable) return;
    if (!tok.empty()) {
      uint64_t v = 0;
      bool digits = tok.size() <= 18;
      for (size_t k = 0; k < tok.size() && digits; ++k) {
        digits = tok[k] >= '0' && tok[k] <= '9';
        v = v * 10 + static_cast<uint64_t>(tok[k] - '0');
      }
      if (digits) {
        out.cells.push_back(static_cast<int64_t>(v));
      } else if (auto parsed = parse_int(tok)) {
        out.cells.push_back(*parsed);
      } else {
        readable = false;  // upstream's int() raises: None
        return;
      }
    }
    if (ends_line && (out.row_ends.empty() ? !out.cells.empty() : out.cells.size() > out.row_ends.back())) {
      out.row_ends.push_back(out.cells.size());
    }
  });
  if (!readable) return std::nullopt;
  return out;
}

class Sudoku final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Sudokubootcamp", "puzzle", "fill a Sudoku grid",
                                {{"box", 2, 4, "box side; the grid is box^2 x box^2"},
                                 {"holes_percent", 5, 80, "percentage of cells emptied"}},
                                "Sudokubootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"box", level <= 3 ? 2 : 3}, {"holes_percent", level <= 3 ? level_lerp(level, 20, 80) : level_lerp(level, 5, 50)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t r = d.at("box"), n = r * r;
    // A solved grid from the classic pattern, then shuffled rows in bands, bands, columns
    // in stacks, stacks, and digits -- every step keeps it a valid Sudoku.
    auto order = [&] {
      std::vector<int64_t> bands(static_cast<size_t>(r)), out;
      for (int64_t i = 0; i < r; ++i) bands[static_cast<size_t>(i)] = i;
      rng.shuffle(bands);
      for (int64_t b : bands) {
        std::vector<int64_t> inner(static_cast<size_t>(r));
        for (int64_t i = 0; i < r; ++i) inner[static_cast<size_t>(i)] = b * r + i;
        rng.shuffle(inner);
        out.insert(out.end(), inner.begin(), inner.end());
      }
      return out;
    };
    const auto rows = order(), cols = order();
    std::vector<int64_t> digits(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) digits[static_cast<size_t>(i)] = i + 1;
    rng.shuffle(digits);
    Grid solution(static_cast<size_t>(n), std::vector<int64_t>(static_cast<size_t>(n)));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t ri = rows[static_cast<size_t>(i)], cj = cols[static_cast<size_t>(j)];
        solution[static_cast<size_t>(i)][static_cast<size_t>(j)] = digits[static_cast<size_t>((r * (ri % r) + ri / r + cj) % n)];
      }
    }
    Grid puzzle = solution;
    for (auto& row : puzzle) {
      for (auto& v : row) {
        if (rng.chance(d.at("holes_percent"), 100)) v = 0;
      }
    }
    Case c;
    c.identity = {{"puzzle", puzzle}, {"size", n}, {"region_rows", r}, {"region_cols", r}};
    std::string grid, answer;
    for (size_t i = 0; i < puzzle.size(); ++i) {
      for (size_t j = 0; j < puzzle.size(); ++j) {
        grid += (j ? " " : "") + (puzzle[i][j] ? std::to_string(puzzle[i][j]) : std::string("."));
        answer += (j ? " " : "") + std::to_string(solution[i][j]);
      }
      grid += "\n";
      answer += "\n";
    }
    c.prompt = "Solve this " + std::to_string(n) + "x" + std::to_string(n) + " Sudoku: every row, every column and "
               "every " + std::to_string(r) + "x" + std::to_string(r) + " box must contain 1 to " + std::to_string(n) +
               " exactly once. Dots are empty cells.\n" + grid +
               "Write the full grid inside [answer][/answer], one row per line, numbers separated by spaces.";
    c.answer = reference_response("[answer]\n" + answer + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block) return std::nullopt;
    // Trimming first changes no token or row (trim() strips the bytes that separate them).
    const std::string_view text = trim(*block);
    if (!read_and_keep<read_grid>(text)) return std::nullopt;
    return std::string(text);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const Reading reading = *kept_reading<read_grid>(extracted);
    const std::vector<int64_t>& got = reading.cells;
    const std::vector<size_t>& row_ends = reading.row_ends;
    const Json& puzzle = identity.at("puzzle");
    const int64_t n = identity_int(identity.at("size"));
    const int64_t r = identity_int(identity.at("region_rows"));
    if (n <= 0 || r <= 0 || n > 1024 || static_cast<int64_t>(row_ends.size()) != n) return 0.0;
    const size_t un = static_cast<size_t>(n);
    for (size_t i = 0; i < un; ++i) {
      if (row_ends[i] != (i + 1) * un) return 0.0;  // every row holds exactly n numbers
    }
    auto cell = [&](size_t i, size_t j) { return got[i * un + j]; };
    for (size_t i = 0; i < un; ++i) {
      const Json& row = puzzle.at(i);
      // A row of at least n entries read by index (at() checks the type and bound per cell);
      // any other row through at(), which throws where upstream's indexing raises.
      const auto* entries = row.get_ptr<const Json::array_t*>();
      const bool whole = entries != nullptr && entries->size() >= un;
      for (size_t j = 0; j < un; ++j) {
        const int64_t given = identity_int(whole ? (*entries)[j] : row.at(j));
        if (given != 0 && cell(i, j) != given) return 0.0;
      }
    }
    auto full = [&](auto at) { return values_are_1_to_n(un, at); };  // at(0..n-1) a permutation of 1..n
    for (size_t i = 0; i < un; ++i) {
      if (!full([&](size_t k) { return cell(i, k); }) || !full([&](size_t k) { return cell(k, i); })) return 0.0;
    }
    const size_t ur = static_cast<size_t>(r);
    if (ur * ur != un) return 0.0;  // a region of other than n cells never holds 1..n once each
    // The offset of a region's k-th cell from its corner, worked out once: a division per
    // cell and region cost more than the check itself.
    std::vector<size_t> offset(un);
    for (size_t k = 0; k < un; ++k) offset[k] = (k / ur) * un + k % ur;
    for (size_t bi = 0; bi < un; bi += ur) {
      for (size_t bj = 0; bj < un; bj += ur) {
        // Upstream walks region_size x region_size cells from each corner (ur * ur == un, so
        // no region runs past the grid, where upstream's IndexError would mean not right).
        const int64_t* corner = got.data() + bi * un + bj;
        if (!full([&](size_t k) { return corner[offset[k]]; })) return 0.0;
      }
    }
    return 1.0;
  }
};
TROUPE_REGISTER_TASK(Sudoku);

}  // namespace
}  // namespace troupe::envs
