// Encoding of RolloutSummary. Layout (little-endian), version 1:
//   u8 version | u64 rollout_id, prompt_id, policy_version, created_ms, scored_ms |
//   i32 group_index, difficulty | u32 value_bytes, response_tokens | u8 finish,
//   answer_found | f32 total | 3 x (u8 present, u8 ok, f32 raw, f32 normalised) |
//   u16 task length | task bytes
#include "storage/rollout_summary.hpp"

#include <cstring>

namespace troupe::storage {
namespace {

constexpr uint8_t kSummaryVersion = 1;

class Writer {
 public:
  template <class T>
  void put(T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));  // the hosts we build for are little-endian
    out_.append(buf, sizeof(T));
  }
  void put_bytes(std::string_view s) { out_.append(s); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
  bool get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_bytes(size_t n, std::string* s) {
    if (in_.size() - pos_ < n) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

static_assert(static_cast<int>(wire::RewardSource::Rule) == RolloutSummary::kRule);
static_assert(static_cast<int>(wire::RewardSource::Verifier) == RolloutSummary::kVerifier);
static_assert(static_cast<int>(wire::RewardSource::Preference) == RolloutSummary::kPreference);

const char* source_name(int source) {
  switch (source) {
    case RolloutSummary::kRule: return "rule";
    case RolloutSummary::kVerifier: return "verifier";
    case RolloutSummary::kPreference: return "preference";
  }
  return "unknown";
}

RolloutSummary RolloutSummary::from(const wire::ScoredRollout& r, uint32_t value_bytes) {
  RolloutSummary s;
  const wire::Rollout& ro = *r.rollout();  // required field: present in every verified buffer
  s.rollout_id = ro.rollout_id();
  s.prompt_id = ro.prompt_id();
  s.policy_version = ro.policy_version();
  s.created_unix_ms = ro.created_unix_ms();
  s.scored_unix_ms = r.scored_unix_ms();
  s.group_index = ro.group_index();
  s.difficulty = ro.difficulty();
  s.value_bytes = value_bytes;
  s.response_tokens = ro.response_tokens() ? ro.response_tokens()->size() : 0;
  s.finish = static_cast<uint8_t>(ro.finish());
  s.answer_found = r.answer_found();
  s.total = r.rewards()->total();
  if (const auto* comps = r.rewards()->components()) {
    for (const wire::RewardComponent* c : *comps) {
      const int src = static_cast<int>(c->source());
      if (src < 0 || src >= kNumSources) continue;  // a source newer than this build: not summarised
      s.sources[src] = SourceScore{true, c->ok(), c->raw(), c->normalised()};
    }
  }
  s.task = ro.task()->str();
  return s;
}

std::string RolloutSummary::encode() const {
  Writer w;
  w.put(kSummaryVersion);
  w.put(rollout_id);
  w.put(prompt_id);
  w.put(policy_version);
  w.put(created_unix_ms);
  w.put(scored_unix_ms);
  w.put(group_index);
  w.put(difficulty);
  w.put(value_bytes);
  w.put(response_tokens);
  w.put(finish);
  w.put(static_cast<uint8_t>(answer_found));
  w.put(total);
  for (const SourceScore& src : sources) {
    w.put(static_cast<uint8_t>(src.present));
    w.put(static_cast<uint8_t>(src.ok));
    w.put(src.raw);
    w.put(src.normalised);
  }
  // Task names are short identifiers; longer ones are cut (the full name is in the value).
  const size_t n = std::min<size_t>(task.size(), 0xffff);
  w.put(static_cast<uint16_t>(n));
  w.put_bytes(std::string_view(task).substr(0, n));
  return w.take();
}

Result<RolloutSummary> RolloutSummary::decode(uint64_t id, std::string_view bytes) {
  auto bad = [&](const char* what) {
    return Status::corruption("summary of rollout " + std::to_string(id) + " (" + std::to_string(bytes.size()) +
                              " bytes): " + what);
  };
  Reader r(bytes);
  RolloutSummary s;
  s.id = id;
  uint8_t version = 0, answer = 0;
  if (!r.get(&version)) return bad("empty");
  if (version != kSummaryVersion) return bad("unknown summary version");
  bool ok = r.get(&s.rollout_id) && r.get(&s.prompt_id) && r.get(&s.policy_version) &&
            r.get(&s.created_unix_ms) && r.get(&s.scored_unix_ms) && r.get(&s.group_index) &&
            r.get(&s.difficulty) && r.get(&s.value_bytes) && r.get(&s.response_tokens) && r.get(&s.finish) &&
            r.get(&answer) && r.get(&s.total);
  for (SourceScore& src : s.sources) {
    uint8_t present = 0, src_ok = 0;
    ok = ok && r.get(&present) && r.get(&src_ok) && r.get(&src.raw) && r.get(&src.normalised);
    src.present = present != 0;
    src.ok = src_ok != 0;
  }
  uint16_t task_len = 0;
  ok = ok && r.get(&task_len) && r.get_bytes(task_len, &s.task);
  if (!ok) return bad("truncated");
  if (!r.done()) return bad("trailing bytes");
  s.answer_found = answer != 0;
  return s;
}

bool RolloutSummary::passed() const {
  const SourceScore& rule = sources[kRule];
  if (rule.present && rule.ok) return rule.raw >= kPassThreshold;
  return total >= kPassThreshold;
}

bool RolloutSummary::sources_disagree() const {
  bool any_pass = false, any_fail = false;
  for (const SourceScore& src : sources) {
    if (!src.present || !src.ok) continue;
    (src.raw >= kPassThreshold ? any_pass : any_fail) = true;
  }
  return any_pass && any_fail;
}

}  // namespace troupe::storage
