// Building blocks of the grid puzzles (Futoshiki, Calcudoku, Skyscrapers, Kakuro,
// Killer Sudoku, Star Battle, ...): random Latin squares and Sudoku solutions,
// random partitions of a grid into 4-connected regions, the checks their verifiers
// share, and grid text for prompts and reference answers.
//
// Every generator draws only from the Rng it is given, in a fixed order, so a seed
// gives the same grid everywhere. Pure functions otherwise; no state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "envs/answer.hpp"
#include "envs/python_syntax.hpp"
#include "envs/rng.hpp"

namespace troupe::envs {

using IntGrid = std::vector<std::vector<int64_t>>;

// Appends an empty row to g for a reader to fill, with room for as many cells as the row
// above (grids are rectangular, nearly always): a row then costs one allocation, not the
// four or five of growing from empty.
inline std::vector<int64_t>& new_row(IntGrid& g) {
  if (g.empty()) g.reserve(16);
  const size_t width = g.empty() ? 16 : g.back().size();
  g.emplace_back().reserve(width);
  return g.back();
}

// A size or coordinate read from an identity: identity_int(), and never negative (a
// negative value cast to size_t would wrap round; at() would then report it far away).
inline size_t identity_index(const Json& v) {
  const int64_t x = identity_int(v);
  if (x < 0) throw std::invalid_argument("expected a non-negative integer, got " + std::to_string(x));
  return static_cast<size_t>(x);
}

// Calls f on each element of an identity list, as `for (const Json& x : v)` does (which also
// walks an object's values, or a scalar as itself), but an array is walked as the vector it is:
// nlohmann's generic iterator switches on the value's type at every step and, at -O3, GCC
// stopped inlining it (Killer Sudoku's cage loop was 13% slower).
template <class F>
void for_each_element(const Json& v, F&& f) {
  if (const auto* items = v.get_ptr<const Json::array_t*>()) {
    for (const Json& x : *items) f(x);
  } else {
    for (const Json& x : v) f(x);
  }
}

inline IntGrid make_grid(int64_t rows, int64_t cols, int64_t fill = 0) {
  return IntGrid(static_cast<size_t>(rows), std::vector<int64_t>(static_cast<size_t>(cols), fill));
}

// 0, 1, ..., n-1 in a random order.
inline std::vector<int64_t> random_permutation(Rng& rng, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  rng.shuffle(p);
  return p;
}

// An n x n Latin square over 1..n: the cyclic square (i + j) mod n with its rows,
// columns and symbols permuted. Not uniform over all Latin squares, but every
// row, column and symbol order is equally likely, which is what a puzzle needs.
inline IntGrid random_latin_square(Rng& rng, int64_t n) {
  const auto rows = random_permutation(rng, n), cols = random_permutation(rng, n), symbols = random_permutation(rng, n);
  IntGrid g = make_grid(n, n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t v = (rows[static_cast<size_t>(i)] + cols[static_cast<size_t>(j)]) % n;
      g[static_cast<size_t>(i)][static_cast<size_t>(j)] = symbols[static_cast<size_t>(v)] + 1;
    }
  }
  return g;
}

// A solved box^2 x box^2 Sudoku: the classic pattern with rows shuffled within bands,
// bands shuffled, the same for columns and stacks, and the digits relabelled.
inline IntGrid random_sudoku(Rng& rng, int64_t box) {
  const int64_t n = box * box;
  auto order = [&] {
    std::vector<int64_t> out;
    for (int64_t b : random_permutation(rng, box)) {
      for (int64_t i : random_permutation(rng, box)) out.push_back(b * box + i);
    }
    return out;
  };
  const auto rows = order(), cols = order(), digits = random_permutation(rng, n);
  IntGrid g = make_grid(n, n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t r = rows[static_cast<size_t>(i)], c = cols[static_cast<size_t>(j)];
      g[static_cast<size_t>(i)][static_cast<size_t>(j)] = digits[static_cast<size_t>((box * (r % box) + r / box + c) % n)] + 1;
    }
  }
  return g;
}

