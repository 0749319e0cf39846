// Weight broadcast over the UCX transport: a versioned weight set (manifest + chunks) flows from
// one source down a chain of receivers, pipelined: each receiver forwards a chunk to the next node
// before it copies it in, so later chunks are still leaving the source while earlier ones travel
// down the chain. The manifest carries the rest of the chain (`route`) and the source's name.
//
// Fencing: a receiver stages version v apart from its committed weights and switches to v only
// when every chunk of v arrived and every chunk checksum and the whole-set checksum (CRC-32C)
// match. If its upstream dies, a chunk is damaged, or a newer manifest overtakes v, the staging is
// dropped and the committed version stays as it was. After a commit the receiver acknowledges to
// the source with a Heartbeat whose policy_version is v.
//
// Cost per byte (a broadcast is bound by memory passes, see bench/wire_bench): the source reads the
// weights once for the chunk checksums and once to encode the chunks; a receiver's transport copies
// a chunk in (CMA), and the receiver checks and moves it into the staging buffer in one pass
// (crc32c_copy); the whole-set checksum is joined from the chunk checksums (crc32c_combine). A
// staging buffer is reused when nobody holds the version it last carried any more (steady state:
// two buffers, no page faults per version).
//
// A manifest may instead name a same-host shared-memory segment (wire/shared_weights.hpp): the
// receiver then maps it, checks the whole set's checksum and commits a read-only view of it at once
// (no chunks, no copy); the same fence and acknowledgement apply.
//
// A manifest may instead carry an NCCL group (wire/device_weights.hpp): the bytes then come by one
// ncclBroadcast into the receiver's GPU and are copied to host memory; a receiver takes part in every
// broadcast it is sent a manifest for (the source waits on all ranks), even one it already holds, and
// commits under the same fence. DeviceWeightPublisher is the source's side.
//
// Thread-safety: `broadcast_weights` and WeightReceiver's handlers block on send back-pressure, so
// call them from one owner thread, never from the transport's callbacks. committed(),
// chunks_received() and aborted() are safe from any thread; staging_version() only on the owner's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "wire/device_weights.hpp"
#include "wire/mapped_buffer.hpp"
#include "wire/messages.hpp"
#include "wire/shared_weights.hpp"
#include "wire/ucx_transport.hpp"

namespace troupe::wire {

// The destination name weight messages travel to.
inline constexpr const char* kWeightsDst = "weights";

struct BroadcastOptions {
  // Default: 4 MiB. Small enough that the chain fills quickly (pipeline latency ~ one chunk per
  // hop), large enough that per-message overhead is negligible at GB/s.
  size_t chunk_bytes = size_t{4} << 20;
  std::chrono::milliseconds send_wait{30000};  // Default: 30 s of back-pressure before giving up
};

// Sends version `version` of the weights to chain[0], which forwards along chain[1..].
// REQUIRES: tensors describe byte ranges inside `data`; chain is non-empty and connected onwards.
Status broadcast_weights(Transport& transport, const std::vector<std::string>& chain, uint64_t version,
                         const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data,
                         const BroadcastOptions& options = {});

struct DevicePublishOptions {
  // How long the source waits for every receiver to join a new communicator. Longer than a
  // receiver's own wait (WeightReceiver::set_device_link): a receiver still waiting out a failed
  // broadcast joins only after it gave up on it. Default: 30 s.
  std::chrono::milliseconds join_wait{30000};
  std::chrono::milliseconds broadcast_wait{10000};  // one version's ncclBroadcast. Default: 10 s
  std::chrono::milliseconds send_wait{30000};       // back-pressure per manifest sent
  // After a failed broadcast the next communicator waits this long, doubling per failure up to
  // `retry_last` (each new unique id starts a bootstrap thread in this process that lives until
  // every rank joined: retrying at once with a receiver that cannot join would pile them up).
  std::chrono::milliseconds retry_first{1000};
  std::chrono::milliseconds retry_last{60000};
};

// The source of GPU-to-GPU broadcasts: sends each receiver a manifest carrying the communicator
// (a new one when the receivers changed or the last broadcast failed), then joins it if new and
// broadcasts. A failure (a receiver down, or not taking part within the waits) aborts the
// communicator: the receivers that did take part keep their old version, and the next publish
// starts a new one with whoever is up.
class DeviceWeightPublisher {
 public:
  // `link` must outlive the publisher.
  DeviceWeightPublisher(Transport& transport, DeviceWeightLink& link, DevicePublishOptions options = {});

