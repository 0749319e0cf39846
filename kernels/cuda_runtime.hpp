// The CUDA side of kernels/ as seen from plain C++: device discovery, version
// strings, device buffers and cuBLAS GEMM, declared without any CUDA header so
// that every folder can include it. troupe_cuda implements it with CUDA when the
// build found nvcc, and otherwise with a stub whose queries answer "no CUDA" and
// whose operations return Status::unavailable.
//
// Device pointers are plain `float*` / `int*`; a `stream` is an opaque
// cudaStream_t (nullptr is the default stream). Functions are thread-safe; a
// DeviceArray is owned by one thread at a time.
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

// Makes device `ordinal` the calling thread's current device (CUDA keeps one per
// host thread): every later allocation, copy and launch of this thread goes there.
// Errors: invalid_argument naming the ordinal and the visible count when it is out
// of range; unavailable without CUDA.
[[nodiscard]] Status cuda_set_device(int ordinal);

// Why no device is usable, e.g. "cudaGetDeviceCount: CUDA driver version is
// insufficient for CUDA runtime version (35)"; empty when a device is visible.
std::string cuda_unavailable_reason();

// "runtime 13.0" or "no CUDA".
std::string cuda_version_string();

// "2.28.3" from ncclGetVersion, or "no CUDA".
std::string nccl_version_string();

// Raw device memory, the primitives DeviceArray is built on. Each returns
// unavailable without a device or without CUDA in the build. `stream` as above.
namespace device_memory {
[[nodiscard]] Status allocate(void** ptr, std::size_t bytes);
void release(void* ptr);  // nullptr is a no-op
[[nodiscard]] Status to_device(void* dst, const void* src, std::size_t bytes);
[[nodiscard]] Status to_host(void* dst, const void* src, std::size_t bytes);
[[nodiscard]] Status on_device(void* dst, const void* src, std::size_t bytes, void* stream = nullptr);
[[nodiscard]] Status zero(void* dst, std::size_t bytes, void* stream = nullptr);
}  // namespace device_memory

// An array of T in device memory; move-only, freed on destruction. Copies are
// synchronous (they wait for the default stream).
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  ~DeviceArray() { device_memory::release(data_); }
  DeviceArray(DeviceArray&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      device_memory::release(data_);
      data_ = other.data_;
      size_ = other.size_;
      other.data_ = nullptr;
      other.size_ = 0;
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  // Allocates `n` elements (uninitialised).
  static Result<DeviceArray> create(std::size_t n) {
    DeviceArray a;
    void* p = nullptr;
    Status s = device_memory::allocate(&p, (n == 0 ? 1 : n) * sizeof(T));
    if (!s) return s.with_context("allocating " + std::to_string(n) + " elements of " + std::to_string(sizeof(T)) +
                                  " bytes on the device");
    a.data_ = static_cast<T*>(p);
    a.size_ = n;
    return Result<DeviceArray>(std::move(a));
  }
  // Allocates and copies `host` in. (Pointer + count, not std::span: nvcc compiles this as C++17.)
  static Result<DeviceArray> from_host(const std::vector<T>& host) {
    auto a = create(host.size());
    if (!a) return a.status();
    TROUPE_RETURN_IF_ERROR(a->upload(host));
    return a;
  }

  // REQUIRES: host.size() == size()
  [[nodiscard]] Status upload(const std::vector<T>& host) { return upload(host.data(), host.size()); }
  [[nodiscard]] Status download(std::vector<T>& host) const { return download(host.data(), host.size()); }
  // Copy exactly n elements. Errors: n != size().
  [[nodiscard]] Status upload(const T* host, std::size_t n) {
    if (n != size_) return size_mismatch("upload", n);
    return device_memory::to_device(data_, host, n * sizeof(T));
  }
  [[nodiscard]] Status download(T* host, std::size_t n) const {
    if (n != size_) return size_mismatch("download", n);
    return device_memory::to_host(host, data_, n * sizeof(T));
  }
  // Sets every byte to 0 (on `stream`).
  [[nodiscard]] Status zero(void* stream = nullptr) { return device_memory::zero(data_, size_ * sizeof(T), stream); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  Status size_mismatch(const char* what, std::size_t n) const {
    return Status::invalid_argument(std::string("DeviceArray::") + what + ": " + std::to_string(n) +
                                    " elements given, the array holds " + std::to_string(size_));
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// The float array most kernels take.
using DeviceBuffer = DeviceArray<float>;

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
