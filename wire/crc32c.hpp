// CRC-32C (Castagnoli), the checksum WeightManifest and WeightChunk carry. Uses the SSE4.2 crc32
// instruction (three streams at once) when the CPU has it, a table otherwise; both give the same
// values. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace troupe::wire {

// Extends `crc` (0 for a fresh checksum) over `data`: crc32c(a ++ b) == crc32c_extend(crc32c(a), b).
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);
inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

// crc32c_extend(crc, src) that also copies `src` to `dst` (src.size() bytes, not overlapping) in
// the same pass: a receiver checks a chunk and moves it into place reading it once.
uint32_t crc32c_copy(uint32_t crc, std::span<const uint8_t> src, uint8_t* dst);

// crc32c(a ++ b) from crc32c(a), crc32c(b) and b's length, without reading the bytes again.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

}  // namespace troupe::wire
