// The policy model's shape (ModelConfig) and its JSON form, which checkpoints
// store beside the weights as config.json. Plain data; safe to copy between
// threads.
#pragma once

#include <string>

#include "base/status.hpp"

namespace troupe::model {

struct ModelConfig {
  int vocab_size = 260;   // Default: 256 bytes + BOS, EOS, PAD, SEP (model/tokenizer.hpp)
  int d_model = 128;      // Default: 128 (model (a) of ANCHORS.md)
  int n_layers = 4;       // Default: 4
  int n_heads = 4;        // Default: 4
  int context = 128;      // Default: 128 tokens, prompt + response
  bool scalar_head = false;  // a score head on the final hidden state (verifier/preference models). Default: off
  int head_outputs = 1;      // K outputs of the score head: 1 = a scalar (preference/reward), 3 = the
                             // verifier's correct/incorrect/invalid logits. Default: 1 (the original scalar head)
  // What the score head reads: "last" = the final hidden state at the last real token (the
  // original head); "pool" = that state beside an attention-pooled mean of every real token's
  // state (one learned query, zero at initialisation = the plain mean), so a judgement that is
  // an OR over positions ("is any byte of the answer off?") need not be gathered into one token.
  // Default: "last" (checkpoints written before the key existed have it).
  std::string score_readout = "last";
  // A second input channel beside the bytes: a feature id per token in [0, feature_vocab), whose
  // learned embedding (wfe, (feature_vocab, d), zero at initialisation) is added to the token's
  // and position's. The verifier feeds it how each answer byte lines up with the reference
  // (rewards/reward_model.hpp verifier_features). 0 = no channel. Default: 0 (checkpoints written
  // before the key existed have none).
  int feature_vocab = 0;

  // Errors: a non-positive size, d_model not divisible by n_heads, vocab below 260, head_outputs < 1,
  // a score_readout other than "last" or "pool", feature_vocab outside [0, 4096].
  Status validate() const;
  // Parameters, embeddings included (the tied output head counts once).
  long num_parameters() const;
  // Non-embedding parameters + output head, as ANCHORS.md counts them: the N of
  // FLOPs/token = 6N + 12·L·d·T (forward + backward).
  double flops_per_token(int seq_len) const;

  std::string to_json() const;
  // Errors: malformed JSON, a missing or mistyped key (named), an invalid shape.
  static Result<ModelConfig> from_json(const std::string& text, const std::string& origin);

  bool pooled_readout() const { return scalar_head && score_readout == "pool"; }

  bool operator==(const ModelConfig&) const = default;
};

}  // namespace troupe::model
