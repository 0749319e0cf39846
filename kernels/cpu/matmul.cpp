// Dense layers: plain-loop references and OpenBLAS fast paths (kernels/matmul.hpp).
#include "kernels/matmul.hpp"

#include <cblas.h>
#include <omp.h>

#include "kernels/cpu/reduce.hpp"

namespace troupe::kernels::cpu {

namespace {
constexpr int kFewRows = 4;                  // rows up to which the plain loop wins (decode at small batch)
constexpr long kSmallProduct = 1L << 18;     // multiply-adds below which it wins at any row count
}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < OC; ++o) {
      double acc = bias != nullptr ? bias[o] : 0.0;
      for (int c = 0; c < C; ++c) acc += double(inp[long(n) * C + c]) * weight[long(o) * C + c];
      out[long(n) * OC + o] = float(acc);
    }
  }
}

void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                         int OC) {
  // A few rows (decoding one token per sequence): a dot product per output on
  // this thread beats OpenBLAS, whose call and thread hand-off cost more than
  // the arithmetic, and whose second thread may be descheduled on a busy machine.
  if (N <= kFewRows || long(N) * C * OC <= kSmallProduct) {
    for (int n = 0; n < N; ++n) {
      const float* x = inp + long(n) * C;
      float* y = out + long(n) * OC;
      for (int o = 0; o < OC; ++o) y[o] = (bias != nullptr ? bias[o] : 0.0f) + vec::dot(x, weight + long(o) * C, C);
    }
    return;
  }
  float beta = 0.0f;
  if (bias != nullptr) {
    for (int n = 0; n < N; ++n) {
      for (int o = 0; o < OC; ++o) out[long(n) * OC + o] = bias[o];
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta, out, OC);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < OC; ++o) {
      const float d = dout[long(n) * OC + o];
      if (dbias != nullptr) dbias[o] += d;
      for (int c = 0; c < C; ++c) {
        if (dinp != nullptr) dinp[long(n) * C + c] += d * weight[long(o) * C + c];
        dweight[long(o) * C + c] += d * inp[long(n) * C + c];
      }
    }
  }
}

void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, int N, int C, int OC) {
  // dinp (N,C) += dout (N,OC) · weight (OC,C)
  if (dinp != nullptr) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
  }
  // dweight (OC,C) += dout^T (OC,N) · inp (N,C)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias != nullptr) {
    for (int n = 0; n < N; ++n) {
      const float* row = dout + long(n) * OC;
      for (int o = 0; o < OC; ++o) dbias[o] += row[o];
    }
  }
}

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
           float beta, float* c) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n);
}

void sgemm_reference(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                     const float* b, float beta, float* c) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int p = 0; p < k; ++p) {
        const float av = trans_a ? a[long(p) * m + i] : a[long(i) * k + p];
        const float bv = trans_b ? b[long(j) * k + p] : b[long(p) * n + j];
        acc += double(av) * bv;
      }
      float& out = c[long(i) * n + j];
      out = float(alpha * acc + (beta == 0.0f ? 0.0 : double(beta) * out));
    }
  }
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }
int blas_threads() { return openblas_get_num_threads(); }

void set_cpu_threads(int n) {
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace troupe::kernels::cpu
