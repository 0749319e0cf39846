// GELU, tanh approximation (GPT-2's). Thread-safe: no state.
#pragma once

namespace troupe::kernels::cpu {

// out (n) = gelu(inp (n)). out: =.
void gelu_forward(float* out, const float* inp, long n);
// dinp (n) += gelu'(inp) * dout.
void gelu_backward(float* dinp, const float* inp, const float* dout, long n);

}  // namespace troupe::kernels::cpu
