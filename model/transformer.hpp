// The policy: a GPT-2-style decoder-only transformer (pre-LayerNorm, learned
// positions, GELU MLP 4x, tied input/output embeddings) on the CPU kernels,
// plus an optional scalar head for verifier and preference models.
//
// ---- The API the RL learner and the policy workers use --------------------
//
//   auto m = Transformer::create(cfg, seed);               // or load_checkpoint(dir)
//   TokenBatch b = TokenBatch::from_pairs(prompts, responses, cfg.context);
//   (a) m->forward(b, &logp)      logp (B,T): logp[b,t] = log p(tokens[b,t+1] | tokens[b,<=t])
//                                 under the current weights; 0 where t+1 is not a real token.
//                                 b.loss_weight (B,T) is 1 exactly where tokens[b,t+1] is a
//                                 response token (prompt tokens are excluded), so the learner
//                                 reads response log-probs as logp[i] where loss_weight[i] > 0.
//   (b) m->backward(dlogp)        dlogp (B,T) = d(loss)/d(logp); gradients accumulate (+=)
//                                 into m->gradients() until m->zero_grad(). Any objective
//                                 written on per-token log-probs (SFT NLL, GRPO, PPO-clip
//                                 with importance ratios, OREAL) is a dlogp.
//       weighted_nll(b, logp, &dlogp) is the supervised one: mean NLL over weighted tokens.
//   (c) AdamW opt(*m, AdamWConfig{...}); opt.step(*m, lr)   (model/optimizer.hpp):
//                                 global-norm clipping, AdamW, version += 1.
//   (d) m->parameters()           every weight as ONE contiguous float span (layout:
//                                 m->tensors(), names as in the checkpoint), and
//       m->version()              the policy version (bumped by each optimiser step).
//       m->load_parameters(span, version)   imports a broadcast buffer.
//   (e) Sampler (model/sampler.hpp): prompts -> tokens + behaviour log-probs per token,
//                                 KV cache, temperature, top-p, stop strings, seed;
//                                 stage_weights(buffer, version) swaps weights between
//                                 decode steps and each token records the version it used.
//   Score head (cfg.scalar_head, cfg.head_outputs = K): score_forward(b, &scores) reads
//   the final hidden state h at each row's last token and writes scores (B,K) =
//   h·W^T + bias; score_backward(dscores (B,K)) accumulates gradients. K = 1 is the
//   scalar reward/preference head; K = 3 the verifier's correct/incorrect/invalid logits.
//   Tensors: score_head.weight (d) and score_head.bias (1) when K = 1 (the original
//   layout, so older checkpoints load), score_head.weight (K,d) and .bias (K) otherwise.
//   cfg.score_readout = "pool": the head reads [pooled, h] where pooled = sum_t a_t h_t over
//   the row's real tokens, a = softmax(h_t . q) with a learned query q (score_pool.query (d),
//   zero at init: the mean); then score_head.weight is (K,2d) for every K.
//   cfg.feature_vocab = F > 0: the input of token t is wte[token] + wpe[t] + wfe[feature id]
//   (batch.features), wfe (F,d) the last tensor, zero at init. The GPU path does not have it
//   (use_device refuses such a model); decode() adds wfe[0] (no ids while sampling).
//
// Threads: on the CPU, forward() and backward() split a batch's rows between
// kernels::cpu::cpu_threads() threads, each running the whole model on its
// share single-threaded (one join per call rather than a barrier per kernel,
// which stalls whenever the OS deschedules a thread on a busy machine); the
// shards' gradients are summed, so the result equals the serial one up to the
// order of float additions. Other calls run serially with multithreaded kernels.
//
// Invariants: parameters and gradients are single contiguous buffers of
// config().num_parameters() floats laid out as tensors(). forward() caches the
// activations that backward()/score_backward() read, so calls alternate
// forward -> backward on the same batch. Thread-safety: a Transformer is used
// by one thread at a time; decode() is const and may run from several threads
// on one model as long as nobody writes the weights, each with its own KvCache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model/config.hpp"

namespace troupe::model {

// A batch of variable-length sequences, right-padded with kPad to seq_len.
struct TokenBatch {
  int batch = 0;                   // B
  int seq_len = 0;                 // T = longest sequence
  std::vector<int> tokens;         // (B,T)
  std::vector<int> lengths;        // (B) real tokens per row
  std::vector<float> loss_weight;  // (B,T) weight of the prediction at t (of token t+1); 0 on prompts/padding
  // (B,T) or empty: a feature id per token in [0, config.feature_vocab), for models with the feature
  // channel (ModelConfig::feature_vocab; empty = id 0 everywhere). Set by the caller after building.
  std::vector<int> features;

