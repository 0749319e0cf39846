// The transformer's forward, backward, scalar head and cached decoding
// (model/transformer.hpp), as a sequence of kernel calls in the style of llm.c.
#include "model/transformer.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>

#include "kernels/attention.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/logprob.hpp"
#include "kernels/matmul.hpp"
#include "model/tokenizer.hpp"
#include "model/transformer_state.hpp"

namespace troupe::model {

namespace k = troupe::kernels::cpu;

// ---- batches ----------------------------------------------------------------

namespace {

Status check_sequence(const std::vector<int>& seq, std::size_t i, int context, int vocab_size) {
  if (seq.empty()) return Status::invalid_argument("sequence " + std::to_string(i) + " is empty");
  if (int(seq.size()) > context) {
    return Status::out_of_range("sequence " + std::to_string(i) + " has " + std::to_string(seq.size()) +
                                " tokens, more than the context of " + std::to_string(context));
  }
  for (int t : seq) {
    if (t < 0 || t >= vocab_size) {
      return Status::out_of_range("sequence " + std::to_string(i) + " holds token " + std::to_string(t) +
                                  " outside [0, " + std::to_string(vocab_size) + ")");
    }
  }
  return Status::ok();
}

Result<TokenBatch> build_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& weight_from,
                               int context, int vocab_size) {
  if (seqs.empty()) return Status::invalid_argument("TokenBatch: no sequences");
  TokenBatch b;
  b.batch = int(seqs.size());
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    TROUPE_RETURN_IF_ERROR(check_sequence(seqs[i], i, context, vocab_size));
    b.seq_len = std::max(b.seq_len, int(seqs[i].size()));
  }
  const std::size_t n = std::size_t(b.batch) * b.seq_len;
  b.tokens.assign(n, kPad);
  b.loss_weight.assign(n, 0.0f);
  b.lengths.resize(b.batch);
  for (int r = 0; r < b.batch; ++r) {
    const auto& s = seqs[r];
    b.lengths[r] = int(s.size());
    std::copy(s.begin(), s.end(), b.tokens.begin() + std::size_t(r) * b.seq_len);
    // The prediction at t is of token t+1; weighted when t+1 is a trained token.
    for (int t = 0; t + 1 < int(s.size()); ++t) {
      if (t + 1 >= weight_from[r]) b.loss_weight[std::size_t(r) * b.seq_len + t] = 1.0f;
    }
  }
  return b;
}

// Rows [row0, row0 + rows) of `b` as a batch of their own, trimmed to their longest sequence.
TokenBatch rows_of(const TokenBatch& b, int row0, int rows) {
  TokenBatch s;
  s.batch = rows;
  s.lengths.assign(b.lengths.begin() + row0, b.lengths.begin() + row0 + rows);
  s.seq_len = std::max(1, *std::max_element(s.lengths.begin(), s.lengths.end()));
  s.tokens.resize(std::size_t(rows) * s.seq_len);
  s.loss_weight.resize(s.tokens.size());
  for (int r = 0; r < rows; ++r) {
    const std::size_t from = std::size_t(row0 + r) * b.seq_len, to = std::size_t(r) * s.seq_len;
    std::copy_n(b.tokens.begin() + long(from), s.seq_len, s.tokens.begin() + long(to));
    std::copy_n(b.loss_weight.begin() + long(from), s.seq_len, s.loss_weight.begin() + long(to));
  }
  if (!b.features.empty()) {
    s.features.resize(s.tokens.size());
    for (int r = 0; r < rows; ++r) {
      std::copy_n(b.features.begin() + long(std::size_t(row0 + r) * b.seq_len), s.seq_len,
                  s.features.begin() + long(std::size_t(r) * s.seq_len));
    }
  }
  return s;
}

// Shards [0, S) = near-equal row ranges of `batch`, each with its rows and activations.
// (A template so that it can name Transformer's private Shard through deduction.)
template <class Shards>
void split_rows(Shards& shards, const TokenBatch& batch, int S) {
  if (shards.size() < std::size_t(S)) shards.resize(S);
  for (auto& sh : shards) {
    if (!sh.acts) sh.acts = std::make_unique<typename decltype(sh.acts)::element_type>();
  }
  for (int s = 0; s < S; ++s) {
    shards[s].row0 = int(long(batch.batch) * s / S);
    shards[s].rows = int(long(batch.batch) * (s + 1) / S) - shards[s].row0;
    shards[s].batch = rows_of(batch, shards[s].row0, shards[s].rows);
  }
}

}  // namespace

Result<TokenBatch> TokenBatch::from_sequences(const std::vector<std::vector<int>>& seqs, int context,
                                              int vocab_size) {
  return build_batch(seqs, std::vector<int>(seqs.size(), 1), context, vocab_size);
}

Result<TokenBatch> TokenBatch::from_pairs(const std::vector<std::vector<int>>& prompts,
                                          const std::vector<std::vector<int>>& responses, int context,
                                          int vocab_size) {
  if (prompts.size() != responses.size()) {
    return Status::invalid_argument("TokenBatch::from_pairs: " + std::to_string(prompts.size()) + " prompts but " +
                                    std::to_string(responses.size()) + " responses");
  }
  std::vector<std::vector<int>> seqs(prompts.size());
  std::vector<int> from(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    seqs[i] = prompts[i];
    seqs[i].insert(seqs[i].end(), responses[i].begin(), responses[i].end());
    from[i] = int(prompts[i].size());
  }
  return build_batch(seqs, from, context, vocab_size);
}

