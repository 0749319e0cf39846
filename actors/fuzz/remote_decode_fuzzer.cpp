// libFuzzer target: arbitrary bytes into remote::decode, the decoder every message from a peer
// passes before any actor sees it. A crash or a sanitizer report is a bug, and so is a message
// that decodes but does not survive a round trip: whatever decode accepts, encoded again with the
// codec's encoders and decoded once more, must give back every field (decode(encode(x)) == x, the
// codec's invariant).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <variant>
#include <vector>

#include "actors/remote_codec.hpp"

namespace {
namespace remote = troupe::actors::remote;
using troupe::wire::Bytes;

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

Bytes encode(const remote::Decoded& d) {
  const uint64_t call = d.request_id, reply = d.in_reply_to;
  return std::visit(
      Overload{
          [&](const troupe::actors::PromptTicket& t) { return remote::generate_call(call, t); },
          [&](const remote::VerifyArgs& a) { return remote::verify_call(call, a); },
          [&](const std::vector<troupe::actors::RuleVerdict>& v) { return remote::verify_reply(reply, v); },
          [&](const remote::PromptArg& a) { return remote::prompt_note(reply, a.prompt); },
          [&](const remote::GroupArgs& a) { return remote::rollout_group(a.prompt, a.rollouts); },
          [&](const remote::ScoredArgs& a) { return remote::scored_group(a.rollouts); },
          [&](const remote::DoneArgs& a) { return remote::prompt_done(a.prompt_id, a.passed); },
          [&](const remote::LostArgs& a) { return remote::prompt_lost(a.prompt_id); },
          [&](const remote::BatchArgs& a) { return remote::batch_call(call, a); },
          [&](const remote::BatchReplyArgs& a) { return remote::batch_reply(reply, a.rollouts); },
          [&](const remote::VersionArgs& a) { return remote::version_note(a.version); },
          [&](const remote::FailedArgs& a) { return remote::call_failed(reply, a.error); },
      },
      d.body);
}

bool same(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}
bool same(const remote::Blobs& a, const remote::Blobs& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}
// Doubles compare by their bits: a NaN score must come back as the same NaN.
bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Field by field; the variant's alternatives are compared only with their own kind.
bool same_body(const remote::Body& x, const remote::Body& y) {
  if (x.index() != y.index()) return false;
  return std::visit(
      Overload{
          [&](const troupe::actors::PromptTicket& a) {
            const auto& b = std::get<troupe::actors::PromptTicket>(y);
            return a.prompt_id == b.prompt_id && a.task == b.task && a.task_name == b.task_name &&
                   a.level == b.level && a.seed == b.seed && a.attempt == b.attempt;
          },
          [&](const remote::VerifyArgs& a) {
            const auto& b = std::get<remote::VerifyArgs>(y);
            return a.identity_json == b.identity_json && a.responses == b.responses;
          },
          [&](const std::vector<troupe::actors::RuleVerdict>& a) {
            const auto& b = std::get<std::vector<troupe::actors::RuleVerdict>>(y);
            if (a.size() != b.size()) return false;
            for (size_t i = 0; i < a.size(); ++i) {
              if (!same(a[i].score, b[i].score) || a[i].extracted != b[i].extracted ||
                  a[i].extracted_answer != b[i].extracted_answer || a[i].ok != b[i].ok)
                return false;
            }
            return true;
          },
          [&](const remote::PromptArg& a) { return same(a.prompt, std::get<remote::PromptArg>(y).prompt); },
          [&](const remote::GroupArgs& a) {
            const auto& b = std::get<remote::GroupArgs>(y);
            return same(a.prompt, b.prompt) && same(a.rollouts, b.rollouts);
          },
          [&](const remote::ScoredArgs& a) { return same(a.rollouts, std::get<remote::ScoredArgs>(y).rollouts); },
          [&](const remote::DoneArgs& a) {
            const auto& b = std::get<remote::DoneArgs>(y);
            return a.prompt_id == b.prompt_id && a.passed == b.passed;
          },
          [&](const remote::LostArgs& a) { return a.prompt_id == std::get<remote::LostArgs>(y).prompt_id; },
          [&](const remote::BatchArgs& a) {
            const auto& b = std::get<remote::BatchArgs>(y);
            return a.learner_version == b.learner_version && a.min_version == b.min_version &&
                   a.max_rollouts == b.max_rollouts && a.group_size == b.group_size;
          },
          [&](const remote::BatchReplyArgs& a) {
            return same(a.rollouts, std::get<remote::BatchReplyArgs>(y).rollouts);
          },
          [&](const remote::VersionArgs& a) { return a.version == std::get<remote::VersionArgs>(y).version; },
          [&](const remote::FailedArgs& a) { return a.error == std::get<remote::FailedArgs>(y).error; },
      },
      x);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An owned, aligned copy, as every receive path hands the decoder.
  const Bytes in(std::vector<uint8_t>(data, data + size));
  auto decoded = remote::decode(in);
  if (!decoded) return 0;
  auto again = remote::decode(encode(*decoded));
  if (!again) std::abort();  // decode refused what the encoder made of a message it accepted
  // Which of the two ids a body carries is the encoder's business; the body must come back whole.
  if (!same_body(decoded->body, again->body)) std::abort();
  return 0;
}
