// CUDA versions of the elementwise and row-wise ops. Each shares its CPU twin's
// signature and contract (kernels/gelu.hpp, layernorm.hpp, logprob.hpp,
// adamw.hpp) with device pointers, a Status result and an opaque stream
// (cudaStream_t; nullptr = default stream). GEMMs go through cuda_sgemm
// (kernels/cuda_runtime.hpp). Without CUDA every call returns unavailable.
#pragma once

#include "base/status.hpp"
#include "kernels/adamw.hpp"

namespace troupe::kernels::cuda {

[[nodiscard]] Status gelu_forward(float* out, const float* inp, long n, void* stream = nullptr);
[[nodiscard]] Status gelu_backward(float* dinp, const float* inp, const float* dout, long n, void* stream = nullptr);
[[nodiscard]] Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                       const float* bias, int N, int C, void* stream = nullptr);
[[nodiscard]] Status token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N,
                                            int V, void* stream = nullptr);
[[nodiscard]] Status adamw_update(float* params, const float* grads, float* m, float* v, long n,
                                  const AdamWStepParams& p, void* stream = nullptr);

}  // namespace troupe::kernels::cuda
