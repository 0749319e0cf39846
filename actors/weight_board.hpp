// WeightBoard: the newest published policy in this process.
//
// The weight-sync actor publishes each new version here; policy workers read it
// at decode-step boundaries (from inside a running generation, which is why this
// is a lock-protected slot and not a message: a worker busy generating does not
// read its mailbox). Readers get a shared pointer to immutable parameters, so a
// publish never copies and never disturbs a reader. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace troupe::actors {

class WeightBoard {
 public:
  struct Snapshot {
    uint64_t version = 0;
    std::shared_ptr<const std::vector<float>> params;  // null before the first publish
  };

  void publish(uint64_t version, std::shared_ptr<const std::vector<float>> params) {
    std::lock_guard<std::mutex> lock(mu_);
    if (version <= latest_.version && latest_.params) return;  // never go back
    latest_ = {version, std::move(params)};
    version_.store(version, std::memory_order_release);
  }
  // Cheap check for the decode loop.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  Snapshot latest() const {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_;
  }

 private:
  mutable std::mutex mu_;
  Snapshot latest_;  // guarded by mu_
  std::atomic<uint64_t> version_{0};
};

}  // namespace troupe::actors