// Whether the n values at(0), ..., at(n-1), in any order, are exactly 1..n. A bit mask
// for n < 64 (every grid of ours and upstream's): no allocation in the verify path.
template <class At>
bool values_are_1_to_n(size_t n, At at) {
  if (n < 64) {
    uint64_t seen = 0;
    for (size_t k = 0; k < n; ++k) {
      const int64_t v = at(k);
      if (v < 1 || v > static_cast<int64_t>(n) || (seen >> v & 1)) return false;
      seen |= uint64_t{1} << v;
    }
    return true;
  }
  std::vector<bool> seen(n + 1, false);
  for (size_t k = 0; k < n; ++k) {
    const int64_t v = at(k);
    if (v < 1 || v > static_cast<int64_t>(n) || seen[static_cast<size_t>(v)]) return false;
    seen[static_cast<size_t>(v)] = true;
  }
  return true;
}

// Whether the values, in any order, are exactly 1..n.
inline bool is_permutation_of_1_to_n(const std::vector<int64_t>& values, int64_t n) {
  if (n < 0 || static_cast<int64_t>(values.size()) != n) return false;
  return values_are_1_to_n(values.size(), [&](size_t k) { return values[k]; });
}

// Whether g is n x n with every row and every column a permutation of 1..n.
inline bool is_latin(const IntGrid& g, int64_t n) {
  if (n < 1 || static_cast<int64_t>(g.size()) != n) return false;
  for (const auto& row : g) {
    if (!is_permutation_of_1_to_n(row, n)) return false;
  }
  for (size_t j = 0; j < static_cast<size_t>(n); ++j) {
    if (!values_are_1_to_n(g.size(), [&](size_t i) { return g[i][j]; })) return false;
  }
  return true;
}

inline constexpr int kOrthoDr[4] = {-1, 1, 0, 0};  // the four orthogonal neighbours
inline constexpr int kOrthoDc[4] = {0, 0, -1, 1};

// A partition of a rows x cols grid into 4-connected regions, one id (0, 1, ...) per
// cell, ids in order of their first cell in a random scan. Each region grows from a
// random free cell towards a size drawn from [1, max_size] by adding random free
// neighbours that `may_join(region_cells, r, c)` accepts; it stops early when none is left.
using JoinRule = std::function<bool(const std::vector<std::pair<int64_t, int64_t>>&, int64_t, int64_t)>;
inline IntGrid random_regions(Rng& rng, int64_t rows, int64_t cols, int64_t max_size, const JoinRule& may_join = {}) {
  IntGrid id = make_grid(rows, cols, -1);
  int64_t next = 0;
  for (int64_t cell : random_permutation(rng, rows * cols)) {
    const int64_t r0 = cell / cols, c0 = cell % cols;
    if (id[static_cast<size_t>(r0)][static_cast<size_t>(c0)] >= 0) continue;
    const int64_t want = rng.uniform(1, max_size);
    std::vector<std::pair<int64_t, int64_t>> cells{{r0, c0}};
    id[static_cast<size_t>(r0)][static_cast<size_t>(c0)] = next;
    while (static_cast<int64_t>(cells.size()) < want) {
      std::vector<std::pair<int64_t, int64_t>> frontier;
      for (auto [r, c] : cells) {
        for (int d = 0; d < 4; ++d) {
          const int64_t nr = r + kOrthoDr[d], nc = c + kOrthoDc[d];
          if (nr < 0 || nc < 0 || nr >= rows || nc >= cols || id[static_cast<size_t>(nr)][static_cast<size_t>(nc)] >= 0) continue;
          if (std::find(frontier.begin(), frontier.end(), std::make_pair(nr, nc)) != frontier.end()) continue;
          if (!may_join || may_join(cells, nr, nc)) frontier.push_back({nr, nc});
        }
      }
      if (frontier.empty()) break;
      const auto pick = rng.pick(frontier);
      cells.push_back(pick);
      id[static_cast<size_t>(pick.first)][static_cast<size_t>(pick.second)] = next;
    }
    ++next;
  }
  return id;
}

