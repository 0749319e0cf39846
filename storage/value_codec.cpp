// Stored rollout values (see value_codec.hpp).
#include "storage/value_codec.hpp"

#include <lz4.h>

#include <cstring>
#include <vector>

namespace troupe::storage {
namespace {

constexpr char kMagic[4] = {'\xff', 'T', 'Z', '1'};
constexpr size_t kHeader = sizeof(kMagic) + sizeof(uint32_t);
// Below this a value is stored as it is: LZ4 finds little to share in a few hundred
// bytes, and the table files' block compression still sees it.
constexpr size_t kMinCompress = 1024;

}  // namespace

bool is_compressed_value(std::string_view stored) {
  return stored.size() >= kHeader && std::memcmp(stored.data(), kMagic, sizeof(kMagic)) == 0;
}

std::string compress_value(std::span<const uint8_t> flatbuffer) {
  if (flatbuffer.size() < kMinCompress || flatbuffer.size() > kMaxValueBytes) return {};
  // Compressed into a per-thread buffer, then copied out at its compressed size: a string
  // sized to LZ4's bound would be zero-filled first, which cost ~10% of the compression.
  thread_local std::vector<char> scratch;
  const int in = static_cast<int>(flatbuffer.size());
  scratch.resize(size_t(LZ4_compressBound(in)));
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(flatbuffer.data()), scratch.data(), in,
                                     static_cast<int>(scratch.size()));
  // Keep it only when it pays for the decompression on every read.
  if (n <= 0 || size_t(n) + kHeader > flatbuffer.size() - flatbuffer.size() / 8) return {};
  std::string out;
  out.reserve(kHeader + size_t(n));
  out.append(kMagic, sizeof(kMagic));
  const uint32_t size = static_cast<uint32_t>(flatbuffer.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof(size));  // the hosts we build for are little-endian
  out.append(scratch.data(), size_t(n));
  return out;
}

Result<std::vector<uint8_t>> decode_value(std::string_view stored) {
  const auto* p = reinterpret_cast<const uint8_t*>(stored.data());
  if (!is_compressed_value(stored)) return std::vector<uint8_t>(p, p + stored.size());
  uint32_t size = 0;
  std::memcpy(&size, stored.data() + sizeof(kMagic), sizeof(size));
  if (size == 0 || size > kMaxValueBytes) {
    return Status::corruption("compressed value claims " + std::to_string(size) + " bytes (expected 1.." +
                              std::to_string(kMaxValueBytes) + ")");
  }
  std::vector<uint8_t> out(size);
  const int n = LZ4_decompress_safe(stored.data() + kHeader, reinterpret_cast<char*>(out.data()),
                                    static_cast<int>(stored.size() - kHeader), static_cast<int>(size));
  if (n < 0) return Status::corruption("compressed value: the LZ4 block is damaged");
  if (uint32_t(n) != size) {
    return Status::corruption("compressed value: decompressed to " + std::to_string(n) + " bytes, header says " +
                              std::to_string(size));
  }
  return out;
}

}  // namespace troupe::storage
