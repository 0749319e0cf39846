// Reward model training and scoring (see reward_model.hpp).
#include "rewards/reward_model.hpp"

#include <algorithm>
#include <cmath>

#include "model/tokenizer.hpp"

namespace troupe::rewards {

std::vector<int> encode_text(std::string_view text, int context) {
  const size_t room = size_t(std::max(1, context - 1));
  if (text.size() > room) text = text.substr(text.size() - room);
  std::vector<int> out{model::kBos};
  auto bytes = model::encode_bytes(text);
  out.insert(out.end(), bytes.begin(), bytes.end());
  if (out.size() < 2) out.push_back(model::kSep);  // a sequence needs two tokens
  return out;
}

std::vector<int> encode_preference(std::string_view prompt, std::string_view response, int context) {
  // The prompt gets at most a third of the context: what is judged is the response.
  const size_t prompt_room = size_t(std::max(0, context / 3));
  if (prompt.size() > prompt_room) prompt = prompt.substr(prompt.size() - prompt_room);
  const size_t room = size_t(std::max(0, context - 2 - int(prompt.size())));
  if (response.size() > room) response = response.substr(0, room);
  std::vector<int> out{model::kBos};
  for (int t : model::encode_bytes(prompt)) out.push_back(t);
  out.push_back(model::kSep);
  for (int t : model::encode_bytes(response)) out.push_back(t);
  return out;
}

std::vector<int> verifier_features(const std::vector<int>& tokens) {
  std::vector<int> out(tokens.size(), 0);
  // verifier_text: "Q:<no newline>\nR:<reference>\nC:<response>".
  auto marker = [&](size_t at, int letter) {
    return at + 2 < tokens.size() && tokens[at] == '\n' && tokens[at + 1] == letter && tokens[at + 2] == ':';
  };
  const auto nl = std::find(tokens.begin(), tokens.end(), int('\n'));
  const size_t r0 = size_t(nl - tokens.begin()) + 3;
  if (nl == tokens.end() || !marker(r0 - 3, 'R')) return out;
  const size_t r1 = size_t(std::find(tokens.begin() + long(r0), tokens.end(), int('\n')) - tokens.begin());
  if (!marker(r1, 'C') || r1 == r0) return out;
  const int* ref = tokens.data() + r0;
  const int n = int(r1 - r0);
  // run[j] = length of the common run ending at the current response byte and at ref[j].
  std::vector<int> run(size_t(n), 0), next(size_t(n), 0);
  for (size_t t = r1 + 3; t < tokens.size(); ++t) {
    int longest = 0, prefix = 0;
    for (int j = 0; j < n; ++j) {
      next[size_t(j)] = tokens[t] == ref[j] ? (j > 0 ? run[size_t(j - 1)] : 0) + 1 : 0;
      longest = std::max(longest, next[size_t(j)]);
      if (next[size_t(j)] == j + 1) prefix = j + 1;  // the run reaches back to ref[0]
    }
    run.swap(next);
    out[t] = 1 + 3 * (prefix == 0 ? 0 : prefix < n ? 1 : 2) + std::min(longest, 2);
  }
  return out;
}

Result<model::TokenBatch> verifier_batch(const model::Transformer& m, const std::vector<std::string>& texts) {
  const int fv = m.config().feature_vocab;
  if (fv != 0 && fv != kVerifierFeatureVocab) {
    return Status::invalid_argument("verifier_batch: the model's feature channel has " + std::to_string(fv) +
                                    " ids; the verifier's alignment features need " +
                                    std::to_string(kVerifierFeatureVocab));
  }
  std::vector<std::vector<int>> seqs;
  seqs.reserve(texts.size());
  for (const auto& t : texts) seqs.push_back(encode_text(t, m.config().context));
  auto batch = model::TokenBatch::from_sequences(seqs, m.config().context, m.config().vocab_size);
  if (!batch || fv == 0) return batch;
  batch->features.assign(batch->tokens.size(), 0);
  for (size_t r = 0; r < seqs.size(); ++r) {
    const auto f = verifier_features(seqs[r]);
    std::copy(f.begin(), f.end(), batch->features.begin() + long(r * size_t(batch->seq_len)));
  }
  return batch;
}

Result<std::vector<float>> verifier_logits(model::Transformer& m, const std::vector<std::string>& texts, int batch) {
  std::vector<float> out;
  for (size_t i = 0; i < texts.size(); i += size_t(batch)) {
    std::vector<std::string> part(texts.begin() + long(i),
                                  texts.begin() + long(std::min(texts.size(), i + size_t(batch))));
    auto b = verifier_batch(m, part);
    if (!b) return b.status();
    std::vector<float> s;
    TROUPE_RETURN_IF_ERROR(m.score_forward(*b, &s));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

std::vector<std::array<float, 3>> softmax3(const std::vector<float>& logits) {
  std::vector<std::array<float, 3>> out(logits.size() / 3);
  for (size_t b = 0; b < out.size(); ++b) {
    const float* l = logits.data() + b * 3;
    const float m = std::max({l[0], l[1], l[2]});
    double e[3], s = 0;
    for (int k = 0; k < 3; ++k) s += e[k] = std::exp(double(l[k] - m));
    for (int k = 0; k < 3; ++k) out[b][size_t(k)] = float(e[k] / s);
  }
  return out;
}

Result<double> verifier_train_step(model::Transformer& m, model::AdamW& opt, float lr,
                                   const std::vector<std::string>& texts, const std::vector<VerifierLabel>& labels,
                                   float lm_weight) {
  if (m.config().head_outputs != 3 || texts.empty() || texts.size() != labels.size()) {
    return Status::invalid_argument("verifier_train_step: needs a 3-way head and one label per text");
  }
  auto batch = verifier_batch(m, texts);
  if (!batch) return batch.status();
  std::vector<float> logits, logp;
  const bool lm = lm_weight > 0;
  TROUPE_RETURN_IF_ERROR(m.score_forward(*batch, &logits, lm ? &logp : nullptr));
  auto p = softmax3(logits);
  std::vector<float> d(logits.size());
  double loss = 0;
  const float inv = 1.0f / float(texts.size());
  for (size_t b = 0; b < p.size(); ++b) {
    const int y = int(labels[b]);
    loss -= std::log(std::max(1e-12, double(p[b][size_t(y)])));  // 1e-12: keeps a confident miss finite
    for (int k = 0; k < 3; ++k) d[b * 3 + size_t(k)] = (p[b][size_t(k)] - (k == y ? 1.0f : 0.0f)) * inv;
  }
  std::vector<float> dlogp;
  if (lm) {
    // The prediction at t is of token t+1: weighted where t+1 is a response byte of a right answer.
    // The response starts after "\nC:", the second newline of verifier_text (kept even when the
    // context cut the question's head: the tail is what encode_text keeps).
    const int T = batch->seq_len;
    dlogp.assign(logp.size(), 0.0f);
    std::vector<size_t> at;
    for (int b = 0; b < batch->batch; ++b) {
      if (labels[size_t(b)] != VerifierLabel::kCorrect) continue;
      const int* tok = batch->tokens.data() + size_t(b) * size_t(T);
      int newlines = 0, start = -1;
      for (int t = 0; t < batch->lengths[b] && start < 0; ++t) {
        if (tok[t] == '\n' && ++newlines == 2) start = t + 3;  // past "\nC:"
      }
      for (int t = std::max(start, 1); start >= 0 && t < batch->lengths[b]; ++t) {
        at.push_back(size_t(b) * size_t(T) + size_t(t) - 1);
      }
    }
    for (size_t i : at) dlogp[i] = -lm_weight / float(at.size());
  }
  m.zero_grad();
  TROUPE_RETURN_IF_ERROR(m.score_backward(d, lm ? &dlogp : nullptr));
  auto st = opt.step(m, lr);
  if (!st) return st.status();
  return loss / double(texts.size());
}

Result<double> preference_train_step(model::Transformer& m, model::AdamW& opt, float lr,
                                     const std::vector<std::vector<int>>& chosen,
                                     const std::vector<std::vector<int>>& rejected) {
  if (m.config().head_outputs != 1 || chosen.empty() || chosen.size() != rejected.size()) {
    return Status::invalid_argument("preference_train_step: needs a scalar head and as many rejected as chosen");
  }
  std::vector<std::vector<int>> seqs = chosen;
  seqs.insert(seqs.end(), rejected.begin(), rejected.end());
  auto batch = model::TokenBatch::from_sequences(seqs, m.config().context, m.config().vocab_size);
  if (!batch) return batch.status();
  std::vector<float> s;
  TROUPE_RETURN_IF_ERROR(m.score_forward(*batch, &s));
  const size_t n = chosen.size();
  std::vector<float> d(2 * n);
  double loss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double margin = double(s[i]) - double(s[n + i]);
    // -log sigmoid(x) = log(1 + e^-x), written to stay finite for large |x|.
    loss += margin > 0 ? std::log1p(std::exp(-margin)) : -margin + std::log1p(std::exp(margin));
    const float g = float(1.0 / (1.0 + std::exp(margin)));  // sigmoid(-margin) = -d loss / d margin
    d[i] = -g / float(n);
    d[n + i] = g / float(n);
  }
  m.zero_grad();
  TROUPE_RETURN_IF_ERROR(m.score_backward(d));
  auto st = opt.step(m, lr);
  if (!st) return st.status();
  return loss / double(n);
}

Result<std::vector<float>> score_sequences(model::Transformer& m, const std::vector<std::vector<int>>& seqs,
                                           int batch) {
  std::vector<float> out;
  for (size_t i = 0; i < seqs.size(); i += size_t(batch)) {
    std::vector<std::vector<int>> part(seqs.begin() + long(i),
                                       seqs.begin() + long(std::min(seqs.size(), i + size_t(batch))));
    auto b = model::TokenBatch::from_sequences(part, m.config().context, m.config().vocab_size);
    if (!b) return b.status();
    std::vector<float> s;
    TROUPE_RETURN_IF_ERROR(m.score_forward(*b, &s));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

void VerifierReport::add(VerifierLabel truth, VerifierLabel predicted) {
  const int t = int(truth), p = int(predicted);
  ++n;
  ++confusion[size_t(t)][size_t(p)];
  ++classes[size_t(t)].support;
  if (t == p) {
    ++correct;
    ++classes[size_t(t)].tp;
  } else {
    ++classes[size_t(t)].fn;
    ++classes[size_t(p)].fp;
  }
  if (truth != VerifierLabel::kInvalid) {
    ++equivalence_n;
    equivalence_correct += t == p;
  }
}

Result<std::vector<VerifierLabel>> predict_verifier(model::Transformer& m,
                                                    const std::vector<VerifierExample>& examples) {
  std::vector<std::string> texts;
  texts.reserve(examples.size());
  for (const auto& e : examples) texts.push_back(verifier_text(e.question, e.reference, e.response));
  auto logits = verifier_logits(m, texts);
  if (!logits) return logits.status();
  auto p = softmax3(*logits);
  std::vector<VerifierLabel> out;
  out.reserve(p.size());
  for (const auto& row : p) out.push_back(VerifierLabel(std::max_element(row.begin(), row.end()) - row.begin()));
  return out;
}

Result<VerifierReport> evaluate_verifier(model::Transformer& m, const std::vector<VerifierExample>& examples) {
  auto predicted = predict_verifier(m, examples);
  if (!predicted) return predicted.status();
  VerifierReport r;
  for (size_t i = 0; i < examples.size(); ++i) r.add(examples[i].label, (*predicted)[i]);
  return r;
}

ScoringModel::ScoringModel(model::Transformer model)
    : model_(std::move(model)),
      kind_(model_.config().head_outputs == 3 ? RewardModelKind::kVerifier : RewardModelKind::kPreference) {}

Result<std::vector<std::array<float, 3>>> ScoringModel::judge(const std::vector<std::string>& questions,
                                                              const std::vector<std::string>& references,
                                                              const std::vector<std::string>& responses) {
  if (kind_ != RewardModelKind::kVerifier || !model_.config().scalar_head) {
    return Status::invalid_argument("this checkpoint is not a verifier (it needs a 3-way score head)");
  }
  if (questions.size() != responses.size() || references.size() != responses.size()) {
    return Status::invalid_argument("judge: questions, references and responses differ in number");
  }
  std::vector<std::string> texts;
  for (size_t i = 0; i < responses.size(); ++i) texts.push_back(verifier_text(questions[i], references[i], responses[i]));
  std::lock_guard lock(mu_);
  if (texts.empty()) return std::vector<std::array<float, 3>>{};
  auto logits = verifier_logits(model_, texts);
  if (!logits) return logits.status();
  return softmax3(*logits);
}

Result<std::vector<float>> ScoringModel::preference(const std::vector<std::string>& prompts,
                                                    const std::vector<std::string>& responses) {
  if (kind_ != RewardModelKind::kPreference || !model_.config().scalar_head) {
    return Status::invalid_argument("this checkpoint is not a preference model (it needs a scalar score head)");
  }
  if (prompts.size() != responses.size()) return Status::invalid_argument("preference: prompts and responses differ in number");
  std::vector<std::vector<int>> seqs;
  for (size_t i = 0; i < responses.size(); ++i) {
    seqs.push_back(encode_preference(prompts[i], responses[i], model_.config().context));
  }
  std::lock_guard lock(mu_);
  if (seqs.empty()) return std::vector<float>{};
  return score_sequences(model_, seqs);
}

}  // namespace troupe::rewards
