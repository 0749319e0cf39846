// Encoding of CheckpointEntry rows (see checkpoint_index.hpp for the layout).
#include "storage/checkpoint_index.hpp"

#include <cstring>

namespace troupe::storage {

std::string CheckpointEntry::encode() const {
  std::string out(sizeof(uint64_t) + sizeof(uint32_t), '\0');
  const auto path_len = static_cast<uint32_t>(path.size());
  std::memcpy(out.data(), &created_unix_ms, sizeof(uint64_t));
  std::memcpy(out.data() + sizeof(uint64_t), &path_len, sizeof(uint32_t));
  out += path;
  out += eval_json;
  return out;
}

Result<CheckpointEntry> CheckpointEntry::decode(uint64_t version, std::string_view bytes) {
  CheckpointEntry e;
  e.version = version;
  uint32_t path_len = 0;
  constexpr size_t kHeader = sizeof(uint64_t) + sizeof(uint32_t);
  if (bytes.size() < kHeader) {
    return Status::corruption("checkpoint row of version " + std::to_string(version) + " is truncated (" +
                              std::to_string(bytes.size()) + " bytes)");
  }
  std::memcpy(&e.created_unix_ms, bytes.data(), sizeof(uint64_t));
  std::memcpy(&path_len, bytes.data() + sizeof(uint64_t), sizeof(uint32_t));
  if (bytes.size() - kHeader < path_len) {
    return Status::corruption("checkpoint row of version " + std::to_string(version) +
                              ": path length exceeds the row");
  }
  e.path.assign(bytes.data() + kHeader, path_len);
  e.eval_json.assign(bytes.data() + kHeader + path_len, bytes.size() - kHeader - path_len);
  return e;
}

}  // namespace troupe::storage
