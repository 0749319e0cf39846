// Group scoring (see scoring.hpp).
#include "actors/scoring.hpp"

namespace troupe::actors {

Result<rl::Recipe> recipe_from_config(const configs::RewardRecipe& c) {
  rl::Recipe r;
  for (const auto& s : c.sources) {
    auto kind = rl::parse_source_kind(s.kind);
    if (!kind) return Status::invalid_argument("reward source kind \"" + s.kind + "\": expected rule, verifier or preference");
    r.sources.push_back({*kind, static_cast<float>(s.weight)});
  }
  for (const auto& f : c.fallback) {
    auto kind = rl::parse_source_kind(f);
    if (!kind) return Status::invalid_argument("reward fallback \"" + f + "\": expected rule, verifier or preference");
    r.fallback.push_back(*kind);
  }
  auto norm = rl::parse_normalisation(c.normalise);
  if (!norm) return Status::invalid_argument("reward normalise \"" + c.normalise + "\": expected none, group or running");
  r.normalise = *norm;
  return r;
}

Result<std::vector<wire::Bytes>> score_group(const wire::Prompt& prompt, const std::vector<wire::Bytes>& rollouts,
                                             const std::vector<RuleVerdict>& rule,
                                             const std::vector<std::vector<rl::SourceScore>>& model_scores,
                                             const rl::Recipe& recipe, rl::RunningNormaliser* running,
                                             uint64_t now_unix_ms) {
  if (rule.size() != rollouts.size() || (!model_scores.empty() && model_scores.size() != rollouts.size())) {
    return Status::internal("score_group: verdict count does not match rollout count");
  }
  std::vector<std::vector<rl::SourceScore>> scores(rollouts.size());
  for (size_t i = 0; i < rollouts.size(); ++i) {
    scores[i].push_back({rl::RewardSourceKind::kRule, static_cast<float>(rule[i].score), rule[i].ok});
    if (!model_scores.empty()) {
      for (const auto& s : model_scores[i]) scores[i].push_back(s);
    }
  }
  const std::string task = prompt.task()->str();
  auto mixed = rl::mix_group(recipe, task, scores, running);
  std::vector<wire::Bytes> out;
  out.reserve(rollouts.size());
  for (size_t i = 0; i < rollouts.size(); ++i) {
    auto r = wire::read<wire::Rollout>(rollouts[i]);
    if (!r) return r.status().with_context("scoring rollout " + std::to_string(i) + " of prompt " +
                                           std::to_string(prompt.prompt_id()));
    wire::ScoredRolloutT s;
    s.rollout = std::make_unique<wire::RolloutT>();
    (*r)->UnPackTo(s.rollout.get());
    s.prompt_text = prompt.text() ? prompt.text()->str() : "";
    s.identity_json = prompt.identity_json() ? prompt.identity_json()->str() : "";
    s.answer_found = rule[i].extracted;
    s.extracted_answer = rule[i].extracted_answer;
    s.rewards = std::make_unique<wire::RewardBreakdownT>();
    s.rewards->total = mixed[i].total;
    for (const auto& c : mixed[i].components) {
      auto comp = std::make_unique<wire::RewardComponentT>();
      comp->source = static_cast<wire::RewardSource>(static_cast<int>(c.kind));
      comp->raw = c.raw;
      comp->normalised = c.normalised;
      comp->weight = c.weight;
      comp->ok = c.ok;
      comp->latency_ms = c.latency_ms;
      comp->detail = c.detail;
      s.rewards->components.push_back(std::move(comp));
    }
    s.scored_unix_ms = now_unix_ms;
    out.push_back(wire::pack(s));
  }
  return out;
}

}  // namespace troupe::actors
