// The private state of a Transformer (model/transformer.hpp), shared by its CPU
// path (transformer.cpp) and its GPU path (transformer_device.cpp): the offsets
// of each block's tensors, the host activations a forward keeps for backward,
// and the GPU mirror -- device copies of the weights, the gradients of the last
// backward, the activations of the last forward, and a KV cache for decoding,
// laid out exactly as the host buffers so that the device path is the same
// sequence of kernel calls with kernels::cuda in place of kernels::cpu. Device
// buffers grow to the largest batch seen and are reused. All of it is owned by
// one Transformer; Device::mu serialises the weight refresh that const
// decode() calls may trigger from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda_runtime.hpp"
#include "model/transformer.hpp"

namespace troupe::model {

using kernels::DeviceArray;

struct Transformer::Layer {
  std::size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
};

struct Transformer::Activations {
  int B = 0, T = 0;                             // batch shape; N = B·T
  std::vector<int> tokens, positions, targets;  // (N)
  std::vector<int> features;                    // (N) feature ids; empty without the feature channel
  std::vector<float> encoded;                   // (N,C)
  // Per layer, L blocks each: ln1, res2, ln2, res3, atty (N,C); qkv (N,3C); fch, fch_gelu (N,4C);
  // att (B,NH,T,T); means and rstds (N).
  std::vector<float> ln1, ln1_mean, ln1_rstd, qkv, atty, att, res2, ln2, ln2_mean, ln2_rstd, fch, fch_gelu, res3;
  std::vector<float> lnf, lnf_mean, lnf_rstd, logits, lse;
  // Gradient scratch.
  std::vector<float> dres, dln, dqkv, datty, dfch, dfch_gelu, dlogits, dlnf;
};

// One thread's share of a data-parallel forward/backward (Transformer::forward).
struct Transformer::Shard {
  int row0 = 0, rows = 0;              // rows [row0, row0 + rows) of the caller's batch
  TokenBatch batch;                    // those rows, trimmed to their longest sequence
  std::unique_ptr<Activations> acts;
  std::vector<float> out;              // the forward's logp, then the backward's dlogp (rows, batch.seq_len)
  std::vector<float> grads;            // gradients of shards after the first (the first adds into the model's)
};

// Grows `a` to hold at least n elements (contents are not kept).
template <typename T>
Status fit(DeviceArray<T>& a, std::size_t n) {
  if (a.data() != nullptr && a.size() >= n) return Status::ok();
  auto r = DeviceArray<T>::create(n);
  if (!r) return r.status();
  a = std::move(r).value();
  return Status::ok();
}

struct Transformer::Device {
  int ordinal = 0;              // the CUDA device everything below lives on
  std::mutex mu;                // guards `epoch` and the weight upload
  uint64_t epoch = ~uint64_t{0};  // weights_epoch_ of the weights on the device; ~0 = none yet
  DeviceArray<float> params, grads;
  DeviceArray<int> tokens, positions, targets;
  // Activations, as Transformer::Activations (per layer: L slices).
  DeviceArray<float> encoded, ln1, ln1_mean, ln1_rstd, qkv, atty, att, res2, ln2, ln2_mean, ln2_rstd, fch, fch_gelu,
      res3, lnf, lnf_mean, lnf_rstd, logits, lse, logp;
  // Gradient scratch; att_scratch holds d(scores) of one layer (B,NH,T,T).
  DeviceArray<float> dres, dln, dqkv, datty, dfch, dfch_gelu, dlogits, dlnf, dlogp, att_scratch;
  std::vector<float> host_grads;  // staging for adding the device gradients into the host's
};

struct DeviceKvCache {
  DeviceArray<float> k, v;  // (L, rows, max_len, C)
  DeviceArray<float> x, ln, q, qkv, atty, tmp, fch, fch_gelu, mean, rstd, logits;
  DeviceArray<int> tokens, pos, len;  // (rows)
};

}  // namespace troupe::model
