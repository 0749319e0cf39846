// Sums, dot products and maxima that the compiler vectorises. Without
// -ffast-math, GCC keeps a float reduction (`s += x[i]`) in source order, which
// forces one scalar add per element; eight independent partial results, merged
// at the end, vectorise into one AVX register. The order of additions differs
// from a sequential sum by rounding only. Private to kernels/cpu.
#pragma once

#include <algorithm>
#include <limits>

namespace troupe::kernels::cpu::vec {

constexpr int kLanes = 8;  // one AVX register of floats

inline float sum(const float* x, int n) {
  float p[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) p[j] += x[i + j];
  }
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += p[j];
  for (; i < n; ++i) s += x[i];
  return s;
}

inline float dot(const float* a, const float* b, int n) {
  float p[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) p[j] += a[i + j] * b[i + j];
  }
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += p[j];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// -inf for n = 0.
inline float max(const float* x, int n) {
  float p[kLanes];
  std::fill(p, p + kLanes, -std::numeric_limits<float>::infinity());
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) p[j] = p[j] > x[i + j] ? p[j] : x[i + j];
  }
  float m = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < kLanes; ++j) m = m > p[j] ? m : p[j];
  for (; i < n; ++i) m = m > x[i] ? m : x[i];
  return m;
}

}  // namespace troupe::kernels::cpu::vec
