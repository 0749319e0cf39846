// CUDA twins of the token log-probability and cross-entropy ops
// (kernels/logprob.hpp): one warp per row of logits. Cross-entropy is the
// negated log-probability, so both share one forward and one backward kernel
// with a sign.
#include <cmath>

#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda_ops.hpp"

namespace troupe::kernels::cuda {

using cuda_detail::check;
using cuda_detail::kBlock;
using cuda_detail::kWarp;
using cuda_detail::row_blocks;
using cuda_detail::warp_max;
using cuda_detail::warp_sum;

namespace {

// out[row] = sign · (logit[target] - logsumexp) (0 without a target), lse[row] = logsumexp.
__global__ void logprob_forward_kernel(float* out, float* lse, const float* logits, const int* targets, int N, int V,
                                       float sign) {
  const int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = logits + long(row) * V;
  float m = -INFINITY;
  for (int v = lane; v < V; v += kWarp) m = fmaxf(m, x[v]);
  m = warp_max(m);
  float s = 0.0f;
  for (int v = lane; v < V; v += kWarp) s += expf(x[v] - m);
  const float l = m + logf(warp_sum(s));
  if (lane == 0) {
    lse[row] = l;
    const int t = targets[row];
    out[row] = t >= 0 ? sign * (x[t] - l) : 0.0f;
  }
}

// dlogits[row] = sign · d[row] · (onehot(target) - softmax(logits[row])); 0 rows without a target.
// Each lane writes only its own columns, so the one-hot term needs no second pass.
__global__ void logprob_backward_kernel(float* dlogits, const float* d, const float* logits, const float* lse,
                                        const int* targets, int N, int V, float sign) {
  const int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = logits + long(row) * V;
  float* dx = dlogits + long(row) * V;
  const int t = targets[row];
  if (t < 0) {
    for (int v = lane; v < V; v += kWarp) dx[v] = 0.0f;
    return;
  }
  const float g = sign * d[row], l = lse[row];
  for (int v = lane; v < V; v += kWarp) dx[v] = g * ((v == t ? 1.0f : 0.0f) - expf(x[v] - l));
}

Status forward(float* out, float* lse, const float* logits, const int* targets, int N, int V, float sign,
               void* stream, const char* what) {
  if (N == 0) return Status::ok();
  logprob_forward_kernel<<<row_blocks(N), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(out, lse, logits, targets,
                                                                                           N, V, sign);
  return check(cudaGetLastError(), what);
}

Status backward(float* dlogits, const float* d, const float* logits, const float* lse, const int* targets, int N,
                int V, float sign, void* stream, const char* what) {
  if (N == 0) return Status::ok();
  logprob_backward_kernel<<<row_blocks(N), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(dlogits, d, logits, lse,
                                                                                            targets, N, V, sign);
  return check(cudaGetLastError(), what);
}

}  // namespace

Status token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N, int V,
                              void* stream) {
  return forward(logp, lse, logits, targets, N, V, 1.0f, stream, "cuda::token_logprobs_forward launch");
}

Status token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                               const int* targets, int N, int V, void* stream) {
  return backward(dlogits, dlogp, logits, lse, targets, N, V, 1.0f, stream, "cuda::token_logprobs_backward launch");
}

Status cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V,
                             void* stream) {
  return forward(losses, lse, logits, targets, N, V, -1.0f, stream, "cuda::cross_entropy_forward launch");
}

Status cross_entropy_backward(float* dlogits, const float* dlosses, const float* logits, const float* lse,
                              const int* targets, int N, int V, void* stream) {
  // d loss / d logp = -1.
  return backward(dlogits, dlosses, logits, lse, targets, N, V, -1.0f, stream, "cuda::cross_entropy_backward launch");
}

}  // namespace troupe::kernels::cuda
