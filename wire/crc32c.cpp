// CRC-32C behind wire/crc32c.hpp: reflected polynomial 0x82F63B78, initial and final xor ~0.
//
// Why three streams: the crc32 instruction has a latency of 3 cycles and a throughput of 1, so one
// dependent chain of it runs at ~8 bytes per 3 cycles (~10 GB/s), slower than memory. Three chains
// over three consecutive blocks run side by side, and the three block CRCs are joined with
// multiplications in GF(2) (the CRC is linear: crc(A ++ B) = crc(A) * x^(8|B|) + crc(B), on the raw
// register). Weight broadcasts checksum every byte at the source and at each receiver, so this pass
// is on the critical path of a broadcast.
#include "wire/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace troupe::wire {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, bit-reflected

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

uint32_t extend_table(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

// a * b modulo the polynomial, both bit-reflected (x^0 is the top bit).
constexpr uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t m = uint32_t{1} << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return p;
}

// x^(2^k) mod p for k = 0..63: squaring the previous entry.
constexpr std::array<uint32_t, 64> make_x2n() {
  std::array<uint32_t, 64> t{};
  uint32_t p = uint32_t{1} << 30;  // x^1
  for (auto& e : t) {
    e = p;
    p = multmodp(p, p);
  }
  return t;
}
constexpr auto kX2n = make_x2n();

// x^(8 n) mod p: the factor that moves a raw CRC register past n zero bytes.
constexpr uint32_t x8nmodp(uint64_t n) {
  uint32_t p = uint32_t{1} << 31;  // x^0
  for (unsigned k = 3; n != 0; n >>= 1, ++k) {
    if (n & 1) p = multmodp(kX2n[k & 63], p);
  }
  return p;
}

#if defined(__x86_64__)
// Each of the three streams covers kBlock bytes; the joins cost two multmodp per 3 * kBlock bytes.
constexpr size_t kBlock = 8192;
constexpr uint32_t kShift1 = x8nmodp(kBlock);
constexpr uint32_t kShift2 = x8nmodp(2 * kBlock);

__attribute__((target("sse4.2"))) inline uint64_t load_crc(uint64_t c, const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return _mm_crc32_u64(c, v);
}

// Raw register in, raw register out. With `dst`, also copies the bytes there (one pass for both).
__attribute__((target("sse4.2"))) uint32_t extend_hw(uint32_t crc, const uint8_t* p, size_t n, uint8_t* dst) {
  uint64_t c = crc;
  while (n >= 3 * kBlock) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* p1 = p + kBlock;
    const uint8_t* p2 = p + 2 * kBlock;
    if (dst != nullptr) {
      for (size_t i = 0; i < kBlock; i += 8) {
        uint64_t v0, v1, v2;
        std::memcpy(&v0, p + i, 8);
        std::memcpy(&v1, p1 + i, 8);
        std::memcpy(&v2, p2 + i, 8);
        c = _mm_crc32_u64(c, v0);
        c1 = _mm_crc32_u64(c1, v1);
        c2 = _mm_crc32_u64(c2, v2);
        std::memcpy(dst + i, &v0, 8);
        std::memcpy(dst + kBlock + i, &v1, 8);
        std::memcpy(dst + 2 * kBlock + i, &v2, 8);
      }
      dst += 3 * kBlock;
    } else {
      for (size_t i = 0; i < kBlock; i += 8) {
        c = load_crc(c, p + i);
        c1 = load_crc(c1, p1 + i);
        c2 = load_crc(c2, p2 + i);
      }
    }
    c = multmodp(kShift2, static_cast<uint32_t>(c)) ^ multmodp(kShift1, static_cast<uint32_t>(c1)) ^
        static_cast<uint32_t>(c2);
    p += 3 * kBlock;
    n -= 3 * kBlock;
  }
  if (dst != nullptr) std::memcpy(dst, p, n);
  while (n >= 8) {
    c = load_crc(c, p);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
bool have_sse42() { return __builtin_cpu_supports("sse4.2"); }
#endif

uint32_t extend(uint32_t crc, const uint8_t* src, size_t n, uint8_t* dst) {
  uint32_t c = ~crc;
#if defined(__x86_64__)
  static const bool hw = have_sse42();
  if (hw) return ~extend_hw(c, src, n, dst);
#endif
  if (dst != nullptr && n > 0) std::memcpy(dst, src, n);
  return ~extend_table(c, src, n);
}

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
  return extend(crc, data.data(), data.size(), nullptr);
}

uint32_t crc32c_copy(uint32_t crc, std::span<const uint8_t> src, uint8_t* dst) {
  return extend(crc, src.data(), src.size(), dst);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return multmodp(x8nmodp(length_b), crc_a) ^ crc_b;
}

}  // namespace troupe::wire
