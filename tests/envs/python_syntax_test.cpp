// Python's text rules as the grid verifiers use them: str.strip/split over Unicode
// whitespace, int(), and ast.literal_eval. Every expectation in the literal table was
// checked against CPython 3.11's ast.literal_eval.
#include <gtest/gtest.h>

#include <sstream>

#include "envs/python_syntax.hpp"

namespace troupe::envs {
namespace {

// A short repr-like text of a parsed value, to compare with what Python prints.
std::string describe(const PyValue& v) {
  using K = PyValue::Kind;
  auto join = [&](size_t step, const char* sep) {
    std::string out;
    for (size_t k = 0; k < v.items.size(); k += step) {
      if (k) out += ", ";
      out += describe(v.items[k]);
      if (step == 2) out += sep + describe(v.items[k + 1]);
    }
    return out;
  };
  switch (v.kind) {
    case K::kNone: return "None";
    case K::kBool: return v.i ? "True" : "False";
    case K::kInt: return std::to_string(v.i);
    case K::kFloat: {
      std::ostringstream s;
      s << "f" << v.f;
      return s.str();
    }
    case K::kStr: return "'" + v.s + "'";
    case K::kBytes: return "b'" + v.s + "'";
    case K::kList: return "[" + join(1, "") + "]";
    case K::kTuple: return "(" + join(1, "") + (v.items.size() == 1 ? ",)" : ")");
    case K::kDict: return "{" + join(2, ": ") + "}";
    case K::kSet: return "set{" + join(1, "") + "}";
  }
  return "?";
}

std::string lit(std::string_view text) {
  auto v = py_literal_eval(text);
  return v ? describe(*v) : "FAIL";
}

TEST(PythonSyntax, LiteralEvalNumbers) {
  EXPECT_EQ(lit("1"), "1");
  EXPECT_EQ(lit("-1"), "-1");
  EXPECT_EQ(lit("+1"), "1");
  EXPECT_EQ(lit("- 1"), "-1");
  EXPECT_EQ(lit("--1"), "FAIL");     // a sign on a sign is not a literal
  EXPECT_EQ(lit("-(1)"), "-1");
  EXPECT_EQ(lit("-(-1)"), "FAIL");
  EXPECT_EQ(lit("-True"), "FAIL");   // a sign only applies to a number
  EXPECT_EQ(lit("1_000"), "1000");
  EXPECT_EQ(lit("1__0"), "FAIL");
  EXPECT_EQ(lit("01"), "FAIL");
  EXPECT_EQ(lit("09"), "FAIL");
  EXPECT_EQ(lit("00"), "0");
  EXPECT_EQ(lit("0_0"), "0");
  EXPECT_EQ(lit("0_1"), "FAIL");
  EXPECT_EQ(lit("0x1F"), "31");
  EXPECT_EQ(lit("0x_1f"), "31");
  EXPECT_EQ(lit("0o17"), "15");
  EXPECT_EQ(lit("0b101"), "5");
  EXPECT_EQ(lit("1.5"), "f1.5");
  EXPECT_EQ(lit(".5"), "f0.5");
  EXPECT_EQ(lit("1."), "f1");
  EXPECT_EQ(lit("1.e5"), "f100000");
  EXPECT_EQ(lit("09.5"), "f9.5");
  EXPECT_EQ(lit("1_0.5"), "f10.5");
  EXPECT_EQ(lit("-1.5e-3"), "f-0.0015");
  EXPECT_EQ(lit("1e400"), "finf");
  EXPECT_EQ(lit("1e"), "FAIL");
  EXPECT_EQ(lit("1e+"), "FAIL");
  EXPECT_EQ(lit("9223372036854775807"), "9223372036854775807");
  // Outside the subset (Python reads these; we call them unreadable, see DEVIATIONS.md).
  EXPECT_EQ(lit("9223372036854775808"), "FAIL");
  EXPECT_EQ(lit("1j"), "FAIL");
}

TEST(PythonSyntax, LiteralEvalStrings) {
  EXPECT_EQ(lit("'a' 'b'"), "'ab'");        // adjacent literals concatenate
  EXPECT_EQ(lit("\"\"\"x\"\"\"\"\""), "'x'");  // a triple-quoted string, then an empty one
  EXPECT_EQ(lit("b'a' 'b'"), "FAIL");       // bytes and str do not mix
  EXPECT_EQ(lit("r'\\n'"), "'\\n'");
  EXPECT_EQ(lit("'\\x41\\u00e9'"), "'A\xc3\xa9'");
  EXPECT_EQ(lit("'\\q'"), "'\\q'");          // unknown escapes keep their backslash
  EXPECT_EQ(lit("'''a\nb'''"), "'a\nb'");
  EXPECT_EQ(lit("'a\nb'"), "FAIL");
  EXPECT_EQ(lit("f'x'"), "FAIL");
  EXPECT_EQ(lit("'abc"), "FAIL");
}

TEST(PythonSyntax, LiteralEvalContainers) {
  EXPECT_EQ(lit("[1, 2,]"), "[1, 2]");
  EXPECT_EQ(lit("[1,,2]"), "FAIL");
  EXPECT_EQ(lit("(1)"), "1");
  EXPECT_EQ(lit("(1,)"), "(1,)");
  EXPECT_EQ(lit("()"), "()");
  EXPECT_EQ(lit("1, 2"), "(1, 2)");         // a bare tuple at the top level
  EXPECT_EQ(lit("1,"), "(1,)");
  EXPECT_EQ(lit("{1: 2, 1.0: 3}"), "{1: 3}");  // one key: the first spelling, the last value
  EXPECT_EQ(lit("{[1]: 2}"), "FAIL");       // unhashable key
  EXPECT_EQ(lit("{1, 2}"), "set{1, 2}");
  EXPECT_EQ(lit("{}"), "{}");
  EXPECT_EQ(lit("[(1, 2)]"), "[(1, 2)]");
  EXPECT_EQ(lit("[1, # c\n 2]"), "[1, 2]");
  EXPECT_EQ(lit("[1,\n2]"), "[1, 2]");
  EXPECT_EQ(lit("[1,\\\n2]"), "[1, 2]");
  EXPECT_EQ(lit("\t[1]"), "[1]");
  EXPECT_EQ(lit("[1]\n"), "[1]");
  EXPECT_EQ(lit("[1]  # done"), "[1]");
  EXPECT_EQ(lit("1\n2"), "FAIL");
  EXPECT_EQ(lit("#c\n\n[1]"), "[1]");  // blank and comment lines may precede the expression
  EXPECT_EQ(lit("-\n1"), "FAIL");
  EXPECT_EQ(lit("[1] [0]"), "FAIL");
  EXPECT_EQ(lit("(1, 2) (3)"), "FAIL");
  EXPECT_EQ(lit("[1]*2"), "FAIL");
  EXPECT_EQ(lit("1 if 1 else 2"), "FAIL");
  EXPECT_EQ(lit("abc"), "FAIL");
  EXPECT_EQ(lit("None"), "None");
  EXPECT_EQ(lit(""), "FAIL");
}

TEST(PythonSyntax, LiteralEvalBoundsHostileInput) {
  // Nesting past kLiteralMaxDepth and more than kLiteralMaxValues values stop instead of recursing or growing.
  const std::string deep = std::string(kLiteralMaxDepth + 1, '[') + std::string(kLiteralMaxDepth + 1, ']');
  EXPECT_EQ(lit(deep), "FAIL");
  const std::string ok = std::string(kLiteralMaxDepth, '[') + std::string(kLiteralMaxDepth, ']');
  EXPECT_NE(lit(ok), "FAIL");
  std::string many = "[";
  for (size_t k = 0; k <= kLiteralMaxValues; ++k) many += "1,";
  EXPECT_EQ(lit(many + "]"), "FAIL");
  EXPECT_EQ(lit(std::string(1 << 20, '[')), "FAIL");
  EXPECT_EQ(lit("[\xff\xfe]"), "FAIL");
}

// The flat grid reader: where it reads, it reads what py_literal_eval reads (a list of lists
// of ints); every other form it declines, leaving the text to py_literal_eval.
TEST(PythonSyntax, PlainIntRowsAgreeWithLiteralEval) {
  auto flat = [](std::string_view text) -> std::string {
    auto rows = py_plain_int_rows(text);
    if (!rows) return "DECLINED";
    std::string out = "[";
    size_t k = 0;
    for (size_t r = 0; r < rows->row_sizes.size(); ++r) {
      out += r ? ", [" : "[";
      for (size_t c = 0; c < rows->row_sizes[r]; ++c) out += (c ? ", " : "") + std::to_string(rows->values[k++]);
      out += "]";
    }
    return out + "]";
  };
  for (std::string_view text : {"[[1, 2], [3, -4]]", "[]", "[[]]", "[[0], []]", "  [[1,2,],[3,],]", "[\n [1,\t2],\r\n [3, 4]\n]",
                                "[[123456789012345678, -5]]", "[[-0]]"}) {
    EXPECT_NE(flat(text), "DECLINED") << text;
    EXPECT_EQ(flat(text), lit(text)) << text;
  }
  // Declined: tuples, floats, bools, "+1", "01", "00", a 19th digit, "- 1", comments,
  // continuations, text after the list, missing commas, empty items, unclosed lists.
  for (std::string_view text : {"([1], [2])", "[(1, 2)]", "[[1.0]]", "[[True]]", "[[+1]]", "[[01]]", "[[00]]",
                                "[[1234567890123456789]]", "[[- 1]]", "[[1] # c\n]", "[[1], \\\n[2]]", "[[1]] x",
                                "[[1 2]]", "[[1,,2]]", "[,]", "[[1]", "[[1] [2]]", "[[1_0]]", "[[1e3]]", "[[0x1]]", "[1, 2]",
                                "[[1]]\n", "\n[[1]]", "[[1\v]]"}) {
    EXPECT_EQ(flat(text), "DECLINED") << text;
  }
  std::string many = "[[";
  for (size_t k = 0; k < kLiteralMaxValues; ++k) many += "1,";
  EXPECT_EQ(flat(many + "]]"), "DECLINED");  // past the parser's value bound, as py_literal_eval fails
  EXPECT_EQ(lit(many + "]]"), "FAIL");
}

TEST(PythonSyntax, EqualityFollowsPython) {
  auto eq = [](std::string_view a, std::string_view b) { return py_equal(*py_literal_eval(a), *py_literal_eval(b)); };
  EXPECT_TRUE(eq("1", "1.0"));
  EXPECT_TRUE(eq("True", "1"));
  EXPECT_FALSE(eq("[1]", "(1,)"));
  EXPECT_TRUE(eq("{1: 2, 3: 4}", "{3.0: 4, 1: 2}"));
  EXPECT_TRUE(eq("{1, 2}", "{2, 1, 1}"));
  EXPECT_FALSE(eq("'1'", "1"));
  EXPECT_EQ(py_integral(*py_literal_eval("2.0")), 2);
  EXPECT_EQ(py_integral(*py_literal_eval("2.5")), std::nullopt);
  EXPECT_EQ(py_index(*py_literal_eval("2.0")), std::nullopt);
}

TEST(PythonSyntax, WhitespaceIntAndSplit) {
  // U+00A0 (no-break space) and U+3000 (ideographic space) are whitespace to str.split().
  EXPECT_EQ(py_strip("\xc2\xa0 x \xe3\x80\x80"), "x");
  const auto parts = py_split("1\xc2\xa0" "2\t3\xe3\x80\x80" "4");
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[3], "4");
  EXPECT_EQ(py_split_on("a,,b", ',').size(), 3u);
  EXPECT_EQ(py_strip_chars("((0, 1))", "()"), "0, 1");
  EXPECT_EQ(py_int(" +007 "), 7);
  EXPECT_EQ(py_int("1_000"), 1000);
  EXPECT_EQ(py_int("1__0"), std::nullopt);
  EXPECT_EQ(py_int("_1"), std::nullopt);
  EXPECT_EQ(py_int("1.0"), std::nullopt);
  EXPECT_EQ(py_int(""), std::nullopt);
  EXPECT_EQ(py_int("99999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace troupe::envs
