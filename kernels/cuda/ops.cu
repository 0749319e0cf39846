// CUDA twins of the elementwise, embedding, LayerNorm and optimiser ops
// (kernels/cuda_ops.hpp). Elementwise ops use one thread per element; LayerNorm
// one warp per row; per-column gradient sums (dweight, dbias) one thread per
// column over a chunk of rows, chunks combined with atomicAdd.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda_ops.hpp"

namespace troupe::kernels::cuda {

using cuda_detail::blocks_for;
using cuda_detail::check;
using cuda_detail::kBlock;
using cuda_detail::kWarp;
using cuda_detail::row_blocks;
using cuda_detail::warp_sum;

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kCubic = 0.044715f;                   // GPT-2's tanh approximation
constexpr float kLnEps = 1e-5f;                       // same as the CPU LayerNorm
// Rows one thread sums for a column before adding its partial atomically:
// enough work per thread, few atomics, and rows spread over many blocks.
constexpr int kRowsPerChunk = 256;

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

__global__ void gelu_forward_kernel(float* out, const float* inp, long n) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  out[i] = 0.5f * x * (1.0f + tanhf(u));
}

__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, long n) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  const float t = tanhf(u);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  dinp[i] += (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du) * dout[i];
}

__global__ void add_kernel(float* out, const float* a, const float* b, long n) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(float* y, const float* x, long n) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}

// One thread per output element (i, c).
__global__ void encoder_forward_kernel(float* out, const int* tokens, const int* positions, const float* wte,
                                       const float* wpe, int N, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(N) * C) return;
  const long i = idx / C, c = idx % C;
  out[idx] = wte[long(tokens[i]) * C + c] + wpe[long(positions[i]) * C + c];
}

// Rows with the same token (or position) add into one gradient row: atomics.
__global__ void encoder_backward_kernel(float* dwte, float* dwpe, const float* dout, const int* tokens,
                                        const int* positions, int N, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(N) * C) return;
  const long i = idx / C, c = idx % C;
  const float d = dout[idx];
  atomicAdd(&dwte[long(tokens[i]) * C + c], d);
  atomicAdd(&dwpe[long(positions[i]) * C + c], d);
}

// One warp per row; kRowsPerBlock rows per block.
__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                         const float* bias, int N, int C) {
  const int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = inp + long(row) * C;
  float s = 0.0f;
  for (int c = lane; c < C; c += kWarp) s += x[c];
  const float m = warp_sum(s) / C;
  float v = 0.0f;
  for (int c = lane; c < C; c += kWarp) v += (x[c] - m) * (x[c] - m);
  const float r = rsqrtf(warp_sum(v) / C + kLnEps);
  float* o = out + long(row) * C;
  for (int c = lane; c < C; c += kWarp) o[c] = (x[c] - m) * r * weight[c] + bias[c];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

// dinp, one warp per row: dx = rstd·(dnorm - mean(dnorm) - xhat·mean(dnorm·xhat)), dnorm = dout·weight.
__global__ void layernorm_backward_input_kernel(float* dinp, const float* dout, const float* inp,
                                                const float* weight, const float* mean, const float* rstd, int N,
                                                int C) {
  const int row = blockIdx.x * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= N) return;
  const float* x = inp + long(row) * C;
  const float* d = dout + long(row) * C;
  float* di = dinp + long(row) * C;
  const float m = mean[row], s = rstd[row];
  float a = 0.0f, b = 0.0f;
  for (int c = lane; c < C; c += kWarp) {
    const float dn = d[c] * weight[c];
    a += dn;
    b += dn * (x[c] - m) * s;
  }
  a = warp_sum(a) / C;
  b = warp_sum(b) / C;
  for (int c = lane; c < C; c += kWarp) {
    const float xhat = (x[c] - m) * s;
    di[c] += s * (d[c] * weight[c] - a - xhat * b);
  }
}

// dweight, dbias: thread = column c, blockIdx.y = chunk of kRowsPerChunk rows.
__global__ void layernorm_backward_params_kernel(float* dweight, float* dbias, const float* dout, const float* inp,
                                                 const float* mean, const float* rstd, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int r0 = blockIdx.y * kRowsPerChunk, r1 = min(N, r0 + kRowsPerChunk);
  float dw = 0.0f, db = 0.0f;
  for (int r = r0; r < r1; ++r) {
    const float d = dout[long(r) * C + c];
    db += d;
    dw += d * (inp[long(r) * C + c] - mean[r]) * rstd[r];
  }
  atomicAdd(&dweight[c], dw);
  atomicAdd(&dbias[c], db);
}

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, long n, AdamWStepParams p,
                             float bc1, float bc2) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = grads[i] * p.grad_scale;
  const float mi = p.beta1 * m[i] + (1.0f - p.beta1) * g;
  const float vi = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  params[i] -= p.lr * ((mi / bc1) / (sqrtf(vi / bc2) + p.eps) + p.weight_decay * params[i]);
}

// Grid-stride sum of squares in double; one atomicAdd per block.
__global__ void sum_squares_kernel(double* out, const float* g, long n) {
  __shared__ double partial[kBlock / kWarp];
  double s = 0.0;
  for (long i = long(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    s += double(g[i]) * double(g[i]);
  }
  s = warp_sum(s);
  if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0.0;
    for (int w = 0; w < kBlock / kWarp; ++w) t += partial[w];
    atomicAdd(out, t);
  }
}

Status launched(const char* what) { return check(cudaGetLastError(), what); }

}  // namespace

