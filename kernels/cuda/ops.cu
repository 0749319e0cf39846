// CUDA twins of the CPU elementwise and row-wise ops (kernels/cuda_ops.hpp).
// Row-wise ops use one warp per row; elementwise ops one thread per element.
#include <cmath>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda_ops.hpp"

namespace troupe::kernels::cuda {

using cuda_detail::blocks_for;
using cuda_detail::check;
using cuda_detail::kBlock;

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kCubic = 0.044715f;                   // GPT-2's tanh approximation
constexpr float kLnEps = 1e-5f;                       // same as the CPU LayerNorm
constexpr int kWarp = 32;

__global__ void gelu_forward_kernel(float* out, const float* inp, long n) {
  long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = inp[i];
  float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  out[i] = 0.5f * x * (1.0f + tanhf(u));
}

__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, long n) {
  long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = inp[i];
  float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  float t = tanhf(u);
  float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  dinp[i] += (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du) * dout[i];
}

__device__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One warp per row; blockDim.x = kBlock, so kBlock/kWarp rows per block.
__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                         const float* bias, int N, int C) {
  int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = inp + long(row) * C;
  float s = 0.0f;
  for (int c = lane; c < C; c += kWarp) s += x[c];
  float m = warp_sum(s) / C;
  float v = 0.0f;
  for (int c = lane; c < C; c += kWarp) v += (x[c] - m) * (x[c] - m);
  float r = rsqrtf(warp_sum(v) / C + kLnEps);
  float* o = out + long(row) * C;
  for (int c = lane; c < C; c += kWarp) o[c] = (x[c] - m) * r * weight[c] + bias[c];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

__global__ void token_logprobs_kernel(float* logp, float* lse, const float* logits, const int* targets, int N,
                                      int V) {
  int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = logits + long(row) * V;
  float m = -INFINITY;
  for (int v = lane; v < V; v += kWarp) m = fmaxf(m, x[v]);
  m = warp_max(m);
  float s = 0.0f;
  for (int v = lane; v < V; v += kWarp) s += expf(x[v] - m);
  float l = m + logf(warp_sum(s));
  if (lane == 0) {
    lse[row] = l;
    logp[row] = targets[row] >= 0 ? x[targets[row]] - l : 0.0f;
  }
}

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, long n, AdamWStepParams p,
                             float bc1, float bc2) {
  long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = grads[i] * p.grad_scale;
  float mi = p.beta1 * m[i] + (1.0f - p.beta1) * g;
  float vi = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  params[i] -= p.lr * ((mi / bc1) / (sqrtf(vi / bc2) + p.eps) + p.weight_decay * params[i]);
}

int row_blocks(int N) { return (N + kBlock / kWarp - 1) / (kBlock / kWarp); }

}  // namespace

Status gelu_forward(float* out, const float* inp, long n, void* stream) {
  if (n == 0) return Status::ok();
  gelu_forward_kernel<<<blocks_for(n), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(out, inp, n);
  return check(cudaGetLastError(), "cuda::gelu_forward launch");
}

Status gelu_backward(float* dinp, const float* inp, const float* dout, long n, void* stream) {
  if (n == 0) return Status::ok();
  gelu_backward_kernel<<<blocks_for(n), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(dinp, inp, dout, n);
  return check(cudaGetLastError(), "cuda::gelu_backward launch");
}

Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C, void* stream) {
  if (N == 0) return Status::ok();
  layernorm_forward_kernel<<<row_blocks(N), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(out, mean, rstd, inp,
                                                                                             weight, bias, N, C);
  return check(cudaGetLastError(), "cuda::layernorm_forward launch");
}

Status token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N, int V,
                              void* stream) {
  if (N == 0) return Status::ok();
  token_logprobs_kernel<<<row_blocks(N), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(logp, lse, logits,
                                                                                          targets, N, V);
  return check(cudaGetLastError(), "cuda::token_logprobs_forward launch");
}

Status adamw_update(float* params, const float* grads, float* m, float* v, long n, const AdamWStepParams& p,
                    void* stream) {
  if (n == 0) return Status::ok();
  const float bc1 = 1.0f - std::pow(p.beta1, float(p.step));
  const float bc2 = 1.0f - std::pow(p.beta2, float(p.step));
  adamw_kernel<<<blocks_for(n), kBlock, 0, static_cast<cudaStream_t>(stream)>>>(params, grads, m, v, n, p, bc1, bc2);
  return check(cudaGetLastError(), "cuda::adamw_update launch");
}

}  // namespace troupe::kernels::cuda
