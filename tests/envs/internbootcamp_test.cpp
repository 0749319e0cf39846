// InternBootcamp-compatible tasks: hand-made identities in upstream's shape, scored as
// upstream's verify_score would (gates, which block counts, accepted syntax), plus
// each documented deviation from DEVIATIONS.md.
#include <gtest/gtest.h>

#include <limits>

#include "envs/answer.hpp"
#include "envs/python_syntax.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

// A response that passes the length and </think> gates, ending in `final`.
std::string respond(const std::string& final_text) {
  return "<think>" + std::string(120, '.') + "</think>\n" + final_text;
}

double score(const std::string& task, const Json& id, const std::string& response, double format_score = 0.0) {
  VerifyOptions o;
  o.format_score = format_score;
  auto v = verify(task, id, response, o);
  EXPECT_TRUE(v.is_ok()) << v.status().to_string();
  return v.is_ok() ? v->score : -1;
}

TEST(InternBootcampGate, ShortResponsesAndMissingThinkScoreZero) {
  const Json id = {{"type", "encrypt"}, {"question", "ABC"}, {"answer", "XYZ"}};
  const std::string t = "KorCipherCustomInverseShiftSubstitutionCipherbootcamp";
  EXPECT_EQ(score(t, id, respond("[[XYZ]]")), 1.0);
  EXPECT_EQ(score(t, id, "</think>[[XYZ]]"), 0.0);                        // under 100 characters
  EXPECT_EQ(score(t, id, std::string(120, '.') + "[[XYZ]]"), 0.0);        // no </think>
  // Python's len counts code points: 60 two-byte characters are 60, not 120.
  std::string two_byte;
  for (int i = 0; i < 60; ++i) two_byte += "\xc3\xa9";
  EXPECT_EQ(score(t, id, two_byte + "</think>[[XYZ]]"), 0.0);
  VerifyOptions lax;
  lax.short_penalty = false;
  lax.format_penalty = false;
  auto v = verify(t, id, "[[XYZ]]", lax);
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(v->score, 1.0);
}

TEST(InternBootcampGate, FormatScoreWhenExtractedButWrong) {
  const Json id = {{"type", "encrypt"}, {"question", "ABC"}, {"answer", "XYZ"}};
  const std::string t = "KorCipherCustomInverseShiftSubstitutionCipherbootcamp";
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[XYA]]"), 0.1), 0.1);
  EXPECT_DOUBLE_EQ(score(t, id, respond("no brackets"), 0.1), 0.0);
}

TEST(KorCipher, LastUppercaseDoubleBracketCounts) {
  const std::string t = "KorCipherCustomInverseShiftSubstitutionCipherbootcamp";
  const Json id = {{"type", "decrypt"}, {"question", "QRS"}, {"answer", "HELLO"}};
  EXPECT_EQ(score(t, id, respond("[[HELLO]] then [[WORLD]]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[[WORLD]] then [[HELLO]] and [[hello]]")), 1.0);  // lowercase never matches
  EXPECT_EQ(score(t, id, respond("[[[HELLO]]")), 1.0);                                // regex finds the inner match
  // Our cipher agrees with upstream's worked example: A mirrors to Z, +4 wraps to D, substitution[3] = J.
  auto c = generate(t, 3, 5);
  ASSERT_TRUE(c.is_ok());
  const Json manual = {{"type", "encrypt"}, {"question", "A"}, {"answer", "J"}};
  EXPECT_EQ(score(t, manual, respond("[[J]]")), 1.0);
}

TEST(Carithmeticprogression, FirstAnswerBlockSortedIntegers) {
  const std::string t = "Carithmeticprogressionbootcamp";
  const Json id = {{"n", 3}, {"numbers", {4, 1, 7}}, {"solutions", {-2, 10}}};
  EXPECT_EQ(score(t, id, respond("[answer]-2 10[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer] 10  -2 [/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]10[/answer] [answer]-2 10[/answer]")), 0.0);  // the first block counts
  EXPECT_EQ(score(t, {{"n", 1}, {"numbers", {10}}, {"solutions", -1}}, respond("[answer]-1[/answer]")), 1.0);
  EXPECT_EQ(score(t, {{"n", 4}, {"numbers", {4, 3, 4, 5}}, {"solutions", 0}}, respond("[answer]0[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]-2, 10[/answer]"), 0.5), 0.0);  // not integers: None upstream
}

TEST(Cprimesoninterval, CodeforcesExamplesAndLastBlock) {
  const std::string t = "Cprimesonintervalbootcamp";
  EXPECT_EQ(score(t, {{"a", 2}, {"b", 4}, {"k", 2}}, respond("[answer]3[/answer]")), 1.0);
  EXPECT_EQ(score(t, {{"a", 6}, {"b", 13}, {"k", 1}}, respond("[answer]9[/answer][answer]4[/answer]")), 1.0);
  EXPECT_EQ(score(t, {{"a", 1}, {"b", 4}, {"k", 3}}, respond("[answer] -1 [/answer]")), 1.0);
  EXPECT_EQ(score(t, {{"a", 6}, {"b", 13}, {"k", 1}}, respond("[answer]5[/answer]")), 0.0);
}

TEST(Cprimesoninterval, DeviationOnePrimeWithKOne) {
  // [10, 12] holds only 11: every window of length 2 holds it. Upstream raises here and
  // scores format_score for every answer; we score the right one (DEVIATIONS.md).
  EXPECT_EQ(score("Cprimesonintervalbootcamp", {{"a", 10}, {"b", 12}, {"k", 1}}, respond("[answer]2[/answer]")), 1.0);
}

TEST(Game24, BoxedExpressionUsesEveryNumberOnce) {
  const std::string t = "Game24bootcamp";
  const Json id = {{"puzzle", "5 9 10 11"}, {"target", 30}};
  EXPECT_EQ(score(t, id, respond("Final Answer: \\boxed{5 \\times 10-(9+11)}")), 1.0);
  EXPECT_EQ(score(t, {{"puzzle", "5 9 10 11"}, {"target", "30"}}, respond("\\boxed{5*10-9-11}")), 1.0);
  EXPECT_EQ(score(t, id, respond("\\boxed{5*10-9+11}")), 0.0);                 // 52
  EXPECT_EQ(score(t, id, respond("\\boxed{5*10-20}")), 0.0);                   // wrong numbers
  EXPECT_EQ(score(t, id, respond("\\boxed{5*10-9-11} then \\boxed{1}")), 0.0); // the last box counts
  EXPECT_EQ(score(t, id, respond("\\fbox{5*10-9-11}")), 0.0);
  EXPECT_EQ(score(t, id, respond("\\boxed 5*10-9-11$ done")), 1.0);            // upstream's "\boxed " form
}

