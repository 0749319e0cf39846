// Reward models on the policy's transformer trunk: the verifier (a three-way
// head: correct / incorrect / invalid, model/transformer.hpp head_outputs = 3)
// and the Bradley-Terry preference model (a scalar head, head_outputs = 1).
//
// Inputs are byte strings: the verifier reads verifier_text(question, reference,
// response) (rewards/verifier_data.hpp); the preference model reads
// preference_text(prompt, response). Text longer than the context keeps its
// tail (the verifier's answer) or the prompt's tail and the response's head
// (the preference model), so any input scores.
//
// Training steps are plain functions over a Transformer and its AdamW; the
// ScoringModel wrapper serialises inference with a mutex, so one loaded model
// may serve many threads (the HTTP server's).
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "model/optimizer.hpp"
#include "model/transformer.hpp"
#include "rewards/verifier_data.hpp"

namespace troupe::rewards {

enum class RewardModelKind { kVerifier, kPreference };

// The preference model's input: the tail of the prompt, SEP, the response.
// Bytes only; the separator is the tokenizer's SEP, inserted by encode_pair.
std::vector<int> encode_preference(std::string_view prompt, std::string_view response, int context);
// BOS + the text's bytes, keeping the tail when it does not fit.
std::vector<int> encode_text(std::string_view text, int context);

// The verifier's alignment channel (model::ModelConfig::feature_vocab = kVerifierFeatureVocab): a
// feature id per token of an encoded verifier_text saying how the answer lines up with the
// reference, so that a small model need not find a one-byte difference by attention alone. For
// each byte t of the response (after "\nC:"), from the response's bytes up to t and the reference:
//   L = the longest run ending at t that appears anywhere in the reference (0 = a byte it lacks),
//   P = the longest run ending at t that is a prefix of the reference (P = |reference|: a whole
//       copy of it ends at t);
// id = 1 + 3 * (P == 0 ? 0 : P < |reference| ? 1 : 2) + min(L, 2); 0 on every other token.
// Only bytes up to t enter t's id, as the model reads left to right: the ids tell nothing about
// bytes yet to come. They are inputs: the model still judges dress, number forms and order.
// A text that is not verifier_text's layout gets 0 everywhere. Pure.
inline constexpr int kVerifierFeatureVocab = 10;
std::vector<int> verifier_features(const std::vector<int>& tokens);

// Verifier inputs as a batch: encode_text of each text, with verifier_features when the model
// has the channel. Errors: no texts, a feature channel of another size than kVerifierFeatureVocab.
Result<model::TokenBatch> verifier_batch(const model::Transformer& model, const std::vector<std::string>& texts);
// The verifier's logits (B,3) for verifier texts, in batches of at most `batch` rows.
Result<std::vector<float>> verifier_logits(model::Transformer& model, const std::vector<std::string>& texts,
                                           int batch = 64);

// Softmax probabilities (B,3) from verifier logits (B,3).
std::vector<std::array<float, 3>> softmax3(const std::vector<float>& logits);

// One cross-entropy step of the verifier on (text, label) pairs; returns the mean
// classification loss. With lm_weight > 0 the step adds lm_weight x the mean next-byte
// loss over the response bytes (after the second newline of verifier_text) of the rows
// labelled correct: their answer is predictable by copying the reference before it, so
// the loss asks on every byte for the copy-and-compare circuit the judgement needs.
// (Wrong answers are left out: their changed byte cannot be predicted, only memorised.)
// REQUIRES: model has head_outputs == 3; texts.size() == labels.size() > 0.
Result<double> verifier_train_step(model::Transformer& model, model::AdamW& opt, float lr,
                                   const std::vector<std::string>& texts, const std::vector<VerifierLabel>& labels,
                                   float lm_weight = 0.0f);

// One Bradley-Terry step on preference pairs: loss = mean -log sigmoid(s(chosen) - s(rejected)).
// REQUIRES: model has head_outputs == 1; chosen.size() == rejected.size() > 0 (token sequences).
Result<double> preference_train_step(model::Transformer& model, model::AdamW& opt, float lr,
                                     const std::vector<std::vector<int>>& chosen,
                                     const std::vector<std::vector<int>>& rejected);

// Scores of token sequences (B,K) in batches of at most `batch` rows.
Result<std::vector<float>> score_sequences(model::Transformer& model, const std::vector<std::vector<int>>& seqs,
                                           int batch = 64);

// Per-class counts and the figures derived from them.
struct ClassReport {
  int64_t tp = 0, fp = 0, fn = 0, support = 0;
  double precision() const { return tp + fp ? double(tp) / double(tp + fp) : 0.0; }
  double recall() const { return tp + fn ? double(tp) / double(tp + fn) : 0.0; }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
};
struct VerifierReport {
  int64_t n = 0, correct = 0;
  std::array<ClassReport, 3> classes;
  std::array<std::array<int64_t, 3>, 3> confusion{};  // [truth][predicted]
  // Answer equivalence only: examples labelled correct or incorrect, judged right.
  int64_t equivalence_n = 0, equivalence_correct = 0;
  double accuracy() const { return n ? double(correct) / double(n) : 0.0; }
  double equivalence_accuracy() const { return equivalence_n ? double(equivalence_correct) / double(equivalence_n) : 0.0; }
  void add(VerifierLabel truth, VerifierLabel predicted);
};

// The verifier's most probable label per example, in order.
Result<std::vector<VerifierLabel>> predict_verifier(model::Transformer& model,
                                                    const std::vector<VerifierExample>& examples);

// Runs the verifier on examples and tallies the report.
Result<VerifierReport> evaluate_verifier(model::Transformer& model, const std::vector<VerifierExample>& examples);

// A loaded reward model that many threads may call (one at a time inside).
class ScoringModel {
 public:
  explicit ScoringModel(model::Transformer model);
  RewardModelKind kind() const { return kind_; }
  const model::ModelConfig& config() const { return model_.config(); }
  // Verifier: P(correct), P(incorrect), P(invalid) per item. Errors: not a verifier.
  Result<std::vector<std::array<float, 3>>> judge(const std::vector<std::string>& questions,
                                                  const std::vector<std::string>& references,
                                                  const std::vector<std::string>& responses);
  // Preference: a scalar per (prompt, response). Errors: not a preference model.
  Result<std::vector<float>> preference(const std::vector<std::string>& prompts,
                                        const std::vector<std::string>& responses);

 private:
  std::mutex mu_;
  model::Transformer model_;
  RewardModelKind kind_;
};

}  // namespace troupe::rewards
