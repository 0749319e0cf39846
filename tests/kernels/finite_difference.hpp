// Gradient checking for the kernel tests: compares an analytic gradient with a
// central finite difference of a scalar loss, on a sample of coordinates.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace troupe::kernels::testing {

inline std::vector<float> random_vector(std::size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// loss() reads `x` (which the checker perturbs in place) and returns a scalar in
// double. For up to `samples` coordinates i, checks
// |(loss(x+h e_i) - loss(x-h e_i)) / 2h - grad[i]| <= atol + rtol·|grad[i]|.
inline void expect_gradient_matches(const char* what, std::vector<float>& x, const std::vector<float>& grad,
                                    const std::function<double()>& loss, float h, double atol, double rtol,
                                    int samples = 48, uint32_t seed = 7) {
  ASSERT_EQ(x.size(), grad.size()) << what;
  std::mt19937 rng(seed);
  std::vector<std::size_t> idx;
  if (x.size() <= std::size_t(samples)) {
    for (std::size_t i = 0; i < x.size(); ++i) idx.push_back(i);
  } else {
    std::uniform_int_distribution<std::size_t> d(0, x.size() - 1);
    for (int s = 0; s < samples; ++s) idx.push_back(d(rng));
  }
  int bad = 0;
  for (std::size_t i : idx) {
    const float orig = x[i];
    x[i] = orig + h;
    const double up = loss();
    x[i] = orig - h;
    const double down = loss();
    x[i] = orig;
    // The perturbation actually applied, after float rounding.
    const double step = double(orig + h) - double(orig - h);
    const double num = (up - down) / step;
    if (std::abs(num - grad[i]) > atol + rtol * std::abs(grad[i])) {
      if (++bad <= 5) {
        ADD_FAILURE() << what << ": coordinate " << i << " numeric " << num << " analytic " << grad[i];
      }
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << idx.size() << " coordinates off";
}

// |got - ref| <= atol + rtol·|ref| elementwise.
inline void expect_close(const char* what, const float* got, const float* ref, std::size_t n, double atol,
                         double rtol) {
  int bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::abs(double(got[i]) - ref[i]) <= atol + rtol * std::abs(ref[i]))) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << " want " << ref[i];
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << n << " elements off";
}

// sum(out · r) in double: the scalar loss whose gradient w.r.t. out is r.
inline double weighted_sum(const std::vector<float>& out, const std::vector<float>& r) {
  double s = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) s += double(out[i]) * r[i];
  return s;
}

}  // namespace troupe::kernels::testing