double weighted_nll(const TokenBatch& batch, const std::vector<float>& logp, std::vector<float>* dlogp) {
  double wsum = 0.0, loss = 0.0;
  for (std::size_t i = 0; i < batch.loss_weight.size(); ++i) {
    wsum += batch.loss_weight[i];
    loss -= double(batch.loss_weight[i]) * logp[i];
  }
  dlogp->assign(batch.loss_weight.size(), 0.0f);
  if (wsum == 0.0) return 0.0;
  for (std::size_t i = 0; i < batch.loss_weight.size(); ++i) (*dlogp)[i] = float(-batch.loss_weight[i] / wsum);
  return loss / wsum;
}

// ---- the model --------------------------------------------------------------

Transformer::Transformer() : acts_(std::make_unique<Activations>()) {}
Transformer::Transformer(Transformer&&) noexcept = default;
Transformer& Transformer::operator=(Transformer&&) noexcept = default;
Transformer::~Transformer() = default;

Result<Transformer> Transformer::create(const ModelConfig& config, uint64_t seed) {
  TROUPE_RETURN_IF_ERROR(config.validate());
  Transformer m;
  m.config_ = config;
  const int64_t C = config.d_model, V = config.vocab_size, L = config.n_layers;
  enum Init { kNormal, kResidual, kWpe, kOnes, kZeros };
  std::vector<Init> inits;
  std::size_t off = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool decay, Init init) {
    std::size_t n = 1;
    for (int64_t d : shape) n *= std::size_t(d);
    m.tensors_.push_back({std::move(name), std::move(shape), off, n, decay});
    inits.push_back(init);
    off += n;
  };
  add("wte", {V, C}, true, kNormal);
  add("wpe", {config.context, C}, true, kWpe);
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add(p + "ln_1.weight", {C}, false, kOnes);
    add(p + "ln_1.bias", {C}, false, kZeros);
    add(p + "attn.c_attn.weight", {3 * C, C}, true, kNormal);
    add(p + "attn.c_attn.bias", {3 * C}, false, kZeros);
    add(p + "attn.c_proj.weight", {C, C}, true, kResidual);
    add(p + "attn.c_proj.bias", {C}, false, kZeros);
    add(p + "ln_2.weight", {C}, false, kOnes);
    add(p + "ln_2.bias", {C}, false, kZeros);
    add(p + "mlp.c_fc.weight", {4 * C, C}, true, kNormal);
    add(p + "mlp.c_fc.bias", {4 * C}, false, kZeros);
    add(p + "mlp.c_proj.weight", {C, 4 * C}, true, kResidual);
    add(p + "mlp.c_proj.bias", {C}, false, kZeros);
  }
  add("ln_f.weight", {C}, false, kOnes);
  add("ln_f.bias", {C}, false, kZeros);
  if (config.scalar_head) {
    // K = 1 keeps the original shapes (d) and (1), so older checkpoints load unchanged.
    const int64_t K = config.head_outputs;
    if (config.pooled_readout()) {
      // Features [pooled (C), last (C)]; the pool's query starts at zero: a plain mean.
      add("score_head.weight", {K, 2 * C}, true, kNormal);
      add("score_head.bias", {K}, false, kZeros);
      add("score_pool.query", {C}, false, kZeros);
    } else if (K == 1) {
      add("score_head.weight", {C}, true, kNormal);
      add("score_head.bias", {1}, false, kZeros);
    } else {
      add("score_head.weight", {K, C}, true, kNormal);
      add("score_head.bias", {K}, false, kZeros);
    }
  }
  // Last, so that the other tensors keep their offsets; zero: a new channel changes nothing until trained.
  if (config.feature_vocab > 0) add("wfe", {config.feature_vocab, C}, false, kZeros);
  if (long(off) != config.num_parameters()) {
    return Status::internal("parameter count " + std::to_string(off) + " != config's " +
                            std::to_string(config.num_parameters()));
  }
  m.params_.assign(off, 0.0f);
  m.grads_.assign(off, 0.0f);
  std::mt19937_64 rng(seed);
  // GPT-2: std 0.02 for weights, 0.01 for positions, 0.02/sqrt(2L) for the two
  // projections that add into the residual stream (keeps its variance flat in depth).
  const float kStd = 0.02f;
  for (std::size_t i = 0; i < m.tensors_.size(); ++i) {
    float* p = m.params_.data() + m.tensors_[i].offset;
    const std::size_t n = m.tensors_[i].numel;
    float std = 0.0f;
    switch (inits[i]) {
      case kOnes: std::fill(p, p + n, 1.0f); continue;
      case kZeros: continue;
      case kNormal: std = kStd; break;
      case kWpe: std = kStd / 2; break;
      case kResidual: std = kStd / std::sqrt(2.0f * float(L)); break;
    }
    std::normal_distribution<float> d(0.0f, std);
    for (std::size_t j = 0; j < n; ++j) p[j] = d(rng);
  }
  m.bind();
  return m;
}

