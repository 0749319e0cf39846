// Gradient all-reduce among the data-parallel learners of one run.
//
// Each learner trains on its own share of every batch; before each optimiser step
// the learners sum their gradients (and, once per batch, the loss normalisers) so
// every replica takes the same step and the replicas' weights stay identical. A
// learner holds one GradientCollective handle, which knows its rank.
//
// InProcessCollective connects learners that are threads of one process: the
// last to arrive sums the buffers in rank order (so every replica gets the same
// bits) and wakes the others. Across processes the same interface sits on the
// wire's ring all-reduce (UCX) or NCCL. Thread-safe; each handle is used by one
// thread at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/status.hpp"

namespace troupe::rl {

class GradientCollective {
 public:
  virtual ~GradientCollective() = default;
  virtual int size() const = 0;
  virtual int rank() const = 0;
  // Every participant calls with a buffer of the same length; each returns with the
  // element-wise sum over all participants in its buffer. Errors: the group was
  // aborted, a participant passed another length, or the others did not arrive in time.
  virtual Status all_reduce_sum(std::span<float> data) = 0;
};

class InProcessCollective {
 public:
  // `timeout`: how long a participant waits for the others before failing.
  explicit InProcessCollective(int size, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // The handle of participant `rank` (0 <= rank < size). Handles share this group.
  static std::vector<std::shared_ptr<GradientCollective>> make_group(
      int size, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Wakes every waiting participant with an error, and fails every later call:
  // for shutting down learners that may be waiting for a peer that has stopped.
  void abort();

  Status all_reduce_sum(int rank, std::span<float> data);
  int size() const { return size_; }

 private:
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::span<float>> slots_;  // guarded by mu_
  std::vector<float> sum_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
  bool length_mismatch_ = false;
};

// The handles of InProcessCollective::make_group also expose the group, for abort().
std::shared_ptr<InProcessCollective> group_of(const std::shared_ptr<GradientCollective>& handle);

}  // namespace troupe::rl