  // REQUIRES: receivers non-empty; tensors describe byte ranges inside `data`; version >= 1.
  Status publish(const std::vector<std::string>& receivers, uint64_t version, const std::vector<TensorInfoT>& tensors,
                 std::span<const uint8_t> data);
  // A receiver went down: the next publish starts a new communicator.
  void on_peer_down(const std::string& peer);
  // A receiver committed (or already held) `version`. A member that did not confirm the last
  // version may have given up on the communicator: the next publish then starts a new one.
  void on_ack(const std::string& peer, uint64_t version);
  uint64_t epoch() const { return epoch_; }  // communicators started so far

 private:
  Transport& transport_;
  DeviceWeightLink& link_;
  DevicePublishOptions options_;
  std::vector<std::string> members_;  // the current communicator's receivers, rank 1.. in order
  std::vector<uint8_t> id_;
  uint64_t epoch_ = 0;
  bool fresh_ = true;  // the next publish must start a new communicator
  uint64_t last_version_ = 0;  // the last version broadcast without error
  std::map<std::string, uint64_t> acked_;
  int failures_ = 0;  // in a row
  std::chrono::steady_clock::time_point retry_at_{};
};

struct CommittedWeights {
  uint64_t version = 0;  // 0: nothing committed yet
  std::shared_ptr<const MappedBuffer> data;
  std::vector<TensorInfoT> tensors;
};

class WeightReceiver {
 public:
  explicit WeightReceiver(Transport& transport, std::chrono::milliseconds send_wait = std::chrono::milliseconds(30000));

  // Feed every envelope addressed to kWeightsDst. Returns true when it committed a version.
  Result<bool> on_message(const Envelope& envelope);
  // Feed every peer-down event: a dead upstream aborts the staged version.
  void on_peer_down(const std::string& peer);
  // Takes NCCL manifests through `link` (which must outlive the receiver), giving up on a join or a
  // broadcast after `wait`. Without a link an NCCL manifest is refused (and its source times out).
  void set_device_link(DeviceWeightLink* link, std::chrono::milliseconds wait = std::chrono::milliseconds(10000));

  CommittedWeights committed() const;
  uint64_t staging_version() const;  // 0 when nothing is staged
  uint64_t chunks_received() const;
  uint64_t aborted() const;          // staged versions dropped

 private:
  struct Staging {
    uint64_t version = 0;
    std::string upstream, next, source;
    std::unique_ptr<WeightManifestT> manifest;
    std::shared_ptr<MappedBuffer> data;
    std::vector<bool> have;
    std::vector<uint32_t> crcs;  // each chunk's checksum, once it arrived and matched
    uint32_t received = 0;
  };
  void abort(const std::string& why);
  // Tells `source` (when connected) that this node committed `version`.
  void acknowledge(const std::string& source, uint64_t version);
  Result<bool> on_manifest(const Envelope& e);
  Result<bool> on_chunk(const Envelope& e);
  Result<bool> on_shared_manifest(const Envelope& e, const WeightManifest* wm);
  Result<bool> on_device_manifest(const Envelope& e, const WeightManifest* wm);
  // A buffer for `bytes`: the spare when it fits, else a new one.
  Result<std::shared_ptr<MappedBuffer>> staging_buffer(uint64_t bytes);
  void count_abort();
  // OK when `version` is newer than the committed one; else out_of_range naming `what` (and, for the
  // committed version itself, the acknowledgement `source` missed, sent again).
  Status newer_than_committed(uint64_t version, const std::string& source, const std::string& what);
  // Makes `next` (whose bytes `buffer` holds) the committed version and acknowledges it to `source`.
  void switch_to(CommittedWeights next, std::shared_ptr<MappedBuffer> buffer, const std::string& source);

  Transport& transport_;
  std::chrono::milliseconds send_wait_;
  mutable std::mutex mu_;  // guards committed_ and the counters read by getters
  CommittedWeights committed_;
  std::shared_ptr<MappedBuffer> committed_buffer_;  // committed_.data, writable once nobody else holds it
  MappedBuffer spare_;  // a released buffer, reused by the next version of the same size
  Staging staging_;
  // Shared segments this receiver has mapped, newest last; at most kMaxMappings are kept open
  // beyond those a committed view still uses.
  static constexpr size_t kMaxMappings = 8;
  std::vector<std::shared_ptr<SharedMapping>> mappings_;
  DeviceWeightLink* device_ = nullptr;
  std::chrono::milliseconds device_wait_{10000};
  std::deque<std::vector<uint8_t>> left_ids_;  // communicators this receiver gave up on (the last 8)
  uint64_t chunks_received_ = 0;
  uint64_t aborted_ = 0;
};

}  // namespace troupe::wire
