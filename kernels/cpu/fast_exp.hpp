// exp and tanh for the fast CPU kernels, written as plain arithmetic so that
// the compiler vectorises the loops that call them (libm's expf/tanhf are
// scalar calls and were a fifth of a training step). Private to kernels/cpu.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace troupe::kernels::cpu::fast {

// e^x with relative error below 2e-7 for x in [-87.3, 88.7]; 0 below -87.3
// (where expf is subnormal or 0), +large above.
inline float exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;       // ln 2 split in two so n·ln2 is exact (Cephes)
  constexpr float kLn2Lo = -2.12194440e-4f;
  const bool underflow = x < -87.3f;
  x = x < -87.3f ? -87.3f : x;  // not std::fmin/fmax: without -ffast-math those stay libm calls
  x = x > 88.7f ? 88.7f : x;
  const float n = std::floor(x * kLog2e + 0.5f);
  const float r = x - n * kLn2Hi - n * kLn2Lo;  // |r| <= ln2/2
  // Degree-6 minimax polynomial for e^r on [-ln2/2, ln2/2] (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>(int32_t(n + 127.0f) << 23);  // 2^n
  return underflow ? 0.0f : p * scale;
}

// tanh(x) = 1 - 2 / (e^{2x} + 1); absolute error below 3e-7.
inline float tanh(float x) { return 1.0f - 2.0f / (exp(2.0f * x) + 1.0f); }

}  // namespace troupe::kernels::cpu::fast