void Transformer::bind() {
  std::size_t i = 0;
  auto next = [&] { return tensors_[i++].offset; };
  wte_ = next();
  wpe_ = next();
  layers_.clear();
  for (int l = 0; l < config_.n_layers; ++l) {
    Layer y{};
    y.ln1w = next(); y.ln1b = next(); y.qkvw = next(); y.qkvb = next(); y.projw = next(); y.projb = next();
    y.ln2w = next(); y.ln2b = next(); y.fcw = next(); y.fcb = next(); y.fcprojw = next(); y.fcprojb = next();
    layers_.push_back(y);
  }
  lnfw_ = next();
  lnfb_ = next();
  if (config_.scalar_head) {
    score_w_ = next();
    score_b_ = next();
    if (config_.pooled_readout()) score_q_ = next();
  }
  if (config_.feature_vocab > 0) wfe_ = next();
}

Status Transformer::load_parameters(std::span<const float> params, uint64_t version) {
  if (params.size() != params_.size()) {
    return Status::invalid_argument("load_parameters: buffer of " + std::to_string(params.size()) +
                                    " floats, the model has " + std::to_string(params_.size()));
  }
  std::copy(params.begin(), params.end(), params_.begin());
  ++weights_epoch_;
  version_ = version;
  return Status::ok();
}

void Transformer::zero_grad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void Transformer::ensure_activations(Activations& a, int B, int T) const {
  const std::size_t N = std::size_t(B) * T, C = config_.d_model, L = config_.n_layers, V = config_.vocab_size,
                    NH = config_.n_heads;
  a.B = B;
  a.T = T;
  a.encoded.resize(N * C);
  for (auto* v : {&a.ln1, &a.atty, &a.res2, &a.ln2, &a.res3}) v->resize(L * N * C);
  for (auto* v : {&a.ln1_mean, &a.ln1_rstd, &a.ln2_mean, &a.ln2_rstd}) v->resize(L * N);
  a.qkv.resize(L * N * 3 * C);
  a.fch.resize(L * N * 4 * C);
  a.fch_gelu.resize(L * N * 4 * C);
  a.att.resize(L * std::size_t(B) * NH * T * T);
  a.lnf.resize(N * C);
  a.lnf_mean.resize(N);
  a.lnf_rstd.resize(N);
  a.logits.resize(N * V);
  a.lse.resize(N);
}

void Transformer::prepare_inputs(const TokenBatch& batch, Activations& a) const {
  const int B = batch.batch, T = batch.seq_len;
  const std::size_t N = std::size_t(B) * T;
  a.tokens.resize(N);
  a.positions.resize(N);
  a.targets.resize(N);
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const std::size_t i = std::size_t(b) * T + t;
      a.tokens[i] = batch.tokens[i];
      a.positions[i] = t;
      a.targets[i] = t + 1 < batch.lengths[b] ? batch.tokens[i + 1] : -1;
    }
  }
  if (config_.feature_vocab > 0) {
    a.features = batch.features;  // checked by check_features
    a.features.resize(N, 0);
  } else {
    a.features.clear();
  }
}

Status Transformer::check_features(const TokenBatch& batch, const char* where) const {
  if (batch.features.empty()) return Status::ok();
  if (config_.feature_vocab == 0) {
    return Status::invalid_argument(std::string(where) + ": the batch has feature ids but the model no feature channel");
  }
  if (batch.features.size() != batch.tokens.size()) {
    return Status::invalid_argument(std::string(where) + ": " + std::to_string(batch.features.size()) +
                                    " feature ids for " + std::to_string(batch.tokens.size()) + " tokens");
  }
  for (int f : batch.features) {
    if (f < 0 || f >= config_.feature_vocab) {
      return Status::out_of_range(std::string(where) + ": feature id " + std::to_string(f) + " outside [0, " +
                                  std::to_string(config_.feature_vocab) + ")");
    }
  }
  return Status::ok();
}

void Transformer::run_trunk(const TokenBatch& batch, Activations& a) const {
  const int B = batch.batch, T = batch.seq_len, C = config_.d_model, NH = config_.n_heads;
  const std::size_t N = std::size_t(B) * T;
  ensure_activations(a, B, T);
  prepare_inputs(batch, a);
  const float* P = params_.data();
  k::encoder_forward(a.encoded.data(), a.tokens.data(), a.positions.data(), P + wte_, P + wpe_, int(N), C);
  for (std::size_t i = 0; i < a.features.size(); ++i) {
    const float* e = P + wfe_ + std::size_t(a.features[i]) * C;
    float* x = a.encoded.data() + i * C;
    for (int c = 0; c < C; ++c) x[c] += e[c];
  }
  const float* residual = a.encoded.data();
  for (int l = 0; l < config_.n_layers; ++l) {
    const Layer& y = layers_[l];
    float* ln1 = a.ln1.data() + l * N * C;
    float* qkv = a.qkv.data() + l * N * 3 * C;
    float* atty = a.atty.data() + l * N * C;
    float* att = a.att.data() + l * std::size_t(B) * NH * T * T;
    float* res2 = a.res2.data() + l * N * C;
    float* ln2 = a.ln2.data() + l * N * C;
    float* fch = a.fch.data() + l * N * 4 * C;
    float* fch_gelu = a.fch_gelu.data() + l * N * 4 * C;
    float* res3 = a.res3.data() + l * N * C;
    k::layernorm_forward(ln1, a.ln1_mean.data() + l * N, a.ln1_rstd.data() + l * N, residual, P + y.ln1w,
                         P + y.ln1b, int(N), C);
    k::matmul_forward_fast(qkv, ln1, P + y.qkvw, P + y.qkvb, int(N), C, 3 * C);
    // Right padding: a real query never sees a later padding key, so the causal mask suffices.
    k::attention_forward_fast(atty, att, qkv, nullptr, B, T, C, NH);
    k::matmul_forward_fast(res2, atty, P + y.projw, P + y.projb, int(N), C, C);
    for (std::size_t i = 0; i < N * C; ++i) res2[i] += residual[i];
    k::layernorm_forward(ln2, a.ln2_mean.data() + l * N, a.ln2_rstd.data() + l * N, res2, P + y.ln2w, P + y.ln2b,
                         int(N), C);
    k::matmul_forward_fast(fch, ln2, P + y.fcw, P + y.fcb, int(N), C, 4 * C);
    k::gelu_forward(fch_gelu, fch, long(N) * 4 * C);
    k::matmul_forward_fast(res3, fch_gelu, P + y.fcprojw, P + y.fcprojb, int(N), 4 * C, C);
    for (std::size_t i = 0; i < N * C; ++i) res3[i] += res2[i];
    residual = res3;
  }
  k::layernorm_forward(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), residual, P + lnfw_, P + lnfb_, int(N),
                       C);
}

