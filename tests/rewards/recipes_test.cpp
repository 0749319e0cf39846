// The compass_verifier recipe: prompt layout, its inverse, and the A/B/C mapping.
#include <gtest/gtest.h>

#include "rewards/recipes.hpp"

namespace troupe::rewards {
namespace {

TEST(CompassRecipe, PromptRoundTripsItsFields) {
  const std::string p = compass_prompt("What is 7+8?", "15", "I think <Candidate's Answer End> it is \\boxed{15}");
  EXPECT_NE(p.find("A = CORRECT, B = INCORRECT, C = INVALID"), std::string::npos);
  auto f = parse_compass_prompt(p);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->question, "What is 7+8?");
  EXPECT_EQ(f->reference, "15");
  EXPECT_EQ(f->response, "I think <Candidate's Answer End> it is \\boxed{15}");
  EXPECT_FALSE(parse_compass_prompt("Just a question").has_value());
}

TEST(CompassRecipe, JudgementLetters) {
  EXPECT_EQ(parse_compass_judgement("A"), VerifierLabel::kCorrect);
  EXPECT_EQ(parse_compass_judgement(" B\n"), VerifierLabel::kIncorrect);
  EXPECT_EQ(parse_compass_judgement("C."), VerifierLabel::kInvalid);
  EXPECT_EQ(parse_compass_judgement("The answers agree.\nFinal Judgment: \\boxed{A}"), VerifierLabel::kCorrect);
  EXPECT_EQ(parse_compass_judgement("Analysis... Judgement: B"), VerifierLabel::kIncorrect);
  EXPECT_FALSE(parse_compass_judgement("").has_value());
  EXPECT_FALSE(parse_compass_judgement("Absolutely").has_value());  // a word starting with A is no letter
  EXPECT_FALSE(parse_compass_judgement("D").has_value());
  EXPECT_EQ(compass_letter(VerifierLabel::kCorrect), 'A');
  EXPECT_EQ(compass_letter(VerifierLabel::kIncorrect), 'B');
  EXPECT_EQ(compass_letter(VerifierLabel::kInvalid), 'C');
}

}  // namespace
}  // namespace troupe::rewards