TEST(Game24, DeviationExactFractions) {
  // 8/(3-8/3) = 24 exactly; Python's float eval gives 23.999999999999996 and fails it.
  EXPECT_EQ(score("Game24bootcamp", {{"puzzle", "3 3 8 8"}, {"target", 24}}, respond("\\boxed{8/(3-8/3)}")), 1.0);
}

TEST(BbehMultistepArithmetic, FloatWithinTolerance) {
  const std::string t = "BbehMultistepArithmeticbootcamp";
  const Json id = {{"operators", Json::array()}, {"A", "1"}, {"B", "2"}, {"C", "3"}, {"answer", 42}};
  EXPECT_EQ(score(t, id, respond("[answer]42[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer] 4.2e1 [/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]42.0000000001[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]42.1[/answer]")), 0.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]0x2a[/answer]"), 0.5), 0.0);  // float() refuses hex: None
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]nan[/answer]"), 0.5), 0.5);    // float("nan") extracts, never equal
}

TEST(BbehDyckLanguages, NumberOrNoCaseInsensitive) {
  const std::string t = "BbehDyckLanguagesbootcamp";
  const Json with_error = {{"input_sequence", "(("}, {"correct_steps", Json::array()}, {"modified_steps", Json::array()},
                           {"error_step", 7}, {"error_type", "corrupt_stack_state"}};
  const Json no_error = {{"input_sequence", "()"}, {"correct_steps", Json::array()}, {"modified_steps", Json::array()},
                         {"error_step", nullptr}, {"error_type", nullptr}};
  EXPECT_EQ(score(t, with_error, respond("[ANSWER]\n7\n[/Answer]")), 1.0);
  EXPECT_EQ(score(t, with_error, respond("[answer]7[/answer] [answer]8[/answer]")), 0.0);
  EXPECT_EQ(score(t, with_error, respond("[answer]8[/answer] [answer]step 9[/answer] [answer]7[/answer]")), 1.0);
  EXPECT_EQ(score(t, no_error, respond("[answer] NO [/answer]")), 1.0);
  EXPECT_EQ(score(t, no_error, respond("[answer]None[/answer]")), 0.0);
}

TEST(BbehBooleanExpressions, FirstLetterOfLastBlock) {
  const std::string t = "Bbehbooleanexpressionsbootcamp";
  const Json id = {{"expressions", {"True", "False", "False"}}, {"answer", 0}};
  EXPECT_EQ(score(t, id, respond("[answer]a) True[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]A[/answer][answer]B[/answer]")), 0.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]F[/answer]"), 0.5), 0.0);  // outside A-E: None
}

TEST(BbehObjectCounting, LastIntegerAfterEquals) {
  const std::string t = "Bbehobjectcountingbootcamp";
  const Json id = {{"items", Json::array()}, {"categories", {"fruits", "cars"}}, {"operation", "sum"},
                   {"correct_answer", 1234}, {"_sums", {1000, 234}}};
  EXPECT_EQ(score(t, id, respond("[answer]1,234[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]1000 + 234 = 1 234 items[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]1234 = 12[/answer]")), 0.0);
}

TEST(Sudoku, FullGridKeepingGivens) {
  const std::string t = "Sudokubootcamp";
  const Json id = {{"puzzle", {{1, 0, 0, 0}, {0, 0, 1, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}}},
                   {"size", 4}, {"region_rows", 2}, {"region_cols", 2}};
  const std::string good = "1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1";
  EXPECT_EQ(score(t, id, respond("[answer]\n" + good + "\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n" + good + "\n\n[/answer] [answer]1 2[/answer]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n2 1 4 3\n4 3 2 1\n1 2 3 4\n3 4 1 2\n[/answer]")), 0.0);  // givens changed
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]1,2,3,4[/answer]"), 0.5), 0.0);  // unparsable: None
}

TEST(BbehShuffObject, LastAnswerTagCaseInsensitive) {
  const std::string t = "Bbehshuffobjectbootcamp";
  const Json id = {{"people", {"Alice", "Bob"}}, {"context_type", "book exchange"}, {"object_pool", {"Dune", "Emma"}},
                   {"initial_assignments", {{"Alice", "Dune"}, {"Bob", "Emma"}}}, {"swaps", {{"Alice", "Bob"}}},
                   {"question_person", "Alice"}, {"correct_answer", "Emma"}};
  EXPECT_EQ(score(t, id, respond("<answer>Dune</answer> no wait <answer>  emma </answer>")), 1.0);
  EXPECT_EQ(score(t, id, respond("<answer>Emma</answer> <answer>Dune</answer>")), 0.0);
}


// ---- grid puzzles (Kakuro ... Killer Sudoku) ----

