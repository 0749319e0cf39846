// Ring all-reduce behind wire/ring_allreduce.hpp.
#include "wire/ring_allreduce.hpp"

#include <cstring>

#include "wire/crc32c.hpp"
#include "wire/messages.hpp"

namespace troupe::wire {

RingAllReduce::RingAllReduce(Transport& transport, std::vector<std::string> ranks, size_t rank, std::string tag)
    : transport_(transport), ranks_(std::move(ranks)), rank_(rank), tag_(std::move(tag)) {}

void RingAllReduce::deliver(Envelope&& e) {
  auto c = read<WeightChunk>(e.payload);
  size_t n = ranks_.size();
  if (!c || n < 2 || e.peer != ranks_[(rank_ + n - 1) % n]) return;  // only our predecessor feeds us
  std::lock_guard lk(mu_);
  inbox_[{(*c)->version(), (*c)->index()}] = std::move(e.payload);
  cv_.notify_all();
}

void RingAllReduce::on_peer_down(const std::string& peer) {
  size_t n = ranks_.size();
  if (n < 2) return;
  if (peer == ranks_[(rank_ + 1) % n] || peer == ranks_[(rank_ + n - 1) % n]) {
    std::lock_guard lk(mu_);
    down_ = peer;
    cv_.notify_all();
  }
}

Result<Bytes> RingAllReduce::await(uint64_t op_id, uint32_t step, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  auto key = std::make_pair(op_id, step);
  bool ok = cv_.wait_until(lk, deadline, [&] { return inbox_.count(key) > 0 || !down_.empty(); });
  if (inbox_.count(key) > 0) {
    Bytes b = std::move(inbox_[key]);
    inbox_.erase(key);
    return b;
  }
  if (!down_.empty()) return Status::unavailable("all-reduce: neighbour " + down_ + " went down");
  (void)ok;
  return Status::unavailable("all-reduce: step " + std::to_string(step) + " of operation " + std::to_string(op_id) +
                             " did not arrive in time");
}

Status RingAllReduce::sum(std::span<float> data, uint64_t op_id, std::chrono::milliseconds timeout) {
  const size_t n = ranks_.size();
  if (rank_ >= n) return Status::invalid_argument("all-reduce: rank " + std::to_string(rank_) + " outside the ring");
  if (n == 1) return Status::ok();
  const std::string& next = ranks_[(rank_ + 1) % n];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Segment s covers [begin(s), begin(s+1)): sizes differ by at most one element.
  auto begin = [&](size_t s) { return data.size() * s / n; };
  auto seg = [&](size_t s) { return data.subspan(begin(s), begin(s + 1) - begin(s)); };
  auto send = [&](uint32_t step, size_t s) -> Status {
    auto floats = seg(s);
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(floats.data()), floats.size_bytes());
    flatbuffers::FlatBufferBuilder fbb(bytes.size() + 128);
    fbb.ForceVectorAlignment(bytes.size(), sizeof(uint8_t), 16);
    auto vec = fbb.CreateVector(bytes.data(), bytes.size());
    auto root = CreateWeightChunk(fbb, kSchemaVersion, op_id, step, s, crc32c(bytes), vec);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return transport_.send(next, tag_, tag_, MessageKind::kWeightChunk, finish<WeightChunk>(fbb, root),
                           std::max(left, std::chrono::milliseconds(0)));
  };
  auto receive = [&](uint32_t step, size_t s, bool add) -> Status {
    auto b = await(op_id, step, deadline);
    if (!b) return b.status();
    auto c = read<WeightChunk>(*b);
    if (!c) return c.status();
    auto floats = seg(s);
    const auto* d = (*c)->data();
    if ((*c)->offset() != s || d == nullptr || d->size() != floats.size_bytes()) {
      return Status::corruption("all-reduce: step " + std::to_string(step) + " carries segment " +
                                std::to_string((*c)->offset()) + " of " + std::to_string(d ? d->size() : 0) +
                                " bytes; expected segment " + std::to_string(s) + " of " +
                                std::to_string(floats.size_bytes()));
    }
    if (crc32c({d->data(), d->size()}) != (*c)->checksum()) {
      return Status::corruption("all-reduce: segment " + std::to_string(s) + " fails its CRC-32C");
    }
    if (add) {
      const float* in = reinterpret_cast<const float*>(d->data());  // force_align 16 in the schema
      for (size_t i = 0; i < floats.size(); ++i) floats[i] += in[i];
    } else {
      std::memcpy(floats.data(), d->data(), d->size());
    }
    return Status::ok();
  };
  // Reduce-scatter: after step k, segment (rank-k-1) holds k+2 contributions.
  for (size_t k = 0; k + 1 < n; ++k) {
    TROUPE_RETURN_IF_ERROR(send(static_cast<uint32_t>(k), (rank_ + n - k) % n));
    TROUPE_RETURN_IF_ERROR(receive(static_cast<uint32_t>(k), (rank_ + n - k - 1) % n, /*add=*/true));
  }
  // All-gather: segment (rank+1) is complete here; pass complete segments around the ring.
  for (size_t k = 0; k + 1 < n; ++k) {
    uint32_t step = static_cast<uint32_t>(n - 1 + k);
    TROUPE_RETURN_IF_ERROR(send(step, (rank_ + 1 + n - k) % n));
    TROUPE_RETURN_IF_ERROR(receive(step, (rank_ + n - k) % n, /*add=*/false));
  }
  return Status::ok();
}

}  // namespace troupe::wire
