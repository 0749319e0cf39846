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
Status cuda_set_device(int) { return no_cuda("cuda_set_device"); }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build has no CUDA"; }
std::string cuda_version_string() { return "no CUDA"; }
std::string nccl_version_string() { return "no CUDA"; }

namespace device_memory {
Status allocate(void** ptr, std::size_t) {
  *ptr = nullptr;
  return no_cuda("device_memory::allocate");
}
void release(void*) {}
Status to_device(void*, const void*, std::size_t) { return no_cuda("device_memory::to_device"); }
Status to_host(void*, const void*, std::size_t) { return no_cuda("device_memory::to_host"); }
Status on_device(void*, const void*, std::size_t, void*) { return no_cuda("device_memory::on_device"); }
Status zero(void*, std::size_t, void*) { return no_cuda("device_memory::zero"); }
}  // namespace device_memory

Status cuda_sgemm(bool, bool, int, int, int, float, const float*, const float*, float, float*, void*) {
  return no_cuda("cuda_sgemm");
}
Status cuda_sgemm_host(bool, bool, int, int, int, float, const float*, const float*, float, float*) {
  return no_cuda("cuda_sgemm_host");
}
Status cuda_synchronize() { return no_cuda("cuda_synchronize"); }

namespace cuda {
// clang-format off
Status gelu_forward(float*, const float*, long, void*) { return no_cuda("cuda::gelu_forward"); }
Status gelu_backward(float*, const float*, const float*, long, void*) { return no_cuda("cuda::gelu_backward"); }
Status add(float*, const float*, const float*, long, void*) { return no_cuda("cuda::add"); }
Status accumulate(float*, const float*, long, void*) { return no_cuda("cuda::accumulate"); }
Status encoder_forward(float*, const int*, const int*, const float*, const float*, int, int, void*) { return no_cuda("cuda::encoder_forward"); }
Status encoder_backward(float*, float*, const float*, const int*, const int*, int, int, void*) { return no_cuda("cuda::encoder_backward"); }
Status layernorm_forward(float*, float*, float*, const float*, const float*, const float*, int, int, void*) { return no_cuda("cuda::layernorm_forward"); }
Status layernorm_backward(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, void*) { return no_cuda("cuda::layernorm_backward"); }
Status matmul_forward(float*, const float*, const float*, const float*, int, int, int, void*) { return no_cuda("cuda::matmul_forward"); }
Status matmul_backward(float*, float*, float*, const float*, const float*, const float*, int, int, int, void*) { return no_cuda("cuda::matmul_backward"); }
Status attention_forward(float*, float*, const float*, const uint8_t*, int, int, int, int, void*) { return no_cuda("cuda::attention_forward"); }
Status attention_backward(float*, float*, const float*, const float*, const float*, int, int, int, int, void*) { return no_cuda("cuda::attention_backward"); }
Status kv_cache_append(float*, float*, float*, const float*, const int*, int, int, int, void*) { return no_cuda("cuda::kv_cache_append"); }
Status attention_decode_forward(float*, const float*, const float*, const float*, const int*, int, int, int, int, void*) { return no_cuda("cuda::attention_decode_forward"); }
Status token_logprobs_forward(float*, float*, const float*, const int*, int, int, void*) { return no_cuda("cuda::token_logprobs_forward"); }
Status token_logprobs_backward(float*, const float*, const float*, const float*, const int*, int, int, void*) { return no_cuda("cuda::token_logprobs_backward"); }
Status cross_entropy_forward(float*, float*, const float*, const int*, int, int, void*) { return no_cuda("cuda::cross_entropy_forward"); }
Status cross_entropy_backward(float*, const float*, const float*, const float*, const int*, int, int, void*) { return no_cuda("cuda::cross_entropy_backward"); }
Status adamw_update(float*, const float*, float*, float*, long, const AdamWStepParams&, void*) { return no_cuda("cuda::adamw_update"); }
Status global_norm_squared(double*, const float*, long, void*) { return no_cuda("cuda::global_norm_squared"); }
// clang-format on
}  // namespace cuda

}  // namespace troupe::kernels
