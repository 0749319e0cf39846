// CUDA causal multi-head attention (kernels/cuda_ops.hpp, contract of
// kernels/attention.hpp). Deliberately plain:
//   forward   scores: one thread per (b,h,t,t2), a dot product of head size;
//             softmax: one warp per (b,h,t) row; output: one thread per (b,t,c).
//   backward  d(att): one thread per (b,h,t,t2); softmax backward: one warp per
//             row, in place in the scratch; dq, dk, dv: one thread per (b,t,c),
//             each writing only its own three elements of dqkv (no atomics).
//   decode    one block per (row, head): scores in shared memory, block
//             reductions for max and sum, one thread per output element.
// Layout: qkv (B,T,3C) with q at [0,C), k at [C,2C), v at [2C,3C); head h
// owns columns [h·hs, (h+1)·hs) of each.
#include <cmath>

#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda_ops.hpp"

namespace troupe::kernels::cuda {

using cuda_detail::block_reduce;
using cuda_detail::blocks_for;
using cuda_detail::check;
using cuda_detail::kBlock;
using cuda_detail::kWarp;
using cuda_detail::row_blocks;
using cuda_detail::warp_max;
using cuda_detail::warp_sum;

namespace {

constexpr int kDecodeBlock = 128;                 // threads per (row, head) in decode
constexpr long kMaxSharedBytes = 48 * 1024;       // default dynamic shared memory limit per block

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// att[b,h,t,t2] = q·k / sqrt(hs), or -inf where t2 > t or key t2 is padding.
__global__ void scores_kernel(float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C, int NH,
                              float scale) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(B) * NH * T * T) return;
  const int t2 = int(idx % T), t = int((idx / T) % T);
  const long bh = idx / (long(T) * T);
  const int b = int(bh / NH), h = int(bh % NH), hs = C / NH;
  if (t2 > t || (key_valid != nullptr && key_valid[long(b) * T + t2] == 0)) {
    att[idx] = -INFINITY;
    return;
  }
  const float* q = qkv + (long(b) * T + t) * 3 * C + h * hs;
  const float* k = qkv + (long(b) * T + t2) * 3 * C + C + h * hs;
  float s = 0.0f;
  for (int i = 0; i < hs; ++i) s += q[i] * k[i];
  att[idx] = s * scale;
}

// Softmax of each (b,h,t) row of T scores in place; a row with no valid key becomes all 0.
__global__ void softmax_rows_kernel(float* att, long rows, int T) {
  const long row = long(blockIdx.x) * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  float* a = att + row * T;
  float m = -INFINITY;
  for (int t2 = lane; t2 < T; t2 += kWarp) m = fmaxf(m, a[t2]);
  m = warp_max(m);
  if (m == -INFINITY) {
    for (int t2 = lane; t2 < T; t2 += kWarp) a[t2] = 0.0f;
    return;
  }
  float s = 0.0f;
  for (int t2 = lane; t2 < T; t2 += kWarp) s += expf(a[t2] - m);  // exp(-inf) = 0 for masked keys
  const float inv = 1.0f / warp_sum(s);
  for (int t2 = lane; t2 < T; t2 += kWarp) a[t2] = expf(a[t2] - m) * inv;
}

// out[b,t,c] = sum over t2 <= t of att[b,h,t,t2] · v[b,t2,c], h = c / hs.
__global__ void mix_values_kernel(float* out, const float* att, const float* qkv, int B, int T, int C, int NH) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(B) * T * C) return;
  const int c = int(idx % C), t = int((idx / C) % T), b = int(idx / (long(C) * T));
  const int h = c / (C / NH);
  const float* a = att + ((long(b) * NH + h) * T + t) * T;
  float acc = 0.0f;
  for (int t2 = 0; t2 <= t; ++t2) acc += a[t2] * qkv[(long(b) * T + t2) * 3 * C + 2 * C + c];
  out[idx] = acc;
}

// scratch[b,h,t,t2] = dout[b,t,h,:] · v[b,t2,h,:] (d of the probabilities), 0 above the diagonal.
__global__ void datt_kernel(float* scratch, const float* dout, const float* qkv, int B, int T, int C, int NH) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(B) * NH * T * T) return;
  const int t2 = int(idx % T), t = int((idx / T) % T);
  const long bh = idx / (long(T) * T);
  const int b = int(bh / NH), h = int(bh % NH), hs = C / NH;
  if (t2 > t) {
    scratch[idx] = 0.0f;
    return;
  }
  const float* d = dout + (long(b) * T + t) * C + h * hs;
  const float* v = qkv + (long(b) * T + t2) * 3 * C + 2 * C + h * hs;
  float s = 0.0f;
  for (int i = 0; i < hs; ++i) s += d[i] * v[i];
  scratch[idx] = s;
}

