// The NCCL DeviceWeightLink behind wire/device_weights.hpp (built only with CUDA; the stub is
// device_weights_stub.cpp).
//
// The communicator is non-blocking (ncclConfig_t::blocking = 0): init and broadcast return at once
// and this file polls ncclCommGetAsyncError and the stream, checking `alive` and the deadline
// between polls, so a rank that never arrives costs `wait`, not a hang. On any failure the
// communicator is aborted (ncclCommAbort also stops this rank's kernels) and forgotten.
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "wire/device_weights.hpp"
#include "wire/nccl_collectives.hpp"

namespace troupe::wire {
namespace {

using Clock = std::chrono::steady_clock;

Status nccl_error(ncclResult_t r, const std::string& what) {
  return Status::unavailable(what + ": " + ncclGetErrorString(r));
}
Status cuda_error(cudaError_t e, const std::string& what) {
  return Status::unavailable(what + ": " + cudaGetErrorString(e));
}

// Makes `device` current for the scope and restores the caller's device after: a link may be used
// from any thread, and the thread's other CUDA work must not find its device changed.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    status_ = cudaSetDevice(device);
  }
  ~DeviceScope() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  cudaError_t status() const { return status_; }

 private:
  int previous_ = -1;
  cudaError_t status_ = cudaSuccess;
};

