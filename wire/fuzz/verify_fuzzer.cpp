// libFuzzer target: arbitrary bytes into the verifying reader. A crash, a
// sanitizer report, or a buffer accepted and then unreadable is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/messages.hpp"

namespace {
// Touches every field a receiver would read, so a verified-but-broken buffer shows up under ASan.
size_t walk(const troupe::wire::ScoredRollout* s) {
  size_t n = 0;
  const auto* r = s->rollout();
  n += r->task()->size();
  if (r->response_tokens()) for (int t : *r->response_tokens()) n += static_cast<size_t>(t & 1);
  if (r->behaviour_logprobs()) n += r->behaviour_logprobs()->size();
  if (s->rewards()->components())
    for (const auto* c : *s->rewards()->components()) n += c->detail() ? c->detail()->size() : 0;
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an aligned buffer, as every receive path does.
  std::vector<uint8_t> buf(data, data + size);
  std::span<const uint8_t> bytes(buf.data(), buf.size());
  auto kind = troupe::wire::verify_any(bytes);
  if (kind && *kind == troupe::wire::MessageKind::kScoredRollout) {
    volatile size_t sink = walk(troupe::wire::GetScoredRollout(buf.data()));
    (void)sink;
  }
  return 0;
}
