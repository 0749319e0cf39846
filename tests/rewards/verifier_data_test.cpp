// The verifier's training data: the equivalence comparator, and that the
// builder's labels are what the rule verifier and the comparator say.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "envs/registry.hpp"
#include "rewards/verifier_data.hpp"

namespace troupe::rewards {
namespace {

TEST(AnswersEquivalent, NumbersListsAndText) {
  EXPECT_TRUE(answers_equivalent("7", "7.0"));
  EXPECT_TRUE(answers_equivalent("7", "14/2"));
  EXPECT_TRUE(answers_equivalent("7", "\\frac{7}{1}"));
  EXPECT_TRUE(answers_equivalent("-3", "-\\frac{6}{2}"));
  EXPECT_TRUE(answers_equivalent("0.5", "1/2"));
  EXPECT_TRUE(answers_equivalent("12", "\\boxed{12}"));
  EXPECT_TRUE(answers_equivalent("12", " $12$ "));
  EXPECT_TRUE(answers_equivalent("12", "+12"));
  EXPECT_FALSE(answers_equivalent("12", "13"));
  EXPECT_FALSE(answers_equivalent("12", "12/5"));
  EXPECT_FALSE(answers_equivalent("12", "12.5"));
  EXPECT_FALSE(answers_equivalent("12", "-12"));
  EXPECT_TRUE(answers_equivalent("9,14", "9, 14"));
  EXPECT_TRUE(answers_equivalent("9,14", "[9, 14]"));
  EXPECT_FALSE(answers_equivalent("9,14", "14,9"));
  EXPECT_TRUE(answers_equivalent("9,14", "14,9", /*unordered=*/true));
  EXPECT_FALSE(answers_equivalent("9,14", "9,14,1", true));
  EXPECT_TRUE(answers_equivalent("-2 10", "-2, 10"));
  EXPECT_TRUE(answers_equivalent("pjq", "\\text{pjq}"));
  EXPECT_FALSE(answers_equivalent("pjq", "pqj"));
  EXPECT_FALSE(answers_equivalent("", "1"));
  // Hostile input: no crash, no overflow.
  EXPECT_FALSE(answers_equivalent("1", std::string(100000, '9')));
  EXPECT_FALSE(answers_equivalent("1", "1/0"));
}

TEST(VerifierData, LabelsAgreeWithRuleVerifierAndComparator) {
  VerifierDataOptions o;
  o.cases_per_task = 40;
  o.seed = 3;
  const std::vector<std::string> tasks = {"addition", "sort_numbers", "reverse", "Bbehobjectcountingbootcamp",
                                          "Cprimesonintervalbootcamp"};
  auto ex = build_verifier_examples(tasks, o);
  ASSERT_TRUE(ex.is_ok()) << ex.status().message();
  std::map<VerifierLabel, int> count;
  std::set<std::string> forms;
  for (const auto& e : *ex) {
    ++count[e.label];
    forms.insert(e.form);
    auto task = envs::find_task(e.task);
    ASSERT_TRUE(task.is_ok());
    if (e.form == "exact") {
      // The plain reference in the task's format: the rule verifier's own 1.
      EXPECT_NE(e.response.find(e.reference), std::string::npos);
    }
    const std::string text = verifier_text(e.question, e.reference, e.response);
    EXPECT_LE(text.size(), 3 + kQuestionTail + 3 + kMaxReference + 3 + kResponseTail);
  }
  EXPECT_GT(count[VerifierLabel::kCorrect], 100);
  EXPECT_GT(count[VerifierLabel::kIncorrect], 100);
  EXPECT_GT(count[VerifierLabel::kInvalid], 50);
  for (const char* f : {"decimal", "fraction", "boxed", "spacing", "off_by_one", "digit_change", "truncated",
                        "repetitive", "no_answer", "list_spacing", "reordered"}) {
    EXPECT_TRUE(forms.count(f)) << "no example of form " << f;
  }
  // Deterministic for a seed, different for another.
  auto again = build_verifier_examples(tasks, o);
  ASSERT_TRUE(again.is_ok());
  ASSERT_EQ(again->size(), ex->size());
  for (size_t i = 0; i < ex->size(); ++i) EXPECT_EQ((*again)[i].response, (*ex)[i].response);
  o.seed = 4;
  auto other = build_verifier_examples(tasks, o);
  ASSERT_TRUE(other.is_ok());
  EXPECT_NE(other->front().response + other->back().response, ex->front().response + ex->back().response);
}

TEST(VerifierData, SequenceReorderingIsWrongByTheRuleVerifier) {
  VerifierDataOptions o;
  o.cases_per_task = 60;
  auto ex = build_verifier_examples({"sort_numbers"}, o);
  ASSERT_TRUE(ex.is_ok());
  auto task = envs::find_task("sort_numbers");
  int reordered = 0;
  for (const auto& e : *ex) {
    if (e.form == "reordered_set") ADD_FAILURE() << "sort_numbers is a sequence, not a set: " << e.response;
    if (e.form == "reordered") {
      ++reordered;
      EXPECT_EQ(e.label, VerifierLabel::kIncorrect);
    }
  }
  EXPECT_GT(reordered, 0);
}

TEST(VerifierData, GenericAnswersAreLabelledByTheComparator) {
  VerifierDataOptions o;
  o.cases_per_task = 10;
  o.generic_cases = 300;
  o.seed = 5;
  auto ex = build_verifier_examples({"addition"}, o);
  ASSERT_TRUE(ex.is_ok()) << ex.status().message();
  std::map<VerifierLabel, int> count;
  std::set<std::string> forms;
  size_t generic = 0, symbols = 0;
  for (const auto& e : *ex) {
    if (e.task != kGenericTask) {
      EXPECT_EQ(generic, 0u) << "generic examples come after the tasks' examples";
      continue;
    }
    ++generic;
    ++count[e.label];
    forms.insert(e.form);
    bool letters = false;
    for (char c : e.reference) letters = letters || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    symbols += letters;
    EXPECT_FALSE(e.reference.empty());
    EXPECT_LE(e.reference.size(), kMaxReference);
    if (e.label == VerifierLabel::kInvalid) continue;
    EXPECT_NE(e.response.find(e.candidate), std::string::npos) << e.response;
    EXPECT_EQ(answers_equivalent(e.reference, e.candidate), e.label == VerifierLabel::kCorrect)
        << e.form << ": " << e.reference << " vs " << e.candidate;
  }
  EXPECT_GT(count[VerifierLabel::kCorrect], 400);
  EXPECT_GT(count[VerifierLabel::kIncorrect], 400);
  EXPECT_GT(count[VerifierLabel::kInvalid], 200);
  EXPECT_GT(symbols, generic / 4) << "answers beyond numbers: words and symbol strings";
  for (const char* f : {"exact", "text", "boxed", "decimal", "list_brackets", "char_change", "char_drop", "char_swap",
                        "off_by_one", "item_drop", "other_case", "truncated", "repetitive", "no_answer"}) {
    EXPECT_TRUE(forms.count(f)) << "no generic example of form " << f;
  }
}

TEST(VerifierData, UnknownTaskIsAnError) {
  auto ex = build_verifier_examples({"no_such_task"}, {});
  ASSERT_FALSE(ex.is_ok());
  EXPECT_NE(ex.status().message().find("no_such_task"), std::string::npos);
}

}  // namespace
}  // namespace troupe::rewards
