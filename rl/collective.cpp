// In-process gradient all-reduce (see collective.hpp).
#include "rl/collective.hpp"

#include <algorithm>
#include <string>

namespace troupe::rl {
namespace {

class Handle final : public GradientCollective {
 public:
  Handle(std::shared_ptr<InProcessCollective> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int size() const override { return group_->size(); }
  int rank() const override { return rank_; }
  Status all_reduce_sum(std::span<float> data) override { return group_->all_reduce_sum(rank_, data); }
  const std::shared_ptr<InProcessCollective>& group() const { return group_; }

 private:
  std::shared_ptr<InProcessCollective> group_;
  int rank_;
};

}  // namespace

InProcessCollective::InProcessCollective(int size, std::chrono::milliseconds timeout)
    : size_(std::max(1, size)), timeout_(timeout), slots_(static_cast<size_t>(std::max(1, size))) {}

std::vector<std::shared_ptr<GradientCollective>> InProcessCollective::make_group(int size,
                                                                                 std::chrono::milliseconds timeout) {
  auto group = std::make_shared<InProcessCollective>(size, timeout);
  std::vector<std::shared_ptr<GradientCollective>> handles;
  for (int r = 0; r < group->size(); ++r) handles.push_back(std::make_shared<Handle>(group, r));
  return handles;
}

std::shared_ptr<InProcessCollective> group_of(const std::shared_ptr<GradientCollective>& handle) {
  auto* h = dynamic_cast<Handle*>(handle.get());
  return h ? h->group() : nullptr;
}

void InProcessCollective::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  cv_.notify_all();
}

Status InProcessCollective::all_reduce_sum(int rank, std::span<float> data) {
  if (rank < 0 || rank >= size_) {
    return Status::invalid_argument("all-reduce rank " + std::to_string(rank) + " outside [0, " +
                                    std::to_string(size_) + ")");
  }
  if (size_ == 1) return Status::ok();
  std::unique_lock<std::mutex> lock(mu_);
  if (aborted_) return Status::unavailable("gradient all-reduce aborted (the run is stopping)");
  const uint64_t generation = generation_;
  slots_[static_cast<size_t>(rank)] = data;
  if (++arrived_ == size_) {
    // The last to arrive sums in rank order: every replica receives the same bits.
    const size_t n = slots_[0].size();
    length_mismatch_ = false;
    for (const auto& s : slots_) length_mismatch_ |= s.size() != n;
    if (!length_mismatch_) {
      sum_.assign(slots_[0].begin(), slots_[0].end());
      for (size_t r = 1; r < slots_.size(); ++r) {
        for (size_t i = 0; i < n; ++i) sum_[i] += slots_[r][i];
      }
      for (auto& s : slots_) std::copy(sum_.begin(), sum_.end(), s.begin());
    }
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  } else if (!cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || aborted_; })) {
    // The group is out of step from here on: fail every participant, now and later,
    // rather than let later rounds pair up the wrong buffers.
    aborted_ = true;
    cv_.notify_all();
    return Status::unavailable("gradient all-reduce: rank " + std::to_string(rank) + " waited " +
                               std::to_string(timeout_.count()) + " ms for the other learners");
  }
  if (generation_ == generation) {  // woken by abort() (or a peer's timeout) before the group completed
    return Status::unavailable("gradient all-reduce aborted (the run is stopping)");
  }
  if (length_mismatch_) return Status::invalid_argument("gradient all-reduce: participants passed different lengths");
  return Status::ok();
}

}  // namespace troupe::rl
