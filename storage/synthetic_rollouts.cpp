// Synthetic scored rollouts (see synthetic_rollouts.hpp).
#include "storage/synthetic_rollouts.hpp"

#include <random>

namespace troupe::storage {

wire::ScoredRolloutT synthetic_rollout(const SyntheticSpec& spec) {
  std::mt19937_64 rng(spec.rollout_id * 0x9e3779b97f4a7c15ull + spec.policy_version);
  static const char kWords[][8] = {"so ", "then ", "check ", "add ", "carry ", "the ", "sum ", "is ", "7 ", "42 "};
  auto ro = std::make_unique<wire::RolloutT>();
  ro->rollout_id = spec.rollout_id;
  ro->prompt_id = spec.prompt_id;
  ro->group_index = spec.group_index;
  ro->task = spec.task;
  ro->difficulty = static_cast<int32_t>(spec.prompt_id % 5) + 1;  // five difficulty levels, as the envs have
  ro->policy_version = spec.policy_version;
  ro->worker = "policy/" + std::to_string(spec.rollout_id % 4);
  std::string text = "<think>";
  while (text.size() < spec.response_bytes) text += kWords[rng() % 10];
  text.resize(spec.response_bytes);
  ro->response_text = text;
  const size_t tokens = spec.response_bytes / 4;  // byte-pair tokenisers average ~4 bytes per token on English
  ro->response_tokens.resize(tokens);
  ro->behaviour_logprobs.resize(tokens);
  std::uniform_real_distribution<float> logprob(-6.0f, 0.0f);
  for (size_t i = 0; i < tokens; ++i) {
    ro->response_tokens[i] = static_cast<int32_t>(rng() % 260);  // byte vocabulary + specials
    ro->behaviour_logprobs[i] = logprob(rng);
  }
  for (int i = 0; i < 64; ++i) ro->prompt_tokens.push_back(static_cast<int32_t>(rng() % 260));
  ro->finish = wire::FinishReason::Stop;
  ro->created_unix_ms = 1700000000000ull + spec.rollout_id;

  wire::ScoredRolloutT s;
  s.rollout = std::move(ro);
  s.prompt_text = "What is " + std::to_string(spec.prompt_id) + " + 35? Think step by step.";
  s.identity_json = "{\"a\":" + std::to_string(spec.prompt_id) + ",\"b\":35}";
  s.answer_found = true;
  s.extracted_answer = std::to_string(spec.prompt_id + (spec.correct ? 35 : 36));
  s.rewards = std::make_unique<wire::RewardBreakdownT>();
  auto component = [](wire::RewardSource src, float raw, float weight, float latency_ms, const char* detail) {
    auto c = std::make_unique<wire::RewardComponentT>();
    c->source = src;
    c->raw = raw;
    c->normalised = raw * 2 - 1;  // a [0,1] score mapped to [-1,1], as the group normaliser roughly does
    c->weight = weight;
    c->detail = detail;
    c->latency_ms = latency_ms;
    return c;
  };
  const float rule = spec.correct ? 1.0f : 0.0f;
  const float verifier = spec.disagree ? 1.0f - rule : rule * 0.9f + 0.05f;
  // The preference model leans the rule's way: above 0.5 for a correct answer, below for a wrong one.
  const float preference = (rule > 0.5f ? 0.55f : 0.05f) + 0.4f * static_cast<float>(rng() % 100) / 100.0f;
  // Model sources answer over HTTP in milliseconds; the rule verifier runs in-process (0).
  s.rewards->components.push_back(component(wire::RewardSource::Rule, rule, 0.7f, 0.0f, "exact"));
  s.rewards->components.push_back(component(wire::RewardSource::Verifier, verifier, 0.2f, 12.5f, "verifier-v0"));
  s.rewards->components.push_back(component(wire::RewardSource::Preference, preference, 0.1f, 31.25f, "pref-v0"));
  s.rewards->total = 0.7f * rule + 0.2f * verifier + 0.1f * preference;
  s.scored_unix_ms = 1700000000000ull + spec.rollout_id + 3;
  return s;
}

wire::Bytes synthetic_rollout_bytes(const SyntheticSpec& spec) { return wire::pack(synthetic_rollout(spec)); }

}  // namespace troupe::storage
