// Same-host shared-memory weight broadcast behind wire/shared_weights.hpp.
#include "wire/shared_weights.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "wire/crc32c.hpp"
#include "wire/weight_broadcast.hpp"

namespace troupe::wire {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

std::string errno_text() { return std::strerror(errno); }

uint64_t random_id() {
  std::random_device rd;
  uint64_t id = (uint64_t{rd()} << 32) ^ rd() ^
                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return id == 0 ? 1 : id;
}

}  // namespace

SharedWeightPublisher::SharedWeightPublisher(Transport& transport, SharedPublishOptions options)
    : transport_(transport), options_(options) {
  options_.slots = std::max(1, options_.slots);
}

SharedWeightPublisher::~SharedWeightPublisher() {
  for (auto& s : slots_) close_slot(s);
}

void SharedWeightPublisher::close_slot(Slot& slot) {
  if (slot.base != nullptr) ::munmap(slot.base, slot.mapped);
  if (slot.fd >= 0) ::close(slot.fd);
  slot = Slot{};
}

Status SharedWeightPublisher::make_slot(Slot& slot, size_t bytes) {
  close_slot(slot);
  const size_t capacity = std::max(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
  int fd = ::memfd_create("troupe-weights", MFD_CLOEXEC);
  if (fd < 0) return Status::io_error("creating a shared weight segment (memfd_create): " + errno_text());
  const size_t mapped = kSharedDataOffset + capacity;
  if (::ftruncate(fd, static_cast<off_t>(mapped)) != 0) {
    Status s = Status::io_error("sizing a shared weight segment to " + std::to_string(mapped) + " bytes: " + errno_text());
    ::close(fd);
    return s;
  }
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    Status s = Status::io_error("mapping a shared weight segment of " + std::to_string(mapped) + " bytes: " + errno_text());
    ::close(fd);
    return s;
  }
  // Allocate every page now, in one call: faulting fresh pages one by one is slow on these VMs,
  // and a slot is written once per version for the life of the run.
  ::madvise(p, mapped, MADV_HUGEPAGE);  // advisory; shmem huge pages are often off
  ::madvise(p, mapped, MADV_POPULATE_WRITE);
  slot.fd = fd;
  slot.base = static_cast<uint8_t*>(p);
  slot.mapped = mapped;
  auto* h = slot.header();
  h->magic = kSharedSegmentMagic;
  h->id = random_id();
  h->capacity = capacity;
  h->version = 0;
  h->holders.store(0, std::memory_order_release);
  return Status::ok();
}

std::string SharedWeightPublisher::holder_names(uint64_t mask) const {
  std::string out;
  for (const auto& [name, bit] : bits_) {
    if ((mask >> bit) & 1u) out += (out.empty() ? "" : ", ") + name;
  }
  return out.empty() ? "receivers no longer known" : out;
}