TEST(InternBootcampKakuro, DictOfCellsInUpstreamsLayout) {
  // Upstream's generator makes this layout: one clue cell at (0, 0), runs of two right and down.
  const std::string t = "Kakurobootcamp";
  const Json black = {{"type", "black"}};
  const Json id = {{"grid", {{{{"type", "black"}, {"right", {7, 2}}, {"down", {9, 2}}}, {{"type", "white"}}, {{"type", "white"}}},
                             {{{"type", "white"}}, black, black},
                             {{{"type", "white"}}, black, black}}},
                   {"solution", {{"(0, 1)", 3}, {"(0, 2)", 4}, {"(1, 0)", 5}, {"(2, 0)", 4}}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n{'(0, 1)': 3, '(0, 2)': 4, '(1, 0)': 5, '(2, 0)': 4}\n[/answer]")), 1.0);
  // Any fill that meets the clues is right, not only the stored one; keys may drop the parentheses.
  EXPECT_EQ(score(t, id, respond("[answer]{\"0,1\": 1, \"0, 2\": 6, \"(1,0)\": 8, \"(2,0)\": 1}[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]{'(0, 1)': 3, '(0, 2)': 4, '(1, 0)': 5, '(2, 0)': 5}[/answer]"), 0.5), 0.5);
  // A repeated digit in a run, a missing cell, a black cell, a value outside 1..9: wrong.
  EXPECT_EQ(score(t, {{"grid", {{{{"type", "black"}, {"right", {8, 2}}}, {{"type", "white"}}, {{"type", "white"}}}}}},
                  respond("[answer]{'(0, 1)': 4, '(0, 2)': 4}[/answer]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[answer]{'(0, 1)': 3, '(0, 2)': 4, '(1, 0)': 5}[/answer]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[answer]{'(0, 1)': 3, '(0, 2)': 4, '(1, 0)': 5, '(2, 0)': 4, '(1, 1)': 1}[/answer]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[answer]{'(0, 1)': -1, '(0, 2)': 8, '(1, 0)': 5, '(2, 0)': 4}[/answer]")), 0.0);
  // The last block counts; a block that is not a dict of "(r, c)" strings is not an answer at all.
  EXPECT_EQ(score(t, id, respond("[answer]{'(0, 1)': 3, '(0, 2)': 4, '(1, 0)': 5, '(2, 0)': 4}[/answer] [answer]{}[/answer]"), 0.5), 0.5);
  EXPECT_EQ(score(t, id, respond("[answer]{(0, 1): 3}[/answer]"), 0.5), 0.0);
  EXPECT_EQ(score(t, id, respond("[answer]{'row 0': 3}[/answer]"), 0.5), 0.0);
}

TEST(InternBootcampNonograms, EveryNonSpaceCharacterIsACell) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Nonogramsbootcamp";
  const Json id = {{"rows", {Json::array(), {2}, {1}, {2, 1}, {1}}}, {"columns", {{1}, {2}, {2}, {1, 1}, Json::array()}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n.....\n..XX.\n..X..\nXX.X.\n.X...\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n. . . . .\n. . x x .\n. . X . .\nX X . X .\n. X . . .\n\n[/answer]")), 1.0);
  // Spaces are dropped, not read as empty cells: "  XX " is a row of two cells.
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n00000\n  XX \n00X00\nXX0X0\n0X000\n[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n.....\n.XX..\n..X..\nXX.X.\n.X...\n[/answer]"), 0.5), 0.5);
  EXPECT_EQ(score(t, id, respond("[answer]\n.....\n..XX.\n..X..\nXX.X.\n.X...\n[/answer][answer]X[/answer]")), 0.0);
}

TEST(InternBootcampFutoshiki, LiteralGridKeepingGivensAndInequalities) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Futoshikibootcamp";
  const Json id = {{"size", 3}, {"initial", {{0, 0, 0}, {0, 2, 0}, {3, 0, 0}}},
                   {"inequalities", {{{"cell1", {0, 0}}, {"cell2", {0, 1}}, {"symbol", "<"}},
                                     {{"cell1", {0, 2}}, {"cell2", {1, 2}}, {"symbol", "<"}},
                                     {{"cell1", {1, 0}}, {"cell2", {2, 0}}, {"symbol", "<"}}}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n[[2,3,1],\n[1,2,3],\n[3,1,2]]\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]((2, 3, 1), (1, 2, 3), (3, 1, 2))[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer][2, 3, 1], [1, 2, 3], [3, 1, 2.0]  # rows[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[3,2,1],[1,3,2],[2,1,3]][/answer]"), 0.5), 0.5);  // given 2 moved
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[2,3,1],[1,2,3],[3,1,'2']][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]2 3 1\n1 2 3\n3 1 2[/answer]"), 0.5), 0.0);  // not a literal: None
}

TEST(InternBootcampCalcudoku, DoubleBracketRowsAndGroupTargets) {
  const std::string t = "Calcudokubootcamp";
  // Upstream's shape: group letters per cell, and per letter [operator, target]. Two fills are right.
  const Json id = {{"groups", {{"A", {"-", 1}}, {"B", {"*", 6}}, {"C", {"+", 3}}, {"D", {"/", 3}}}},
                   {"grid", {{"A", "A", "B"}, {"C", "D", "B"}, {"C", "D", "B"}}}, {"size", 3}};
  EXPECT_EQ(score(t, id, respond("[[3 2 1,1 3 2,2 1 3]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[3 2 1,2 1 3,1 3 2]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[[3 2 1], [1 3 2], [2 1 3]]]")), 1.0);  // brackets around rows are stripped
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[1 2 3,2 3 1,3 1 2]]"), 0.5), 0.5);  // Latin, but C sums to 5
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[3 2 1,1 3 2,2 1 3]] or [[1 2 3,2 3 1,3 1 2]]"), 0.5), 0.5);  // last counts
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[3 2 1,1 3 2,2 1 x]]"), 0.5), 0.0);  // int() fails: None
  EXPECT_DOUBLE_EQ(score(t, id, respond("3 2 1, 1 3 2, 2 1 3"), 0.5), 0.0);
}

TEST(InternBootcampCalcudoku, DeviationDivisionByAllOtherCells) {
  // Group A is (0,0), (0,1), (1,1) holding 2, 1, 2: 2 / 1 / 2 = 1. Upstream leaves out every
  // cell equal to the dividend and compares 2 / 1 with 1, so it scores format_score.
  const Json id = {{"groups", {{"A", {"/", 1}}, {"B", {"+", 3}}, {"C", {"+", 3}}, {"D", {"+", 1}},
                               {"E", {"+", 1}}, {"F", {"+", 3}}, {"G", {"+", 2}}}},
                   {"grid", {{"A", "A", "B"}, {"C", "A", "D"}, {"E", "F", "G"}}}, {"size", 3}};
  EXPECT_EQ(score("Calcudokubootcamp", id, respond("[[2 1 3,3 2 1,1 3 2]]")), 1.0);
  EXPECT_EQ(score("Calcudokubootcamp", id, respond("[[[2 1 3], [3 2 1], [1 3 2]]]")), 1.0);
}


TEST(InternBootcampSkyscrapers, RowsOfUnsignedHeightsAndFourViews) {
  const std::string t = "Skyscrapersbootcamp";
  const Json id = {{"n", 4}, {"clues", {{"left", {4, 3, 2, 1}}, {"right", {1, 2, 2, 2}}, {"top", {4, 3, 2, 1}},
                                        {"bottom", {1, 2, 2, 2}}}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 3 4 1\n3 4 1 2\n4 1 2 3\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n\n1 2 3 4\n\n2 3 4 1\n3 4 1 2\n4 1 2 3\n\n[/answer]")), 1.0);  // blank lines skipped
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 1 4 3\n3 4 1 2\n4 3 2 1\n[/answer]"), 0.5), 0.5);  // views differ
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 3 4 1\n3 4 1 2\n[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][/answer]"), 0.5), 0.5);  // empty: extracted, not right
  // Upstream tests isdigit() first: a sign or a comma makes the block unreadable.
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 3 4 1\n3 4 1 2\n4 1 2 +3\n[/answer]"), 0.5), 0.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]1,2,3,4[/answer]"), 0.5), 0.0);
}

