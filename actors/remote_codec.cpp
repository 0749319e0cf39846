// The actor protocol codec (see remote_codec.hpp).
#include "actors/remote_codec.hpp"

namespace troupe::actors::remote {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// This thread's builder, cleared: one per thread, reused, so that encoding a message allocates only
// its bytes. One that grew past kKeepBuilder (a large batch) is given back after use (finish).
constexpr size_t kKeepBuilder = size_t{1} << 20;
FlatBufferBuilder& builder() {
  thread_local FlatBufferBuilder fbb(1024);
  fbb.Clear();
  return fbb;
}

template <class Body>
wire::Bytes finish(FlatBufferBuilder& fbb, uint64_t request_id, uint64_t in_reply_to, Offset<Body> body) {
  auto msg = wire::CreateActorMessage(fbb, wire::kSchemaVersion, request_id, in_reply_to,
                                      wire::ActorBodyTraits<Body>::enum_value, body.Union());
  wire::Bytes bytes = wire::finish(fbb, msg);
  if (bytes.size() > kKeepBuilder) fbb.Reset();
  return bytes;
}

Offset<wire::Blob> blob(FlatBufferBuilder& fbb, const wire::Bytes& b) {
  return wire::CreateBlob(fbb, fbb.CreateVector(b.data(), b.size()));
}

Offset<flatbuffers::Vector<Offset<wire::Blob>>> blobs(FlatBufferBuilder& fbb, const Blobs& bs) {
  std::vector<Offset<wire::Blob>> out;
  out.reserve(bs.size());
  for (const auto& b : bs) out.push_back(blob(fbb, b));
  return fbb.CreateVector(out);
}

// A blob's bytes, verified as message type T. `what` names it in the error.
template <class T>
Result<wire::Bytes> take(const wire::Blob* b, const std::string& what) {
  if (b == nullptr || b->bytes() == nullptr) return Status::corruption(what + " is missing");
  // A fresh, aligned copy: FlatBuffers' verifier checks alignment, and the bytes outlive the message.
  uint8_t* into = nullptr;
  wire::Bytes bytes = wire::Bytes::uninitialized(b->bytes()->size(), &into);
  if (b->bytes()->size() > 0) std::memcpy(into, b->bytes()->data(), b->bytes()->size());
  auto ok = wire::read<T>(bytes);
  if (!ok) return ok.status().with_context(what);
  return bytes;
}

template <class T>
Result<Blobs> take_all(const flatbuffers::Vector<Offset<wire::Blob>>* v, const std::string& what) {
  Blobs out;
  if (v == nullptr) return out;
  out.reserve(v->size());
  for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
    auto b = take<T>(v->Get(i), what + " " + std::to_string(i));
    if (!b) return b.status();
    out.push_back(std::move(*b));
  }
  return out;
}

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

}  // namespace

wire::Bytes generate_call(uint64_t request_id, const PromptTicket& t) {
  FlatBufferBuilder& fbb = builder();
  auto body = wire::CreateGenerateCall(fbb, t.prompt_id, static_cast<uint32_t>(t.task),
                                       fbb.CreateString(t.task_name), t.level, t.seed, t.attempt);
  return finish(fbb, request_id, 0, body);
}

wire::Bytes verify_call(uint64_t request_id, const VerifyArgs& a) {
  size_t n = 128 + a.identity_json.size();
  for (const auto& r : a.responses) n += r.size() + 8;
  FlatBufferBuilder& fbb = builder();
  auto id = fbb.CreateString(a.identity_json);
  auto rs = fbb.CreateVectorOfStrings(a.responses);
  return finish(fbb, request_id, 0, wire::CreateVerifyCall(fbb, id, rs));
}