  // Sequences trained on in full (every next-token prediction weighted 1).
  // Errors: an empty batch, a sequence shorter than 2 or longer than context, a token out of range.
  static Result<TokenBatch> from_sequences(const std::vector<std::vector<int>>& seqs, int context, int vocab_size);
  // prompt[i] followed by response[i]; only the response's tokens are weighted.
  static Result<TokenBatch> from_pairs(const std::vector<std::vector<int>>& prompts,
                                       const std::vector<std::vector<int>>& responses, int context, int vocab_size);
};

// Mean negative log-likelihood over weighted predictions: sum(w·-logp)/sum(w),
// and its gradient d/dlogp = -w/sum(w) written to *dlogp (B,T). 0 when sum(w) = 0.
double weighted_nll(const TokenBatch& batch, const std::vector<float>& logp, std::vector<float>* dlogp);

// One named tensor inside the contiguous parameter buffer.
struct ParamTensor {
  std::string name;            // e.g. "h.0.attn.c_attn.weight" (GPT-2 / Hugging Face names)
  std::vector<int64_t> shape;
  std::size_t offset = 0;      // in floats
  std::size_t numel = 0;
  bool decay = false;          // weight decay applies (matrices and embeddings, not norms/biases)
};

struct DeviceKvCache;  // model/transformer_state.hpp

// Keys and values of every layer for a batch of rows being decoded.
struct KvCache {
  int rows = 0, max_len = 0;
  std::vector<float> k, v;  // (L, rows, max_len, C); empty when the cache lives on the device
  std::vector<int> len;     // (rows) positions filled
  // Scratch for decode(), sized once.
  std::vector<float> x, ln, qkv, atty, fch, fch_gelu, tmp, mean, rstd;
  std::vector<int> pos;
  std::shared_ptr<DeviceKvCache> device;  // keys, values and scratch on the GPU; null on the CPU path
};

class Transformer {
 public:
  // GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2L),
  // LayerNorm weight 1 and bias 0, seeded (same seed -> same weights).
  static Result<Transformer> create(const ModelConfig& config, uint64_t seed);

  Transformer(Transformer&&) noexcept;
  Transformer& operator=(Transformer&&) noexcept;
  ~Transformer();

