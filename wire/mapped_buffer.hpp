// A large, writable byte buffer backed by an anonymous mapping that is populated up front and asks
// for transparent huge pages. Why: on these VMs a first-touch page fault costs so much that
// touching fresh memory runs at ~100 MB/s, while MAP_POPULATE fills 256 MiB in ~0.13 s and a copy
// into touched memory runs at ~5 GB/s (measured; see notes/wire.md). Weight staging and committed
// weight sets live in these. Move-only; not thread-safe for concurrent writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.hpp"

namespace troupe::wire {

class MappedBuffer {
 public:
  MappedBuffer() = default;
  static Result<MappedBuffer> allocate(size_t bytes);
  // A view of memory owned elsewhere (a shared weight segment): never unmapped or written by this
  // object; hand it out only as const.
  static MappedBuffer borrow(const uint8_t* data, size_t bytes);
  ~MappedBuffer();
  MappedBuffer(MappedBuffer&& o) noexcept;
  MappedBuffer& operator=(MappedBuffer&& o) noexcept;
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool owns_memory() const { return mapped_ != 0; }  // false for borrow()ed and empty buffers
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

// Raises glibc's mmap and trim thresholds so that large message buffers (std::vector inside
// wire::Bytes) are recycled from the heap instead of being mapped and faulted in afresh for every
// message; with `prefault_bytes` > 0 it also grows the heap by that much up front, populated (with
// huge pages where THP allows), so the first messages do not pay the page faults either.
// Process-wide; only the first call has an effect. Transport::start calls it with
// TransportOptions::prefault_heap_bytes.
void tune_allocator_for_large_messages(size_t prefault_bytes = 0);

}  // namespace troupe::wire