TEST(InternBootcampBinairo, RowsOfDigitsMeetingTheRulesAndGivens) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Binairobootcamp";
  const Json null = nullptr;
  const Json id = {{"puzzle", {{null, null, null, null}, {1, null, null, 0}, {0, null, 1, null}, {null, null, null, null}}},
                   {"solution", {{0, 1, 0, 1}, {1, 0, 1, 0}, {0, 1, 1, 0}, {1, 0, 0, 1}}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n0 1 0 1\n1 0 1 0\n0 1 1 0\n1 0 0 1\n[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n0 1 0 1\n1 0 1 0\n\n0 1 1 0\n1 0 0 1\n[/answer]"), 0.5), 0.5);  // a blank line is a row
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]0101\n1010\n0110\n1001[/answer]"), 0.5), 0.5);  // 101 is one number
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 0 1 0\n1 0 1 0\n0 1 0 1\n0 1 0 1\n[/answer]"), 0.5), 0.5);  // twins, givens
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]0 1 0 1\n1 0 1 0\n0 1 1 0\n1 0 0 x[/answer]"), 0.5), 0.0);
}

TEST(InternBootcampBinairo, DeviationAnyGridMeetingTheRulesIsRight) {
  // The puzzle above has a second solution; upstream compares with the stored one only.
  const Json null = nullptr;
  const Json id = {{"puzzle", {{null, null, null, null}, {1, null, null, 0}, {0, null, 1, null}, {null, null, null, null}}},
                   {"solution", {{0, 1, 0, 1}, {1, 0, 1, 0}, {0, 1, 1, 0}, {1, 0, 0, 1}}}};
  EXPECT_EQ(score("Binairobootcamp", id, respond("[answer]\n0 0 1 1\n1 1 0 0\n0 1 1 0\n1 0 0 1\n[/answer]")), 1.0);
}

TEST(InternBootcampKakurasu, ListOfZeroOneRows) {
  const std::string t = "Kakurasubootcamp";
  const Json id = {{"n", 3}, {"row_targets", {4, 2, 3}}, {"col_targets", {4, 5, 1}}};
  EXPECT_EQ(score(t, id, respond("[answer]\n[[1, 0, 1], [0, 1, 0], [1, 1, 0]]\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer][[True, False, 1.0], [0, 1, 0], [1, 1, 0]][/answer]")), 1.0);  // Python's ==
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]((1, 0, 1), (0, 1, 0), (1, 1, 0))[/answer]"), 0.5), 0.5);  // not lists
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 0, 1], [0, 1, 0], [1, 1, 2]][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 0, 1], [0, 1, 0], [1, 1, 0]][/answer] [answer][[0]][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]1 0 1\n0 1 0\n1 1 0[/answer]"), 0.5), 0.0);  // not a literal
}

TEST(InternBootcampAquarium, LevelsPerColumn) {
  // An upstream identity (from its eval set): every column is its own aquarium.
  const std::string t = "Aquariumbootcamp";
  Json regions = Json::array();
  for (int r = 0; r < 6; ++r) regions.push_back({0, 1, 2, 3});
  const Json id = {{"regions", regions}, {"row_clues", {4, 3, 3, 3, 2, 1}}, {"col_clues", {5, 4, 6, 1}}};
  EXPECT_EQ(score(t, id, respond("[answer]4 3 5 0[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n4\n3\n5\n0\n[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]4 3 5 1[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]4 3 5[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]4 3 5 0[/answer][answer]0[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]4, 3, 5, 0[/answer]"), 0.5), 0.0);  // int('4,') fails: None
}


TEST(InternBootcampGridDeviations, LiteralSubsetAndAsciiIntegers) {
  // Outside what we read (DEVIATIONS.md): complex numbers, non-ASCII digits, integers past int64.
  const Json kakurasu = {{"n", 3}, {"row_targets", {4, 2, 3}}, {"col_targets", {4, 5, 1}}};
  EXPECT_DOUBLE_EQ(score("Kakurasubootcamp", kakurasu, respond("[answer][[1+0j, 0, 1], [0, 1, 0], [1, 1, 0]][/answer]"), 0.5), 0.0);
  Json regions = Json::array();
  for (int r = 0; r < 6; ++r) regions.push_back({0, 1, 2, 3});
  const Json aquarium = {{"regions", regions}, {"row_clues", {4, 3, 3, 3, 2, 1}}, {"col_clues", {5, 4, 6, 1}}};
  EXPECT_DOUBLE_EQ(score("Aquariumbootcamp", aquarium, respond("[answer]\xd9\xa4 \xd9\xa3 \xd9\xa5 \xd9\xa0[/answer]"), 0.5), 0.0);
  EXPECT_DOUBLE_EQ(score("Aquariumbootcamp", aquarium, respond("[answer]4 3 5 99999999999999999999999[/answer]"), 0.5), 0.0);
  // A Hitori coordinate that names no cell: upstream ignores (0.5, 1) and scores 1; we call it wrong.
  EXPECT_DOUBLE_EQ(score("Hitoribootcamp", {{"grid", {{1, 2, 1}, {2, 3, 1}, {3, 1, 2}}}},
                         respond("[answer][(0, 2), (0.5, 1)][/answer]"), 0.5), 0.5);
  // What we do read as Python does: underscores between digits, Unicode spaces between numbers.
  EXPECT_EQ(score("Aquariumbootcamp", aquarium, respond("[answer]4\xc2\xa0" "3 5 0_0[/answer]")), 1.0);
}


TEST(InternBootcampMinesweeper, ListOfPairsAsASet) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Minesweeperbootcamp";
  const Json id = {{"rows", 5}, {"cols", 5}, {"mines", {{1, 3}, {4, 3}, {1, 1}, {0, 0}, {3, 1}}}};
  EXPECT_EQ(score(t, id, respond("[answer][[1, 3], [4, 3], [1, 1], [0, 0], [3, 1]][/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n[[0, 0], [1, 1], [1, 3], [3, 1], [4, 3], [0, 0]]\n[/answer]")), 1.0);  // a set
  EXPECT_EQ(score(t, id, respond("[answer][[1.0, 3], [4, 3], [1, 1], [0, 0], [3, 1]][/answer]")), 1.0);  // 1.0 == 1
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 3], [4, 3], [1, 1], [0, 0]][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 3], [4, 3], [1, 1], [0, 0], [3, 2]][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 3], [4, 3], [1, 1], [0, 0], [3, 1]][/answer][answer][][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(1, 3), (4, 3), (1, 1), (0, 0), (3, 1)][/answer]"), 0.5), 0.0);  // tuples: None
}

