// Turns CUDA runtime and cuBLAS error codes into troupe::Status at the point
// where they enter our code, naming what was being done. Private to kernels/cuda.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "base/status.hpp"

namespace troupe::kernels::cuda_detail {

inline Status check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  std::string msg = std::string(what) + ": " + cudaGetErrorString(err) + " (" + std::to_string(int(err)) + ")";
  if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
    return Status::unavailable(msg + "; hint: no usable GPU or driver on this machine");
  }
  return Status::internal(msg);
}

inline Status check(cublasStatus_t err, const char* what) {
  if (err == CUBLAS_STATUS_SUCCESS) return Status::ok();
  std::string msg = std::string(what) + ": cuBLAS status " + std::to_string(int(err));
  if (err == CUBLAS_STATUS_NOT_INITIALIZED) {
    return Status::unavailable(msg + " (not initialised); hint: no usable GPU or driver");
  }
  return Status::internal(msg);
}

// Threads per block for the elementwise kernels: a multiple of the warp size
// that keeps several blocks resident per SM.
constexpr int kBlock = 256;
inline int blocks_for(long n) { return int((n + kBlock - 1) / kBlock); }

}  // namespace troupe::kernels::cuda_detail
