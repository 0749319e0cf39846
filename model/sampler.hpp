// The batched sampler the policy workers run: prompts in, responses out with
// the behaviour log-probability of every sampled token and the policy version
// that produced it. All rows decode in lock-step through a KV cache (or, for
// comparison, by a full forward over the whole prefix each step); each row
// has its own random stream seeded from (seed, row), so a batch is reproducible.
//
// Weight swap: stage_weights() may be called from any thread while sample()
// runs; the new weights are installed at the next decode-step boundary (the
// cache keeps the keys/values computed so far, as in-flight updates do) and
// later tokens record the new version. Everything else: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model/transformer.hpp"

namespace troupe::model {

struct SamplingParams {
  float temperature = 1.0f;       // 0 = greedy. Default: 1
  float top_p = 1.0f;             // nucleus mass kept, in (0, 1]. Default: 1 (off)
  int max_new_tokens = 64;        // Default: 64; also bounded by the context
  std::vector<std::string> stop;  // stop when the response text ends with one (kept in the text). Default: none
  uint64_t seed = 0;              // Default: 0
  bool use_kv_cache = true;       // false recomputes the whole prefix each step (benchmarks). Default: true
  // Called at every decode-step boundary (step = position being fed), before
  // staged weights are installed: where a worker may stage new weights. Default: none
  std::function<void(int step)> on_step;
};

enum class StopReason { kEos, kStopString, kMaxTokens, kContext };

struct SampleResult {
  std::vector<int> tokens;         // response tokens, EOS included when sampled
  std::vector<float> logprobs;     // behaviour log-prob of each token: log softmax(logits/T)
                                   // (temperature applied, before top-p truncation; T=1 when greedy)
  std::vector<uint64_t> versions;  // policy version whose weights sampled each token
  std::string text;                // response bytes (specials dropped)
  StopReason stop = StopReason::kMaxTokens;
};

class Sampler {
 public:
  explicit Sampler(Transformer model) : model_(std::move(model)) {}

  // Samples one response per prompt (token ids, e.g. encode_prompt(text)).
  // Errors: empty batch, an empty or over-long prompt, bad parameters.
  [[nodiscard]] Result<std::vector<SampleResult>> sample(const std::vector<std::vector<int>>& prompts,
                                                         const SamplingParams& params);

  // Thread-safe: installs `params` (the contiguous buffer of Transformer::parameters())
  // at the next decode step, or at the start of the next sample().
  void stage_weights(std::vector<float> params, uint64_t version);

  Transformer& model() { return model_; }

 private:
  Status install_staged();

  Transformer model_;
  std::mutex staged_mu_;
  std::optional<std::pair<std::vector<float>, uint64_t>> staged_;  // guarded by staged_mu_
};

}  // namespace troupe::model