Status Transformer::forward(const TokenBatch& batch, std::vector<float>* logp) {
  if (batch.seq_len > config_.context || batch.batch <= 0 || batch.seq_len <= 0 ||
      batch.tokens.size() != std::size_t(batch.batch) * batch.seq_len) {
    return Status::invalid_argument("forward: batch of " + std::to_string(batch.batch) + "x" +
                                    std::to_string(batch.seq_len) + " does not fit context " +
                                    std::to_string(config_.context));
  }
  TROUPE_RETURN_IF_ERROR(check_features(batch, "forward"));
  last_forward_on_device_ = device_ != nullptr;
  if (device_) return device_forward(batch, logp);
  cur_B_ = batch.batch;
  cur_T_ = batch.seq_len;
  const int S = shard_count(batch.batch);
  shards_used_ = S;
  logp->resize(std::size_t(batch.batch) * batch.seq_len);
  if (S == 0) {
    run_trunk(batch, *acts_);
    head_forward(*acts_, logp->data());
    return Status::ok();
  }
  // Data parallel: each thread runs the whole model, single-threaded, on its
  // share of the rows. One join per call instead of a barrier per kernel, so a
  // thread that the OS deschedules delays only the end of the step.
  split_rows(shards_, batch, S);
  run_shards(S, [&](Shard& sh) {
    run_trunk(sh.batch, *sh.acts);
    sh.out.resize(std::size_t(sh.batch.batch) * sh.batch.seq_len);
    head_forward(*sh.acts, sh.out.data());
  });
  std::fill(logp->begin(), logp->end(), 0.0f);  // positions past a shard's own length predict nothing
  for (int s = 0; s < S; ++s) {
    const Shard& sh = shards_[s];
    for (int r = 0; r < sh.rows; ++r) {
      std::copy_n(sh.out.data() + std::size_t(r) * sh.batch.seq_len, sh.batch.seq_len,
                  logp->data() + std::size_t(sh.row0 + r) * batch.seq_len);
    }
  }
  return Status::ok();
}

int Transformer::shard_count(int rows) const {
  // A share of rows per thread. 0: one thread, or already inside a parallel
  // region: the serial path. A single row runs as one shard, i.e. every kernel
  // single-threaded: splitting one sequence's small GEMMs and loops between
  // threads costs more hand-offs than it saves, and stalls on a busy machine.
  const int threads = k::cpu_threads();
  if (threads <= 1 || omp_in_parallel()) return 0;
  return std::min(threads, rows);
}

namespace {

// OpenBLAS's thread count is one process-wide setting. Sharded steps need it at
// 1 while they run; several models may run them at once (one per actor), so the
// first to start saves the setting and the last to finish restores it.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_++ == 0) {
      saved_ = k::blas_threads();
      k::set_blas_threads(1);
    }
  }
  ~SingleThreadedBlas() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_ == 0) k::set_blas_threads(saved_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  static inline std::mutex mu_;
  static inline int active_ = 0;  // guarded by mu_
  static inline int saved_ = 1;   // guarded by mu_
};

}  // namespace

void Transformer::run_shards(int S, const std::function<void(Shard&)>& work) {
  // Each thread runs its kernels alone: OpenBLAS at one thread and the kernels'
  // own OpenMP loops nested inside this region, at one thread.
  SingleThreadedBlas blas;
#pragma omp parallel for num_threads(S) schedule(static, 1)
  for (int s = 0; s < S; ++s) {
    omp_set_num_threads(1);  // this implicit task's nested regions: one thread
    work(shards_[s]);
  }
}

void Transformer::head_forward(Activations& a, float* logp) const {
  const int C = config_.d_model, V = config_.vocab_size, N = a.B * a.T;
  k::matmul_forward_fast(a.logits.data(), a.lnf.data(), params_.data() + wte_, nullptr, N, C, V);
  k::token_logprobs_forward_fast(logp, a.lse.data(), a.logits.data(), a.targets.data(), N, V);
}

void Transformer::head_backward(Activations& a, const float* dlogp, float* G) const {
  head_backward_to_lnf(a, dlogp, G);
  backward_trunk(a, a.dlnf.data(), G);
}

