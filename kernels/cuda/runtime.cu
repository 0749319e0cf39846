// Device discovery, version strings, device memory and cuBLAS GEMM (see
// kernels/cuda_runtime.hpp). A cuBLAS handle is created per thread and device on
// first use and lives until the thread ends (a handle is bound to the device that
// was current when it was made, and CUDA's current device is per thread).
#include <nccl.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda_runtime.hpp"

namespace troupe::kernels {

using cuda_detail::check;

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;  // left untouched when the call fails (no driver: error 35)
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

Status cuda_set_device(int ordinal) {
  const int n = cuda_device_count();
  if (ordinal < 0 || ordinal >= n) {
    return Status::invalid_argument("CUDA device " + std::to_string(ordinal) + " does not exist: " +
                                    std::to_string(n) + " visible (CUDA_VISIBLE_DEVICES renumbers them from 0)");
  }
  return check(cudaSetDevice(ordinal), "cudaSetDevice");
}

std::string cuda_unavailable_reason() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err) + " (" + std::to_string(int(err)) + ")";
  }
  if (n == 0) return "cudaGetDeviceCount: 0 devices visible";
  return "";
}

std::string cuda_version_string() {
  int rt = 0;
  if (cudaRuntimeGetVersion(&rt) != cudaSuccess) return "runtime unknown";
  return "runtime " + std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10);
}

std::string nccl_version_string() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

namespace device_memory {

Status allocate(void** ptr, std::size_t bytes) { return check(cudaMalloc(ptr, bytes), "cudaMalloc"); }

void release(void* ptr) {
  if (ptr != nullptr) (void)cudaFree(ptr);
}

Status to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return Status::ok();
  return check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host to device");
}

Status to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return Status::ok();
  return check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device to host");
}

Status on_device(void* dst, const void* src, std::size_t bytes, void* stream) {
  if (bytes == 0) return Status::ok();
  return check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream)),
               "cudaMemcpyAsync device to device");
}

Status zero(void* dst, std::size_t bytes, void* stream) {
  if (bytes == 0) return Status::ok();
  return check(cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}

}  // namespace device_memory

namespace {

struct HandleDeleter {
  void operator()(cublasContext* h) const { (void)cublasDestroy(h); }
};

// The calling thread's handle for its current device.
Result<cublasHandle_t> thread_handle() {
  thread_local std::vector<std::unique_ptr<cublasContext, HandleDeleter>> handles;  // by device ordinal
  int device = 0;
  TROUPE_RETURN_IF_ERROR(check(cudaGetDevice(&device), "cudaGetDevice"));
  if (handles.size() <= size_t(device)) handles.resize(size_t(device) + 1);
  auto& handle = handles[size_t(device)];
  if (!handle) {
    cublasHandle_t h = nullptr;
    TROUPE_RETURN_IF_ERROR(check(cublasCreate(&h), "cublasCreate"));
    handle.reset(h);
  }
  return handle.get();
}

}  // namespace

Status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
                  float beta, float* c, void* stream) {
  auto h = thread_handle();
  if (!h) return h.status().with_context("cuda_sgemm");
  TROUPE_RETURN_IF_ERROR(check(cublasSetStream(*h, static_cast<cudaStream_t>(stream)), "cublasSetStream"));
  // cuBLAS is column-major: a row-major (m,n) C is a column-major (n,m) C^T,
  // and C^T = op(B)^T op(A)^T, so the operands swap places.
  const int lda = trans_a ? m : k;
  const int ldb = trans_b ? k : n;
  return check(cublasSgemm(*h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                           &alpha, b, ldb, a, lda, &beta, c, n),
               "cublasSgemm");
}

Status cuda_sgemm_host(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                       const float* b, float beta, float* c) {
  auto da = DeviceBuffer::create(std::size_t(m) * k);
  auto db = DeviceBuffer::create(std::size_t(k) * n);
  auto dc = DeviceBuffer::create(std::size_t(m) * n);
  if (!da) return da.status().with_context("cuda_sgemm_host");
  if (!db) return db.status().with_context("cuda_sgemm_host");
  if (!dc) return dc.status().with_context("cuda_sgemm_host");
  TROUPE_RETURN_IF_ERROR(da->upload(a, da->size()));
  TROUPE_RETURN_IF_ERROR(db->upload(b, db->size()));
  TROUPE_RETURN_IF_ERROR(dc->upload(c, dc->size()));
  TROUPE_RETURN_IF_ERROR(cuda_sgemm(trans_a, trans_b, m, n, k, alpha, da->data(), db->data(), beta, dc->data()));
  return dc->download(c, dc->size());
}

Status cuda_synchronize() { return check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace troupe::kernels