// In place per row: scratch = att · (datt - sum(att · datt)) · scale, d of the scaled-down scores.
__global__ void softmax_backward_rows_kernel(float* scratch, const float* att, long rows, int T, float scale) {
  const long row = long(blockIdx.x) * (kBlock / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  float* d = scratch + row * T;
  const float* a = att + row * T;
  float s = 0.0f;
  for (int t2 = lane; t2 < T; t2 += kWarp) s += a[t2] * d[t2];
  s = warp_sum(s);
  for (int t2 = lane; t2 < T; t2 += kWarp) d[t2] = a[t2] * (d[t2] - s) * scale;
}

// For element (b,t,c) of head h: dq[b,t,c] += sum_{t2<=t} dpre[t,t2]·k[b,t2,c];
// dk[b,t,c] += sum_{t1>=t} dpre[t1,t]·q[b,t1,c]; dv[b,t,c] += sum_{t1>=t} att[t1,t]·dout[b,t1,c].
__global__ void dqkv_kernel(float* dqkv, const float* dpre, const float* att, const float* dout, const float* qkv,
                            int B, int T, int C, int NH) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(B) * T * C) return;
  const int c = int(idx % C), t = int((idx / C) % T), b = int(idx / (long(C) * T));
  const int h = c / (C / NH);
  const long C3 = 3L * C;
  const long head = (long(b) * NH + h) * T;  // row index of (b,h,0) in (B,NH,T,T)
  const float* row_t = dpre + (head + t) * T;
  float dq = 0.0f;
  for (int t2 = 0; t2 <= t; ++t2) dq += row_t[t2] * qkv[(long(b) * T + t2) * C3 + C + c];
  float dk = 0.0f, dv = 0.0f;
  for (int t1 = t; t1 < T; ++t1) {
    const long at = (head + t1) * T + t;
    dk += dpre[at] * qkv[(long(b) * T + t1) * C3 + c];
    dv += att[at] * dout[(long(b) * T + t1) * C + c];
  }
  float* g = dqkv + (long(b) * T + t) * C3;
  g[c] += dq;
  g[C + c] += dk;
  g[2 * C + c] += dv;
}

// One block per (n, h). Shared memory: len scores then kDecodeBlock / kWarp reduction slots.
__global__ void decode_kernel(float* out, const float* q, const float* kcache, const float* vcache, const int* len,
                              int maxT, int C, int NH, float scale) {
  extern __shared__ float shared[];
  float* scores = shared;
  float* red = shared + maxT;
  const int n = blockIdx.x / NH, h = blockIdx.x % NH, hs = C / NH;
  const int L = len[n];
  const float* qr = q + long(n) * C + h * hs;
  const float* kc = kcache + long(n) * maxT * C + h * hs;
  const float* vc = vcache + long(n) * maxT * C + h * hs;
  float m = -INFINITY;
  for (int t2 = threadIdx.x; t2 < L; t2 += blockDim.x) {
    float s = 0.0f;
    for (int i = 0; i < hs; ++i) s += qr[i] * kc[long(t2) * C + i];
    scores[t2] = s * scale;
    m = fmaxf(m, scores[t2]);
  }
  m = block_reduce(m, red, true);
  float sum = 0.0f;
  for (int t2 = threadIdx.x; t2 < L; t2 += blockDim.x) {  // each thread rewrites only its own scores
    scores[t2] = expf(scores[t2] - m);
    sum += scores[t2];
  }
  sum = block_reduce(sum, red, false);  // its barriers also publish the scores
  const float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    float acc = 0.0f;
    for (int t2 = 0; t2 < L; ++t2) acc += scores[t2] * vc[long(t2) * C + i];
    out[long(n) * C + h * hs + i] = acc * inv;
  }
}