void Transformer::head_backward_to_lnf(Activations& a, const float* dlogp, float* G) const {
  const std::size_t N = std::size_t(a.B) * a.T;
  const int C = config_.d_model, V = config_.vocab_size;
  a.dlogits.resize(N * V);
  k::token_logprobs_backward_fast(a.dlogits.data(), dlogp, a.logits.data(), a.lse.data(), a.targets.data(), int(N),
                                  V);
  a.dlnf.assign(N * C, 0.0f);
  // Tied head: logits = lnf · wte^T, so wte also collects the head's gradient.
  k::matmul_backward_fast(a.dlnf.data(), G + wte_, nullptr, a.dlogits.data(), a.lnf.data(), params_.data() + wte_,
                          int(N), C, V);
}

void Transformer::backward_trunk(Activations& a, const float* dlnf, float* G) const {
  const int B = a.B, T = a.T, C = config_.d_model, NH = config_.n_heads;
  const std::size_t N = std::size_t(B) * T;
  const float* P = params_.data();
  a.dres.assign(N * C, 0.0f);
  const float* last = config_.n_layers > 0 ? a.res3.data() + (config_.n_layers - 1) * N * C : a.encoded.data();
  k::layernorm_backward(a.dres.data(), G + lnfw_, G + lnfb_, dlnf, last, P + lnfw_, a.lnf_mean.data(),
                        a.lnf_rstd.data(), int(N), C);
  for (int l = config_.n_layers - 1; l >= 0; --l) {
    const Layer& y = layers_[l];
    const float* residual = l == 0 ? a.encoded.data() : a.res3.data() + (l - 1) * N * C;
    const float* ln1 = a.ln1.data() + l * N * C;
    const float* qkv = a.qkv.data() + l * N * 3 * C;
    const float* atty = a.atty.data() + l * N * C;
    const float* att = a.att.data() + l * std::size_t(B) * NH * T * T;
    const float* res2 = a.res2.data() + l * N * C;
    const float* ln2 = a.ln2.data() + l * N * C;
    const float* fch = a.fch.data() + l * N * 4 * C;
    const float* fch_gelu = a.fch_gelu.data() + l * N * 4 * C;
    // res3 = res2 + fcproj(gelu(fc(ln2(res2)))): dres flows to res2 unchanged and into the MLP.
    a.dfch_gelu.assign(N * 4 * C, 0.0f);
    k::matmul_backward_fast(a.dfch_gelu.data(), G + y.fcprojw, G + y.fcprojb, a.dres.data(), fch_gelu,
                            P + y.fcprojw, int(N), 4 * C, C);
    a.dfch.assign(N * 4 * C, 0.0f);
    k::gelu_backward(a.dfch.data(), fch, a.dfch_gelu.data(), long(N) * 4 * C);
    a.dln.assign(N * C, 0.0f);
    k::matmul_backward_fast(a.dln.data(), G + y.fcw, G + y.fcb, a.dfch.data(), ln2, P + y.fcw, int(N), C, 4 * C);
    k::layernorm_backward(a.dres.data(), G + y.ln2w, G + y.ln2b, a.dln.data(), res2, P + y.ln2w,
                          a.ln2_mean.data() + l * N, a.ln2_rstd.data() + l * N, int(N), C);
    // res2 = residual + proj(attention(qkv(ln1(residual)))).
    a.datty.assign(N * C, 0.0f);
    k::matmul_backward_fast(a.datty.data(), G + y.projw, G + y.projb, a.dres.data(), atty, P + y.projw, int(N), C, C);
    a.dqkv.assign(N * 3 * C, 0.0f);
    k::attention_backward_fast(a.dqkv.data(), a.datty.data(), qkv, att, B, T, C, NH);
    a.dln.assign(N * C, 0.0f);
    k::matmul_backward_fast(a.dln.data(), G + y.qkvw, G + y.qkvb, a.dqkv.data(), ln1, P + y.qkvw, int(N), C, 3 * C);
    k::layernorm_backward(a.dres.data(), G + y.ln1w, G + y.ln1b, a.dln.data(), residual, P + y.ln1w,
                          a.ln1_mean.data() + l * N, a.ln1_rstd.data() + l * N, int(N), C);
  }
  k::encoder_backward(G + wte_, G + wpe_, a.dres.data(), a.tokens.data(), a.positions.data(), int(N), C);
  for (std::size_t i = 0; i < a.features.size(); ++i) {
    float* g = G + wfe_ + std::size_t(a.features[i]) * C;
    const float* d = a.dres.data() + i * C;
    for (int c = 0; c < C; ++c) g[c] += d[c];
  }
}

Status Transformer::backward(const std::vector<float>& dlogp) {
  const std::size_t N = std::size_t(cur_B_) * cur_T_;
  if (N == 0 || dlogp.size() != N) {
    return Status::invalid_argument("backward: dlogp has " + std::to_string(dlogp.size()) +
                                    " entries, the last forward's batch has " + std::to_string(N));
  }
  if (last_forward_on_device_) return device_backward(dlogp);
  const int S = shards_used_;
  if (S == 0) {
    head_backward(*acts_, dlogp.data(), grads_.data());
    return Status::ok();
  }
  // Shard 0 adds into gradients() directly, the others into their own buffers, summed at the end.
  for (int s = 0; s < S; ++s) {
    Shard& sh = shards_[s];
    const int T = sh.batch.seq_len;
    sh.out.resize(std::size_t(sh.rows) * T);
    for (int r = 0; r < sh.rows; ++r) {
      std::copy_n(dlogp.data() + std::size_t(sh.row0 + r) * cur_T_, T, sh.out.data() + std::size_t(r) * T);
    }
    if (s > 0) sh.grads.assign(grads_.size(), 0.0f);
  }
  run_shards(S, [&](Shard& sh) {
    head_backward(*sh.acts, sh.out.data(), &sh == &shards_[0] ? grads_.data() : sh.grads.data());
  });
  const long n = long(grads_.size());
  float* G = grads_.data();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (long i = 0; i < n; ++i) {
    for (int s = 1; s < S; ++s) G[i] += shards_[s].grads[i];
  }
  return Status::ok();
}

