// The trace file behind wire/hop_trace.hpp (built only with TROUPE_HOP_TRACE).
#include "wire/hop_trace.hpp"

#ifdef TROUPE_HOP_TRACE

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace troupe::wire {
namespace {

// Records 0..2 are the file's header: two (TSC, steady-clock ns) pairs, at the start and at a recent
// record, from which the reader takes the TSC's rate. A record with TSC 0 was never written.
struct Record {
  uint64_t tsc;
  uint64_t point;
};
struct Header {
  uint64_t tsc0, ns0, tsc1, ns1;
};
static_assert(sizeof(Header) <= 3 * sizeof(Record));
constexpr uint32_t kFirst = 3;  // records 0..2 hold the header

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

struct Trace {
  Record* records = nullptr;
  Header* header = nullptr;
  std::atomic<uint32_t> next{kFirst};

  Trace() {
    const char* on = std::getenv("TROUPE_HOP_TRACE");
    if (on == nullptr || on[0] == '\0' || on[0] == '0') return;
    char path[64];
    std::snprintf(path, sizeof path, "/dev/shm/troupe-hops.%d", static_cast<int>(::getpid()));
    int fd = ::open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    const size_t bytes = sizeof(Record) * kHopRecords;
    void* p = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0
                  ? ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    ::close(fd);
    if (p == MAP_FAILED) return;
    records = static_cast<Record*>(p);
    header = reinterpret_cast<Header*>(records);
    header->tsc0 = header->tsc1 = __rdtsc();
    header->ns0 = header->ns1 = now_ns();
  }
};

Trace& trace() {
  static Trace t;
  return t;
}

}  // namespace

void hop(Hop point) {
  Trace& t = trace();
  if (t.records == nullptr) return;
  const uint32_t i = t.next.fetch_add(1, std::memory_order_relaxed);
  if (i >= kHopRecords) return;
  t.records[i] = Record{__rdtsc(), static_cast<uint64_t>(point)};
  if ((i & 0x3ff) == 0) {  // the rate's second pair, now and then
    t.header->tsc1 = __rdtsc();
    t.header->ns1 = now_ns();
  }
}

}  // namespace troupe::wire

#endif  // TROUPE_HOP_TRACE
