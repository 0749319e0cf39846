// Our own tasks: hand-made identities and responses, one check per rule.
#include <gtest/gtest.h>

#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

double score(const std::string& task, const Json& identity, const std::string& response) {
  auto v = verify(task, identity, response);
  EXPECT_TRUE(v.is_ok()) << v.status().to_string();
  return v.is_ok() ? v->score : -1;
}

TEST(OwnTasks, AdditionPromptIsCompactAndAnswerOnly) {
  auto c = generate("addition", 7, 3);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->prompt.size(), 8u);  // "ddd+ddd="
  EXPECT_EQ(c->prompt[3], '+');
  const Json id = {{"a", "123"}, {"b", "989"}};
  EXPECT_EQ(score("addition", id, "1112"), 1.0);
  EXPECT_EQ(score("addition", id, " 1112 \nmore text"), 1.0);
  EXPECT_EQ(score("addition", id, "3+9+0=12,2+8+1=11,1+9+1=11#1112"), 1.0);
  EXPECT_EQ(score("addition", id, "1111"), 0.0);
  EXPECT_EQ(score("addition", id, "\n1112"), 0.0);  // the answer must be on the first line
  EXPECT_EQ(score("addition", id, "01112"), 0.0);
}

TEST(OwnTasks, WorkedSolutionEndsInAnswerAndScores) {
  for (const auto& name : {"addition", "multiplication", "subtraction", "modular_arith", "base_conversion", "gcd",
                           "digit_sum", "linear_equation", "sort_numbers", "reverse", "copy", "parity",
                           "count_char", "prefix_sum", "bracket_close", "expression_eval", "word_problem",
                           "program_trace"}) {
    for (int level = 1; level <= 10; ++level) {
      auto c = generate(name, 11, level);
      ASSERT_TRUE(c.is_ok()) << name << " " << c.status().to_string();
      ASSERT_FALSE(c->solution.empty()) << name;
      EXPECT_TRUE(c->solution.ends_with("#" + c->answer)) << name << ": " << c->solution;
      EXPECT_EQ(score(name, c->identity, c->solution), 1.0) << name << ": " << c->solution;
      EXPECT_EQ(score(name, c->identity, c->answer), 1.0) << name;
    }
  }
}

TEST(OwnTasks, ArithmeticIsRight) {
  EXPECT_EQ(score("multiplication", {{"a", "123"}, {"b", "45"}}, "5535"), 1.0);
  EXPECT_EQ(score("subtraction", {{"a", "523"}, {"b", "871"}}, "-348"), 1.0);
  EXPECT_EQ(score("modular_arith", {{"a", "123"}, {"b", "45"}, {"m", 7}}, "5"), 1.0);
  EXPECT_EQ(score("base_conversion", {{"n", "255"}, {"base", 16}}, "ff"), 1.0);
  EXPECT_EQ(score("base_conversion", {{"n", "255"}, {"base", 2}}, "11111111"), 1.0);
  EXPECT_EQ(score("gcd", {{"a", 84}, {"b", 36}}, "12"), 1.0);
  EXPECT_EQ(score("linear_equation", {{"a", 7}, {"b", -4}, {"c", 3}, {"d", 8}}, "3"), 1.0);
  EXPECT_EQ(score("expression_eval", {{"nums", {3, 5, 2, 4}}, {"ops", "+*-"}}, "9"), 1.0);
  EXPECT_EQ(score("bracket_close", {{"prefix", "([]{<>"}}, "})"), 1.0);
  EXPECT_EQ(score("prefix_sum", {{"list", {1, 2, 3}}}, "1,3,6"), 1.0);
  EXPECT_EQ(score("parity", {{"bits", "10110"}}, "1"), 1.0);
  EXPECT_EQ(score("count_char", {{"s", "abacad"}, {"c", "a"}}, "3"), 1.0);
}

TEST(OwnTasks, MalformedIdentityIsAnErrorNotACrash) {
  auto v = verify("addition", {{"a", "12x"}, {"b", "1"}}, "13");
  EXPECT_FALSE(v.is_ok());
  EXPECT_FALSE(verify("addition", Json::array(), "13").is_ok());
  EXPECT_FALSE(verify("gcd", {{"a", "84"}}, "12").is_ok());
  EXPECT_FALSE(verify("bracket_close", {{"prefix", ")("}}, "").is_ok());
}

TEST(OwnTasks, FormatScoreAppliesOnlyWhenSomethingWasExtracted) {
  VerifyOptions o;
  o.format_score = 0.1;
  auto wrong = verify("addition", {{"a", "1"}, {"b", "1"}}, "3", o);
  ASSERT_TRUE(wrong.is_ok());
  EXPECT_DOUBLE_EQ(wrong->score, 0.1);
  auto empty = verify("addition", {{"a", "1"}, {"b", "1"}}, "", o);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(empty->score, 0.0);
  EXPECT_FALSE(empty->extracted);
}

TEST(Registry, UnknownNameListsKnownNames) {
  auto t = find_task("no_such_task");
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("addition"), std::string::npos);
  EXPECT_NE(t.status().message().find("no_such_task"), std::string::npos);
}

TEST(Registry, LevelAndKnobRangesAreChecked) {
  auto t = find_task("addition");
  ASSERT_TRUE(t.is_ok());
  EXPECT_FALSE((*t)->generate_level(1, 0).is_ok());
  EXPECT_FALSE((*t)->generate_level(1, 11).is_ok());
  EXPECT_FALSE((*t)->generate_with(1, {{"digits", 31}}).is_ok());
  EXPECT_FALSE((*t)->generate_with(1, {{"nope", 3}}).is_ok());
  auto c = (*t)->generate_with(1, {{"digits", 25}});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->identity["a"].get<std::string>().size(), 25u);
}

}  // namespace
}  // namespace troupe::envs
