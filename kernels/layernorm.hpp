// LayerNorm over the last dimension (eps 1e-5, as GPT-2 and PyTorch's default).
// Thread-safe: no state.
#pragma once

namespace troupe::kernels::cpu {

// inp (N,C), weight (C), bias (C) -> out (N,C) =; mean (N) =, rstd (N) = are saved for backward.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C);

// dinp (N,C) +=, dweight (C) +=, dbias (C) += from dout (N,C).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);

}  // namespace troupe::kernels::cpu
