// Token + learned position embedding (GPT-2 style). Thread-safe: no state.
#pragma once

namespace troupe::kernels::cpu {

// out (N,C) = wte[tokens[i]] + wpe[positions[i]]. tokens, positions (N); wte (V,C), wpe (maxT,C). out: =.
// REQUIRES: 0 <= tokens[i] < V, 0 <= positions[i] < maxT.
void encoder_forward(float* out, const int* tokens, const int* positions, const float* wte, const float* wpe, int N,
                     int C);

// dwte (V,C) +=, dwpe (maxT,C) += from dout (N,C).
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, const int* positions, int N,
                      int C);

}  // namespace troupe::kernels::cpu
