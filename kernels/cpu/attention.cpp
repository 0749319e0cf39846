// Causal multi-head attention (kernels/attention.hpp).
#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_exp.hpp"

namespace troupe::kernels::cpu {

namespace {

inline bool valid(const uint8_t* key_valid, long idx) { return key_valid == nullptr || key_valid[idx] != 0; }

inline float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// One (b, h) pair of the fast forward. row: scratch of T floats.
void forward_head(float* out, float* att, const float* qkv, const uint8_t* key_valid, int b, int h, int T, int C,
                  int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(float(hs));
  const long C3 = 3L * C;
  for (int t = 0; t < T; ++t) {
    const float* q = qkv + (long(b) * T + t) * C3 + h * hs;
    float* a = att + ((long(b) * NH + h) * T + t) * T;
    float maxv = -std::numeric_limits<float>::infinity();
    for (int t2 = 0; t2 <= t; ++t2) {
      if (!valid(key_valid, long(b) * T + t2)) {
        a[t2] = -std::numeric_limits<float>::infinity();
        continue;
      }
      const float* k = qkv + (long(b) * T + t2) * C3 + C + h * hs;
      a[t2] = dot(q, k, hs) * scale;
      maxv = std::max(maxv, a[t2]);
    }
    float* o = out + (long(b) * T + t) * C + h * hs;
    std::fill(o, o + hs, 0.0f);
    std::fill(a + t + 1, a + T, 0.0f);
    if (maxv == -std::numeric_limits<float>::infinity()) {  // no valid key
      std::fill(a, a + t + 1, 0.0f);
      continue;
    }
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; ++t2) {
      a[t2] = fast::exp(a[t2] - maxv);  // masked keys hold -inf: exp gives exactly 0
      sum += a[t2];
    }
    const float inv = 1.0f / sum;
    for (int t2 = 0; t2 <= t; ++t2) {
      a[t2] *= inv;
      if (a[t2] != 0.0f) axpy(a[t2], qkv + (long(b) * T + t2) * C3 + 2 * C + h * hs, o, hs);
    }
  }
}

void backward_head(float* dqkv, const float* dout, const float* qkv, const float* att, int b, int h, int T, int C,
                   int NH, float* datt) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(float(hs));
  const long C3 = 3L * C;
  for (int t = 0; t < T; ++t) {
    const float* a = att + ((long(b) * NH + h) * T + t) * T;
    const float* d = dout + (long(b) * T + t) * C + h * hs;
    const float* q = qkv + (long(b) * T + t) * C3 + h * hs;
    float* dq = dqkv + (long(b) * T + t) * C3 + h * hs;
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; ++t2) {
      if (a[t2] == 0.0f) {
        datt[t2] = 0.0f;
        continue;
      }
      const long base = (long(b) * T + t2) * C3;
      datt[t2] = dot(d, qkv + base + 2 * C + h * hs, hs);
      axpy(a[t2], d, dqkv + base + 2 * C + h * hs, hs);  // dv
      sum += a[t2] * datt[t2];
    }
    for (int t2 = 0; t2 <= t; ++t2) {
      if (a[t2] == 0.0f) continue;
      const float dpre = a[t2] * (datt[t2] - sum) * scale;
      const long base = (long(b) * T + t2) * C3;
      axpy(dpre, qkv + base + C + h * hs, dq, hs);       // dq
      axpy(dpre, q, dqkv + base + C + h * hs, hs);       // dk
    }
  }
}

}  // namespace

void attention_forward(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                       int NH) {
  const int hs = C / NH;
  const double scale = 1.0 / std::sqrt(double(hs));
  const long C3 = 3L * C;
  std::vector<double> p(T);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < T; ++t) {
        const float* q = qkv + (long(b) * T + t) * C3 + h * hs;
        double maxv = -std::numeric_limits<double>::infinity();
        for (int t2 = 0; t2 <= t; ++t2) {
          if (!valid(key_valid, long(b) * T + t2)) continue;
          const float* k = qkv + (long(b) * T + t2) * C3 + C + h * hs;
          double s = 0.0;
          for (int i = 0; i < hs; ++i) s += double(q[i]) * k[i];
          p[t2] = s * scale;
          maxv = std::max(maxv, p[t2]);
        }
        double sum = 0.0;
        for (int t2 = 0; t2 <= t; ++t2) {
          p[t2] = valid(key_valid, long(b) * T + t2) ? std::exp(p[t2] - maxv) : 0.0;
          sum += p[t2];
        }
        float* a = att + ((long(b) * NH + h) * T + t) * T;
        for (int t2 = 0; t2 < T; ++t2) a[t2] = (t2 <= t && sum > 0.0) ? float(p[t2] / sum) : 0.0f;
        float* o = out + (long(b) * T + t) * C + h * hs;
        for (int i = 0; i < hs; ++i) {
          double acc = 0.0;
          for (int t2 = 0; t2 <= t; ++t2) {
            if (sum > 0.0) acc += p[t2] / sum * qkv[(long(b) * T + t2) * C3 + 2 * C + h * hs + i];
          }
          o[i] = float(acc);
        }
      }
    }
  }
}

void attention_forward_fast(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                            int NH) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < B * NH; ++bh) forward_head(out, att, qkv, key_valid, bh / NH, bh % NH, T, C, NH);
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                        int NH) {
  std::vector<float> datt(T);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) backward_head(dqkv, dout, qkv, att, b, h, T, C, NH, datt.data());
  }
}

void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T,
                             int C, int NH) {
#pragma omp parallel
  {
    std::vector<float> datt(T);
#pragma omp for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; ++bh) backward_head(dqkv, dout, qkv, att, bh / NH, bh % NH, T, C, NH, datt.data());
  }
}

void attention_decode_forward(float* out, const float* q, const float* kcache, const float* vcache, const int* len,
                              int N, int maxT, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(float(hs));
  // Waking a second thread costs more than a few rows of work (and far more on a busy machine).
#pragma omp parallel if (long(N) * len[0] * C >= (1L << 16))
  {
    std::vector<float> a(maxT);
#pragma omp for schedule(dynamic, 1)
    for (int nh = 0; nh < N * NH; ++nh) {
      const int n = nh / NH, h = nh % NH;
      const float* qr = q + long(n) * C + h * hs;
      const float* kc = kcache + long(n) * maxT * C + h * hs;
      const float* vc = vcache + long(n) * maxT * C + h * hs;
      float maxv = -std::numeric_limits<float>::infinity();
      for (int t2 = 0; t2 < len[n]; ++t2) {
        a[t2] = dot(qr, kc + long(t2) * C, hs) * scale;
        maxv = std::max(maxv, a[t2]);
      }
      float sum = 0.0f;
      for (int t2 = 0; t2 < len[n]; ++t2) {
        a[t2] = fast::exp(a[t2] - maxv);
        sum += a[t2];
      }
      float* o = out + long(n) * C + h * hs;
      std::fill(o, o + hs, 0.0f);
      const float inv = 1.0f / sum;
      for (int t2 = 0; t2 < len[n]; ++t2) axpy(a[t2] * inv, vc + long(t2) * C, o, hs);
    }
  }
}

}  // namespace troupe::kernels::cpu
