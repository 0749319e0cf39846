// GPU collectives for weight broadcast and gradient all-reduce: a thin NCCL wrapper. Compiled only
// when the build has CUDA (TROUPE_HAVE_CUDA); the host-memory paths are weight_broadcast.hpp and
// ring_allreduce.hpp. The communicator's unique id is made by rank 0 (`nccl_unique_id`) and handed
// to the other ranks out of band (e.g. as a Control message over the UCX transport).
//
// Errors from CUDA and NCCL come back as Status naming the call and NCCL's own message.
// Thread-safety: one NcclComm per thread; calls enqueue on the given stream and do not wait.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace troupe::wire {

// Visible CUDA devices; 0 (not an error) when there is no GPU or no driver.
int cuda_device_count();

// 128 opaque bytes identifying a new communicator (ncclGetUniqueId).
Result<std::vector<uint8_t>> nccl_unique_id();

class NcclComm {
 public:
  // Joins communicator `id` as `rank` of `nranks` on CUDA device `device`.
  static Result<std::unique_ptr<NcclComm>> create(const std::vector<uint8_t>& id, int nranks, int rank, int device);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // In-place broadcast of `bytes` at device pointer `buffer` from `root` (weights to policy ranks).
  Status broadcast(void* buffer, size_t bytes, int root, void* stream);
  // In-place sum of `count` fp32 values at device pointer `buffer` (gradients among learners).
  Status all_reduce_sum(float* buffer, size_t count, void* stream);
  // Waits for the stream.
  Status synchronize(void* stream);

 private:
  struct Impl;
  explicit NcclComm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::wire
