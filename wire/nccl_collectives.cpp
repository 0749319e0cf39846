// NCCL wrapper behind wire/nccl_collectives.hpp.
#include "wire/nccl_collectives.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>

namespace troupe::wire {
namespace {

Status nccl_status(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return Status::ok();
  return Status::unavailable(std::string(what) + ": " + ncclGetErrorString(r));
}
Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::ok();
  return Status::unavailable(std::string(what) + ": " + cudaGetErrorString(e) + " (is a GPU visible?)");
}

}  // namespace

int cuda_device_count() {
  int n = 0;  // cudaGetDeviceCount leaves it untouched when there is no driver
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

Result<std::vector<uint8_t>> nccl_unique_id() {
  ncclUniqueId id;
  TROUPE_RETURN_IF_ERROR(nccl_status(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  return std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&id), reinterpret_cast<uint8_t*>(&id) + sizeof id);
}

struct NcclComm::Impl {
  ncclComm_t comm = nullptr;
};

NcclComm::NcclComm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NcclComm::~NcclComm() {
  if (impl_ && impl_->comm) ncclCommDestroy(impl_->comm);
}

Result<std::unique_ptr<NcclComm>> NcclComm::create(const std::vector<uint8_t>& id, int nranks, int rank, int device) {
  if (id.size() != sizeof(ncclUniqueId)) {
    return Status::invalid_argument("NCCL unique id must be " + std::to_string(sizeof(ncclUniqueId)) + " bytes, got " +
                                    std::to_string(id.size()));
  }
  if (rank < 0 || rank >= nranks) return Status::invalid_argument("NCCL rank outside 0..nranks-1");
  TROUPE_RETURN_IF_ERROR(cuda_status(cudaSetDevice(device), "cudaSetDevice"));
  ncclUniqueId uid;
  std::memcpy(&uid, id.data(), sizeof uid);
  auto impl = std::make_unique<Impl>();
  TROUPE_RETURN_IF_ERROR(nccl_status(ncclCommInitRank(&impl->comm, nranks, uid, rank), "ncclCommInitRank"));
  return std::unique_ptr<NcclComm>(new NcclComm(std::move(impl)));
}

Status NcclComm::broadcast(void* buffer, size_t bytes, int root, void* stream) {
  return nccl_status(ncclBroadcast(buffer, buffer, bytes, ncclUint8, root, impl_->comm,
                                   static_cast<cudaStream_t>(stream)),
                     "ncclBroadcast");
}

Status NcclComm::all_reduce_sum(float* buffer, size_t count, void* stream) {
  return nccl_status(ncclAllReduce(buffer, buffer, count, ncclFloat32, ncclSum, impl_->comm,
                                   static_cast<cudaStream_t>(stream)),
                     "ncclAllReduce");
}

Status NcclComm::synchronize(void* stream) {
  return cuda_status(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

}  // namespace troupe::wire
