// Tiny reward models on small data learn: the verifier beats the majority-class
// rate on a task family it never saw, the preference model beats a coin on
// held-out pairs. Steps are counted, not timed; the sizes keep each test to
// seconds on one core.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "kernels/matmul.hpp"
#include "rewards/preference_data.hpp"
#include "rewards/reward_model.hpp"
#include "rewards/verifier_data.hpp"

namespace troupe::rewards {
namespace {

model::ModelConfig tiny(int head_outputs) {
  model::ModelConfig c;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 2;
  c.context = 128;
  c.scalar_head = true;
  c.head_outputs = head_outputs;
  return c;
}

// 300 steps of a tiny verifier (with the alignment channel or without) on arithmetic and text
// tasks; returns its report on the "reasoning" family, and the untrained one in *before.
VerifierReport tiny_verifier_on_unseen_family(bool alignment, VerifierReport* before) {
  kernels::cpu::set_cpu_threads(1);
  VerifierDataOptions o;
  o.cases_per_task = 100;
  o.seed = 11;
  auto train = build_verifier_examples(
      {"addition", "subtraction", "multiplication", "count_char", "sort_numbers", "reverse"}, o);
  o.cases_per_task = 40;
  o.seed = 12;
  auto held = build_verifier_examples({"word_problem", "program_trace"}, o);  // family "reasoning"
  EXPECT_TRUE(train.is_ok() && held.is_ok());
  model::ModelConfig c = tiny(3);
  c.feature_vocab = alignment ? kVerifierFeatureVocab : 0;
  auto m = model::Transformer::create(c, 5);
  EXPECT_TRUE(m.is_ok());
  *before = *evaluate_verifier(*m, *held);
  model::AdamW opt(*m, model::AdamWConfig{});
  std::mt19937_64 rng(1);
  constexpr int kSteps = 300, kBatch = 32;
  for (int step = 0; step < kSteps; ++step) {
    std::vector<std::string> texts;
    std::vector<VerifierLabel> labels;
    for (int i = 0; i < kBatch; ++i) {
      const auto& e = (*train)[std::uniform_int_distribution<size_t>(0, train->size() - 1)(rng)];
      texts.push_back(verifier_text(e.question, e.reference, e.response));
      labels.push_back(e.label);
    }
    auto loss = verifier_train_step(*m, opt, 3e-3f, texts, labels);
    EXPECT_TRUE(loss.is_ok()) << loss.status().message();
  }
  return *evaluate_verifier(*m, *held);
}

TEST(RewardTraining, TinyVerifierBeatsChanceOnAnUnseenFamily) {
  VerifierReport before;
  const auto after = tiny_verifier_on_unseen_family(false, &before);
  int64_t majority = 0;
  for (const auto& c : after.classes) majority = std::max(majority, c.support);
  const double baseline = double(majority) / double(after.n);
  // 0.1 above always answering the most common class (and above a third): clearly better than chance.
  // (Measured: 0.518 against ~0.40 after these 300 steps, almost all of it from telling invalid responses
  // apart: with the dress drawn alike for right and wrong answers, equivalence itself is at chance (0.48)
  // at this size and budget. The full-size figures come from `troupe train verifier`, see README.)
  EXPECT_GT(after.accuracy(), std::max(baseline, 1.0 / 3) + 0.1)
      << "held-out accuracy " << after.accuracy() << " vs majority rate " << baseline << " (untrained "
      << before.accuracy() << ")";
  EXPECT_GT(after.classes[2].f1(), 0.65) << "invalid responses are the easiest class (measured 0.735)";
}

TEST(RewardTraining, TinyVerifierWithTheAlignmentChannelJudgesEquivalence) {
  VerifierReport before;
  const auto after = tiny_verifier_on_unseen_family(true, &before);
  std::printf("with the alignment channel: equivalence %.3f (untrained %.3f), accuracy %.3f\n",
              after.equivalence_accuracy(), before.equivalence_accuracy(), after.accuracy());
  // Measured 0.758 (untrained 0.39); without the channel the same 300 steps leave equivalence
  // at chance (~0.48, the test above): the ids make the comparison learnable at this size.
  EXPECT_GT(after.equivalence_accuracy(), 0.65) << "untrained " << before.equivalence_accuracy();
}

TEST(RewardTraining, TinyPreferenceModelBeatsACoinOnHeldOutPairs) {
  kernels::cpu::set_cpu_threads(1);
  auto pairs = generate_preference_pairs(700, 3);
  const size_t n_train = 500;
  auto m = model::Transformer::create(tiny(1), 9);
  ASSERT_TRUE(m.is_ok());
  std::vector<std::vector<int>> c, r;
  for (const auto& p : pairs) {
    c.push_back(encode_preference(p.prompt, p.chosen, 128));
    r.push_back(encode_preference(p.prompt, p.rejected, 128));
  }
  model::AdamW opt(*m, model::AdamWConfig{});
  std::mt19937_64 rng(2);
  for (int step = 0; step < 120; ++step) {  // measured: ~0.9 held-out pairwise accuracy after 120 steps
    std::vector<std::vector<int>> bc, br;
    for (int i = 0; i < 32; ++i) {
      const size_t k = std::uniform_int_distribution<size_t>(0, n_train - 1)(rng);
      bc.push_back(c[k]);
      br.push_back(r[k]);
    }
    auto loss = preference_train_step(*m, opt, 3e-3f, bc, br);
    ASSERT_TRUE(loss.is_ok()) << loss.status().message();
  }
  std::vector<std::vector<int>> hc(c.begin() + n_train, c.end()), hr(r.begin() + n_train, r.end());
  auto sc = score_sequences(*m, hc), sr = score_sequences(*m, hr);
  ASSERT_TRUE(sc.is_ok() && sr.is_ok());
  int right = 0;
  for (size_t i = 0; i < sc->size(); ++i) right += (*sc)[i] > (*sr)[i];
  const double acc = double(right) / double(sc->size());
  EXPECT_GT(acc, 0.75) << "held-out pairwise accuracy";  // a coin gets 0.5; 200 pairs make 0.75 far from luck
}

// Mean next-byte NLL of `texts` over the bytes after the second newline (the response) or before it.
std::pair<double, double> response_and_question_nll(model::Transformer& m, const std::vector<std::string>& texts) {
  std::vector<std::vector<int>> seqs;
  for (const auto& t : texts) seqs.push_back(encode_text(t, 128));
  auto b = model::TokenBatch::from_sequences(seqs, 128, 260);
  std::vector<float> logp;
  EXPECT_TRUE(m.forward(*b, &logp).is_ok());
  double sum[2] = {0, 0};
  int n[2] = {0, 0};
  for (int r = 0; r < b->batch; ++r) {
    int newlines = 0;
    for (int t = 1; t + 1 < b->lengths[r]; ++t) {  // the prediction at t is of token t+1
      newlines += b->tokens[size_t(r) * size_t(b->seq_len) + size_t(t)] == '\n';
      const int part = newlines >= 2 && b->tokens[size_t(r) * size_t(b->seq_len) + size_t(t)] != '\n' ? 0 : 1;
      sum[part] -= logp[size_t(r) * size_t(b->seq_len) + size_t(t)];
      ++n[part];
    }
  }
  return {sum[0] / n[0], sum[1] / n[1]};
}

TEST(RewardTraining, AuxiliaryLossTrainsNextBytesOfRightResponsesOnly) {
  // With lm_weight, a pooled verifier also learns to predict the response bytes of right answers
  // (copying the reference): their NLL falls far below that of the question bytes, which carry no
  // weight; without it the LM head is not trained at all.
  kernels::cpu::set_cpu_threads(1);
  VerifierDataOptions o;
  o.cases_per_task = 8;
  auto ex = build_verifier_examples({"addition", "reverse"}, o);
  ASSERT_TRUE(ex.is_ok());
  std::vector<std::string> texts, right;
  std::vector<VerifierLabel> labels;
  for (const auto& e : *ex) {
    texts.push_back(verifier_text(e.question, e.reference, e.response));
    labels.push_back(e.label);
    if (e.label == VerifierLabel::kCorrect) right.push_back(texts.back());
  }
  model::ModelConfig c = tiny(3);
  c.score_readout = "pool";
  auto with = model::Transformer::create(c, 3), without = model::Transformer::create(c, 3);
  model::AdamW ow(*with, {}), oo(*without, {});
  const auto [r0, q0] = response_and_question_nll(*with, right);
  for (int step = 0; step < 40; ++step) {
    ASSERT_TRUE(verifier_train_step(*with, ow, 3e-3f, texts, labels, 1.0f).is_ok());
    ASSERT_TRUE(verifier_train_step(*without, oo, 3e-3f, texts, labels).is_ok());
  }
  const auto [r1, q1] = response_and_question_nll(*with, right);
  const auto [r2, q2] = response_and_question_nll(*without, right);
  std::printf("response NLL %.2f -> %.2f (question %.2f -> %.2f); without the loss: response %.2f, question %.2f\n",
              r0, r1, q0, q1, r2, q2);
  // Untrained, every byte costs ~log 260 = 5.6 nats. Measured: response 5.57 -> 3.13, question
  // 5.55 -> 4.45 (only through the shared weights); without the loss 5.59 and 5.47.
  EXPECT_LT(r1, 0.7 * r0) << "response NLL " << r0 << " -> " << r1 << " (question " << q0 << " -> " << q1
                          << "; without the loss: response " << r2 << ", question " << q2 << ")";
  EXPECT_LT(r1, q1 - 0.5) << "the question bytes are not trained: " << q1 << " vs response " << r1;
  EXPECT_GT(r2, 0.8 * r0) << "without lm_weight the response NLL stays near " << r0 << ", got " << r2;
}

// The alignment ids of the response bytes of verifier_text(q, ref, resp), as a string of digits.
std::string response_ids(const std::string& ref, const std::string& resp) {
  const auto tokens = encode_text(verifier_text("What?", ref, resp), 128);
  const auto ids = verifier_features(tokens);
  EXPECT_EQ(ids.size(), tokens.size());
  const size_t start = tokens.size() - resp.size();
  std::string out;
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (t < start) {
      EXPECT_EQ(ids[t], 0) << "question or reference byte " << t;
    } else {
      out.push_back(char('0' + ids[t]));
    }
  }
  return out;
}

TEST(RewardTraining, AlignmentFeaturesMarkCopiesOfTheReference) {
  // id = 1 + 3 * (prefix run: none / partial / whole) + min(longest run, 2).
  // "\boxed{abc}": the 'b' of boxed is ref[1] (run 1, no prefix: id 2), the other dress bytes are
  // not in the reference (1); then a b c grow a prefix to the whole reference (5, 6, then 9 at c).
  EXPECT_EQ(response_ids("abc", "\\boxed{abc}"), "1211111" "569" "1");
  // A swap never completes a copy; a changed byte breaks the run.
  EXPECT_EQ(response_ids("abc", "bac"), "252");
  EXPECT_EQ(response_ids("abc", "abx"), "561");
  // Only bytes up to t count: the whole copy is marked where it ends, not before.
  EXPECT_EQ(response_ids("12", "x12"), "159");
  // Not verifier_text's layout: no ids.
  const auto other = encode_text("no markers here\nC:abc", 128);
  for (int id : verifier_features(other)) EXPECT_EQ(id, 0);
  // A batch for a model with the channel carries the ids; one with another size is refused.
  model::ModelConfig c = tiny(3);
  c.feature_vocab = kVerifierFeatureVocab;
  auto m = model::Transformer::create(c, 1);
  auto b = verifier_batch(*m, {verifier_text("Q", "7", "7"), verifier_text("Q", "abc", "The answer is abc")});
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->features.size(), b->tokens.size());
  EXPECT_EQ(b->features[size_t(b->seq_len) * 2 - 1], 9);  // row 1's last byte ends a whole copy
  c.feature_vocab = 4;
  auto wrong = model::Transformer::create(c, 1);
  EXPECT_FALSE(verifier_batch(*wrong, {"x"}).is_ok());
  auto plain = model::Transformer::create(tiny(3), 1);
  auto pb = verifier_batch(*plain, {"x"});
  ASSERT_TRUE(pb.is_ok());
  EXPECT_TRUE(pb->features.empty());
}

TEST(RewardTraining, StepsRejectMismatchedHeads) {
  auto v = model::Transformer::create(tiny(3), 1);
  auto p = model::Transformer::create(tiny(1), 1);
  model::AdamW ov(*v, {}), op(*p, {});
  EXPECT_FALSE(preference_train_step(*v, ov, 1e-3f, {{256, 1}}, {{256, 2}}).is_ok());
  EXPECT_FALSE(verifier_train_step(*p, op, 1e-3f, {"x"}, {VerifierLabel::kCorrect}).is_ok());
  EXPECT_FALSE(verifier_train_step(*v, ov, 1e-3f, {"x", "y"}, {VerifierLabel::kCorrect}).is_ok());
}

}  // namespace
}  // namespace troupe::rewards