Status gelu_forward(float* out, const float* inp, long n, void* stream) {
  if (n == 0) return Status::ok();
  gelu_forward_kernel<<<blocks_for(n), kBlock, 0, as_stream(stream)>>>(out, inp, n);
  return launched("cuda::gelu_forward launch");
}

Status gelu_backward(float* dinp, const float* inp, const float* dout, long n, void* stream) {
  if (n == 0) return Status::ok();
  gelu_backward_kernel<<<blocks_for(n), kBlock, 0, as_stream(stream)>>>(dinp, inp, dout, n);
  return launched("cuda::gelu_backward launch");
}

Status add(float* out, const float* a, const float* b, long n, void* stream) {
  if (n == 0) return Status::ok();
  add_kernel<<<blocks_for(n), kBlock, 0, as_stream(stream)>>>(out, a, b, n);
  return launched("cuda::add launch");
}

Status accumulate(float* y, const float* x, long n, void* stream) {
  if (n == 0) return Status::ok();
  accumulate_kernel<<<blocks_for(n), kBlock, 0, as_stream(stream)>>>(y, x, n);
  return launched("cuda::accumulate launch");
}

Status encoder_forward(float* out, const int* tokens, const int* positions, const float* wte, const float* wpe,
                       int N, int C, void* stream) {
  if (long(N) * C == 0) return Status::ok();
  encoder_forward_kernel<<<blocks_for(long(N) * C), kBlock, 0, as_stream(stream)>>>(out, tokens, positions, wte, wpe,
                                                                                   N, C);
  return launched("cuda::encoder_forward launch");
}

Status encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, const int* positions, int N,
                        int C, void* stream) {
  if (long(N) * C == 0) return Status::ok();
  encoder_backward_kernel<<<blocks_for(long(N) * C), kBlock, 0, as_stream(stream)>>>(dwte, dwpe, dout, tokens,
                                                                                    positions, N, C);
  return launched("cuda::encoder_backward launch");
}

Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C, void* stream) {
  if (N == 0) return Status::ok();
  layernorm_forward_kernel<<<row_blocks(N), kBlock, 0, as_stream(stream)>>>(out, mean, rstd, inp, weight, bias, N,
                                                                             C);
  return launched("cuda::layernorm_forward launch");
}

Status layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, const float* mean, const float* rstd, int N, int C, void* stream) {
  if (N == 0 || C == 0) return Status::ok();
  layernorm_backward_input_kernel<<<row_blocks(N), kBlock, 0, as_stream(stream)>>>(dinp, dout, inp, weight, mean,
                                                                                    rstd, N, C);
  TROUPE_RETURN_IF_ERROR(launched("cuda::layernorm_backward (input) launch"));
  const dim3 grid(unsigned(blocks_for(C)), unsigned((N + kRowsPerChunk - 1) / kRowsPerChunk));
  layernorm_backward_params_kernel<<<grid, kBlock, 0, as_stream(stream)>>>(dweight, dbias, dout, inp, mean, rstd, N,
                                                                            C);
  return launched("cuda::layernorm_backward (weights) launch");
}

Status adamw_update(float* params, const float* grads, float* m, float* v, long n, const AdamWStepParams& p,
                    void* stream) {
  if (n == 0) return Status::ok();
  const float bc1 = 1.0f - std::pow(p.beta1, float(p.step));
  const float bc2 = 1.0f - std::pow(p.beta2, float(p.step));
  adamw_kernel<<<blocks_for(n), kBlock, 0, as_stream(stream)>>>(params, grads, m, v, n, p, bc1, bc2);
  return launched("cuda::adamw_update launch");
}

Status global_norm_squared(double* result, const float* grads, long n, void* stream) {
  *result = 0.0;
  if (n == 0) return Status::ok();
  // One device double per thread and device, kept for the thread's life (the optimiser calls this
  // every step).
  struct Free {
    void operator()(double* p) const { (void)cudaFree(p); }
  };
  thread_local std::vector<std::unique_ptr<double, Free>> accs;  // by device ordinal
  int device = 0;
  TROUPE_RETURN_IF_ERROR(check(cudaGetDevice(&device), "cuda::global_norm_squared cudaGetDevice"));
  if (accs.size() <= size_t(device)) accs.resize(size_t(device) + 1);
  auto& acc = accs[size_t(device)];
  if (!acc) {
    void* p = nullptr;
    TROUPE_RETURN_IF_ERROR(check(cudaMalloc(&p, sizeof(double)), "cuda::global_norm_squared cudaMalloc"));
    acc.reset(static_cast<double*>(p));
  }
  cudaStream_t s = as_stream(stream);
  TROUPE_RETURN_IF_ERROR(check(cudaMemsetAsync(acc.get(), 0, sizeof(double), s), "cuda::global_norm_squared memset"));
  // Enough blocks to fill a large GPU; each thread strides over the rest.
  const int blocks = int(std::min<long>(blocks_for(n), 1024));
  sum_squares_kernel<<<blocks, kBlock, 0, s>>>(acc.get(), grads, n);
  TROUPE_RETURN_IF_ERROR(launched("cuda::global_norm_squared launch"));
  TROUPE_RETURN_IF_ERROR(check(cudaMemcpyAsync(result, acc.get(), sizeof(double), cudaMemcpyDeviceToHost, s),
                               "cuda::global_norm_squared copy"));
  return check(cudaStreamSynchronize(s), "cuda::global_norm_squared synchronize");
}

}  // namespace troupe::kernels::cuda
