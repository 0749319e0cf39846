// GPU-to-GPU weight broadcast: the link a source and its receivers move weights through when they
// live in GPU memory at both ends. wire/nccl_weights.cpp implements it with NCCL (one communicator
// of the source, rank 0, and its receivers, ranks 1..n; one ncclBroadcast per version); a build
// without CUDA gets only the error from open_nccl_weight_link. DeviceWeightPublisher and
// WeightReceiver (wire/weight_broadcast.hpp) drive it: the manifest travels over the UCX transport,
// the bytes over the link, and the same fence holds (a receiver commits only a whole version whose
// CRC-32C matches).
//
// Collectives hang when a rank never arrives, so every blocking call here takes `alive` (polled:
// false when a peer the call waits on is known to be down) and `wait`, and on either it aborts the
// communicator and fails: the caller starts a new one (a new unique id) for the next version.
// Thread-safety: one owner thread per link.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.hpp"

namespace troupe::wire {

class DeviceWeightLink {
 public:
  using Alive = std::function<bool()>;
  virtual ~DeviceWeightLink() = default;

  // The CUDA device the link stages weights on.
  virtual int device() const = 0;
  // A fresh communicator identity (made by the source, sent to receivers in each manifest).
  virtual Result<std::vector<uint8_t>> new_unique_id() = 0;
  // True when the link is a member of the communicator `unique_id` names.
  virtual bool joined(std::span<const uint8_t> unique_id) const = 0;
  // Leaves any earlier communicator and joins `unique_id` as `rank` of `nranks`; returns when
  // every rank joined. Collective: every rank must call it.
  virtual Status join(std::span<const uint8_t> unique_id, int nranks, int rank, const Alive& alive,
                      std::chrono::milliseconds wait) = 0;
  // Rank 0: copies `data` to the device and broadcasts it. Returns when the broadcast completed.
  virtual Status send(std::span<const uint8_t> data, const Alive& alive, std::chrono::milliseconds wait) = 0;
  // Ranks 1..n-1: takes part in the broadcast and copies the result into `out` (its size must be the
  // source's). Returns when `out` holds it.
  virtual Status receive(std::span<uint8_t> out, const Alive& alive, std::chrono::milliseconds wait) = 0;
  // Aborts the current communicator (a no-op when there is none).
  virtual void leave() = 0;
};

// CUDA devices visible to this process; 0 when the build has no CUDA, there is no GPU or no driver.
int visible_cuda_devices();

// A link staging on CUDA device `device`. Errors: the build has no CUDA, or the device is not visible.
Result<std::unique_ptr<DeviceWeightLink>> open_nccl_weight_link(int device);

}  // namespace troupe::wire
