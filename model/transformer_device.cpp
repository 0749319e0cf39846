// The Transformer on a CUDA device (model/transformer.hpp, "the GPU path"):
// forward, backward and cached decoding as the same kernel sequence as the CPU
// path in transformer.cpp, with kernels::cuda ops on device buffers
// (transformer_state.hpp). Every launch goes to the default stream, so the
// ops run in issue order and the synchronous copies back to the host wait for
// them. Without CUDA (or without a device) use_device() fails and nothing here
// runs.
#include <algorithm>
#include <cstring>

#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"
#include "model/transformer_state.hpp"

namespace troupe::model {

namespace cu = troupe::kernels::cuda;
namespace mem = troupe::kernels::device_memory;

namespace {

template <typename T>
Status upload(DeviceArray<T>& dst, const T* src, std::size_t n) {
  return mem::to_device(dst.data(), src, n * sizeof(T));
}

template <typename T>
Status download(T* dst, const DeviceArray<T>& src, std::size_t n) {
  return mem::to_host(dst, src.data(), n * sizeof(T));
}

Status zero(float* p, std::size_t n) { return mem::zero(p, n * sizeof(float)); }

}  // namespace

Status Transformer::use_device(bool on, int ordinal) {
  if (!on) {
    device_.reset();
    last_forward_on_device_ = false;
    return Status::ok();
  }
  if (device_ && device_->ordinal == ordinal) return Status::ok();
  if (config_.feature_vocab > 0) {
    return Status::invalid_argument("use_device: the feature channel (feature_vocab " +
                                 std::to_string(config_.feature_vocab) + ") runs on the CPU only; the model stays there");
  }
  if (kernels::cuda_device_count() == 0) {
    return Status::unavailable("use_device: no CUDA device visible (" + kernels::cuda_unavailable_reason() +
                               "); the model stays on the CPU");
  }
  if (device_ && device_->ordinal != ordinal) {  // moving to another device
    device_.reset();
    last_forward_on_device_ = false;
  }
  TROUPE_RETURN_IF_ERROR(kernels::cuda_set_device(ordinal).with_context("use_device"));
  auto d = std::make_unique<Device>();
  d->ordinal = ordinal;
  TROUPE_RETURN_IF_ERROR(fit(d->params, params_.size()).with_context("use_device: weights"));
  TROUPE_RETURN_IF_ERROR(fit(d->grads, grads_.size()).with_context("use_device: gradients"));
  device_ = std::move(d);
  return device_sync_weights();
}

Status Transformer::device_sync_weights() const {
  TROUPE_RETURN_IF_ERROR(kernels::cuda_set_device(device_->ordinal));  // this thread's current device
  std::lock_guard<std::mutex> lock(device_->mu);
  if (device_->epoch == weights_epoch_) return Status::ok();
  TROUPE_RETURN_IF_ERROR(upload(device_->params, params_.data(), params_.size()).with_context("uploading the weights"));
  device_->epoch = weights_epoch_;
  return Status::ok();
}

Status Transformer::device_forward(const TokenBatch& batch, std::vector<float>* logp) {
  Device& d = *device_;
  const int B = batch.batch, T = batch.seq_len, C = config_.d_model, NH = config_.n_heads, V = config_.vocab_size;
  const std::size_t N = std::size_t(B) * T, L = config_.n_layers, att_n = std::size_t(B) * NH * T * T;
  TROUPE_RETURN_IF_ERROR(device_sync_weights());
  // Activation buffers for this batch shape (kept for backward).
  for (auto* a : {&d.encoded, &d.lnf, &d.dres, &d.dln, &d.datty, &d.dlnf}) TROUPE_RETURN_IF_ERROR(fit(*a, N * C));
  for (auto* a : {&d.ln1, &d.atty, &d.res2, &d.ln2, &d.res3}) TROUPE_RETURN_IF_ERROR(fit(*a, L * N * C));
  for (auto* a : {&d.ln1_mean, &d.ln1_rstd, &d.ln2_mean, &d.ln2_rstd}) TROUPE_RETURN_IF_ERROR(fit(*a, L * N));
  for (auto* a : {&d.lnf_mean, &d.lnf_rstd, &d.lse, &d.logp, &d.dlogp}) TROUPE_RETURN_IF_ERROR(fit(*a, N));
  TROUPE_RETURN_IF_ERROR(fit(d.qkv, L * N * 3 * C));
  TROUPE_RETURN_IF_ERROR(fit(d.dqkv, N * 3 * C));
  for (auto* a : {&d.fch, &d.fch_gelu}) TROUPE_RETURN_IF_ERROR(fit(*a, L * N * 4 * C));
  for (auto* a : {&d.dfch, &d.dfch_gelu}) TROUPE_RETURN_IF_ERROR(fit(*a, N * 4 * C));
  TROUPE_RETURN_IF_ERROR(fit(d.att, L * att_n));
  TROUPE_RETURN_IF_ERROR(fit(d.att_scratch, att_n));
  for (auto* a : {&d.logits, &d.dlogits}) TROUPE_RETURN_IF_ERROR(fit(*a, N * V));
  for (auto* a : {&d.tokens, &d.positions, &d.targets}) TROUPE_RETURN_IF_ERROR(fit(*a, N));

  prepare_inputs(batch, *acts_);
  TROUPE_RETURN_IF_ERROR(upload(d.tokens, acts_->tokens.data(), N));
  TROUPE_RETURN_IF_ERROR(upload(d.positions, acts_->positions.data(), N));
  TROUPE_RETURN_IF_ERROR(upload(d.targets, acts_->targets.data(), N));

  const float* P = d.params.data();
  const int n = int(N);
  TROUPE_RETURN_IF_ERROR(
      cu::encoder_forward(d.encoded.data(), d.tokens.data(), d.positions.data(), P + wte_, P + wpe_, n, C));
  const float* residual = d.encoded.data();
  for (int l = 0; l < config_.n_layers; ++l) {
    const Layer& y = layers_[l];
    float* ln1 = d.ln1.data() + l * N * C;
    float* qkv = d.qkv.data() + l * N * 3 * C;
    float* atty = d.atty.data() + l * N * C;
    float* att = d.att.data() + l * att_n;
    float* res2 = d.res2.data() + l * N * C;
    float* ln2 = d.ln2.data() + l * N * C;
    float* fch = d.fch.data() + l * N * 4 * C;
    float* fch_gelu = d.fch_gelu.data() + l * N * 4 * C;
    float* res3 = d.res3.data() + l * N * C;
    TROUPE_RETURN_IF_ERROR(cu::layernorm_forward(ln1, d.ln1_mean.data() + l * N, d.ln1_rstd.data() + l * N, residual,
                                                 P + y.ln1w, P + y.ln1b, n, C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(qkv, ln1, P + y.qkvw, P + y.qkvb, n, C, 3 * C));
    // Right padding: a real query never sees a later padding key, so the causal mask suffices.
    TROUPE_RETURN_IF_ERROR(cu::attention_forward(atty, att, qkv, nullptr, B, T, C, NH));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(res2, atty, P + y.projw, P + y.projb, n, C, C));
    TROUPE_RETURN_IF_ERROR(cu::add(res2, res2, residual, long(N) * C));
    TROUPE_RETURN_IF_ERROR(cu::layernorm_forward(ln2, d.ln2_mean.data() + l * N, d.ln2_rstd.data() + l * N, res2,
                                                 P + y.ln2w, P + y.ln2b, n, C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(fch, ln2, P + y.fcw, P + y.fcb, n, C, 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::gelu_forward(fch_gelu, fch, long(N) * 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(res3, fch_gelu, P + y.fcprojw, P + y.fcprojb, n, 4 * C, C));
    TROUPE_RETURN_IF_ERROR(cu::add(res3, res3, res2, long(N) * C));
    residual = res3;
  }
  TROUPE_RETURN_IF_ERROR(
      cu::layernorm_forward(d.lnf.data(), d.lnf_mean.data(), d.lnf_rstd.data(), residual, P + lnfw_, P + lnfb_, n, C));
  TROUPE_RETURN_IF_ERROR(cu::matmul_forward(d.logits.data(), d.lnf.data(), P + wte_, nullptr, n, C, V));
  TROUPE_RETURN_IF_ERROR(
      cu::token_logprobs_forward(d.logp.data(), d.lse.data(), d.logits.data(), d.targets.data(), n, V));
  logp->resize(N);
  TROUPE_RETURN_IF_ERROR(download(logp->data(), d.logp, N).with_context("forward on the device"));
  cur_B_ = B;
  cur_T_ = T;
  return Status::ok();
}

Status Transformer::device_backward(const std::vector<float>& dlogp) {
  Device& d = *device_;
  TROUPE_RETURN_IF_ERROR(kernels::cuda_set_device(d.ordinal));
  const int B = cur_B_, T = cur_T_, C = config_.d_model, NH = config_.n_heads, V = config_.vocab_size;
  const std::size_t N = std::size_t(B) * T, att_n = std::size_t(B) * NH * T * T;
  const int n = int(N);
  const float* P = d.params.data();
  float* G = d.grads.data();
  TROUPE_RETURN_IF_ERROR(upload(d.dlogp, dlogp.data(), N));
  TROUPE_RETURN_IF_ERROR(d.grads.zero());
  TROUPE_RETURN_IF_ERROR(cu::token_logprobs_backward(d.dlogits.data(), d.dlogp.data(), d.logits.data(), d.lse.data(),
                                                     d.targets.data(), n, V));
  TROUPE_RETURN_IF_ERROR(zero(d.dlnf.data(), N * C));
  // Tied head: logits = lnf · wte^T, so wte also collects the head's gradient.
  TROUPE_RETURN_IF_ERROR(
      cu::matmul_backward(d.dlnf.data(), G + wte_, nullptr, d.dlogits.data(), d.lnf.data(), P + wte_, n, C, V));

  TROUPE_RETURN_IF_ERROR(zero(d.dres.data(), N * C));
  const float* last = config_.n_layers > 0 ? d.res3.data() + (config_.n_layers - 1) * N * C : d.encoded.data();
  TROUPE_RETURN_IF_ERROR(cu::layernorm_backward(d.dres.data(), G + lnfw_, G + lnfb_, d.dlnf.data(), last, P + lnfw_,
                                                d.lnf_mean.data(), d.lnf_rstd.data(), n, C));
  for (int l = config_.n_layers - 1; l >= 0; --l) {
    const Layer& y = layers_[l];
    const float* residual = l == 0 ? d.encoded.data() : d.res3.data() + (l - 1) * N * C;
    const float* ln1 = d.ln1.data() + l * N * C;
    const float* qkv = d.qkv.data() + l * N * 3 * C;
    const float* atty = d.atty.data() + l * N * C;
    const float* att = d.att.data() + l * att_n;
    const float* res2 = d.res2.data() + l * N * C;
    const float* ln2 = d.ln2.data() + l * N * C;
    const float* fch = d.fch.data() + l * N * 4 * C;
    const float* fch_gelu = d.fch_gelu.data() + l * N * 4 * C;
    // res3 = res2 + fcproj(gelu(fc(ln2(res2)))): dres flows to res2 unchanged and into the MLP.
    TROUPE_RETURN_IF_ERROR(zero(d.dfch_gelu.data(), N * 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_backward(d.dfch_gelu.data(), G + y.fcprojw, G + y.fcprojb, d.dres.data(),
                                               fch_gelu, P + y.fcprojw, n, 4 * C, C));
    TROUPE_RETURN_IF_ERROR(zero(d.dfch.data(), N * 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::gelu_backward(d.dfch.data(), fch, d.dfch_gelu.data(), long(N) * 4 * C));
    TROUPE_RETURN_IF_ERROR(zero(d.dln.data(), N * C));
    TROUPE_RETURN_IF_ERROR(
        cu::matmul_backward(d.dln.data(), G + y.fcw, G + y.fcb, d.dfch.data(), ln2, P + y.fcw, n, C, 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::layernorm_backward(d.dres.data(), G + y.ln2w, G + y.ln2b, d.dln.data(), res2,
                                                  P + y.ln2w, d.ln2_mean.data() + l * N, d.ln2_rstd.data() + l * N, n,
                                                  C));
    // res2 = residual + proj(attention(qkv(ln1(residual)))).
    TROUPE_RETURN_IF_ERROR(zero(d.datty.data(), N * C));
    TROUPE_RETURN_IF_ERROR(
        cu::matmul_backward(d.datty.data(), G + y.projw, G + y.projb, d.dres.data(), atty, P + y.projw, n, C, C));
    TROUPE_RETURN_IF_ERROR(zero(d.dqkv.data(), N * 3 * C));
    TROUPE_RETURN_IF_ERROR(
        cu::attention_backward(d.dqkv.data(), d.att_scratch.data(), d.datty.data(), qkv, att, B, T, C, NH));
    TROUPE_RETURN_IF_ERROR(zero(d.dln.data(), N * C));
    TROUPE_RETURN_IF_ERROR(
        cu::matmul_backward(d.dln.data(), G + y.qkvw, G + y.qkvb, d.dqkv.data(), ln1, P + y.qkvw, n, C, 3 * C));
    TROUPE_RETURN_IF_ERROR(cu::layernorm_backward(d.dres.data(), G + y.ln1w, G + y.ln1b, d.dln.data(), residual,
                                                  P + y.ln1w, d.ln1_mean.data() + l * N, d.ln1_rstd.data() + l * N, n,
                                                  C));
  }
  TROUPE_RETURN_IF_ERROR(
      cu::encoder_backward(G + wte_, G + wpe_, d.dres.data(), d.tokens.data(), d.positions.data(), n, C));
  // gradients() accumulate (+=) across backward calls until zero_grad(), as on the CPU.
  d.host_grads.resize(grads_.size());
  TROUPE_RETURN_IF_ERROR(download(d.host_grads.data(), d.grads, grads_.size()).with_context("backward on the device"));
  for (std::size_t i = 0; i < grads_.size(); ++i) grads_[i] += d.host_grads[i];
  return Status::ok();
}

Status Transformer::device_make_cache(KvCache& c) const {
  TROUPE_RETURN_IF_ERROR(kernels::cuda_set_device(device_->ordinal));
  const std::size_t C = config_.d_model, L = config_.n_layers, R = c.rows, V = config_.vocab_size;
  auto k = std::make_shared<DeviceKvCache>();
  TROUPE_RETURN_IF_ERROR(fit(k->k, L * R * c.max_len * C));
  TROUPE_RETURN_IF_ERROR(fit(k->v, L * R * c.max_len * C));
  for (auto* a : {&k->x, &k->ln, &k->q, &k->atty, &k->tmp}) TROUPE_RETURN_IF_ERROR(fit(*a, R * C));
  TROUPE_RETURN_IF_ERROR(fit(k->qkv, R * 3 * C));
  for (auto* a : {&k->fch, &k->fch_gelu}) TROUPE_RETURN_IF_ERROR(fit(*a, R * 4 * C));
  for (auto* a : {&k->mean, &k->rstd}) TROUPE_RETURN_IF_ERROR(fit(*a, R));
  TROUPE_RETURN_IF_ERROR(fit(k->logits, R * V));
  for (auto* a : {&k->tokens, &k->pos, &k->len}) TROUPE_RETURN_IF_ERROR(fit(*a, R));
  c.device = std::move(k);
  return Status::ok();
}

Status Transformer::device_decode(KvCache& c, const int* tokens, float* logits) const {
  DeviceKvCache& k = *c.device;
  const int R = c.rows, C = config_.d_model, NH = config_.n_heads, V = config_.vocab_size;
  const std::size_t slab = std::size_t(R) * c.max_len * C;  // one layer's keys
  TROUPE_RETURN_IF_ERROR(device_sync_weights());
  const float* P = device_->params.data();
  for (int r = 0; r < R; ++r) c.pos[r] = c.len[r]++;
  TROUPE_RETURN_IF_ERROR(upload(k.tokens, tokens, R));
  TROUPE_RETURN_IF_ERROR(upload(k.pos, c.pos.data(), R));
  TROUPE_RETURN_IF_ERROR(upload(k.len, c.len.data(), R));
  TROUPE_RETURN_IF_ERROR(cu::encoder_forward(k.x.data(), k.tokens.data(), k.pos.data(), P + wte_, P + wpe_, R, C));
  for (int l = 0; l < config_.n_layers; ++l) {
    const Layer& y = layers_[l];
    float* kl = k.k.data() + l * slab;
    float* vl = k.v.data() + l * slab;
    TROUPE_RETURN_IF_ERROR(
        cu::layernorm_forward(k.ln.data(), k.mean.data(), k.rstd.data(), k.x.data(), P + y.ln1w, P + y.ln1b, R, C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(k.qkv.data(), k.ln.data(), P + y.qkvw, P + y.qkvb, R, C, 3 * C));
    TROUPE_RETURN_IF_ERROR(cu::kv_cache_append(kl, vl, k.q.data(), k.qkv.data(), k.pos.data(), R, c.max_len, C));
    TROUPE_RETURN_IF_ERROR(
        cu::attention_decode_forward(k.atty.data(), k.q.data(), kl, vl, k.len.data(), R, c.max_len, C, NH));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(k.tmp.data(), k.atty.data(), P + y.projw, P + y.projb, R, C, C));
    TROUPE_RETURN_IF_ERROR(cu::add(k.x.data(), k.x.data(), k.tmp.data(), long(R) * C));
    TROUPE_RETURN_IF_ERROR(
        cu::layernorm_forward(k.ln.data(), k.mean.data(), k.rstd.data(), k.x.data(), P + y.ln2w, P + y.ln2b, R, C));
    TROUPE_RETURN_IF_ERROR(cu::matmul_forward(k.fch.data(), k.ln.data(), P + y.fcw, P + y.fcb, R, C, 4 * C));
    TROUPE_RETURN_IF_ERROR(cu::gelu_forward(k.fch_gelu.data(), k.fch.data(), long(R) * 4 * C));
    TROUPE_RETURN_IF_ERROR(
        cu::matmul_forward(k.tmp.data(), k.fch_gelu.data(), P + y.fcprojw, P + y.fcprojb, R, 4 * C, C));
    TROUPE_RETURN_IF_ERROR(cu::add(k.x.data(), k.x.data(), k.tmp.data(), long(R) * C));
  }
  TROUPE_RETURN_IF_ERROR(
      cu::layernorm_forward(k.ln.data(), k.mean.data(), k.rstd.data(), k.x.data(), P + lnfw_, P + lnfb_, R, C));
  TROUPE_RETURN_IF_ERROR(cu::matmul_forward(k.logits.data(), k.ln.data(), P + wte_, nullptr, R, C, V));
  return download(logits, k.logits, std::size_t(R) * V).with_context("decode on the device");
}

Result<std::string> place_model(Transformer& model, const std::string& device, int gpu) {
  if (device == "cpu") return std::string("cpu");
  if (device != "auto" && device != "cuda") {
    return Status::invalid_argument("\"" + device + "\": expected auto, cuda or cpu");
  }
  if (device == "auto" && kernels::cuda_device_count() == 0) return std::string("cpu");
  const int ordinal = gpu < 0 ? 0 : gpu;
  TROUPE_RETURN_IF_ERROR(
      model.use_device(true, ordinal).with_context("placing the model on " + device + ":" + std::to_string(ordinal)));
  return "cuda:" + std::to_string(ordinal);
}

}  // namespace troupe::model
