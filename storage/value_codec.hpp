// How a rollout's value sits in the `rollouts` column family: the ScoredRollout
// FlatBuffer as it arrived, or that FlatBuffer LZ4-compressed when compression
// saves at least an eighth (rollouts carry reasoning text, which compresses well,
// beside token ids and log-probs, which compress little: synthetic 2-32 KB rollouts
// shrink to 0.75-0.80). LZ4 because the appenders share two cores with everything
// else: zstd -1 packs tighter (0.58 at 32 KB) at about the same speed at 32 KB but is
// a third slower at 2 KB, and group-commit throughput came out no better overall.
//
// Compressing on the appender's thread, before the group-commit writer, cuts the
// bytes that go through the write-ahead log, the memtables and the table files, and
// spreads the compression over the appenders instead of RocksDB's one flush thread.
//
// Layout of a compressed value: the 4 bytes FF 'T' 'Z' '1' | u32 little-endian size
// of the FlatBuffer | one LZ4 block. A FlatBuffer's first 4 bytes are its root
// offset, which is smaller than the buffer; FF 'T' 'Z' '1' read as an offset is
// ~790 MiB, beyond kMaxValueBytes, so a raw value never starts with the magic and
// every value a store of schema 1 holds (all raw) still decodes. Pure functions;
// thread-safe (compress_value keeps a per-thread scratch buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace troupe::storage {

// The largest rollout the store accepts (a FlatBuffer, before compression).
inline constexpr size_t kMaxValueBytes = size_t{256} << 20;

// The stored form of `flatbuffer`: compressed when that saves >= 1/8, else empty
// (store the FlatBuffer itself). REQUIRES: flatbuffer.size() <= kMaxValueBytes.
std::string compress_value(std::span<const uint8_t> flatbuffer);

// The FlatBuffer a stored value holds: the bytes themselves, or the decompressed
// block. A damaged frame (bad size, truncated or corrupt block) is
// Status::corruption saying what is wrong; the result is not verified here.
Result<std::vector<uint8_t>> decode_value(std::string_view stored);

// True when `stored` is a compressed frame (for tests and `verify`'s figures).
bool is_compressed_value(std::string_view stored);

}  // namespace troupe::storage
