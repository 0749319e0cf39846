// CheckpointEntry: one row of the checkpoint index the replay store keeps in its
// `checkpoints` column family, keyed by policy version (big-endian, so the rows
// come back oldest first and the newest is the last key). A row says where the
// checkpoint's files are and how it evaluated, as a JSON object the caller
// writes (the store keeps the text as given and does not interpret it).
// Plain data; `encode`/`decode` are pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace troupe::storage {

struct CheckpointEntry {
  uint64_t version = 0;      // policy version the checkpoint holds
  std::string path;          // directory or file of the checkpoint
  std::string eval_json;     // evaluation figures, e.g. {"gsm8k_like":{"pass@1":0.41}}
  uint64_t created_unix_ms = 0;

  // Value layout: u64 created_unix_ms | u32 path length | path | eval_json (rest).
  std::string encode() const;
  static Result<CheckpointEntry> decode(uint64_t version, std::string_view bytes);
  bool operator==(const CheckpointEntry&) const = default;
};

}  // namespace troupe::storage
