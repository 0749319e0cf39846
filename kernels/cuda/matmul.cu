// CUDA dense layers (kernels/cuda_ops.hpp, contract of kernels/matmul.hpp):
// the products go through cuBLAS (cuda_sgemm, row-major), the bias add is one
// thread per element, and the bias gradient one thread per column over a chunk
// of rows, chunks combined with atomicAdd.
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"

namespace troupe::kernels::cuda {

using cuda_detail::blocks_for;
using cuda_detail::check;
using cuda_detail::kBlock;

namespace {

constexpr int kRowsPerChunk = 256;  // rows one thread sums before its atomicAdd (see ops.cu)

__global__ void add_bias_kernel(float* out, const float* bias, int N, int OC) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < long(N) * OC) out[idx] += bias[idx % OC];
}

__global__ void column_sum_kernel(float* dbias, const float* dout, int N, int OC) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  const int r0 = blockIdx.y * kRowsPerChunk, r1 = min(N, r0 + kRowsPerChunk);
  float s = 0.0f;
  for (int r = r0; r < r1; ++r) s += dout[long(r) * OC + o];
  atomicAdd(&dbias[o], s);
}

}  // namespace

Status matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC,
                      void* stream) {
  if (N == 0 || OC == 0) return Status::ok();
  // out (N,OC) = inp (N,C) · weight^T, weight stored (OC,C).
  TROUPE_RETURN_IF_ERROR(cuda_sgemm(false, true, N, OC, C, 1.0f, inp, weight, 0.0f, out, stream)
                             .with_context("cuda::matmul_forward"));
  if (bias == nullptr) return Status::ok();
  add_bias_kernel<<<blocks_for(long(N) * OC), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(out, bias, N, OC);
  return check(cudaGetLastError(), "cuda::matmul_forward bias launch");
}

Status matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC, void* stream) {
  if (N == 0 || OC == 0 || C == 0) return Status::ok();
  // dinp (N,C) += dout (N,OC) · weight (OC,C)
  if (dinp != nullptr) {
    TROUPE_RETURN_IF_ERROR(cuda_sgemm(false, false, N, C, OC, 1.0f, dout, weight, 1.0f, dinp, stream)
                               .with_context("cuda::matmul_backward dinp"));
  }
  // dweight (OC,C) += dout^T (OC,N) · inp (N,C)
  TROUPE_RETURN_IF_ERROR(cuda_sgemm(true, false, OC, C, N, 1.0f, dout, inp, 1.0f, dweight, stream)
                             .with_context("cuda::matmul_backward dweight"));
  if (dbias == nullptr) return Status::ok();
  const dim3 grid(unsigned(blocks_for(OC)), unsigned((N + kRowsPerChunk - 1) / kRowsPerChunk));
  column_sum_kernel<<<grid, kBlock, 0, static_cast<cudaStream_t>(stream)>>>(dbias, dout, N, OC);
  return check(cudaGetLastError(), "cuda::matmul_backward dbias launch");
}

}  // namespace troupe::kernels::cuda
