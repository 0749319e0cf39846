// Token + position embedding (kernels/encoder.hpp). Memory-bound; one plain version.
#include "kernels/encoder.hpp"

namespace troupe::kernels::cpu {

void encoder_forward(float* out, const int* tokens, const int* positions, const float* wte, const float* wpe, int N,
                     int C) {
  for (int i = 0; i < N; ++i) {
    const float* te = wte + long(tokens[i]) * C;
    const float* pe = wpe + long(positions[i]) * C;
    float* o = out + long(i) * C;
    for (int c = 0; c < C; ++c) o[c] = te[c] + pe[c];
  }
}

void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, const int* positions, int N,
                      int C) {
  for (int i = 0; i < N; ++i) {
    float* te = dwte + long(tokens[i]) * C;
    float* pe = dwpe + long(positions[i]) * C;
    const float* d = dout + long(i) * C;
    for (int c = 0; c < C; ++c) {
      te[c] += d[c];
      pe[c] += d[c];
    }
  }
}

}  // namespace troupe::kernels::cpu