class NcclWeightLink final : public DeviceWeightLink {
 public:
  NcclWeightLink(int device, cudaStream_t stream) : device_(device), stream_(stream) {}
  ~NcclWeightLink() override {
    leave();
    DeviceScope on(device_);
    if (buffer_ != nullptr) cudaFree(buffer_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int device() const override { return device_; }

  Result<std::vector<uint8_t>> new_unique_id() override { return nccl_unique_id(); }

  bool joined(std::span<const uint8_t> unique_id) const override {
    return comm_ != nullptr && unique_id.size() == id_.size() && std::equal(id_.begin(), id_.end(), unique_id.begin());
  }

  Status join(std::span<const uint8_t> unique_id, int nranks, int rank, const Alive& alive,
              std::chrono::milliseconds wait) override {
    leave();
    if (unique_id.size() != sizeof(ncclUniqueId)) {
      return Status::invalid_argument("NCCL unique id must be " + std::to_string(sizeof(ncclUniqueId)) +
                                      " bytes, got " + std::to_string(unique_id.size()));
    }
    if (nranks < 2 || rank < 0 || rank >= nranks) {
      return Status::invalid_argument("NCCL rank " + std::to_string(rank) + " of " + std::to_string(nranks) +
                                      ": expected 0 <= rank < nranks and nranks >= 2");
    }
    DeviceScope on(device_);
    if (on.status() != cudaSuccess) return cuda_error(on.status(), "cudaSetDevice");
    ncclUniqueId uid;
    std::memcpy(&uid, unique_id.data(), sizeof uid);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t comm = nullptr;
    ncclResult_t r = ncclCommInitRankConfig(&comm, nranks, uid, rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) {
      if (comm != nullptr) ncclCommAbort(comm);
      return nccl_error(r, "ncclCommInitRankConfig (rank " + std::to_string(rank) + " of " + std::to_string(nranks) + ")");
    }
    comm_ = comm;
    Status s = settle(alive, Clock::now() + wait, "joining the NCCL communicator as rank " + std::to_string(rank) +
                                                      " of " + std::to_string(nranks));
    if (!s) {
      leave();
      return s;
    }
    id_.assign(unique_id.begin(), unique_id.end());
    return Status::ok();
  }

  Status send(std::span<const uint8_t> data, const Alive& alive, std::chrono::milliseconds wait) override {
    const auto deadline = Clock::now() + wait;
    DeviceScope on(device_);
    TROUPE_RETURN_IF_ERROR(prepare(data.size()));
    if (cudaError_t e = cudaMemcpyAsync(buffer_, data.data(), data.size(), cudaMemcpyHostToDevice, stream_);
        e != cudaSuccess) {
      return cuda_error(e, "copying the weights to the GPU");
    }
    return broadcast(data.size(), alive, deadline);
  }

  Status receive(std::span<uint8_t> out, const Alive& alive, std::chrono::milliseconds wait) override {
    const auto deadline = Clock::now() + wait;
    DeviceScope on(device_);
    TROUPE_RETURN_IF_ERROR(prepare(out.size()));
    TROUPE_RETURN_IF_ERROR(broadcast(out.size(), alive, deadline));
    if (cudaError_t e = cudaMemcpyAsync(out.data(), buffer_, out.size(), cudaMemcpyDeviceToHost, stream_);
        e != cudaSuccess) {
      return cuda_error(e, "copying the weights from the GPU");
    }
    return drain(alive, deadline, "copying the weights from the GPU");
  }

  void leave() override {
    if (comm_ == nullptr) return;
    DeviceScope on(device_);
    // Blocking, also for a non-blocking communicator: it raises the abort flag the kernels poll, so
    // this rank's part of a broadcast that cannot finish ends, and frees the communicator.
    ncclCommAbort(comm_);
    comm_ = nullptr;
    id_.clear();
    // Our stream's work (a copy, the aborted kernel) ends now; wait for it before the buffer and the
    // host memory it copied into are reused. A stream left in error is replaced.
    if (cudaStreamSynchronize(stream_) != cudaSuccess) {
      (void)cudaGetLastError();
      cudaStreamDestroy(stream_);
      if (cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking) != cudaSuccess) stream_ = nullptr;
    }
  }

 private:
  // REQUIRES: device_ is current (a DeviceScope).
  Status prepare(size_t bytes) {
    if (comm_ == nullptr) return Status::unavailable("no NCCL communicator: join one first");
    if (stream_ == nullptr) return Status::unavailable("the link's CUDA stream could not be recreated after an abort");
    if (bytes <= capacity_) return Status::ok();
    if (buffer_ != nullptr) {
      cudaStreamSynchronize(stream_);
      cudaFree(buffer_);
      buffer_ = nullptr;
      capacity_ = 0;
    }
    if (cudaError_t e = cudaMalloc(&buffer_, bytes); e != cudaSuccess) {
      buffer_ = nullptr;
      return cuda_error(e, "allocating " + std::to_string(bytes) + " bytes for weights on GPU " + std::to_string(device_));
    }
    capacity_ = bytes;
    return Status::ok();
  }

  // Broadcasts `bytes` of the device buffer from rank 0 in place and waits for it.
  Status broadcast(size_t bytes, const Alive& alive, Clock::time_point deadline) {
    ncclResult_t r = ncclBroadcast(buffer_, buffer_, bytes, ncclUint8, 0, comm_, stream_);
    if (r != ncclSuccess && r != ncclInProgress) {
      Status s = nccl_error(r, "ncclBroadcast");
      leave();
      return s;
    }
    if (r == ncclInProgress) TROUPE_RETURN_IF_ERROR(settle(alive, deadline, "enqueueing the NCCL broadcast"));
    return drain(alive, deadline, "the NCCL broadcast");
  }

  // Waits until the communicator has no operation in progress.
  Status settle(const Alive& alive, Clock::time_point deadline, const std::string& what) {
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
      if (r != ncclSuccess) state = r;
      if (state == ncclSuccess) return Status::ok();
      if (state != ncclInProgress) return fail(nccl_error(state, what));
      if (Status s = overdue(alive, deadline, what); !s) return fail(s);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  // Waits until the stream finished, watching the communicator for errors.
  Status drain(const Alive& alive, Clock::time_point deadline, const std::string& what) {
    for (int polls = 0;; ++polls) {
      cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return Status::ok();
      if (e != cudaErrorNotReady) return fail(cuda_error(e, what));
      ncclResult_t state = ncclSuccess;
      if (comm_ != nullptr && ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state != ncclSuccess &&
          state != ncclInProgress) {
        return fail(nccl_error(state, what));
      }
      if (Status s = overdue(alive, deadline, what); !s) return fail(s);
      // Spin briefly (a broadcast of a small model ends in microseconds), then poll gently.
      if (polls > 100) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  static Status overdue(const Alive& alive, Clock::time_point deadline, const std::string& what) {
    if (alive && !alive()) return Status::unavailable(what + ": a peer it waits on went down");
    if (Clock::now() >= deadline) return Status::unavailable(what + ": not finished in time (a rank did not take part)");
    return Status::ok();
  }

  Status fail(Status s) {
    leave();
    return s;
  }

  const int device_;
  cudaStream_t stream_;  // null only when recreating it after an abort failed
  ncclComm_t comm_ = nullptr;
  std::vector<uint8_t> id_;
  void* buffer_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace

int visible_cuda_devices() { return cuda_device_count(); }

Result<std::unique_ptr<DeviceWeightLink>> open_nccl_weight_link(int device) {
  // NCCL_COMM_BLOCKING=1 overrides config.blocking: every wait here would become a hang again.
  if (const char* b = std::getenv("NCCL_COMM_BLOCKING"); b != nullptr && std::string(b) == "1") {
    return Status::invalid_argument("NCCL weight link: NCCL_COMM_BLOCKING=1 is set, which makes NCCL calls block and "
                                    "a dead peer hang them; unset it");
  }
  const int n = visible_cuda_devices();
  if (device < 0 || device >= n) {
    return Status::unavailable("NCCL weight link: CUDA device " + std::to_string(device) + " is not visible (" +
                               std::to_string(n) + " visible)");
  }
  DeviceScope on(device);
  if (on.status() != cudaSuccess) return cuda_error(on.status(), "cudaSetDevice");
  cudaStream_t stream = nullptr;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); e != cudaSuccess) {
    return cuda_error(e, "cudaStreamCreateWithFlags");
  }
  return std::unique_ptr<DeviceWeightLink>(new NcclWeightLink(device, stream));
}

}  // namespace troupe::wire