TEST(InternBootcampMinesweeper, DeviationAnyMinesGivingTheSameCounts) {
  // One row of three cells, a mine in the first: the counts are 0 1 0, and a mine in the
  // last cell gives the same counts. Upstream wants the stored mine only.
  const Json id = {{"rows", 1}, {"cols", 3}, {"mines", {{0, 0}}}};
  EXPECT_EQ(score("Minesweeperbootcamp", id, respond("[answer][[0, 2]][/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score("Minesweeperbootcamp", id, respond("[answer][[0, 1]][/answer]"), 0.5), 0.5);
}

TEST(InternBootcampMinesweeper, MinesFarOutsideTheGridCountNothing) {
  // A hostile identity's mine at INT64_MIN (the verify fuzzer's) touches no cell, so its counts
  // are all 0 and a mine at (0, 0) is wrong. Before, r + dr overflowed (UBSan in the fuzz build).
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  const Json id = {{"rows", 2}, {"cols", 2}, {"mines", {{lowest, lowest}}}};
  EXPECT_DOUBLE_EQ(score("Minesweeperbootcamp", id, respond("[answer][[0, 0]][/answer]"), 0.5), 0.5);
}

TEST(InternBootcampTents, OneBasedTuplesMeetingTheRules) {
  const std::string t = "Tentsbootcamp";
  // Trees at (0, 1) and (2, 1) (0-based) in upstream's shape; two placements are right.
  const Json id = {{"grid", {{0, 1, 0}, {0, 0, 0}, {0, 1, 0}}}, {"row_clues", {1, 0, 1}}, {"col_clues", {1, 0, 1}},
                   {"solution", {{0, 0}, {2, 2}}}};
  EXPECT_EQ(score(t, id, respond("[answer][(1, 1), (3, 3)][/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n[(1, 3), (3, 1)]\n[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(1, 1), (2, 1)][/answer]"), 0.5), 0.5);  // touching tents
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(0, 0), (2, 2)][/answer]"), 0.5), 0.5);  // 0-based: outside
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(1, 1), (3, 3), (1, 1)][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(1.0, 1), (3, 3)][/answer]"), 0.5), 0.5);  // a float cannot index
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[1, 1], [3, 3]][/answer]"), 0.5), 0.0);  // lists: None
}

TEST(InternBootcampThermometers, SquareOfRowsRisingAlongThermometers) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Thermometersbootcamp";
  const Json id = {{"size", 4},
                   {"thermometers", {{{"bulb", {2, 2}}, {"path", {{2, 2}, {1, 2}}}}, {{"bulb", {0, 2}}, {"path", {{0, 2}, {1, 2}}}}}},
                   {"enforce_latin", true}};
  EXPECT_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 1 4 3\n3 4 1 2\n4 3 2 1\n[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n4 3 2 1\n3 4 1 2\n2 1 4 3\n1 2 3 4\n[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 2 3 4\n2 1 4 3\n3 4 1 2\n[/answer]"), 0.5), 0.0);  // not square: None
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][/answer]"), 0.5), 0.0);
}


TEST(InternBootcampStarbattle, LastJsonFenceWithOneBasedPairs) {
  // An upstream identity (its eval set's first puzzle).
  const std::string t = "Starbattlebootcamp";
  const Json id = {{"input_grid", {{"E", "E", "C", "C", "C"}, {"E", "A", "A", "A", "C"}, {"E", "A", "A", "A", "A"},
                                   {"B", "B", "A", "D", "D"}, {"B", "B", "B", "D", "D"}}}};
  const std::string right = "{'E': [(1, 2)], 'C': [(2, 5)], 'A': [(3, 3)], 'B': [(4, 1)], 'D': [(5, 4)]}";
  EXPECT_EQ(score(t, id, respond("Final-answer: ```json\n" + right + "\n```")), 1.0);
  EXPECT_EQ(score(t, id, respond("```json {\"A\": [[3, 3]], \"B\": [[4, 1]], \"C\": [[2, 5]], \"D\": [[5, 4]], \"E\": [[1, 2]]} ```")), 1.0);
  // The identity as a JSON string is read too.
  EXPECT_EQ(score(t, {{"input_grid", id.at("input_grid").dump()}}, respond("```json\n" + right + "\n```")), 1.0);
  const std::string wrong = "{'E': [(1, 2)], 'C': [(2, 4)], 'A': [(3, 3)], 'B': [(4, 1)], 'D': [(5, 5)]}";  // (2, 4) is in A
  EXPECT_DOUBLE_EQ(score(t, id, respond("```json\n" + wrong + "\n```"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("```json\n" + right + "\n``` or ```json\n" + wrong + "\n```"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("```json\n{'A': [(1, 2)] oops}\n```"), 0.5), 0.5);  // matched, not JSON
  EXPECT_DOUBLE_EQ(score(t, id, respond("```json\n" + right.substr(0, right.size() - 1) + "\n```"), 0.5), 0.0);  // no match
}

TEST(InternBootcampStarbattle, DeviationEveryRegionRowAndColumnNeedsItsStar) {
  // Upstream checks only the regions, rows and columns the answer names: {} and partial
  // placements score 1 there.
  const Json id = {{"input_grid", {{"E", "E", "C", "C", "C"}, {"E", "A", "A", "A", "C"}, {"E", "A", "A", "A", "A"},
                                   {"B", "B", "A", "D", "D"}, {"B", "B", "B", "D", "D"}}}};
  EXPECT_DOUBLE_EQ(score("Starbattlebootcamp", id, respond("```json\n{}\n```"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score("Starbattlebootcamp", id, respond("```json\n{'E': [(1, 2)], 'C': [(2, 5)]}\n```"), 0.5), 0.5);
}

TEST(InternBootcampHitori, ZeroBasedTuplesOfShadedCells) {
  const std::string t = "Hitoribootcamp";
  const Json id = {{"grid", {{1, 2, 1}, {2, 3, 1}, {3, 1, 2}}}};
  EXPECT_EQ(score(t, id, respond("[answer][(0, 2)][/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer][(0.0, 2)][/answer]")), 1.0);  // (0.0, 2) == (0, 2) in Python
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(0, 0)][/answer]"), 0.5), 0.5);          // column 2 repeats 1
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(0, 2), (1, 2)][/answer]"), 0.5), 0.5);  // touching
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(0, 2), (0, 2)][/answer]"), 0.5), 0.5);  // listed twice
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][(0, 2)][/answer][answer][][/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer][[0, 2]][/answer]"), 0.5), 0.0);  // lists: None
}

