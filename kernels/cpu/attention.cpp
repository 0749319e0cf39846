// Causal multi-head attention (kernels/attention.hpp).
#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_exp.hpp"
#include "kernels/cpu/reduce.hpp"

namespace troupe::kernels::cpu {

namespace {

inline bool valid(const uint8_t* key_valid, long idx) { return key_valid == nullptr || key_valid[idx] != 0; }

inline float dot(const float* a, const float* b, int n) { return vec::dot(a, b, n); }

inline void axpy(float alpha, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// The fast path. Memory first: one (b, h) head's q, k and v are hs-float
// slices of rows 3C floats apart, and reading them head by head misses the
// caches on every row. So the fast kernels take one sequence b at a time, copy
// its (T, 3C) block once, sequentially, into per-head contiguous (T, hs)
// blocks (gather_heads), work on those, and write results back the same way.
// Then arithmetic: a head's keys (values, in the backward) are packed
// transposed, (hs, Tp) with Tp = T rounded up to kChunk and zero padding, so
// that a row of scores is a sum of hs scaled rows of the packed matrix -- vector
// FMAs into kChunk accumulators, no horizontal sums -- and weighted sums of
// rows keep their hs accumulators in registers (gather_axpy_fixed).
constexpr int kChunk = 64;  // scores per accumulator block: 8 AVX registers

inline int padded(int T) { return (T + kChunk - 1) / kChunk * kChunk; }

// dst[0..hs) = src[0..hs) as vector moves. (std::copy of 64-256 bytes is a
// call into memmove, which cost more than the copying itself; the build keeps
// GCC from turning this loop back into one: -fno-tree-loop-distribute-patterns.)
inline void copy_slice(float* __restrict dst, const float* __restrict src, int hs) {
  for (int i = 0; i < hs; ++i) dst[i] = src[i];
}

// dst (NH, T, hs) = the NH head slices of T rows of `src` (row stride `stride`).
void gather_heads(float* dst, const float* src, long stride, int T, int NH, int hs) {
  for (int t = 0; t < T; ++t) {
    const float* row = src + t * stride;
    for (int h = 0; h < NH; ++h) copy_slice(dst + (long(h) * T + t) * hs, row + h * hs, hs);
  }
}

// The inverse: rows of `dst` (stride `stride`) = (or +=, when add) the head blocks of src (NH, T, hs).
void scatter_heads(float* dst, long stride, const float* src, int T, int NH, int hs, bool add) {
  for (int t = 0; t < T; ++t) {
    float* row = dst + t * stride;
    for (int h = 0; h < NH; ++h) {
      const float* s = src + (long(h) * T + t) * hs;
      float* d = row + h * hs;
      if (add) {
        for (int i = 0; i < hs; ++i) d[i] += s[i];
      } else {
        copy_slice(d, s, hs);
      }
    }
  }
}

// packed (hs, Tp) = rows (T, hs) transposed, padding columns 0.
void pack_transposed(float* packed, const float* rows, int T, int Tp, int hs) {
  for (int i = 0; i < hs; ++i) {
    float* dst = packed + long(i) * Tp;
    for (int t = 0; t < T; ++t) dst[t] = rows[long(t) * hs + i];
    std::fill(dst + T, dst + Tp, 0.0f);
  }
}

// s[j] = sum_i x[i]·packed[i, j] for j < n.
void times_packed(float* s, const float* x, const float* packed, int Tp, int n, int hs) {
  for (int j0 = 0; j0 < n; j0 += kChunk) {
    float acc[kChunk] = {};
    for (int i = 0; i < hs; ++i) {
      const float xi = x[i];
      const float* p = packed + long(i) * Tp + j0;
      for (int j = 0; j < kChunk; ++j) acc[j] += xi * p[j];  // within Tp: padding reads zeros
    }
    std::copy(acc, acc + std::min(kChunk, n - j0), s + j0);
  }
}

// Eight floats as one AVX register (GCC/Clang vector extension). Written out
// for gather_axpy_fixed because GCC's own vectorisation of that loop nest
// varies with HS, and at HS = 16 chose a shuffle-heavy form ten times slower.
using Vec8 = float __attribute__((vector_size(32)));

inline Vec8 load8(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// acc[i] = sum_{j<n} coef[j·cstride] · rows[j·HS + i] for i < HS (rows
// contiguous (n, HS)), the HS sums held in registers; two rows per step, so
// that each step adds one independent product pair to an accumulator.
template <int HS>
void gather_axpy_fixed(float* acc, const float* coef, long cstride, const float* rows, int n) {
  constexpr int kV = HS / 8;
  Vec8 a[kV] = {};
  int j = 0;
  for (; j + 2 <= n; j += 2) {
    const float c0 = coef[j * cstride], c1 = coef[(j + 1) * cstride];
    const float* r = rows + long(j) * HS;
    for (int v = 0; v < kV; ++v) a[v] += c0 * load8(r + 8 * v) + c1 * load8(r + HS + 8 * v);
  }
  if (j < n) {
    const float c = coef[j * cstride];
    for (int v = 0; v < kV; ++v) a[v] += c * load8(rows + long(j) * HS + 8 * v);
  }
  std::memcpy(acc, a, sizeof a);
}

// The same for any hs (=): the common head sizes take the register path.
void gather_axpy(float* acc, const float* coef, long cstride, const float* rows, int n, int hs) {
  switch (hs) {
    case 16: return gather_axpy_fixed<16>(acc, coef, cstride, rows, n);
    case 32: return gather_axpy_fixed<32>(acc, coef, cstride, rows, n);
    case 64: return gather_axpy_fixed<64>(acc, coef, cstride, rows, n);
    default: break;
  }
  std::fill(acc, acc + hs, 0.0f);
  for (int j = 0; j < n; ++j) axpy(coef[j * cstride], rows + long(j) * hs, acc, hs);
}

// Per-thread scratch of the fast kernels: one sequence's heads and one head's
// work space. Kept per thread across calls (OpenMP's threads persist), so a
// training step does not allocate, page-fault and zero a megabyte per call.
struct Scratch {
  std::vector<float> q, k, v, d, dq, dk, dv;  // (NH, T, hs) each
  std::vector<float> packed;                  // (hs, Tp)
  std::vector<float> dscores;                 // (T, T)
  std::vector<float> qrow;                    // (hs)
};

// w.q, w.k, w.v (NH, T, hs) = the heads of one sequence's rows (T, 3C).
void gather_qkv(Scratch& w, const float* rows, int T, int C, int NH) {
  const long C3 = 3L * C;
  gather_heads(w.q.data(), rows, C3, T, NH, C / NH);
  gather_heads(w.k.data(), rows + C, C3, T, NH, C / NH);
  gather_heads(w.v.data(), rows + 2 * C, C3, T, NH, C / NH);
}

Scratch& thread_scratch(int T, int C, int NH) {
  thread_local Scratch w;
  const std::size_t n = std::size_t(T) * C, hs = std::size_t(C / NH);
  for (auto* v : {&w.q, &w.k, &w.v, &w.d, &w.dq, &w.dk, &w.dv}) {
    if (v->size() < n) v->resize(n);
  }
  if (w.packed.size() < hs * padded(T)) w.packed.resize(hs * padded(T));
  if (w.dscores.size() < std::size_t(T) * T) w.dscores.resize(std::size_t(T) * T);
  if (w.qrow.size() < hs) w.qrow.resize(hs);
  return w;
}

// One head: o (T, hs) =, a (T, T) = the probabilities, from q, k, v (T, hs).
// valid (T) may be null (every key valid).
void forward_head(float* o, float* a, const float* q, const float* k, const float* v, const uint8_t* valid_keys,
                  int T, int hs, Scratch& w) {
  const int Tp = padded(T);
  const float scale = 1.0f / std::sqrt(float(hs));
  pack_transposed(w.packed.data(), k, T, Tp, hs);
  for (int t = 0; t < T; ++t, a += T, o += hs) {
    for (int i = 0; i < hs; ++i) w.qrow[i] = q[long(t) * hs + i] * scale;
    times_packed(a, w.qrow.data(), w.packed.data(), Tp, t + 1, hs);
    if (valid_keys != nullptr) {
      for (int t2 = 0; t2 <= t; ++t2) {
        if (valid_keys[t2] == 0) a[t2] = -std::numeric_limits<float>::infinity();
      }
    }
    std::fill(a + t + 1, a + T, 0.0f);
    const float maxv = vec::max(a, t + 1);
    if (maxv == -std::numeric_limits<float>::infinity()) {  // no valid key
      std::fill(a, a + t + 1, 0.0f);
      std::fill(o, o + hs, 0.0f);
      continue;
    }
    for (int t2 = 0; t2 <= t; ++t2) a[t2] = fast::exp(a[t2] - maxv);  // masked keys hold -inf: exp gives 0
    const float inv = 1.0f / vec::sum(a, t + 1);
    for (int t2 = 0; t2 <= t; ++t2) a[t2] *= inv;
    gather_axpy(o, a, 1, v, t + 1, hs);
  }
}

// One head's backward: dq, dk, dv (T, hs) = from dout (T, hs), the forward's
// q, k, v and probabilities a (T, T). Row pass (per query t): d(probs) from the
// packed values, then d(scores) into w.dscores and dq. Column pass (per key
// t2): dk and dv from column t2 of d(scores) and of a, summed over the queries
// t >= t2 that saw the key. (Transposing the two (T, T) blocks first, to read
// the columns as rows, cost more than it saved.)
void backward_head(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k, const float* v,
                   const float* a, int T, int hs, Scratch& w) {
  const int Tp = padded(T);
  const float scale = 1.0f / std::sqrt(float(hs));
  float* D = w.dscores.data();
  pack_transposed(w.packed.data(), v, T, Tp, hs);
  for (int t = 0; t < T; ++t) {
    const float* arow = a + long(t) * T;
    float* drow = D + long(t) * T;
    times_packed(drow, dout + long(t) * hs, w.packed.data(), Tp, t + 1, hs);
    const float sum = vec::dot(arow, drow, t + 1);
    for (int t2 = 0; t2 <= t; ++t2) drow[t2] = arow[t2] * (drow[t2] - sum) * scale;
    gather_axpy(dq + long(t) * hs, drow, 1, k, t + 1, hs);
  }
  for (int t2 = 0; t2 < T; ++t2) {
    const long first = long(t2) * T + t2;  // (t2, t2): column t2 from row t2 down, stride T
    gather_axpy(dk + long(t2) * hs, D + first, T, q + long(t2) * hs, T - t2, hs);
    gather_axpy(dv + long(t2) * hs, a + first, T, dout + long(t2) * hs, T - t2, hs);
  }
}

// The plain backward of one (b, h) pair (the reference). datt: scratch of T floats.
void backward_head_reference(float* dqkv, const float* dout, const float* qkv, const float* att, int b, int h, int T,
                             int C, int NH, float* datt) {
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
  const int hs = C / NH;
  const long C3 = 3L * C;
#pragma omp parallel if (long(B) * T * C >= 4096)
  {
    Scratch& w = thread_scratch(T, C, NH);
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < B; ++b) {
      gather_qkv(w, qkv + long(b) * T * C3, T, C, NH);
      const uint8_t* valid_keys = key_valid != nullptr ? key_valid + long(b) * T : nullptr;
      for (int h = 0; h < NH; ++h) {
        const long off = long(h) * T * hs;
        forward_head(w.d.data() + off, att + (long(b) * NH + h) * T * T, w.q.data() + off, w.k.data() + off,
                     w.v.data() + off, valid_keys, T, hs, w);
      }
      scatter_heads(out + long(b) * T * C, C, w.d.data(), T, NH, hs, false);
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                        int NH) {
  std::vector<float> datt(T);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) backward_head_reference(dqkv, dout, qkv, att, b, h, T, C, NH, datt.data());
  }
}

void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T,
                             int C, int NH) {
  const int hs = C / NH;
  const long C3 = 3L * C;
#pragma omp parallel if (long(B) * T * C >= 4096)
  {
    Scratch& w = thread_scratch(T, C, NH);
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < B; ++b) {
      gather_qkv(w, qkv + long(b) * T * C3, T, C, NH);
      gather_heads(w.d.data(), dout + long(b) * T * C, C, T, NH, hs);
      for (int h = 0; h < NH; ++h) {
        const long off = long(h) * T * hs;
        backward_head(w.dq.data() + off, w.dk.data() + off, w.dv.data() + off, w.d.data() + off, w.q.data() + off,
                      w.k.data() + off, w.v.data() + off, att + (long(b) * NH + h) * T * T, T, hs, w);
      }
      float* drows = dqkv + long(b) * T * C3;
      scatter_heads(drows, C3, w.dq.data(), T, NH, hs, true);
      scatter_heads(drows + C, C3, w.dk.data(), T, NH, hs, true);
      scatter_heads(drows + 2 * C, C3, w.dv.data(), T, NH, hs, true);
    }
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