Status Transformer::score_forward(const TokenBatch& batch, std::vector<float>* scores, std::vector<float>* logp) {
  if (!config_.scalar_head) return Status::invalid_argument("score_forward: the model config has no scalar_head");
  if (batch.seq_len > config_.context || batch.batch <= 0) {
    return Status::invalid_argument("score_forward: batch does not fit the context");
  }
  TROUPE_RETURN_IF_ERROR(check_features(batch, "score_forward"));
  last_forward_on_device_ = false;  // the score head runs on the CPU
  shards_used_ = 0;
  cur_B_ = batch.batch;
  cur_T_ = batch.seq_len;
  run_trunk(batch, *acts_);
  score_with_logp_ = logp != nullptr;
  if (logp) {
    logp->resize(std::size_t(batch.batch) * batch.seq_len);
    head_forward(*acts_, logp->data());
  }
  const int C = config_.d_model, T = batch.seq_len, K = config_.head_outputs;
  const bool pool = config_.pooled_readout();
  const int F = pool ? 2 * C : C;  // features per row: [pooled, last] or [last]
  features_.assign(std::size_t(batch.batch) * F, 0.0f);
  if (pool) pool_alpha_.assign(std::size_t(batch.batch) * T, 0.0f);
  const float* q = pool ? params_.data() + score_q_ : nullptr;
  for (int b = 0; b < batch.batch; ++b) {
    const int n = batch.lengths[b];
    const float* H = acts_->lnf.data() + std::size_t(b) * T * C;
    float* f = features_.data() + std::size_t(b) * F;
    if (pool) {
      // alpha = softmax over the row's real tokens of h_t . q; pooled = sum_t alpha_t h_t.
      float* alpha = pool_alpha_.data() + std::size_t(b) * T;
      double m = -1e300;
      for (int t = 0; t < n; ++t) {
        double s = 0;
        for (int c = 0; c < C; ++c) s += double(H[std::size_t(t) * C + c]) * q[c];
        alpha[t] = float(s);
        m = std::max(m, s);
      }
      double z = 0;
      for (int t = 0; t < n; ++t) z += alpha[t] = float(std::exp(double(alpha[t]) - m));
      for (int t = 0; t < n; ++t) {
        alpha[t] = float(alpha[t] / z);
        for (int c = 0; c < C; ++c) f[c] += alpha[t] * H[std::size_t(t) * C + c];
      }
      f += C;
    }
    std::copy_n(H + std::size_t(n - 1) * C, C, f);
  }
  scores->resize(std::size_t(batch.batch) * K);
  for (int b = 0; b < batch.batch; ++b) {
    const float* f = features_.data() + std::size_t(b) * F;
    for (int k = 0; k < K; ++k) {
      const float* w = params_.data() + score_w_ + std::size_t(k) * F;
      double s = params_[score_b_ + k];
      for (int c = 0; c < F; ++c) s += double(f[c]) * w[c];
      (*scores)[std::size_t(b) * K + k] = float(s);
    }
  }
  last_lengths_ = batch.lengths;
  return Status::ok();
}

Status Transformer::score_backward(const std::vector<float>& dscores, const std::vector<float>* dlogp) {
  if (!config_.scalar_head) return Status::invalid_argument("score_backward: the model config has no scalar_head");
  const int C = config_.d_model, T = cur_T_, K = config_.head_outputs;
  if (dscores.size() != std::size_t(cur_B_) * K || int(last_lengths_.size()) != cur_B_) {
    return Status::invalid_argument("score_backward: dscores size does not match the last score_forward batch");
  }
  if (dlogp && (!score_with_logp_ || dlogp->size() != std::size_t(cur_B_) * T)) {
    return Status::invalid_argument("score_backward: dlogp needs the last score_forward to have written (B,T) logp");
  }
  const bool pool = config_.pooled_readout();
  const int F = pool ? 2 * C : C;
  Activations& a = *acts_;
  if (dlogp) {
    head_backward_to_lnf(a, dlogp->data(), grads_.data());  // sets a.dlnf; the score head adds below
  } else {
    a.dlnf.assign(std::size_t(cur_B_) * T * C, 0.0f);
  }
  std::vector<float> df(F);
  for (int b = 0; b < cur_B_; ++b) {
    const int n = last_lengths_[b];
    const float* f = features_.data() + std::size_t(b) * F;
    std::fill(df.begin(), df.end(), 0.0f);
    for (int k = 0; k < K; ++k) {
      const float g = dscores[std::size_t(b) * K + k];
      const std::size_t w = score_w_ + std::size_t(k) * F;
      for (int c = 0; c < F; ++c) {
        df[std::size_t(c)] += g * params_[w + c];
        grads_[w + c] += g * f[c];
      }
      grads_[score_b_ + k] += g;
    }
    const float* H = a.lnf.data() + std::size_t(b) * T * C;
    float* dH = a.dlnf.data() + std::size_t(b) * T * C;
    const float* dlast = df.data() + (pool ? C : 0);
    for (int c = 0; c < C; ++c) dH[std::size_t(n - 1) * C + c] += dlast[c];
    if (!pool) continue;
    // pooled = sum_t alpha_t h_t, alpha = softmax(h . q):
    //   dh_t += alpha_t dpooled + ds_t q,  ds_t = alpha_t (h_t . dpooled - sum_u alpha_u h_u . dpooled),
    //   dq += sum_t ds_t h_t.
    const float* alpha = pool_alpha_.data() + std::size_t(b) * T;
    const float* dp = df.data();
    const float* q = params_.data() + score_q_;
    double mean_da = 0;
    std::vector<double> da(std::size_t(n), 0.0);
    for (int t = 0; t < n; ++t) {
      for (int c = 0; c < C; ++c) da[std::size_t(t)] += double(H[std::size_t(t) * C + c]) * dp[c];
      mean_da += alpha[t] * da[std::size_t(t)];
    }
    for (int t = 0; t < n; ++t) {
      const float ds = float(alpha[t] * (da[std::size_t(t)] - mean_da));
      for (int c = 0; c < C; ++c) {
        dH[std::size_t(t) * C + c] += alpha[t] * dp[c] + ds * q[c];
        grads_[score_q_ + std::size_t(c)] += ds * H[std::size_t(t) * C + c];
      }
    }
  }
  backward_trunk(a, a.dlnf.data(), grads_.data());
  return Status::ok();
}

