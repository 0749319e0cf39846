// The CUDA side of kernels/ as seen from plain C++: device discovery, version
// strings, device buffers and cuBLAS GEMM, declared without any CUDA header so
// that every folder can include it. troupe_cuda implements it with CUDA when the
// build found nvcc, and otherwise with a stub whose queries answer "no CUDA" and
// whose operations return Status::unavailable.
//
// Device pointers are plain `float*`; a `stream` is an opaque cudaStream_t
// (nullptr is the default stream). Functions are thread-safe; a DeviceBuffer is
// owned by one thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace troupe::kernels {

// True when troupe_cuda was built with CUDA (nvcc found), false for the stub.
bool cuda_compiled();

// Number of visible CUDA devices; 0 when there is no driver, no device, or no
// CUDA in this build (cudaGetDeviceCount reports error 35 without a driver).
int cuda_device_count();

// Why no device is usable, e.g. "cudaGetDeviceCount: CUDA driver version is
// insufficient for CUDA runtime version (35)"; empty when a device is visible.
std::string cuda_unavailable_reason();

// "runtime 13.0" or "no CUDA".
std::string cuda_version_string();

// "2.28.3" from ncclGetVersion, or "no CUDA".
std::string nccl_version_string();

// A float array in device memory; move-only, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Allocates `n` floats (uninitialised).
  static Result<DeviceBuffer> create(std::size_t n);
  // Allocates and copies `host` in. (Pointer + count, not std::span: nvcc compiles this as C++17.)
  static Result<DeviceBuffer> from_host(const std::vector<float>& host);

  // REQUIRES: host.size() == size()
  [[nodiscard]] Status upload(const std::vector<float>& host) { return upload(host.data(), host.size()); }
  [[nodiscard]] Status download(std::vector<float>& host) const { return download(host.data(), host.size()); }
  // REQUIRES: n == size()
  [[nodiscard]] Status upload(const float* host, std::size_t n);
  [[nodiscard]] Status download(float* host, std::size_t n) const;

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

// Row-major GEMM on device memory, like cblas_sgemm with CblasRowMajor:
// c (m,n) = alpha * op(a) (m,k) · op(b) (k,n) + beta * c, where op transposes
// when trans_* is set; a is stored (m,k) or (k,m), b (k,n) or (n,k).
[[nodiscard]] Status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                                const float* a, const float* b, float beta, float* c,
                                void* stream = nullptr);

// The same on host arrays: copies in, runs cuBLAS, copies c back. For tests.
[[nodiscard]] Status cuda_sgemm_host(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                                     const float* a, const float* b, float beta, float* c);

// Waits for all work on the device to finish.
[[nodiscard]] Status cuda_synchronize();

}  // namespace troupe::kernels
