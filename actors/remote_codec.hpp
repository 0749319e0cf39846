// The actor protocol as bytes: encoders for every wire::ActorMessage body (wire/schema/
// actor_message.fbs) and one decoder that verifies a message and every troupe message inside it
// (Prompt, Rollout, ScoredRollout blobs) before anything reads it. No CAF: actors/remote.cpp
// turns these structs into and out of CAF messages, and tests drive the codec on its own.
//
// Invariant: decode(encode(x)) gives back x, and a blob that fails its own verification makes the
// whole message invalid (an error naming the body and the blob), never a partly delivered one.
// Thread-safe: free functions without state.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "actors/controller_state.hpp"
#include "actors/scoring.hpp"
#include "base/status.hpp"
#include "wire/messages.hpp"

namespace troupe::actors::remote {

using Blobs = std::vector<wire::Bytes>;

// learner -> replay (BatchCall); the same fields as the in-process BatchAsk.
struct BatchArgs {
  uint64_t learner_version = 0;
  uint64_t min_version = 0;
  uint64_t max_rollouts = 0;
  int group_size = 0;
};
struct VerifyArgs {
  std::string identity_json;
  std::vector<std::string> responses;
};
struct PromptArg {
  wire::Bytes prompt;  // a verified Prompt
};
struct GroupArgs {
  wire::Bytes prompt;  // a verified Prompt
  Blobs rollouts;      // verified Rollouts
};
struct ScoredArgs {
  Blobs rollouts;      // verified ScoredRollouts
};
struct DoneArgs {
  uint64_t prompt_id = 0;
  std::vector<int> passed;
};
struct LostArgs {
  uint64_t prompt_id = 0;
};
struct VersionArgs {
  uint64_t version = 0;
};
struct BatchReplyArgs {
  Blobs rollouts;      // verified ScoredRollouts
};
struct FailedArgs {
  std::string error;
};

using Body = std::variant<PromptTicket, VerifyArgs, std::vector<RuleVerdict>, PromptArg, GroupArgs, ScoredArgs,
                          DoneArgs, LostArgs, BatchArgs, BatchReplyArgs, VersionArgs, FailedArgs>;

struct Decoded {
  uint64_t request_id = 0;   // non-zero: a call
  uint64_t in_reply_to = 0;  // non-zero: a reply
  Body body;
};

// ---- encoders (request_id / in_reply_to as in the schema) ----
wire::Bytes generate_call(uint64_t request_id, const PromptTicket& ticket);
wire::Bytes verify_call(uint64_t request_id, const VerifyArgs& args);
wire::Bytes verify_reply(uint64_t in_reply_to, const std::vector<RuleVerdict>& verdicts);
wire::Bytes prompt_note(uint64_t in_reply_to, const wire::Bytes& prompt);
wire::Bytes rollout_group(const wire::Bytes& prompt, const Blobs& rollouts);
wire::Bytes scored_group(const Blobs& scored);
wire::Bytes prompt_done(uint64_t prompt_id, const std::vector<int>& passed);
wire::Bytes prompt_lost(uint64_t prompt_id);
wire::Bytes batch_call(uint64_t request_id, const BatchArgs& args);
wire::Bytes batch_reply(uint64_t in_reply_to, const Blobs& scored);
wire::Bytes version_note(uint64_t version);
wire::Bytes call_failed(uint64_t in_reply_to, const std::string& error);

// Verifies `bytes` as an ActorMessage and every blob inside as the type its body carries.
// Errors (corruption) name what failed: "RolloutGroup rollout 3: Rollout message failed ...".
// kTransportVerified: the bytes already passed the FlatBuffers verifier as an ActorMessage (the
// transport runs wire::verify_any on every message it delivers), so only the nested messages
// (prompts, rollouts) are verified here. Anything else, e.g. a message from a local actor: kVerify.
enum class Trust { kVerify, kTransportVerified };
Result<Decoded> decode(const wire::Bytes& bytes, Trust trust = Trust::kVerify);

// The body's name as in the schema ("GenerateCall", ...), for logs and errors.
const char* body_name(const Body& body);

}  // namespace troupe::actors::remote