// A partition grown from the given seed cells at once: region k starts at seeds[k], and
// each step gives a random free cell next to some region to one of its neighbouring
// regions, until every cell belongs to one. Every region holds exactly one seed.
inline IntGrid regions_from_seeds(Rng& rng, int64_t rows, int64_t cols, const std::vector<std::pair<int64_t, int64_t>>& seeds) {
  IntGrid id = make_grid(rows, cols, -1);
  for (size_t k = 0; k < seeds.size(); ++k) id[static_cast<size_t>(seeds[k].first)][static_cast<size_t>(seeds[k].second)] = static_cast<int64_t>(k);
  while (true) {
    std::vector<std::pair<int64_t, int64_t>> free_next_to_region;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        if (id[static_cast<size_t>(r)][static_cast<size_t>(c)] >= 0) continue;
        for (int d = 0; d < 4; ++d) {
          const int64_t nr = r + kOrthoDr[d], nc = c + kOrthoDc[d];
          if (nr >= 0 && nc >= 0 && nr < rows && nc < cols && id[static_cast<size_t>(nr)][static_cast<size_t>(nc)] >= 0) {
            free_next_to_region.push_back({r, c});
            break;
          }
        }
      }
    }
    if (free_next_to_region.empty()) return id;
    const auto [r, c] = rng.pick(free_next_to_region);
    std::vector<int64_t> neighbours;
    for (int d = 0; d < 4; ++d) {
      const int64_t nr = r + kOrthoDr[d], nc = c + kOrthoDc[d];
      if (nr >= 0 && nc >= 0 && nr < rows && nc < cols && id[static_cast<size_t>(nr)][static_cast<size_t>(nc)] >= 0) {
        neighbours.push_back(id[static_cast<size_t>(nr)][static_cast<size_t>(nc)]);
      }
    }
    id[static_cast<size_t>(r)][static_cast<size_t>(c)] = rng.pick(neighbours);
  }
}

// The grid as text: cells joined by `cell_sep`, rows by `row_sep`.
inline std::string grid_text(const IntGrid& g, std::string_view cell_sep, std::string_view row_sep) {
  std::string out;
  for (size_t i = 0; i < g.size(); ++i) {
    if (i) out += row_sep;
    for (size_t j = 0; j < g[i].size(); ++j) {
      if (j) out += cell_sep;
      out += std::to_string(g[i][j]);
    }
  }
  return out;
}

// Python's repr of a list of int lists: "[[1, 2], [3, 4]]".
inline std::string python_list_text(const IntGrid& g) {
  std::string out = "[";
  for (size_t i = 0; i < g.size(); ++i) out += (i ? ", [" : "[") + grid_text({g[i]}, ", ", "") + "]";
  return out + "]";
}

// How read_int_rows() reads a block.
struct IntRowsRule {
  bool skip_blank_lines = true;  // a line blank after strip() is no row (false: an empty row)
  bool digits_only = false;      // a token must be ASCII digits alone (upstream tests isdigit() before int())
};

// read_int_rows() for any text: Python's str methods step by step.
inline std::optional<IntGrid> read_int_rows_general(std::string_view block, IntRowsRule rule) {
  IntGrid out;
  for (auto line : PyPieces(py_strip(block), '\n')) {
    if (rule.skip_blank_lines && py_strip(line).empty()) continue;
    std::vector<int64_t>& row_out = new_row(out);
    for (auto tok : PyTokens(line)) {
      if (rule.digits_only) {
        for (char ch : tok) {
          if (ch < '0' || ch > '9') return std::nullopt;
        }
      }
      auto v = py_int(tok);
      if (!v) return std::nullopt;
      row_out.push_back(*v);
    }
  }
  return out;
}

// The integers of an all-ASCII block in one pass over its bytes, as
//   [[int(t) for t in line.split()] for line in block.strip().split('\n')]
// reads them: token(value) for each, in order, and line_end(tokens_in_line) after each line.
// False where int() raises (or, with digits_only, where a token is not all digits). A token of
// at most 18 digits is read in place; any other goes through py_int().
// REQUIRES: no byte of block is >= 0x80 (callers take the general way otherwise).
template <class Token, class LineEnd>
bool scan_ascii_int_rows(std::string_view block, bool digits_only, Token&& token, LineEnd&& line_end) {
  auto space = [](char ch) {  // str.isspace() for ASCII
    const auto c = static_cast<unsigned char>(ch);
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  };
  block = py_strip(block);
  for (size_t i = 0;;) {  // one pass per line
    size_t e = block.find('\n', i);
    if (e == std::string_view::npos) e = block.size();
    size_t count = 0;
    for (size_t k = i;;) {
      while (k < e && space(block[k])) ++k;
      if (k == e) break;
      const size_t t = k;
      uint64_t v = 0;
      bool digits = true;
      for (; k < e && !space(block[k]); ++k) {
        const char ch = block[k];
        digits = digits && ch >= '0' && ch <= '9';
        v = v * 10 + static_cast<uint64_t>(ch - '0');  // used only when every byte was a digit
      }
      ++count;
      if (digits && k - t <= 18) {
        token(static_cast<int64_t>(v));
        continue;
      }
      if (digits_only && !digits) return false;
      auto parsed = py_int(block.substr(t, k - t));
      if (!parsed) return false;
      token(*parsed);
    }
    line_end(count);
    if (e == block.size()) return true;
    i = e + 1;
  }
}

