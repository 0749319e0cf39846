// CUDA versions of the model's ops. Each shares its CPU twin's shapes and
// contract (kernels/<op>.hpp: which outputs are overwritten (=) and which
// accumulate (+=)) with device pointers, a Status result and an opaque stream
// (cudaStream_t; nullptr = the default stream). Launches are asynchronous: an
// error inside a kernel surfaces at the next synchronising call. Without CUDA
// in the build, or without a device, every call returns unavailable.
//
// The kernels favour plain, obviously correct mappings (one thread per output
// element, or one warp per row with shuffle reductions) over tiling tricks:
// the GEMMs, which hold nearly all the FLOPs, go through cuBLAS.
#pragma once

#include <cstdint>

#include "base/status.hpp"
#include "kernels/adamw.hpp"

namespace troupe::kernels::cuda {

// ---- elementwise ----------------------------------------------------------------
// gelu.hpp
[[nodiscard]] Status gelu_forward(float* out, const float* inp, long n, void* stream = nullptr);
[[nodiscard]] Status gelu_backward(float* dinp, const float* inp, const float* dout, long n, void* stream = nullptr);
// out (n) = a + b (the residual adds). out may alias a or b.
[[nodiscard]] Status add(float* out, const float* a, const float* b, long n, void* stream = nullptr);
// y (n) += x (gradient accumulation).
[[nodiscard]] Status accumulate(float* y, const float* x, long n, void* stream = nullptr);

// ---- embedding (encoder.hpp) --------------------------------------------------------
// tokens, positions: device int arrays (N).
[[nodiscard]] Status encoder_forward(float* out, const int* tokens, const int* positions, const float* wte,
                                     const float* wpe, int N, int C, void* stream = nullptr);
// dwte, dwpe +=; rows that share a token add atomically.
[[nodiscard]] Status encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens,
                                      const int* positions, int N, int C, void* stream = nullptr);

// ---- LayerNorm (layernorm.hpp) ----------------------------------------------------------
[[nodiscard]] Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                       const float* bias, int N, int C, void* stream = nullptr);
[[nodiscard]] Status layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                        const float* inp, const float* weight, const float* mean, const float* rstd,
                                        int N, int C, void* stream = nullptr);

// ---- dense layers (matmul.hpp), cuBLAS underneath ------------------------------------------
// out (N,OC) = inp (N,C) · weight (OC,C)^T + bias (OC); bias may be null.
[[nodiscard]] Status matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                                    int C, int OC, void* stream = nullptr);
// dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) +=; dinp and dbias may be null.
[[nodiscard]] Status matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                     const float* inp, const float* weight, int N, int C, int OC,
                                     void* stream = nullptr);

// ---- attention (attention.hpp) -----------------------------------------------------------------
// key_valid: device bytes (B,T) or null.
[[nodiscard]] Status attention_forward(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B,
                                       int T, int C, int NH, void* stream = nullptr);
// dqkv +=. scratch: device floats (B,NH,T,T), overwritten (d of the pre-softmax scores).
[[nodiscard]] Status attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv,
                                        const float* att, int B, int T, int C, int NH, void* stream = nullptr);
// The decode step's bookkeeping: row r's key and value (qkv (N,3C), columns
// [C,2C) and [2C,3C)) go to kcache, vcache (N,maxT,C) at position pos[r]
// (device ints), and its query (columns [0,C)) to q (N,C), contiguous.
[[nodiscard]] Status kv_cache_append(float* kcache, float* vcache, float* q, const float* qkv, const int* pos, int N,
                                     int maxT, int C, void* stream = nullptr);
// len: device ints (N). REQUIRES: 1 <= len[n] <= maxT.
[[nodiscard]] Status attention_decode_forward(float* out, const float* q, const float* kcache, const float* vcache,
                                              const int* len, int N, int maxT, int C, int NH,
                                              void* stream = nullptr);

// ---- log-probabilities and cross-entropy (logprob.hpp) -------------------------------------------
// targets: device ints (N).
[[nodiscard]] Status token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N,
                                            int V, void* stream = nullptr);
[[nodiscard]] Status token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits,
                                             const float* lse, const int* targets, int N, int V,
                                             void* stream = nullptr);
[[nodiscard]] Status cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N,
                                           int V, void* stream = nullptr);
[[nodiscard]] Status cross_entropy_backward(float* dlogits, const float* dlosses, const float* logits,
                                            const float* lse, const int* targets, int N, int V,
                                            void* stream = nullptr);

// ---- optimiser (adamw.hpp) --------------------------------------------------------------------------
[[nodiscard]] Status adamw_update(float* params, const float* grads, float* m, float* v, long n,
                                  const AdamWStepParams& p, void* stream = nullptr);
// *result (host) = sum g² over grads (n), accumulated in double. Synchronous:
// waits for `stream` to deliver the sum.
[[nodiscard]] Status global_norm_squared(double* result, const float* grads, long n, void* stream = nullptr);

}  // namespace troupe::kernels::cuda
