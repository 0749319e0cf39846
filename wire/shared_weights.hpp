// Same-host weight broadcast through shared memory: the source writes version v once into a
// shared-memory segment (a memfd) and sends every receiver on its host a manifest naming it; each
// receiver maps the segment read-only, checks the whole set's CRC-32C and commits a view of it. No
// receiver copies the weights, so broadcasting to N receivers costs one write plus N checks, where
// the chunked chain of weight_broadcast.hpp costs N copies (on a host with fewer cores than
// processes those copies share the cores: the chain to 4 receivers took 2.1-2.6x the time to 1).
//
// Slots and holders. The publisher keeps at most `slots` segments and never writes into one that a
// receiver still reads: each segment's header has a 64-bit holder mask, one bit per receiver. The
// publisher sets a receiver's bit before sending it the manifest; the receiver clears it when it
// turns the version down (older than what it holds, or failing its checksum) or when the last
// reference to the committed view is dropped (WeightReceiver keeps its newest commit, so steady
// state needs three slots: one held, one being taken up, one being written). A receiver that goes
// down has its bits cleared by the publisher (`on_peer_down`). When every slot is held, publish
// waits up to `slot_wait` and then fails naming the holders: back-pressure, never growth.
//
// Fencing is as in the chain: a receiver switches to v only after v's checksum matched, and the
// manifest is sent only after v was written whole, so a source that dies mid-write leaves every
// receiver on its old version. A receiver's committed view stays valid after the source exits (the
// segment lives while it is mapped).
//
// Trust: the segment is opened through /proc/<pid>/fd, so the receiver must run as the source's
// user on the same host; the manifest itself arrives over the authenticated transport and the
// header must repeat its random id. Thread-safety: one owner thread per publisher; the holder
// masks are atomics shared across processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "wire/messages.hpp"
#include "wire/ucx_transport.hpp"

namespace troupe::wire {

// The first page of every segment; the data starts at kSharedDataOffset.
struct SharedSegmentHeader {
  uint64_t magic;
  uint64_t id;        // random per segment; the manifest must name the same id
  uint64_t capacity;  // data bytes the segment can hold
  uint64_t version;   // the weights version written last (diagnostics)
  std::atomic<uint64_t> holders;  // bit b: the receiver given bit b still reads this segment
};
inline constexpr uint64_t kSharedSegmentMagic = 0x3130575348505254ull;  // "TRPHSW01"
inline constexpr size_t kSharedDataOffset = 4096;
inline constexpr int kMaxSharedReceivers = 64;

// Checks a publish's arguments (every backend's): receivers given, version >= 1 (0 means "none"),
// every tensor inside `data`. Errors begin with `what`.
Status check_publish(const std::string& what, size_t receivers, uint64_t version,
                     const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data);

struct SharedPublishOptions {
  int slots = 3;  // segments kept; each holds one version (see above for why three)
  std::chrono::milliseconds slot_wait{30000};  // how long publish waits for a free slot
  std::chrono::milliseconds send_wait{30000};  // back-pressure per manifest sent
};

class SharedWeightPublisher {
 public:
  explicit SharedWeightPublisher(Transport& transport, SharedPublishOptions options = {});
  ~SharedWeightPublisher();  // closes the segments; receivers' mappings stay valid
  SharedWeightPublisher(const SharedWeightPublisher&) = delete;
  SharedWeightPublisher& operator=(const SharedWeightPublisher&) = delete;

  // Writes version `version` into a free slot and sends each receiver its manifest. A receiver
  // that cannot be sent to is named in the returned error; the others still got the version.
  // REQUIRES: tensors describe byte ranges inside `data`; receivers are on this host.
  Status publish(const std::vector<std::string>& receivers, uint64_t version,
                 const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data);
  // A receiver that went down holds nothing any more.
  void on_peer_down(const std::string& peer);

  // For tests and diagnostics: segments that exist, and those some receiver holds now.
  int slots_allocated() const;
  int slots_held() const;

 private:
  struct Slot {
    int fd = -1;
    uint8_t* base = nullptr;  // header page + data
    size_t mapped = 0;
    SharedSegmentHeader* header() const { return reinterpret_cast<SharedSegmentHeader*>(base); }
  };
  Result<Slot*> free_slot(size_t bytes);
  Status make_slot(Slot& slot, size_t bytes);
  void close_slot(Slot& slot);
  Result<uint8_t> bit_of(const std::string& receiver);
  void clear_bit(uint8_t bit);  // in every slot
  std::string holder_names(uint64_t mask) const;

  Transport& transport_;
  SharedPublishOptions options_;
  std::vector<Slot> slots_;
  std::map<std::string, uint8_t> bits_;  // receiver name -> its bit, stable for the publisher's life
};

// A receiver's read-only mapping of one segment (its header page is mapped writable, for the
// holder bit). Shared by every committed view into it.
class SharedMapping {
 public:
  // Opens segment `fd` of process `pid` and checks that its header names `id` and holds `bytes`.
  static Result<std::shared_ptr<SharedMapping>> open(uint32_t pid, int fd, uint64_t id, uint64_t bytes);
  ~SharedMapping();
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;

  bool same(uint32_t pid, int fd, uint64_t id) const { return pid_ == pid && fd_ == fd && id_ == id; }
  uint64_t capacity() const { return capacity_; }
  const uint8_t* data() const { return data_; }
  void release(uint8_t bit) const;  // clears this receiver's holder bit

 private:
  SharedMapping() = default;
  uint32_t pid_ = 0;
  int fd_ = -1;
  uint64_t id_ = 0;
  uint64_t capacity_ = 0;
  SharedSegmentHeader* header_ = nullptr;
  const uint8_t* data_ = nullptr;
};

}  // namespace troupe::wire