wire::Bytes verify_reply(uint64_t in_reply_to, const std::vector<RuleVerdict>& verdicts) {
  FlatBufferBuilder& fbb = builder();
  std::vector<Offset<wire::Verdict>> vs;
  vs.reserve(verdicts.size());
  for (const auto& v : verdicts) {
    vs.push_back(wire::CreateVerdict(fbb, v.score, v.extracted, fbb.CreateString(v.extracted_answer), v.ok));
  }
  return finish(fbb, 0, in_reply_to, wire::CreateVerifyReply(fbb, fbb.CreateVector(vs)));
}

wire::Bytes prompt_note(uint64_t in_reply_to, const wire::Bytes& prompt) {
  FlatBufferBuilder& fbb = builder();
  auto p = blob(fbb, prompt);
  return finish(fbb, 0, in_reply_to, wire::CreatePromptNote(fbb, p));
}

wire::Bytes rollout_group(const wire::Bytes& prompt, const Blobs& rollouts) {
  FlatBufferBuilder& fbb = builder();
  auto p = blob(fbb, prompt);
  auto rs = blobs(fbb, rollouts);
  return finish(fbb, 0, 0, wire::CreateRolloutGroup(fbb, p, rs));
}

wire::Bytes scored_group(const Blobs& scored) {
  FlatBufferBuilder& fbb = builder();
  auto rs = blobs(fbb, scored);
  return finish(fbb, 0, 0, wire::CreateScoredGroup(fbb, rs));
}

wire::Bytes prompt_done(uint64_t prompt_id, const std::vector<int>& passed) {
  FlatBufferBuilder& fbb = builder();
  std::vector<uint8_t> flags(passed.begin(), passed.end());
  auto body = wire::CreatePromptDone(fbb, prompt_id, fbb.CreateVector(flags));
  return finish(fbb, 0, 0, body);
}

wire::Bytes prompt_lost(uint64_t prompt_id) {
  FlatBufferBuilder& fbb = builder();
  return finish(fbb, 0, 0, wire::CreatePromptLost(fbb, prompt_id));
}

wire::Bytes batch_call(uint64_t request_id, const BatchArgs& a) {
  FlatBufferBuilder& fbb = builder();
  auto body = wire::CreateBatchCall(fbb, a.learner_version, a.min_version, static_cast<uint32_t>(a.max_rollouts),
                                    a.group_size);
  return finish(fbb, request_id, 0, body);
}

wire::Bytes batch_reply(uint64_t in_reply_to, const Blobs& scored) {
  FlatBufferBuilder& fbb = builder();
  auto rs = blobs(fbb, scored);
  return finish(fbb, 0, in_reply_to, wire::CreateBatchReply(fbb, rs));
}

wire::Bytes version_note(uint64_t version) {
  FlatBufferBuilder& fbb = builder();
  return finish(fbb, 0, 0, wire::CreateVersionNote(fbb, version));
}

wire::Bytes call_failed(uint64_t in_reply_to, const std::string& error) {
  FlatBufferBuilder& fbb = builder();
  auto e = fbb.CreateString(error);
  return finish(fbb, 0, in_reply_to, wire::CreateCallFailed(fbb, e));
}

