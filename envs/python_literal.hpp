// A reader for the Python literals InternBootcamp's verifiers pass to ast.literal_eval:
// integers (optionally signed, with '_' between digits), tuples and lists, nested,
// and a bare top-level tuple ("(0, 0), (0, 1)"). Layout follows Python's tokenizer:
// newlines only inside brackets, '#' comments, backslash continuation. Anything else
// literal_eval would accept (floats, strings, True, dicts, hex) is reported as
// unreadable: no verifier of ours can score such a value as right (DEVIATIONS.md).
// Pure functions; bounded recursion (kMaxLiteralDepth), safe for any bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace troupe::envs {

inline constexpr int kMaxLiteralDepth = 100;  // Python refuses deeper nesting too (its parser's limit is ~200)

struct PyLiteral {
  enum class Kind { kInt, kTuple, kList };
  Kind kind = Kind::kInt;
  int64_t value = 0;   // kInt; saturates at +-2^62 (beyond any grid coordinate)
  std::vector<PyLiteral> items;  // kTuple, kList
};

// The literal `text` denotes (after Python's str.strip()), or nullopt when it is not one
// of the forms above.
std::optional<PyLiteral> parse_python_literal(std::string_view text);

}  // namespace troupe::envs