TEST(InternBootcampKillerSudoku, CommaRowsMeetingCagesAndBoxes) {
  // Upstream's shape, 4x4: cages are the pairs of neighbours along each row.
  const std::string t = "Killersudokubootcamp";
  Json cages = Json::array();
  const int sums[4][2] = {{3, 7}, {7, 3}, {3, 7}, {7, 3}};
  for (int r = 0; r < 4; ++r) {
    for (int k = 0; k < 2; ++k) cages.push_back({{"cells", {{r, 2 * k}, {r, 2 * k + 1}}}, {"sum", sums[r][k]}});
  }
  const Json id = {{"solution", {{1, 2, 3, 4}, {3, 4, 1, 2}, {2, 1, 4, 3}, {4, 3, 2, 1}}}, {"cages", cages}, {"size", 4},
                   {"subgrid_size", 2}};
  EXPECT_EQ(score(t, id, respond("[answer]\n1,2,3,4\n3,4,1,2\n2,1,4,3\n4,3,2,1\n[/answer]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[answer]\n2,1,4,3\n4,3,2,1\n1,2,3,4\n3,4,1,2\n[/answer]")), 1.0);  // another valid grid
  EXPECT_EQ(score(t, id, respond("[answer]\n1, 2, 3, 4\n\n3, 4, 1, 2\n2, 1, 4, 3\n4, 3, 2, 1[/answer]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n3,4,1,2\n1,2,3,4\n2,1,4,3\n4,3,2,1\n[/answer]"), 0.5), 0.5);  // cage sums
  EXPECT_DOUBLE_EQ(score(t, id, respond("[answer]\n1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1\n[/answer]"), 0.5), 0.0);  // not commas
}