  const ModelConfig& config() const { return config_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  // A mutable span may change the weights: the device copy is refreshed before its next use.
  std::span<float> parameters() {
    ++weights_epoch_;
    return params_;
  }
  std::span<const float> parameters() const { return params_; }
  std::span<float> gradients() { return grads_; }
  std::span<const float> gradients() const { return grads_; }
  uint64_t version() const { return version_; }
  void set_version(uint64_t v) { version_ = v; }

  // Replaces every weight. Errors: a buffer of the wrong size.
  [[nodiscard]] Status load_parameters(std::span<const float> params, uint64_t version);

  // (a) per-token log-probs; see the file comment. Errors: a batch the config cannot hold.
  [[nodiscard]] Status forward(const TokenBatch& batch, std::vector<float>* logp);
  // (b) dlogp (B,T) for the batch of the last forward(); gradients +=.
  [[nodiscard]] Status backward(const std::vector<float>& dlogp);
  void zero_grad();

  // Score head: scores (B,K) from the final hidden state at each row's last real token
  // (and the pool, see score_readout). With `logp`, the same trunk pass also writes the
  // per-token log-probs (B,T) of forward(), for an auxiliary language-model loss.
  // Errors: the config has no scalar head.
  [[nodiscard]] Status score_forward(const TokenBatch& batch, std::vector<float>* scores,
                                     std::vector<float>* logp = nullptr);
  // dscores (B,K) for the batch of the last score_forward(), and dlogp (B,T) when that
  // call wrote logp; gradients +=. Errors: sizes that do not match the last call.
  [[nodiscard]] Status score_backward(const std::vector<float>& dscores, const std::vector<float>* dlogp = nullptr);

  // Next-token logits (B, vocab) at each row's last real token, by a full
  // forward over the batch (no cache: what the cache is compared against).
  [[nodiscard]] Status last_logits(const TokenBatch& batch, std::vector<float>* logits);

  // Makes a cache for `rows` sequences of up to `max_len` (<= context) tokens;
  // on the device when the model is (and the device has room), else in host memory.
  KvCache make_cache(int rows, int max_len) const;
  // Appends tokens[r] at position cache.len[r] for every row r (all rows step
  // together) and writes next-token logits (rows, vocab) to host memory.
  // REQUIRES: cache from make_cache of this model; cache.len[r] < cache.max_len.
  // Errors: only from the device (a failed launch or copy).
  [[nodiscard]] Status decode(KvCache& cache, const int* tokens, float* logits) const;

  // ---- the GPU path (model/transformer_device.cpp) ----
  // use_device(true, k) mirrors the weights on CUDA device k (0 by default); from then on
  // forward(), backward(), make_cache() and decode() run there (score_forward,
  // score_backward and last_logits stay on the CPU). The host buffers stay the
  // source of truth: the device copy of the weights is refreshed before the
  // next device call whenever they may have changed (load_parameters or a
  // mutable parameters() span), and backward() adds the device's gradients into
  // gradients(), so optimisers, all-reduces and checkpoints work unchanged.
  // Each device call first makes device k current on the calling thread, so the
  // model may be used from any thread, and models on different devices from one.
  // Errors: no CUDA device visible (the model stays on the CPU), k not a visible
  // device, out of memory.
  [[nodiscard]] Status use_device(bool on, int ordinal = 0);
  bool on_device() const { return device_ != nullptr; }

 private:
  Transformer();
  struct Layer;       // offsets of one block's tensors in params_/grads_ (transformer_state.hpp)
  struct Activations; // everything forward() keeps for backward()
  struct Device;      // the GPU mirror: weights, gradients, activations (transformer_state.hpp)
  struct Shard;       // one thread's rows of a data-parallel forward/backward (transformer_state.hpp)
  void bind();
  void ensure_activations(Activations& a, int B, int T) const;
  void prepare_inputs(const TokenBatch& batch, Activations& a) const;  // tokens, positions, targets, features
  Status check_features(const TokenBatch& batch, const char* where) const;  // ids in range, one per token
  void run_trunk(const TokenBatch& batch, Activations& a) const;  // activations up to the final LayerNorm
  void head_forward(Activations& a, float* logp) const;  // logits and log-probs of a's batch
  // Gradients of a's batch += into G (laid out as grads_): from dlogp, or from d(final LayerNorm output).
  void head_backward(Activations& a, const float* dlogp, float* G) const;
  void head_backward_to_lnf(Activations& a, const float* dlogp, float* G) const;  // a.dlnf = d(final LN output)
  void backward_trunk(Activations& a, const float* dlnf, float* G) const;
  int shard_count(int rows) const;  // threads a forward over `rows` rows uses (0: the serial path)
  void run_shards(int S, const std::function<void(Shard&)>& work);
  Status device_sync_weights() const;
  Status device_forward(const TokenBatch& batch, std::vector<float>* logp);
  Status device_backward(const std::vector<float>& dlogp);
  Status device_make_cache(KvCache& cache) const;
  Status device_decode(KvCache& cache, const int* tokens, float* logits) const;

  ModelConfig config_;
  std::vector<ParamTensor> tensors_;
  std::vector<float> params_, grads_;
  uint64_t version_ = 0;
  std::unique_ptr<Activations> acts_;
  std::vector<Layer> layers_;  // offsets of each block's tensors; built by bind()
  std::size_t wte_ = 0, wpe_ = 0, lnfw_ = 0, lnfb_ = 0, score_w_ = 0, score_b_ = 0, score_q_ = 0, wfe_ = 0;
  int cur_B_ = 0, cur_T_ = 0;       // shape of the last forward's batch
  std::vector<int> last_lengths_;  // of the last score_forward's batch
  bool score_with_logp_ = false;   // the last score_forward also wrote log-probs
  std::vector<float> features_;    // (B,F) what the score head read in the last score_forward
  std::vector<float> pool_alpha_;  // (B,T) the pooled readout's attention weights, same call
  std::vector<Shard> shards_;      // per-thread state of the data-parallel CPU path
  int shards_used_ = 0;            // shards of the last forward, 0 = serial (backward follows it)
  uint64_t weights_epoch_ = 0;     // bumped whenever the host weights may have changed
  std::unique_ptr<Device> device_; // null on the CPU path
  bool last_forward_on_device_ = false;  // which path backward() must follow
};

// A copy of `m` (a scalar-head model) whose score head reads `readout` ("last" or "pool"),
// for continuing a trained verifier with another readout: the trunk carries over, and the
// head's weights on the last token's state keep their values while those on the pooled mean
// start at zero (last -> pool: the scores are unchanged until training moves them), or are
// dropped (pool -> last). The copy keeps m's version. Errors: m has no score head, an
// unknown readout.
Result<Transformer> with_score_readout(const Transformer& m, const std::string& readout);

// A copy of `m` with a feature channel of `feature_vocab` ids (0: none): every other tensor
// carries over; the feature embedding starts at zero (or keeps the rows both have), so the
// scores and log-probs are unchanged until training moves it. Keeps m's version.
// Errors: feature_vocab outside [0, 4096].
Result<Transformer> with_feature_vocab(const Transformer& m, int feature_vocab);

// Puts `model` where `device` says: "cpu" (stays), "cuda" (GPU `gpu`, the first when gpu < 0; an
// error when it is not visible or placing fails), "auto" (that GPU when any is visible, else the
// CPU). Returns "cpu" or "cuda:<ordinal>". Errors also name an unknown `device`.
Result<std::string> place_model(Transformer& model, const std::string& device, int gpu = -1);

}  // namespace troupe::model