inline bool is_ascii(std::string_view s) {
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

// The rows of integers of a grid answer, as most grid bootcamps read one:
//   [[int(t) for t in line.split()] for line in block.strip().split('\n') (if line.strip())]
// nullopt where int() raises (or, with digits_only, where a token is not all digits). An
// all-ASCII block, as nearly every answer is, is read by scan_ascii_int_rows; anything else
// goes the general way above.
inline std::optional<IntGrid> read_int_rows(std::string_view block, IntRowsRule rule = {}) {
  if (!is_ascii(block)) return read_int_rows_general(block, rule);
  IntGrid out;
  std::vector<int64_t>* row = nullptr;  // made at a line's first token
  // always_inline: left to itself GCC called the token lambda per cell (a tenth of a verify).
  const bool ok = scan_ascii_int_rows(
      block, rule.digits_only,
      [&](int64_t v) __attribute__((always_inline)) {
        if (row == nullptr) row = &new_row(out);
        row->push_back(v);
      },
      [&](size_t count) __attribute__((always_inline)) {
        if (count == 0 && !rule.skip_blank_lines) new_row(out);
        row = nullptr;
      });
  if (!ok) return std::nullopt;
  return out;
}

// The last open...close block of a response when `read` can read it, else nullopt: the
// extract_output of most grid bootcamps, which return None for an unreadable last block.
template <class Read>
std::optional<std::string> last_readable_block(std::string_view response, Read read,
                                               const BlockTags& tags = {"[answer]", "[/answer]"}) {
  auto block = last_block(response, tags);
  if (!block || !read(*block)) return std::nullopt;
  return std::string(*block);
}

// ast.literal_eval(block.strip()), the reading of the bootcamps that take a Python literal.
inline std::optional<PyValue> literal_of_block(std::string_view block) { return py_literal_eval(py_strip(block)); }

// The same reading, with a plain list of lists of integers (nearly every grid answer) read
// flat into `rows` (py_plain_int_rows) and anything else into `tree`. Nullopt exactly where
// literal_of_block is.
struct BlockLiteral {
  std::optional<PyIntRows> rows;  // set: the literal is a list of lists of ints, these
  PyValue tree;                   // otherwise: the literal
};
inline std::optional<BlockLiteral> block_literal(std::string_view block) {
  const std::string_view text = py_strip(block);
  BlockLiteral out;
  out.rows = py_plain_int_rows(text);
  if (!out.rows) {
    auto tree = py_literal_eval(text);
    if (!tree) return std::nullopt;
    out.tree = std::move(*tree);
  }
  return out;
}

// A reading of the block extract() accepted, kept for judge(). InternBootcampTask::score
// calls judge(extracted) right after extract() returned that text, on the same thread, and
// reading a grid block twice cost a third or more of a grid verify. One slot per reader and
// thread, keyed by the text itself: kept_reading() hands the kept value over only when its
// text is byte for byte the one read_and_keep() read, and reads afresh otherwise, so it
// always returns Read(text) (readers are pure functions). Memory: at most one block and its
// reading per reader and thread (a response is bounded, so is this); kept_reading() frees a
// large one.
template <auto Read>
struct KeptReading {
  std::string text;
  decltype(Read(std::string_view{})) value;  // a std::optional
};

template <auto Read>
KeptReading<Read>& kept_slot() {
  thread_local KeptReading<Read> slot;
  return slot;
}

// Read(block) for extract(), kept for kept_reading(); the reference stays valid until the
// next read_and_keep<Read> or kept_reading<Read> on this thread.
template <auto Read>
const auto& read_and_keep(std::string_view block) {
  auto& slot = kept_slot<Read>();
  slot.value = Read(block);
  if (slot.value) slot.text.assign(block);
  return slot.value;
}

// Read(text) for judge(): the kept reading when `text` is what read_and_keep() last read here.
template <auto Read>
auto kept_reading(std::string_view text) {
  auto& slot = kept_slot<Read>();
  decltype(Read(text)) out;
  if (slot.value && slot.text == text) {
    out = std::move(slot.value);
    slot.value.reset();
  } else {
    out = Read(text);
  }
  if (slot.text.capacity() > 64 * 1024) std::string().swap(slot.text);  // keep no 1 MiB block round
  return out;
}

}  // namespace troupe::envs