Status Transformer::last_logits(const TokenBatch& batch, std::vector<float>* logits) {
  if (batch.seq_len > config_.context || batch.batch <= 0) {
    return Status::invalid_argument("last_logits: batch does not fit the context");
  }
  TROUPE_RETURN_IF_ERROR(check_features(batch, "last_logits"));
  last_forward_on_device_ = false;
  shards_used_ = 0;
  cur_B_ = cur_T_ = 0;  // no backward follows
  const int C = config_.d_model, V = config_.vocab_size;
  std::vector<float> rows(std::size_t(batch.batch) * C);
  // The final hidden state at each row's last token; rows split between threads as in forward().
  auto last_states = [&](const TokenBatch& b, Activations& a, int row0) {
    run_trunk(b, a);
    for (int r = 0; r < b.batch; ++r) {
      const float* h = a.lnf.data() + (std::size_t(r) * b.seq_len + b.lengths[r] - 1) * C;
      std::copy(h, h + C, rows.begin() + std::size_t(row0 + r) * C);
    }
  };
  const int S = shard_count(batch.batch);
  if (S == 0) {
    last_states(batch, *acts_, 0);
  } else {
    split_rows(shards_, batch, S);
    run_shards(S, [&](Shard& sh) { last_states(sh.batch, *sh.acts, sh.row0); });
  }
  logits->resize(std::size_t(batch.batch) * V);
  k::matmul_forward_fast(logits->data(), rows.data(), params_.data() + wte_, nullptr, batch.batch, C, V);
  return Status::ok();
}

namespace {

// A model of config `c` carrying m's weights over: `fill(t, from, src, dst)` writes tensor t of
// the new model (from: m's tensor of that name, or null; src: m's parameters) into dst. Keeps
// m's version.
template <class Fill>
Result<Transformer> remade(const Transformer& m, const ModelConfig& c, Fill fill) {
  auto out = Transformer::create(c, 1);
  if (!out) return out;
  auto src = m.parameters();
  auto dst = out->parameters();
  for (const ParamTensor& t : out->tensors()) {
    const ParamTensor* from = nullptr;
    for (const ParamTensor& f : m.tensors()) from = f.name == t.name ? &f : from;
    fill(t, from, src.data(), dst.data() + t.offset);
  }
  out->set_version(m.version());
  return out;
}

}  // namespace

Result<Transformer> with_score_readout(const Transformer& m, const std::string& readout) {
  if (!m.config().scalar_head) return Status::invalid_argument("with_score_readout: the model has no score head");
  ModelConfig c = m.config();
  c.score_readout = readout;
  const int64_t C = c.d_model, K = c.head_outputs;
  return remade(m, c, [&](const ParamTensor& t, const ParamTensor* from, const float* src, float* d) {
    if (from && from->shape == t.shape) {
      std::copy_n(src + from->offset, t.numel, d);
    } else if (t.name == "score_head.weight") {
      // Rows of K: [pooled (C), last (C)] with the pool, [last (C)] without.
      const bool to_pool = c.pooled_readout();
      std::fill_n(d, t.numel, 0.0f);
      for (int64_t k = 0; k < K; ++k) {
        const float* row = src + from->offset + k * (to_pool ? C : 2 * C) + (to_pool ? 0 : C);
        std::copy_n(row, C, d + k * (to_pool ? 2 * C : C) + (to_pool ? C : 0));
      }
    } else if (t.name == "score_head.bias" && from) {
      std::copy_n(src + from->offset, std::min(t.numel, from->numel), d);
    } else {
      std::fill_n(d, t.numel, 0.0f);  // score_pool.query: the plain mean
    }
  });
}

Result<Transformer> with_feature_vocab(const Transformer& m, int feature_vocab) {
  ModelConfig c = m.config();
  c.feature_vocab = feature_vocab;
  return remade(m, c, [](const ParamTensor& t, const ParamTensor* from, const float* src, float* d) {
    std::fill_n(d, t.numel, 0.0f);
    // Every tensor has its old shape except wfe, whose rows (ids) may differ in number: keep the shared ones.
    if (from) std::copy_n(src + from->offset, std::min(t.numel, from->numel), d);
  });
}

