// InternBootcamp-compatible tasks: hand-made identities in upstream's shape, scored as
// upstream's verify_score would (gates, which block counts, accepted syntax), plus
// each documented deviation from DEVIATIONS.md.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace troupe::envs