TEST(InternBootcampKillerSudoku, DeviationExactlyNRowsOfNNumbers) {
  // Upstream compares sets of the first n rows' entries: an extra row, or an extra number
  // repeating one already in the row, still scores 1 there.
  Json cages = Json::array();
  const int sums[4][2] = {{3, 7}, {7, 3}, {3, 7}, {7, 3}};
  for (int r = 0; r < 4; ++r) {
    for (int k = 0; k < 2; ++k) cages.push_back({{"cells", {{r, 2 * k}, {r, 2 * k + 1}}}, {"sum", sums[r][k]}});
  }
  const Json id = {{"solution", {{1, 2, 3, 4}, {3, 4, 1, 2}, {2, 1, 4, 3}, {4, 3, 2, 1}}}, {"cages", cages}, {"size", 4},
                   {"subgrid_size", 2}};
  EXPECT_DOUBLE_EQ(score("Killersudokubootcamp", id, respond("[answer]\n1,2,3,4\n3,4,1,2\n2,1,4,3\n4,3,2,1\n1,1,1,1\n[/answer]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score("Killersudokubootcamp", id, respond("[answer]\n1,2,3,4,4\n3,4,1,2\n2,1,4,3\n4,3,2,1\n[/answer]"), 0.5), 0.5);
}

// --- extraction helpers: the fast readers agree with the plain left-to-right scan -----

// Python's re.findall(open(.*?)close) without DOTALL, written the slow, obvious way.
std::optional<std::string> slow_last_line_block(const std::string& t, const std::string& open, const std::string& close) {
  std::optional<std::string> last;
  size_t pos = 0;
  while (true) {
    size_t a = t.find(open, pos);
    if (a == std::string::npos) return last;
    size_t b = t.find(close, a + open.size());
    if (b == std::string::npos) return last;
    std::string body = t.substr(a + open.size(), b - a - open.size());
    if (body.find('\n') != std::string::npos) {
      pos = a + 1;
      continue;
    }
    last = body;
    pos = b + close.size();
  }
}

TEST(AnswerExtraction, LastBlockFromTheEndAgreesWithTheForwardScan) {
  // Random texts over a tiny alphabet hit every overlap of opens, closes and newlines.
  Rng rng(12345);
  const std::string alphabet = "[]]\na/";
  for (int trial = 0; trial < 20000; ++trial) {
    std::string t;
    for (int64_t i = rng.uniform(0, 24); i > 0; --i) t += alphabet[static_cast<size_t>(rng.uniform(0, 5))];
    for (auto [open, close] : {std::pair<std::string, std::string>{"[[", "]]"}, {"[a]", "[/a]"}, {"[", "]"}}) {
      auto blocks = find_blocks(t, open, close);
      auto fast = last_block(t, open, close);
      ASSERT_EQ(fast.has_value(), !blocks.empty()) << t;
      if (fast) {
        ASSERT_EQ(std::string(*fast), std::string(blocks.back())) << t;
      }
      auto line = last_block_line(t, open, close);
      auto slow = slow_last_line_block(t, open, close);
      ASSERT_EQ(line.has_value(), slow.has_value()) << t;
      if (line) {
        ASSERT_EQ(std::string(*line), *slow) << t;
      }
    }
  }
}

TEST(AnswerExtraction, CodePointsCountsLikePythonLen) {
  Rng rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string t;
    for (int64_t i = rng.uniform(0, 40); i > 0; --i) t += static_cast<char>(rng.uniform(0, 255));
    size_t slow = 0;
    for (unsigned char c : t) slow += (c & 0xC0) != 0x80;  // every byte but a continuation byte starts one
    ASSERT_EQ(code_points(t), slow);
  }
  EXPECT_EQ(code_points("h\xc3\xa9llo \xe2\x96\xa0 \xf0\x9f\x98\x80"), 9u);  // é, ■ and an emoji count one each
}

TEST(AnswerExtraction, FencedJsonAndPythonStrip) {
  EXPECT_EQ(last_fenced_json("x ```json\n [1] \n``` y ```json[2]```"), std::string_view("[2]"));
  EXPECT_EQ(last_fenced_json("```json   ```"), std::string_view(""));
  EXPECT_FALSE(last_fenced_json("```python\n[1]\n```").has_value());
  EXPECT_FALSE(last_fenced_json("```json [1]").has_value());
  // The close of one block may be the start of the next "```json": it is consumed as a close.
  EXPECT_EQ(last_fenced_json("```json a ```json b ```"), std::string_view("a"));
  EXPECT_EQ(py_strip("\xc2\xa0 x \x1f\xe3\x80\x80"), std::string_view("x"));
}

// --- the seven tasks of this file's second half ----------------------------------------

TEST(KorPuzzle24Points, LastSingleLineBracketExpression) {
  const std::string t = "KorPuzzle24Pointsbootcamp";
  const Json id = {{"numbers", {2, 2, 8, 8}}};
  EXPECT_EQ(score(t, id, respond("[[8 × (2 + 2) - 8]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[(8+8)*2-8]] then [[8*(2+2)-8]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[8*(2+2)-8]] then [[8+8+2+2]]")), 0.0);      // the last block counts
  EXPECT_EQ(score(t, id, respond("[[8*(2+2)-8\n]]")), 0.0);                    // no block spans a newline
  EXPECT_EQ(score(t, id, respond("[[(8 - 2) ÷ 2 × 8]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[8*3]]")), 0.0);                            // other numbers
  EXPECT_EQ(score(t, {{"numbers", {3, 3, 8, 8}}}, respond("[[8 / (3 - 8 / 3)]]")), 1.0);
}

TEST(KorPuzzle24Points, DeviationOnlyArithmeticIsRead) {
  // Python's eval accepts 24e0 (its digits are no \b\d+\b number) and ** upstream; not here.
  const std::string t = "KorPuzzle24Pointsbootcamp";
  EXPECT_DOUBLE_EQ(score(t, {{"numbers", {2, 5, 9, 9}}}, respond("[[(9-9)*5*2+24e0]]"), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(score(t, {{"numbers", {1, 2, 3, 3}}}, respond("[[2**3*3*1]]"), 0.5), 0.5);
}

TEST(Cryptomath, LetterDigitPairsOfTheLastBlock) {
  const std::string t = "Cryptomathbootcamp";
  const Json id = {{"left_terms", {"AB", "C"}}, {"right_term", "AD"}, {"leading_letters", {"A"}},
                   {"all_letters", {"D", "C", "B", "A"}}};
  // 12 + 3 = 15: A=1, B=2, C=3, D=5
  EXPECT_EQ(score(t, id, respond("[[A=1, B=2, C=3, D=5]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[A = 1,B=2,C=3,D=5,A=1]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[A=1,B=2,C=3,D=5]] [[A=1,B=2,C=3,D=6]]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[[A=1,B=2,C=3]]")), 0.0);                    // D missing
  EXPECT_EQ(score(t, id, respond("[[A=1,B=2,C=3,D=5,E=7]]")), 0.0);            // a letter not in the puzzle
  EXPECT_EQ(score(t, id, respond("[[A=1,B=3,C=2,D=6]]")), 0.0);                // 13 + 2 != 16
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[no pairs here]]"), 0.5), 0.0);      // nothing extracted
  EXPECT_DOUBLE_EQ(score(t, id, respond("[[A=1,B=1,C=3,D=4]]"), 0.5), 0.5);    // repeated digit
}

TEST(Cryptomath, DeviationLettersAreSingleDigits) {
  // A=10, B=0, C=5: 100 + 5 = 105 = A D with D=5 -- upstream accepts a "digit" of 10.
  const Json id = {{"left_terms", {"AB", "C"}}, {"right_term", "AD"}, {"leading_letters", {"A"}},
                   {"all_letters", {"A", "B", "C", "D"}}};
  EXPECT_DOUBLE_EQ(score("Cryptomathbootcamp", id, respond("[[A=10,B=0,C=5,D=5]]"), 0.5), 0.5);
}

TEST(KorPuzzleMathPath, TokensOperatorsAndIntegerDivision) {
  const std::string t = "KorPuzzleMathPathbootcamp";
  const Json id = {{"operators", {"+", "*", "-"}}, {"target", 10}, {"num_vars", 4}};
  EXPECT_EQ(score(t, id, respond("[[2+3*4-4=10]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[ 2 + 3 × 4 - 4 = 10 ]]")), 0.0);          // × is no token: 3 4 side by side
  EXPECT_EQ(score(t, id, respond("[[2+3*4-4=11]]")), 0.0);                     // other target
  EXPECT_EQ(score(t, id, respond("[[2-3*4+4=10]]")), 0.0);                     // other operators
  EXPECT_EQ(score(t, id, respond("[[2+13*1-5=10]]")), 0.0);                    // 13 is not a digit
  EXPECT_EQ(score(t, id, respond("[[(2+3*4-4)=10]]")), 1.0);                   // upstream skips other characters
  const Json div = {{"operators", {"/", "+"}}, {"target", 4}, {"num_vars", 3}};
  EXPECT_EQ(score(t, div, respond("[[7/2+1=4]]")), 1.0);                       // integer division, as upstream
}

TEST(KorPuzzleMathPath, DeviationDivisionByZeroIsWrong) {
  // Upstream evaluates x/0 as 0, so 5/0+3=3 passes there.
  const Json div = {{"operators", {"/", "+"}}, {"target", 3}, {"num_vars", 3}};
  EXPECT_DOUBLE_EQ(score("KorPuzzleMathPathbootcamp", div, respond("[[5/0+3=3]]"), 0.5), 0.5);
}

Json small_maze() {
  return {{"grid", {{0, 0, 1}, {1, 0, 1}, {1, 0, 0}}}, {"start_pos", {0, 0}}, {"end_pos", {2, 2}},
          {"difficulty", 1}, {"seed", nullptr}, {"solution_path", {{0, 0}, {0, 1}, {1, 1}, {2, 1}, {2, 2}}}};
}

TEST(Maze, PythonTuplesInTheLastJsonBlock) {
  const std::string t = "Mazebootcamp";
  const std::string path = "[(0, 0), (0, 1), (1, 1), (2, 1), (2, 2)]";
  EXPECT_EQ(score(t, small_maze(), respond("Final-answer: ```json\n" + path + "\n```")), 1.0);
  EXPECT_EQ(score(t, small_maze(), respond("```json\n(0, 0), (0, 1), [1, 1], (2, 1), (2, 2)\n```")), 1.0);
  // A JSON list [0, 0] is not the tuple (0, 0) for Python's comparison.
  EXPECT_EQ(score(t, small_maze(), respond("```json\n[[0, 0], [0, 1], [1, 1], [2, 1], [2, 2]]\n```")), 0.0);
  EXPECT_EQ(score(t, small_maze(), respond("```json\n[(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)]\n```")), 0.0);  // wall
  EXPECT_EQ(score(t, small_maze(), respond("```json\n[(0, 0), (1, 1), (2, 1), (2, 2)]\n```")), 0.0);  // diagonal
  EXPECT_EQ(score(t, small_maze(), respond("```json\n" + path + "\n``` then ```json\n[(0, 0)]\n```")), 0.0);
  EXPECT_DOUBLE_EQ(score(t, small_maze(), respond("```json\nnot python\n```"), 0.5), 0.5);  // extracted, wrong
  EXPECT_DOUBLE_EQ(score(t, small_maze(), respond("```python\n" + path + "\n```"), 0.5), 0.0);
}

TEST(Maze, ReadsThePathAsPythonDoes) {
  // literal_eval reads True as 1 and Python indexes with it, so (0, True) is the cell (0, 1), as upstream.
  EXPECT_DOUBLE_EQ(score("Mazebootcamp", small_maze(),
                         respond("```json\n[(0, 0), (0, True), (1, 1), (2, 1), (2, 2)]\n```"), 0.5),
                   1.0);
  // 1.0 equals 1, but maze[x][1.0] raises upstream: format_score.
  EXPECT_DOUBLE_EQ(score("Mazebootcamp", small_maze(),
                         respond("```json\n[(0, 0), (0, 1.0), (1, 1), (2, 1), (2, 2)]\n```"), 0.5),
                   0.5);
  // The first item must equal the tuple start_pos: a list never does.
  EXPECT_DOUBLE_EQ(score("Mazebootcamp", small_maze(),
                         respond("```json\n[[0, 0], (0, 1), (1, 1), (2, 1), (2, 2)]\n```"), 0.5),
                   0.5);
}

TEST(Arrowmaze, NumberedGridFollowsTheArrows) {
  const std::string t = "Arrowmazebootcamp";
  const Json id = {{"input_grid", {{"↘", "↙", "↖"}, {"↗", "↘", "↗"}, {"→", "↘", "○"}}}, {"start_position", {0, 0}}};
  EXPECT_EQ(score(t, id, respond("Final-answer: ```json\n[[1, 0, 0], [0, 0, 0], [0, 0, 2]]\n```")), 1.0);
  EXPECT_EQ(score(t, id, respond("```json\n[(1, 0, 0), (0, 0, 0), (0, 0, 7.5)]\n```")), 1.0);  // () read as []
  EXPECT_EQ(score(t, id, respond("```json\n[[1, 0, 0], [0, 2, 0], [0, 0, 3]]\n```")), 1.0);    // stop on the way
  EXPECT_EQ(score(t, id, respond("```json\n[[1, 0, 0], [0, 0, 0], [0, 2, 0]]\n```")), 0.0);    // not the end
  EXPECT_EQ(score(t, id, respond("```json\n[[0, 0, 0], [0, 0, 0], [0, 0, 1]]\n```")), 0.0);    // not the start
  EXPECT_EQ(score(t, id, respond("```json\n[[1, 0, 0], [0, 0, 0]]\n```")), 0.0);               // wrong shape
  EXPECT_DOUBLE_EQ(score(t, id, respond("```json\n[[1, 0, 'a'], [0, 0, 0], [0, 0, 2]]\n```"), 0.5), 0.5);
  EXPECT_EQ(score(t, {{"input_grid", "[[\"→\", \"○\"]]"}}, respond("```json\n[[1, 2]]\n```")), 1.0);
}

TEST(KorPuzzleLogicPuzzle, EveryYearWithItsNames) {
  const std::string t = "KorPuzzleLogicPuzzlebootcamp";
  const Json id = {{"assignments", {{{"year", 1700}, {"windmill", "Molen A"}, {"family", "Family 2"}},
                                    {{"year", 1720}, {"windmill", "Molen B"}, {"family", "Family 1"}}}},
                   {"clues", Json::array()}, {"years_order", {1700, 1720}}};
  EXPECT_EQ(score(t, id, respond("[[1700 Molen A Family 2, 1720 Molen B Family 1]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[1720 Molen B  Family 1,\n1700 Molen A Family 2]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[1700 Molen A Family 1, 1720 Molen B Family 2]]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[[1700 Molen A Family 2]]")), 0.0);  // a year missing
}

TEST(KorPuzzleLogicPuzzle, DeviationEmptyAnswerIsNotRight) {
  // Upstream keeps only three-word entries; with none left its check passes every case.
  const Json id = {{"assignments", {{{"year", 1700}, {"windmill", "Molen A"}, {"family", "Family 2"}}}},
                   {"clues", Json::array()}, {"years_order", {1700}}};
  EXPECT_DOUBLE_EQ(score("KorPuzzleLogicPuzzlebootcamp", id, respond("[[ ]]"), 0.5), 0.5);
}

TEST(KorOperationUnicode25a0, SympyTextAndLatexByValue) {
  const std::string t = "KorOperationUnicode25a0bootcamp";
  const Json id = {{"f_latex", "x^{3}"}, {"g_latex", "\\sin{\\left(x \\right)}"}, {"_f_sympy", "x**3"},
                   {"_g_sympy", "sin(x)"}, {"_answer_sympy", "3*x**2 + cos(x)"}};
  EXPECT_EQ(score(t, id, respond("[[3*x**2 + cos(x)]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[cos(x)+3x^2]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[3x^{2} + \\cos x]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[\\frac{6x^2}{2} + \\cos\\left(x\\right)]]")), 1.0);
  EXPECT_EQ(score(t, id, respond("[[3x^2 + \\sin x]]")), 0.0);
  EXPECT_EQ(score(t, id, respond("[[3x^2 + cos(x)]] and [[0]]")), 0.0);
  const Json poly = {{"f_latex", "x"}, {"g_latex", "\\frac{2}{y}"}, {"_f_sympy", "x"},
                     {"_g_sympy", "Poly(2, x, domain='ZZ')/y"}, {"_answer_sympy", "sqrt(2)*cos(x + pi/4)"}};
  EXPECT_EQ(score(t, poly, respond("[[cos(x) - sin(x)]]")), 1.0);
  EXPECT_DOUBLE_EQ(score(t, poly, respond("[[cos(x) - sin(x) +]]"), 0.5), 0.5);  // unreadable: format_score
}

}  // namespace
}  // namespace troupe::envs