KvCache Transformer::make_cache(int rows, int max_len) const {
  const std::size_t C = config_.d_model, L = config_.n_layers, R = rows;
  KvCache c;
  c.rows = rows;
  c.max_len = std::min(max_len, config_.context);
  c.len.assign(R, 0);
  c.pos.assign(R, 0);
  // A device that cannot hold the cache leaves it on the host, where decode() works too.
  if (device_ && device_make_cache(c).is_ok()) return c;
  c.device.reset();
  c.k.assign(L * R * c.max_len * C, 0.0f);
  c.v.assign(c.k.size(), 0.0f);
  for (auto* v : {&c.x, &c.ln, &c.atty, &c.tmp}) v->assign(R * C, 0.0f);
  c.qkv.assign(R * 3 * C, 0.0f);
  c.fch.assign(R * 4 * C, 0.0f);
  c.fch_gelu.assign(R * 4 * C, 0.0f);
  c.mean.assign(R, 0.0f);
  c.rstd.assign(R, 0.0f);
  return c;
}

Status Transformer::decode(KvCache& c, const int* tokens, float* logits) const {
  if (c.device) {
    if (!device_) return Status::invalid_argument("decode: a device cache needs the model on the device");
    return device_decode(c, tokens, logits);
  }
  const int R = c.rows, C = config_.d_model, NH = config_.n_heads, V = config_.vocab_size;
  const std::size_t slab = std::size_t(R) * c.max_len * C;  // one layer's keys
  const float* P = params_.data();
  // Rows [r0, r0 + n): rows never interact while decoding, and each buffer
  // holds rows contiguously (per layer for the keys and values), so a range is
  // a sub-block of every buffer.
  auto decode_rows = [&](int r0, int n) {
    const std::size_t o = std::size_t(r0) * C;
    float *x = c.x.data() + o, *ln = c.ln.data() + o, *atty = c.atty.data() + o, *tmp = c.tmp.data() + o;
    float *qkv = c.qkv.data() + 3 * o, *fch = c.fch.data() + 4 * o, *fch_gelu = c.fch_gelu.data() + 4 * o;
    float *mean = c.mean.data() + r0, *rstd = c.rstd.data() + r0;
    int *len = c.len.data() + r0, *pos = c.pos.data() + r0;
    for (int r = 0; r < n; ++r) pos[r] = len[r]++;
    k::encoder_forward(x, tokens + r0, pos, P + wte_, P + wpe_, n, C);
    for (int r = 0; config_.feature_vocab > 0 && r < n; ++r) {  // id 0: no features while sampling
      for (int j = 0; j < C; ++j) x[std::size_t(r) * C + j] += P[wfe_ + std::size_t(j)];
    }
    for (int l = 0; l < config_.n_layers; ++l) {
      const Layer& y = layers_[l];
      k::layernorm_forward(ln, mean, rstd, x, P + y.ln1w, P + y.ln1b, n, C);
      k::matmul_forward_fast(qkv, ln, P + y.qkvw, P + y.qkvb, n, C, 3 * C);
      float* kl = c.k.data() + l * slab + std::size_t(r0) * c.max_len * C;
      float* vl = c.v.data() + l * slab + std::size_t(r0) * c.max_len * C;
      for (int r = 0; r < n; ++r) {
        const float* q = qkv + std::size_t(r) * 3 * C;
        std::memcpy(kl + (std::size_t(r) * c.max_len + pos[r]) * C, q + C, sizeof(float) * C);
        std::memcpy(vl + (std::size_t(r) * c.max_len + pos[r]) * C, q + 2 * C, sizeof(float) * C);
        std::memcpy(ln + std::size_t(r) * C, q, sizeof(float) * C);  // the query, contiguous
      }
      k::attention_decode_forward(atty, ln, kl, vl, len, n, c.max_len, C, NH);
      k::matmul_forward_fast(tmp, atty, P + y.projw, P + y.projb, n, C, C);
      for (std::size_t i = 0; i < std::size_t(n) * C; ++i) x[i] += tmp[i];
      k::layernorm_forward(ln, mean, rstd, x, P + y.ln2w, P + y.ln2b, n, C);
      k::matmul_forward_fast(fch, ln, P + y.fcw, P + y.fcb, n, C, 4 * C);
      k::gelu_forward(fch_gelu, fch, long(n) * 4 * C);
      k::matmul_forward_fast(tmp, fch_gelu, P + y.fcprojw, P + y.fcprojb, n, 4 * C, C);
      for (std::size_t i = 0; i < std::size_t(n) * C; ++i) x[i] += tmp[i];
    }
    k::layernorm_forward(ln, mean, rstd, x, P + lnfw_, P + lnfb_, n, C);
    k::matmul_forward_fast(logits + std::size_t(r0) * V, ln, P + wte_, nullptr, n, C, V);
  };
  // As forward(): rows split between threads, each decoding its share alone.
  const int S = shard_count(R);
  if (S <= 1) {  // one row (kernels at that size are single-threaded anyway) or the serial path
    decode_rows(0, R);
    return Status::ok();
  }
  SingleThreadedBlas blas;
#pragma omp parallel for num_threads(S) schedule(static, 1)
  for (int s = 0; s < S; ++s) {
    omp_set_num_threads(1);
    const int r0 = int(long(R) * s / S), r1 = int(long(R) * (s + 1) / S);
    decode_rows(r0, r1 - r0);
  }
  return Status::ok();
}

}  // namespace troupe::model