Result<Decoded> decode(const wire::Bytes& bytes, Trust trust) {
  const wire::ActorMessage* msg = nullptr;
  if (trust == Trust::kTransportVerified) {
    msg = wire::GetActorMessage(bytes.data());
  } else {
    auto m = wire::read<wire::ActorMessage>(bytes);
    if (!m) return m.status();
    msg = *m;
  }
  Decoded d;
  d.request_id = msg->request_id();
  d.in_reply_to = msg->in_reply_to();
  // The verifier accepts a union whose type is set but whose table is absent; every case below reads
  // the table, so such a message is refused here.
  if (msg->body_type() != wire::ActorBody::NONE && msg->body() == nullptr) {
    return Status::corruption(std::string("ActorMessage of body type ") + wire::EnumNameActorBody(msg->body_type()) +
                              " carries no body");
  }
  switch (msg->body_type()) {
    case wire::ActorBody::GenerateCall: {
      const auto* b = msg->body_as_GenerateCall();
      PromptTicket t;
      t.prompt_id = b->prompt_id();
      t.task = b->task_index();
      t.task_name = str(b->task());
      t.level = b->level();
      t.seed = b->seed();
      t.attempt = b->attempt();
      d.body = std::move(t);
      break;
    }
    case wire::ActorBody::VerifyCall: {
      const auto* b = msg->body_as_VerifyCall();
      VerifyArgs a;
      a.identity_json = str(b->identity_json());
      if (b->responses()) {
        for (const auto* s : *b->responses()) a.responses.push_back(str(s));
      }
      d.body = std::move(a);
      break;
    }
    case wire::ActorBody::VerifyReply: {
      const auto* b = msg->body_as_VerifyReply();
      std::vector<RuleVerdict> vs;
      if (b->verdicts()) {
        for (const auto* v : *b->verdicts()) {
          vs.push_back(RuleVerdict{v->score(), v->extracted(), str(v->extracted_answer()), v->ok()});
        }
      }
      d.body = std::move(vs);
      break;
    }
    case wire::ActorBody::PromptNote: {
      auto p = take<wire::Prompt>(msg->body_as_PromptNote()->prompt(), "PromptNote prompt");
      if (!p) return p.status();
      d.body = PromptArg{std::move(*p)};
      break;
    }
    case wire::ActorBody::RolloutGroup: {
      const auto* b = msg->body_as_RolloutGroup();
      auto p = take<wire::Prompt>(b->prompt(), "RolloutGroup prompt");
      if (!p) return p.status();
      auto rs = take_all<wire::Rollout>(b->rollouts(), "RolloutGroup rollout");
      if (!rs) return rs.status();
      d.body = GroupArgs{std::move(*p), std::move(*rs)};
      break;
    }
    case wire::ActorBody::ScoredGroup: {
      auto rs = take_all<wire::ScoredRollout>(msg->body_as_ScoredGroup()->rollouts(), "ScoredGroup rollout");
      if (!rs) return rs.status();
      d.body = ScoredArgs{std::move(*rs)};
      break;
    }
    case wire::ActorBody::PromptDone: {
      const auto* b = msg->body_as_PromptDone();
      DoneArgs a;
      a.prompt_id = b->prompt_id();
      if (b->passed()) a.passed.assign(b->passed()->begin(), b->passed()->end());
      d.body = std::move(a);
      break;
    }
    case wire::ActorBody::PromptLost:
      d.body = LostArgs{msg->body_as_PromptLost()->prompt_id()};
      break;
    case wire::ActorBody::BatchCall: {
      const auto* b = msg->body_as_BatchCall();
      d.body = BatchArgs{b->learner_version(), b->min_version(), b->max_rollouts(), b->group_size()};
      break;
    }
    case wire::ActorBody::BatchReply: {
      auto rs = take_all<wire::ScoredRollout>(msg->body_as_BatchReply()->rollouts(), "BatchReply rollout");
      if (!rs) return rs.status();
      d.body = BatchReplyArgs{std::move(*rs)};
      break;
    }
    case wire::ActorBody::VersionNote:
      d.body = VersionArgs{msg->body_as_VersionNote()->version()};
      break;
    case wire::ActorBody::CallFailed:
      d.body = FailedArgs{str(msg->body_as_CallFailed()->error())};
      break;
    default:
      return Status::corruption("ActorMessage without a known body (type " +
                                std::to_string(static_cast<int>(msg->body_type())) + ")");
  }
  return d;
}

const char* body_name(const Body& body) {
  static constexpr const char* kNames[] = {"GenerateCall", "VerifyCall", "VerifyReply", "PromptNote",
                                           "RolloutGroup", "ScoredGroup", "PromptDone", "PromptLost",
                                           "BatchCall",    "BatchReply", "VersionNote", "CallFailed"};
  static_assert(std::size(kNames) == std::variant_size_v<Body>);
  return kNames[body.index()];
}

}  // namespace troupe::actors::remote
