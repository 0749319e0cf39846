// Verification helpers behind wire/messages.hpp.
#include "wire/messages.hpp"

namespace troupe::wire {

const char* kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::kPrompt: return "Prompt";
    case MessageKind::kRollout: return "Rollout";
    case MessageKind::kScoredRollout: return "ScoredRollout";
    case MessageKind::kBatchRequest: return "BatchRequest";
    case MessageKind::kBatch: return "Batch";
    case MessageKind::kWeightManifest: return "WeightManifest";
    case MessageKind::kWeightChunk: return "WeightChunk";
    case MessageKind::kHeartbeat: return "Heartbeat";
    case MessageKind::kControl: return "Control";
    case MessageKind::kActor: return "ActorMessage";
  }
  return "unknown";
}

namespace detail {

flatbuffers::Verifier::Options verifier_options() {
  flatbuffers::Verifier::Options o;
  // Our deepest message is Batch > ScoredRollout > RewardBreakdown > RewardComponent:
  // 16 leaves room for growth while stopping stack-exhausting nesting.
  o.max_depth = 16;
  // A batch of 4096 rollouts with ~8 sub-tables each stays far below this.
  o.max_tables = 1u << 20;
  o.check_alignment = true;
  return o;
}

Status check_version(uint16_t version, const char* what) {
  if (version == 0 || version > kSchemaVersion) {
    return Status::corruption(std::string(what) + " message has schema version " + std::to_string(version) +
                              "; this build reads versions 1.." + std::to_string(kSchemaVersion));
  }
  return Status::ok();
}

Status check_size(size_t size, const char* what) {
  // Root offset (4 bytes) + file identifier (4 bytes) is the smallest possible message.
  if (size < 8) {
    return Status::corruption(std::string(what) + " message too short: " + std::to_string(size) +
                              " bytes, at least 8 expected");
  }
  if (size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Status::corruption(std::string(what) + " message larger than FlatBuffers' 2 GiB limit");
  }
  return Status::ok();
}

}  // namespace detail

Result<MessageKind> identify(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) return Status::corruption("message too short to carry a file identifier");
  const auto* p = bytes.data();
#define TROUPE_TRY(Type) \
  if (flatbuffers::BufferHasIdentifier(p, MessageTraits<Type>::identifier())) return MessageTraits<Type>::kind;
  TROUPE_TRY(Prompt)
  TROUPE_TRY(Rollout)
  TROUPE_TRY(ScoredRollout)
  TROUPE_TRY(BatchRequest)
  TROUPE_TRY(Batch)
  TROUPE_TRY(WeightManifest)
  TROUPE_TRY(WeightChunk)
  TROUPE_TRY(Heartbeat)
  TROUPE_TRY(Control)
  TROUPE_TRY(ActorMessage)
#undef TROUPE_TRY
  return Status::corruption("unknown file identifier \"" + std::string(reinterpret_cast<const char*>(p) + 4, 4) +
                            "\"");
}

Result<MessageKind> verify_any(std::span<const uint8_t> bytes) {
  auto kind = identify(bytes);
  if (!kind) return kind.status();
  Status s;
  switch (*kind) {
    case MessageKind::kPrompt: s = read<Prompt>(bytes).status(); break;
    case MessageKind::kRollout: s = read<Rollout>(bytes).status(); break;
    case MessageKind::kScoredRollout: s = read<ScoredRollout>(bytes).status(); break;
    case MessageKind::kBatchRequest: s = read<BatchRequest>(bytes).status(); break;
    case MessageKind::kBatch: s = read<Batch>(bytes).status(); break;
    case MessageKind::kWeightManifest: s = read<WeightManifest>(bytes).status(); break;
    case MessageKind::kWeightChunk: s = read<WeightChunk>(bytes).status(); break;
    case MessageKind::kHeartbeat: s = read<Heartbeat>(bytes).status(); break;
    case MessageKind::kControl: s = read<Control>(bytes).status(); break;
    case MessageKind::kActor: s = read<ActorMessage>(bytes).status(); break;
  }
  if (!s) return s;
  return *kind;
}

}  // namespace troupe::wire
