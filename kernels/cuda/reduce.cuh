// Warp and block reductions and launch shapes shared by the CUDA kernels.
// Private to kernels/cuda. Every helper assumes blockDim.x is a multiple of
// the warp size and that all threads of a warp (block, for block_*) call it.
#pragma once

#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/check.cuh"

namespace troupe::kernels::cuda_detail {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = kBlock / kWarp;  // row kernels: one warp per row

// Blocks for one warp per row over `rows` rows.
inline int row_blocks(long rows) { return int((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

__device__ inline float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum (or max) over the block; every thread gets the result. `scratch` is
// shared memory of blockDim.x / kWarp floats. The leading barrier lets one
// scratch serve several calls in a row.
__device__ inline float block_reduce(float v, float* scratch, bool is_max) {
  v = is_max ? warp_max(v) : warp_sum(v);
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = is_max ? -INFINITY : 0.0f;
  for (int w = 0; w < warps; ++w) r = is_max ? fmaxf(r, scratch[w]) : r + scratch[w];
  return r;
}

}  // namespace troupe::kernels::cuda_detail