// One thread per (r, c): copies q, k and v of row r, column c.
__global__ void kv_append_kernel(float* kcache, float* vcache, float* q, const float* qkv, const int* pos, int N,
                                 int maxT, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(N) * C) return;
  const long r = idx / C, c = idx % C;
  const float* src = qkv + r * 3 * C;
  const long dst = (r * maxT + pos[r]) * C + c;
  q[idx] = src[c];
  kcache[dst] = src[C + c];
  vcache[dst] = src[2 * C + c];
}

}  // namespace

Status kv_cache_append(float* kcache, float* vcache, float* q, const float* qkv, const int* pos, int N, int maxT,
                       int C, void* stream) {
  if (long(N) * C == 0) return Status::ok();
  kv_append_kernel<<<blocks_for(long(N) * C), kBlock, 0, as_stream(stream)>>>(kcache, vcache, q, qkv, pos, N, maxT,
                                                                              C);
  return check(cudaGetLastError(), "cuda::kv_cache_append launch");
}

Status attention_forward(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                         int NH, void* stream) {
  if (long(B) * T == 0) return Status::ok();
  if (NH <= 0 || C % NH != 0) return Status::invalid_argument("cuda::attention_forward: C must be a multiple of NH");
  const float scale = 1.0f / std::sqrt(float(C / NH));
  const long scores = long(B) * NH * T * T, rows = long(B) * NH * T;
  scores_kernel<<<blocks_for(scores), kBlock, 0, as_stream(stream)>>>(att, qkv, key_valid, B, T, C, NH, scale);
  TROUPE_RETURN_IF_ERROR(check(cudaGetLastError(), "cuda::attention_forward scores launch"));
  softmax_rows_kernel<<<row_blocks(rows), kBlock, 0, as_stream(stream)>>>(att, rows, T);
  TROUPE_RETURN_IF_ERROR(check(cudaGetLastError(), "cuda::attention_forward softmax launch"));
  mix_values_kernel<<<blocks_for(long(B) * T * C), kBlock, 0, as_stream(stream)>>>(out, att, qkv, B, T, C, NH);
  return check(cudaGetLastError(), "cuda::attention_forward values launch");
}

Status attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                          int T, int C, int NH, void* stream) {
  if (long(B) * T == 0) return Status::ok();
  if (NH <= 0 || C % NH != 0) return Status::invalid_argument("cuda::attention_backward: C must be a multiple of NH");
  const float scale = 1.0f / std::sqrt(float(C / NH));
  const long scores = long(B) * NH * T * T, rows = long(B) * NH * T;
  datt_kernel<<<blocks_for(scores), kBlock, 0, as_stream(stream)>>>(scratch, dout, qkv, B, T, C, NH);
  TROUPE_RETURN_IF_ERROR(check(cudaGetLastError(), "cuda::attention_backward datt launch"));
  softmax_backward_rows_kernel<<<row_blocks(rows), kBlock, 0, as_stream(stream)>>>(scratch, att, rows, T, scale);
  TROUPE_RETURN_IF_ERROR(check(cudaGetLastError(), "cuda::attention_backward softmax launch"));
  dqkv_kernel<<<blocks_for(long(B) * T * C), kBlock, 0, as_stream(stream)>>>(dqkv, scratch, att, dout, qkv, B, T, C,
                                                                             NH);
  return check(cudaGetLastError(), "cuda::attention_backward dqkv launch");
}

Status attention_decode_forward(float* out, const float* q, const float* kcache, const float* vcache, const int* len,
                                int N, int maxT, int C, int NH, void* stream) {
  if (N == 0) return Status::ok();
  if (NH <= 0 || C % NH != 0) {
    return Status::invalid_argument("cuda::attention_decode_forward: C must be a multiple of NH");
  }
  const long shared = (long(maxT) + kDecodeBlock / kWarp) * long(sizeof(float));
  if (shared > kMaxSharedBytes) {
    return Status::invalid_argument("cuda::attention_decode_forward: a cache of " + std::to_string(maxT) +
                                    " positions exceeds the kernel's shared memory (" +
                                    std::to_string(kMaxSharedBytes / 4 - kDecodeBlock / kWarp) + " positions)");
  }
  const float scale = 1.0f / std::sqrt(float(C / NH));
  decode_kernel<<<N * NH, kDecodeBlock, size_t(shared), as_stream(stream)>>>(out, q, kcache, vcache, len, maxT, C,
                                                                              NH, scale);
  return check(cudaGetLastError(), "cuda::attention_decode_forward launch");
}

}  // namespace troupe::kernels::cuda
