// CRC-32C (Castagnoli), the checksum WeightManifest and WeightChunk carry. Uses the SSE4.2 crc32
// instruction when the CPU has it, a table otherwise; both give the same values. Pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace troupe::wire {

// Extends `crc` (0 for a fresh checksum) over `data`: crc32c(a ++ b) == crc32c_extend(crc32c(a), b).
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);
inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

}  // namespace troupe::wire
