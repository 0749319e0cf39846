// A stand-in for troupe_cuda that runs on the CPU, for tests of code that
// drives the GPU path (the Transformer's device forward, backward and decode)
// on machines without a GPU. "Device memory" is host memory; each kernels::cuda
// op calls its CPU twin from kernels/cpu. It checks the orchestration -- which
// buffers, offsets, zeroing and accumulation the model passes to the ops --
// not the CUDA kernels themselves (tests/kernels/cuda_ops_test.cpp compares
// those with the CPU on a real device).
//
// Linked into a test executable as a source file, its definitions take the
// place of libtroupe_cuda's: the linker pulls an archive member only for a
// symbol no object file defines, and this file defines every symbol of
// kernels/cuda_runtime.hpp and kernels/cuda_ops.hpp. It reports two devices:
// each allocation belongs to the device current on its thread when it was made,
// and the memory copies and GEMMs fail when handed memory of a device other
// than the calling thread's current one (as CUDA would misbehave), so a device
// call that forgets to make its model's device current shows up.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/cuda_ops.hpp"
#include "kernels/cuda_runtime.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/logprob.hpp"
#include "kernels/matmul.hpp"

namespace troupe::kernels {

namespace {
constexpr int kDevices = 2;
thread_local int current_device = 0;

struct Allocation {
  std::size_t bytes;
  int device;
};
std::mutex allocations_mu;
std::map<std::uintptr_t, Allocation> allocations;  // by start address

// ok when `p` lies in an allocation of the calling thread's current device.
Status on_current(const void* p, const char* what) {
  if (p == nullptr) return Status::ok();
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::lock_guard lock(allocations_mu);
  auto it = allocations.upper_bound(at);
  if (it == allocations.begin()) return Status::ok();  // host memory
  --it;
  if (at >= it->first + it->second.bytes) return Status::ok();  // host memory
  if (it->second.device == current_device) return Status::ok();
  return Status::internal(std::string("emulated device: ") + what + " got memory of device " +
                          std::to_string(it->second.device) + " while device " + std::to_string(current_device) +
                          " is current");
}
}  // namespace

bool cuda_compiled() { return true; }
int cuda_device_count() { return kDevices; }
Status cuda_set_device(int ordinal) {
  if (ordinal < 0 || ordinal >= kDevices) {
    return Status::invalid_argument("CUDA device " + std::to_string(ordinal) + " does not exist: " +
                                    std::to_string(kDevices) + " visible (emulated)");
  }
  current_device = ordinal;
  return Status::ok();
}
std::string cuda_unavailable_reason() { return ""; }
std::string cuda_version_string() { return "emulated on the CPU"; }
std::string nccl_version_string() { return "emulated"; }

namespace device_memory {
Status allocate(void** ptr, std::size_t bytes) {
  // Poisoned so that a kernel reading memory nobody wrote shows up as garbage, not zeros.
  *ptr = std::malloc(bytes);
  if (*ptr == nullptr) return Status::unavailable("emulated device: out of memory");
  std::memset(*ptr, 0x7f, bytes);
  std::lock_guard lock(allocations_mu);
  allocations[reinterpret_cast<std::uintptr_t>(*ptr)] = {bytes == 0 ? 1 : bytes, current_device};
  return Status::ok();
}
void release(void* ptr) {
  if (ptr == nullptr) return;
  {
    std::lock_guard lock(allocations_mu);
    allocations.erase(reinterpret_cast<std::uintptr_t>(ptr));
  }
  std::free(ptr);
}
Status to_device(void* dst, const void* src, std::size_t bytes) {
  TROUPE_RETURN_IF_ERROR(on_current(dst, "to_device"));
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status to_host(void* dst, const void* src, std::size_t bytes) {
  TROUPE_RETURN_IF_ERROR(on_current(src, "to_host"));
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status on_device(void* dst, const void* src, std::size_t bytes, void*) {
  TROUPE_RETURN_IF_ERROR(on_current(dst, "on_device"));
  TROUPE_RETURN_IF_ERROR(on_current(src, "on_device"));
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status zero(void* dst, std::size_t bytes, void*) {
  TROUPE_RETURN_IF_ERROR(on_current(dst, "zero"));
  if (bytes > 0) std::memset(dst, 0, bytes);
  return Status::ok();
}
}  // namespace device_memory

Status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
                  float beta, float* c, void*) {
  for (const void* p : {static_cast<const void*>(a), static_cast<const void*>(b), static_cast<const void*>(c)}) {
    TROUPE_RETURN_IF_ERROR(on_current(p, "cuda_sgemm"));
  }
  cpu::sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
  return Status::ok();
}
Status cuda_sgemm_host(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
                       float beta, float* c) {
  return cuda_sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c, nullptr);
}
Status cuda_synchronize() { return Status::ok(); }

namespace cuda {

Status gelu_forward(float* out, const float* inp, long n, void*) {
  cpu::gelu_forward(out, inp, n);
  return Status::ok();
}
Status gelu_backward(float* dinp, const float* inp, const float* dout, long n, void*) {
  cpu::gelu_backward(dinp, inp, dout, n);
  return Status::ok();
}
Status add(float* out, const float* a, const float* b, long n, void*) {
  for (long i = 0; i < n; ++i) out[i] = a[i] + b[i];
  return Status::ok();
}
Status accumulate(float* y, const float* x, long n, void*) {
  for (long i = 0; i < n; ++i) y[i] += x[i];
  return Status::ok();
}
Status encoder_forward(float* out, const int* tokens, const int* positions, const float* wte, const float* wpe,
                       int N, int C, void*) {
  cpu::encoder_forward(out, tokens, positions, wte, wpe, N, C);
  return Status::ok();
}
Status encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, const int* positions, int N,
                        int C, void*) {
  cpu::encoder_backward(dwte, dwpe, dout, tokens, positions, N, C);
  return Status::ok();
}
Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C, void*) {
  cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C);
  return Status::ok();
}
Status layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, const float* mean, const float* rstd, int N, int C, void*) {
  cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  return Status::ok();
}
Status matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC,
                      void*) {
  cpu::matmul_forward_fast(out, inp, weight, bias, N, C, OC);
  return Status::ok();
}
Status matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC, void*) {
  cpu::matmul_backward_fast(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
  return Status::ok();
}
Status attention_forward(float* out, float* att, const float* qkv, const uint8_t* key_valid, int B, int T, int C,
                         int NH, void*) {
  cpu::attention_forward_fast(out, att, qkv, key_valid, B, T, C, NH);
  return Status::ok();
}
Status attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                          int T, int C, int NH, void*) {
  // The CUDA kernel overwrites the whole scratch; poison it to catch a caller that relies on it.
  std::memset(scratch, 0x7f, sizeof(float) * std::size_t(B) * NH * T * T);
  cpu::attention_backward_fast(dqkv, dout, qkv, att, B, T, C, NH);
  return Status::ok();
}
Status kv_cache_append(float* kcache, float* vcache, float* q, const float* qkv, const int* pos, int N, int maxT,
                       int C, void*) {
  for (int r = 0; r < N; ++r) {
    const float* src = qkv + std::size_t(r) * 3 * C;
    std::memcpy(q + std::size_t(r) * C, src, sizeof(float) * C);
    std::memcpy(kcache + (std::size_t(r) * maxT + pos[r]) * C, src + C, sizeof(float) * C);
    std::memcpy(vcache + (std::size_t(r) * maxT + pos[r]) * C, src + 2 * C, sizeof(float) * C);
  }
  return Status::ok();
}
Status attention_decode_forward(float* out, const float* q, const float* kcache, const float* vcache, const int* len,
                                int N, int maxT, int C, int NH, void*) {
  cpu::attention_decode_forward(out, q, kcache, vcache, len, N, maxT, C, NH);
  return Status::ok();
}
Status token_logprobs_forward(float* logp, float* lse, const float* logits, const int* targets, int N, int V, void*) {
  cpu::token_logprobs_forward_fast(logp, lse, logits, targets, N, V);
  return Status::ok();
}
Status token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                               const int* targets, int N, int V, void*) {
  cpu::token_logprobs_backward_fast(dlogits, dlogp, logits, lse, targets, N, V);
  return Status::ok();
}
Status cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V,
                             void*) {
  cpu::cross_entropy_forward(losses, lse, logits, targets, N, V);
  return Status::ok();
}
Status cross_entropy_backward(float* dlogits, const float* dlosses, const float* logits, const float* lse,
                              const int* targets, int N, int V, void*) {
  cpu::cross_entropy_backward(dlogits, dlosses, logits, lse, targets, N, V);
  return Status::ok();
}
Status adamw_update(float* params, const float* grads, float* m, float* v, long n, const AdamWStepParams& p, void*) {
  cpu::adamw_update(params, grads, m, v, n, p);
  return Status::ok();
}
Status global_norm_squared(double* result, const float* grads, long n, void*) {
  *result = cpu::global_norm_squared(grads, n);
  return Status::ok();
}

}  // namespace cuda
}  // namespace troupe::kernels
