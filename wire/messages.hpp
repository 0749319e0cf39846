// Every message that can leave a process, as FlatBuffers tables (wire/schema/*.fbs),
// and the one way to read bytes from outside: verify first, then read.
//
// `Bytes` is an immutable, reference-counted buffer: a message is encoded once and
// travels by handle inside a process and as-is across processes. `read<T>` checks
// the file identifier, runs the FlatBuffers verifier (bounded depth and table
// count) and the schema version before handing out a pointer into the buffer;
// the pointer lives as long as the Bytes. Thread-safe: Bytes is never mutated.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "wire/schema/actor_message_generated.h"
#include "wire/schema/batch_generated.h"
#include "wire/schema/batch_request_generated.h"
#include "wire/schema/common_generated.h"
#include "wire/schema/control_generated.h"
#include "wire/schema/heartbeat_generated.h"
#include "wire/schema/prompt_generated.h"
#include "wire/schema/rollout_generated.h"
#include "wire/schema/scored_rollout_generated.h"
#include "wire/schema/weight_chunk_generated.h"
#include "wire/schema/weight_manifest_generated.h"

namespace troupe::wire {

// The schema version this build writes and the newest it reads. Bump on an
// incompatible change; additive changes (new trailing fields) keep it.
inline constexpr uint16_t kSchemaVersion = 1;

class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::vector<uint8_t> data) {
    auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(data));
    size_ = owner->size();
    data_ = std::shared_ptr<const uint8_t>(owner, owner->data());
  }
  // `size` bytes left uninitialised for the caller to fill through `*out` before the Bytes is
  // shared (a receive buffer: no pass of zeroes over a 64 MiB message before the bytes land).
  // A small one is one allocation (the count beside the bytes); a large one keeps its bytes apart,
  // so that freeing it gives the whole block back.
  static Bytes uninitialized(size_t size, uint8_t** out) {
    std::shared_ptr<uint8_t[]> owner = size <= kOneBlock ? std::make_shared_for_overwrite<uint8_t[]>(size == 0 ? 1 : size)
                                                         : std::shared_ptr<uint8_t[]>(new uint8_t[size]);
    *out = owner.get();
    Bytes b;
    b.size_ = size;
    b.data_ = std::shared_ptr<const uint8_t>(std::move(owner), *out);
    return b;
  }
  const uint8_t* data() const { return size_ == 0 ? nullptr : data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size() == 0; }
  std::span<const uint8_t> span() const { return {data(), size()}; }
  long use_count() const { return data_.use_count(); }

 private:
  static constexpr size_t kOneBlock = 64 * 1024;
  std::shared_ptr<const uint8_t> data_;  // aliases its owner (a vector or an array)
  size_t size_ = 0;
};

enum class MessageKind : uint8_t {
  kPrompt, kRollout, kScoredRollout, kBatchRequest, kBatch,
  kWeightManifest, kWeightChunk, kHeartbeat, kControl, kActor,
};
// The last kind: a header naming a larger one is malformed.
inline constexpr MessageKind kLastMessageKind = MessageKind::kActor;
const char* kind_name(MessageKind kind);

template <class T> struct MessageTraits;
#define TROUPE_WIRE_TRAITS(Type, Kind)                                                \
  template <> struct MessageTraits<Type> {                                            \
    static constexpr MessageKind kind = MessageKind::Kind;                            \
    static const char* identifier() { return Type##Identifier(); }                    \
    static bool verify(flatbuffers::Verifier& v) { return Verify##Type##Buffer(v); }  \
    static const Type* root(const uint8_t* p) { return Get##Type(p); }                \
  };
TROUPE_WIRE_TRAITS(Prompt, kPrompt)
TROUPE_WIRE_TRAITS(Rollout, kRollout)
TROUPE_WIRE_TRAITS(ScoredRollout, kScoredRollout)
TROUPE_WIRE_TRAITS(BatchRequest, kBatchRequest)
TROUPE_WIRE_TRAITS(Batch, kBatch)
TROUPE_WIRE_TRAITS(WeightManifest, kWeightManifest)
TROUPE_WIRE_TRAITS(WeightChunk, kWeightChunk)
TROUPE_WIRE_TRAITS(Heartbeat, kHeartbeat)
TROUPE_WIRE_TRAITS(Control, kControl)
TROUPE_WIRE_TRAITS(ActorMessage, kActor)
#undef TROUPE_WIRE_TRAITS

// Which message the bytes claim to be, from their file identifier. Not verified.
Result<MessageKind> identify(std::span<const uint8_t> bytes);

namespace detail {
flatbuffers::Verifier::Options verifier_options();
Status check_version(uint16_t version, const char* what);
Status check_size(size_t size, const char* what);
}  // namespace detail

// Verifies and returns the root table. The pointer is valid while `bytes` lives.
template <class T>
Result<const T*> read(std::span<const uint8_t> bytes) {
  using Tr = MessageTraits<T>;
  TROUPE_RETURN_IF_ERROR(detail::check_size(bytes.size(), kind_name(Tr::kind)));
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), Tr::identifier())) {
    return Status::corruption(std::string("not a ") + kind_name(Tr::kind) +
                              " message: file identifier differs from \"" + Tr::identifier() + "\"");
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), detail::verifier_options());
  if (!Tr::verify(verifier)) {
    return Status::corruption(std::string(kind_name(Tr::kind)) + " message failed the FlatBuffers verifier (" +
                              std::to_string(bytes.size()) + " bytes)");
  }
  const T* root = Tr::root(bytes.data());
  TROUPE_RETURN_IF_ERROR(detail::check_version(root->schema_version(), kind_name(Tr::kind)));
  return root;
}
template <class T>
Result<const T*> read(const Bytes& bytes) { return read<T>(bytes.span()); }

// Verifies bytes as whichever message their identifier names. What a receiver
// runs before dispatching; the fuzz target drives it with arbitrary input.
Result<MessageKind> verify_any(std::span<const uint8_t> bytes);

// Finishes `fbb` with the identifier of T and takes its bytes.
template <class T>
Bytes finish(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> root) {
  fbb.Finish(root, MessageTraits<T>::identifier());
  uint8_t* into = nullptr;
  Bytes b = Bytes::uninitialized(fbb.GetSize(), &into);
  std::memcpy(into, fbb.GetBufferPointer(), fbb.GetSize());
  return b;
}

// Object-API round trip helpers: pack a native object (e.g. RolloutT) into Bytes.
template <class NativeT>
Bytes pack(const NativeT& obj) {
  using T = typename NativeT::TableType;
  flatbuffers::FlatBufferBuilder fbb(1024);
  return finish<T>(fbb, T::Pack(fbb, &obj));
}

}  // namespace troupe::wire
