// troupe_cuda without CUDA: the build found no nvcc, so every query answers
// "no CUDA" and every operation returns Status::unavailable. Same API as the
// CUDA build (kernels/cuda_runtime.hpp, kernels/cuda_ops.hpp).
#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"

namespace troupe::kernels {
namespace {
Status no_cuda(const char* what) {
  return Status::unavailable(std::string(what) + ": this build has no CUDA (nvcc was not found at configure time)");
}
}  // namespace

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build has no CUDA"; }
std::string cuda_version_string() { return "no CUDA"; }
std::string nccl_version_string() { return "no CUDA"; }

DeviceBuffer::~DeviceBuffer() = default;
DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&&) noexcept { return *this; }
Result<DeviceBuffer> DeviceBuffer::create(std::size_t) { return no_cuda("DeviceBuffer::create"); }
Result<DeviceBuffer> DeviceBuffer::from_host(const std::vector<float>&) { return no_cuda("DeviceBuffer::from_host"); }
Status DeviceBuffer::upload(const float*, std::size_t) { return no_cuda("DeviceBuffer::upload"); }
Status DeviceBuffer::download(float*, std::size_t) const { return no_cuda("DeviceBuffer::download"); }

Status cuda_sgemm(bool, bool, int, int, int, float, const float*, const float*, float, float*, void*) {
  return no_cuda("cuda_sgemm");
}
Status cuda_sgemm_host(bool, bool, int, int, int, float, const float*, const float*, float, float*) {
  return no_cuda("cuda_sgemm_host");
}
Status cuda_synchronize() { return no_cuda("cuda_synchronize"); }

namespace cuda {
Status gelu_forward(float*, const float*, long, void*) { return no_cuda("cuda::gelu_forward"); }
Status gelu_backward(float*, const float*, const float*, long, void*) { return no_cuda("cuda::gelu_backward"); }
Status layernorm_forward(float*, float*, float*, const float*, const float*, const float*, int, int, void*) {
  return no_cuda("cuda::layernorm_forward");
}
Status token_logprobs_forward(float*, float*, const float*, const int*, int, int, void*) {
  return no_cuda("cuda::token_logprobs_forward");
}
Status adamw_update(float*, const float*, float*, float*, long, const AdamWStepParams&, void*) {
  return no_cuda("cuda::adamw_update");
}
}  // namespace cuda

}  // namespace troupe::kernels
