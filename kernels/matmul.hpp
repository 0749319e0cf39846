// Dense layers and GEMM on the CPU. The reference versions are plain loops kept
// to check the fast ones, which call OpenBLAS sgemm (both cores). Row-major
// throughout; a weight is stored (OC, C) as in PyTorch's nn.Linear.
// Thread-safe: no state; OpenBLAS is called from one thread at a time per call.
#pragma once

namespace troupe::kernels::cpu {

// out (N,OC) = inp (N,C) · weight (OC,C)^T + bias (OC); bias may be null. out: =.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);
void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                         int OC);

// dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) += from dout (N,OC).
// dinp and dbias may be null (not needed).
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC);
void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, int N, int C, int OC);

// Row-major sgemm, the cblas_sgemm contract: c (m,n) = alpha·op(a)·op(b) + beta·c.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
           float beta, float* c);
// The same with plain loops and double accumulation (the reference for GPU tests).
void sgemm_reference(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                     const float* b, float beta, float* c);

// Threads OpenBLAS uses (for benchmarks that compare 1 and 2 threads).
void set_blas_threads(int n);
int blas_threads();
// Threads for every CPU kernel: OpenBLAS and the OpenMP loops. On a machine
// shared with other busy processes, 1 can be several times faster than 2:
// both pools spin while waiting for a descheduled peer.
void set_cpu_threads(int n);
// The OpenMP thread count set_cpu_threads chose (OpenMP's maximum).
int cpu_threads();

}  // namespace troupe::kernels::cpu
