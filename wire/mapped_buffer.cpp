// MappedBuffer and the allocator tuning behind wire/mapped_buffer.hpp.
#include "wire/mapped_buffer.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

namespace troupe::wire {

Result<MappedBuffer> MappedBuffer::allocate(size_t bytes) {
  MappedBuffer b;
  b.size_ = bytes;
  if (bytes == 0) return b;
  // Round up to 2 MiB so the whole mapping can use huge pages.
  constexpr size_t kHuge = size_t{2} << 20;
  b.mapped_ = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = ::mmap(nullptr, b.mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Status::io_error("mapping " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  }
  ::madvise(p, b.mapped_, MADV_HUGEPAGE);  // advisory: fine if THP is off
  // Populate now, in one call, instead of one page fault per 4 KiB page later.
  ::madvise(p, b.mapped_, MADV_POPULATE_WRITE);
  b.data_ = static_cast<uint8_t*>(p);
  return b;
}

MappedBuffer MappedBuffer::borrow(const uint8_t* data, size_t bytes) {
  MappedBuffer b;
  b.data_ = const_cast<uint8_t*>(data);  // never written through: borrowed views are handed out const
  b.size_ = bytes;
  return b;
}

MappedBuffer::~MappedBuffer() {
  if (data_ != nullptr && mapped_ != 0) ::munmap(data_, mapped_);
}

MappedBuffer::MappedBuffer(MappedBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}

MappedBuffer& MappedBuffer::operator=(MappedBuffer&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr && mapped_ != 0) ::munmap(data_, mapped_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
  }
  return *this;
}

void tune_allocator_for_large_messages(size_t prefault_bytes) {
  static std::once_flag once;
  std::call_once(once, [prefault_bytes] {
    // Blocks up to 1 GiB come from the heap and, once freed, stay there for the next message
    // (a weight chunk is 4 MiB; a FlatBuffer is at most 2 GiB). One arena, so buffers allocated on
    // the progress thread and freed on the owner's are recycled for both.
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    if (prefault_bytes == 0) return;
    // Grow the heap once, with huge pages and populated in one call, then hand it back to malloc:
    // the next prefault_bytes of message buffers are served without page faults.
    void* p = std::malloc(prefault_bytes);
    if (p == nullptr) return;
    constexpr uintptr_t kPage = 4096;
    auto begin = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
    auto end = (reinterpret_cast<uintptr_t>(p) + prefault_bytes) & ~(kPage - 1);
    if (end > begin) {
      ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
      ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
    }
    std::free(p);
  });
}

}  // namespace troupe::wire