Result<SharedWeightPublisher::Slot*> SharedWeightPublisher::free_slot(size_t bytes) {
  const auto deadline = std::chrono::steady_clock::now() + options_.slot_wait;
  while (true) {
    for (auto& s : slots_) {
      if (s.header()->holders.load(std::memory_order_acquire) != 0) continue;
      if (s.header()->capacity < bytes) TROUPE_RETURN_IF_ERROR(make_slot(s, bytes));
      return &s;
    }
    if (static_cast<int>(slots_.size()) < options_.slots) {
      slots_.emplace_back();
      Status st = make_slot(slots_.back(), bytes);
      if (!st) {
        slots_.pop_back();
        return st;
      }
      return &slots_.back();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    // A holder that went down while we wait (its peer-down event waits behind this call) holds
    // nothing: it was sent a manifest, so it was up then.
    for (const auto& [name, bit] : bits_) {
      if (!transport_.is_up(name)) clear_bit(bit);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  uint64_t held = 0;
  for (const auto& s : slots_) held |= s.header()->holders.load(std::memory_order_acquire);
  return Status::unavailable("every one of the " + std::to_string(slots_.size()) +
                             " shared weight slots is still read after " + std::to_string(options_.slot_wait.count()) +
                             " ms (held by " + holder_names(held) + "); raise the slots or release old versions");
}

Result<uint8_t> SharedWeightPublisher::bit_of(const std::string& receiver) {
  auto it = bits_.find(receiver);
  if (it != bits_.end()) return it->second;
  if (bits_.size() >= static_cast<size_t>(kMaxSharedReceivers)) {
    return Status::out_of_range("shared weight broadcast: more than " + std::to_string(kMaxSharedReceivers) +
                                      " receivers on one host (\"" + receiver + "\" is one too many)");
  }
  auto bit = static_cast<uint8_t>(bits_.size());
  bits_.emplace(receiver, bit);
  return bit;
}

Status check_publish(const std::string& what, size_t receivers, uint64_t version,
                     const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data) {
  if (receivers == 0) return Status::invalid_argument(what + ": no receivers");
  if (version == 0) return Status::invalid_argument(what + ": version 0 means \"none\"; start at 1");
  for (const auto& t : tensors) {
    if (t.offset > data.size() || t.bytes > data.size() - t.offset) {
      return Status::invalid_argument(what + ": tensor \"" + t.name + "\" lies outside the data");
    }
  }
  return Status::ok();
}

Status SharedWeightPublisher::publish(const std::vector<std::string>& receivers, uint64_t version,
                                      const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data) {
  TROUPE_RETURN_IF_ERROR(check_publish("shared weight broadcast", receivers.size(), version, tensors, data));
  std::vector<uint8_t> bits;
  uint64_t mask = 0;
  for (const auto& r : receivers) {
    auto b = bit_of(r);
    if (!b) return b.status();
    bits.push_back(*b);
    mask |= uint64_t{1} << *b;
  }
  auto slot = free_slot(data.size());
  if (!slot) return slot.status().with_context("weights v" + std::to_string(version));
  Slot& s = **slot;
  SharedSegmentHeader* h = s.header();
  // One pass: copy into the segment and checksum.
  const uint32_t whole = crc32c_copy(0, data, s.base + kSharedDataOffset);
  h->version = version;
  // Set before any manifest leaves: a receiver that is slow to read its manifest still holds the slot.
  h->holders.store(mask, std::memory_order_release);

  WeightManifestT m;
  m.version = version;
  for (const auto& t : tensors) m.tensors.push_back(std::make_unique<TensorInfoT>(t));
  m.total_bytes = data.size();
  m.chunk_bytes = 0;
  m.num_chunks = 0;
  m.checksum = whole;
  m.source = transport_.name();
  m.shared = std::make_unique<SharedSegmentT>();
  m.shared->pid = static_cast<uint32_t>(::getpid());
  m.shared->fd = s.fd;
  m.shared->id = h->id;
  std::string failed;
  for (size_t i = 0; i < receivers.size(); ++i) {
    m.shared->holder_bit = bits[i];
    Status st = transport_.is_up(receivers[i])
                    ? transport_.send(receivers[i], kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(m),
                                      options_.send_wait)
                    : Status::unavailable("not connected");
    if (!st) {
      h->holders.fetch_and(~(uint64_t{1} << bits[i]), std::memory_order_acq_rel);  // this slot only
      failed += (failed.empty() ? "" : "; ") + receivers[i] + ": " + st.message();
    }
  }
  if (!failed.empty()) {
    return Status::unavailable("shared weights v" + std::to_string(version) + " did not reach " + failed);
  }
  return Status::ok();
}

void SharedWeightPublisher::clear_bit(uint8_t bit) {
  for (auto& s : slots_) s.header()->holders.fetch_and(~(uint64_t{1} << bit), std::memory_order_acq_rel);
}

void SharedWeightPublisher::on_peer_down(const std::string& peer) {
  auto it = bits_.find(peer);
  if (it != bits_.end()) clear_bit(it->second);
}

int SharedWeightPublisher::slots_allocated() const { return static_cast<int>(slots_.size()); }

int SharedWeightPublisher::slots_held() const {
  int n = 0;
  for (const auto& s : slots_) n += s.header()->holders.load(std::memory_order_acquire) != 0;
  return n;
}

// ---- receiver side -------------------------------------------------------------------------------

Result<std::shared_ptr<SharedMapping>> SharedMapping::open(uint32_t pid, int fd, uint64_t id, uint64_t bytes) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  // Non-blocking: whatever the manifest names is opened without waiting (a segment is a regular file).
  int f = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) {
    return Status::unavailable("opening the shared weight segment " + path + ": " + errno_text() +
                               " (the source must run on this host, as this user)");
  }
  struct stat st {};
  if (::fstat(f, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(kSharedDataOffset)) {
    ::close(f);
    return Status::corruption("the shared weight segment " + path + " is not a file of at least one header page");
  }
  void* hp = ::mmap(nullptr, kSharedDataOffset, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  if (hp == MAP_FAILED) {
    Status s = Status::io_error("mapping the header of " + path + ": " + errno_text());
    ::close(f);
    return s;
  }
  auto* h = static_cast<SharedSegmentHeader*>(hp);
  const uint64_t capacity = h->capacity;
  if (h->magic != kSharedSegmentMagic || h->id != id || capacity < bytes ||
      static_cast<uint64_t>(st.st_size) < kSharedDataOffset + capacity) {
    Status s = Status::corruption("the shared weight segment " + path + " is not segment " + std::to_string(id) +
                                  " holding " + std::to_string(bytes) + " bytes (header: id " + std::to_string(h->id) +
                                  ", capacity " + std::to_string(capacity) + ")");
    ::munmap(hp, kSharedDataOffset);
    ::close(f);
    return s;
  }
  // Read-only, page tables filled now: later versions written into this slot are read without a
  // page fault.
  void* dp = ::mmap(nullptr, capacity, PROT_READ, MAP_SHARED | MAP_POPULATE, f, kSharedDataOffset);
  ::close(f);  // the mappings keep the segment
  if (dp == MAP_FAILED) {
    Status s = Status::io_error("mapping " + std::to_string(capacity) + " bytes of " + path + ": " + errno_text());
    ::munmap(hp, kSharedDataOffset);
    return s;
  }
  std::shared_ptr<SharedMapping> m(new SharedMapping());
  m->pid_ = pid;
  m->fd_ = fd;
  m->id_ = id;
  m->capacity_ = capacity;
  m->header_ = h;
  m->data_ = static_cast<const uint8_t*>(dp);
  return m;
}

SharedMapping::~SharedMapping() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), capacity_);
  if (header_ != nullptr) ::munmap(header_, kSharedDataOffset);
}

void SharedMapping::release(uint8_t bit) const {
  header_->holders.fetch_and(~(uint64_t{1} << bit), std::memory_order_release);
}

}  // namespace troupe::wire
