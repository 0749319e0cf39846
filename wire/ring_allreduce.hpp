// Ring all-reduce (sum of fp32 vectors) among data-parallel learners over the UCX transport, for
// gradients in host memory. The classic two phases: n-1 reduce-scatter steps, then n-1 all-gather
// steps; each rank sends one segment to its successor and receives one from its predecessor per
// step, so every link carries 2(n-1)/n of the vector. Each final segment is summed at one rank and
// copied to the others, so every rank ends with bit-identical results.
//
// Segments travel as WeightChunk messages (version = operation id, index = step, offset = segment,
// checksum = CRC-32C of the floats) addressed to `tag`.
//
// Thread-safety: `deliver` and `on_peer_down` may be called from any thread (the transport's
// callbacks); `sum` blocks its caller and must not run on the transport's progress thread.
// Segments that arrive before `sum` is called are kept, but only once the object exists and the
// transport's message callback feeds it: construct it before connecting to the ring's peers, or a
// predecessor that starts first sends its opening segment to nobody.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.hpp"
#include "wire/ucx_transport.hpp"

namespace troupe::wire {

class RingAllReduce {
 public:
  // `ranks` lists the node names in ring order (the same list on every rank); `rank` is ours.
  RingAllReduce(Transport& transport, std::vector<std::string> ranks, size_t rank, std::string tag = "allreduce");

  void deliver(Envelope&& envelope);
  void on_peer_down(const std::string& peer);

  // Replaces `data` by the element-wise sum over all ranks. `op_id` must differ between calls and
  // be the same on every rank for one call. Fails (never hangs) when a neighbour dies or `timeout`
  // passes. REQUIRES: the same data.size() on every rank.
  Status sum(std::span<float> data, uint64_t op_id,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

 private:
  Result<Bytes> await(uint64_t op_id, uint32_t step, std::chrono::steady_clock::time_point deadline);

  Transport& transport_;
  std::vector<std::string> ranks_;
  size_t rank_;
  std::string tag_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<uint64_t, uint32_t>, Bytes> inbox_;  // (op, step) -> segment from the predecessor
  std::string down_;                                       // a neighbour that died
};

}  // namespace troupe::wire
