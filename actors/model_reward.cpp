// Model reward sources for the reward actor (see model_reward.hpp).
#include "actors/model_reward.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <cmath>

#include "envs/answer.hpp"
#include "envs/registry.hpp"
#include "monitoring/metrics.hpp"
#include "rewards/http_client.hpp"
#include "rewards/source_client.hpp"

namespace troupe::actors {
namespace {

// Groups scored at once: each holds at most one request per source in flight
// at a time, and the sources' own concurrency limits bound the rest.
constexpr int kGroupThreads = 4;

bool is_model_source(const configs::RewardSourceConfig& s) { return s.kind == "verifier" || s.kind == "preference"; }

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct Reference {
  std::string answer_core;  // what the verifier compares with
  std::string response;     // a full reference response (relative preference)
  bool ok = false;
};

Reference reference_of(const wire::Prompt& p) {
  Reference r;
  auto task = envs::find_task(p.task()->str());
  if (!task) return r;
  auto c = (*task)->generate_level(p.seed(), p.difficulty());
  if (!c) return r;
  r.response = c->answer;
  auto v = (*task)->verify(c->identity, c->answer);
  r.answer_core = v && !v->extracted_answer.empty() ? v->extracted_answer
                                                    : std::string(envs::first_line_answer(c->answer));
  r.ok = true;
  return r;
}

}  // namespace

Result<std::shared_ptr<ModelRewards>> ModelRewards::create(const configs::ExperimentConfig& config,
                                                           monitoring::Metrics* metrics) {
  std::shared_ptr<ModelRewards> m(new ModelRewards());
  m->metrics_ = metrics;
  // One client per distinct (kind, endpoint, recipe, model, relative): tasks share connections and limits.
  std::map<std::string, std::shared_ptr<rewards::SourceClient>> clients;
  bool any = false;
  auto build = [&](const configs::RewardRecipe& recipe, TaskSources* out) -> Status {
    out->recipe = recipe;
    for (const auto& s : recipe.sources) {
      if (!is_model_source(s)) continue;
      any = true;
      const std::string key = s.kind + "|" + s.endpoint + "|" + s.recipe + "|" + s.model + "|" + (s.relative ? "r" : "a");
      auto& client = clients[key];
      if (!client) {
        rewards::SourceClientConfig c;
        c.name = s.kind;
        c.preference = s.kind == "preference";
        c.endpoint = s.endpoint;
        c.recipe = s.recipe.empty() ? "troupe" : s.recipe;
        c.model = s.model;
        c.http.timeout_ms = s.timeout_ms;
        c.http.retries = int(s.retries);
        c.http.backoff_ms = s.backoff_ms;
        c.max_batch = int(s.max_batch);
        c.concurrency = int(s.concurrency);
        c.relative = s.relative;
        auto made = rewards::SourceClient::create(std::move(c));
        if (!made) return made.status();
        client = std::move(*made);
      }
      out->sources.push_back({s, client});
    }
    return Status::ok();
  };
  TROUPE_RETURN_IF_ERROR(build(config.rewards.default_recipe, &m->default_));
  for (const auto& [task, recipe] : config.rewards.per_task) {
    TROUPE_RETURN_IF_ERROR(build(recipe, &m->per_task_[task]));
  }
  if (!any) return std::shared_ptr<ModelRewards>();
  if (metrics) {
    auto& fam = prometheus::BuildCounter()
                    .Name("troupe_reward_sources_disagree_total")
                    .Help("Responses on which the rule verifier and the verifier model disagree, by task")
                    .Labels({{"run", config.run.name}})
                    .Register(metrics->registry());
    m->disagree_family_ = &fam;
  }
  m->pool_ = std::make_unique<rewards::WorkerPool>(kGroupThreads);
  return m;
}

ModelRewards::~ModelRewards() = default;

const ModelRewards::TaskSources* ModelRewards::find(const std::string& task) const {
  auto it = per_task_.find(task);
  return it == per_task_.end() ? &default_ : &it->second;
}

bool ModelRewards::needs_models(const std::string& task) const {
  const TaskSources* t = find(task);
  return !t->sources.empty() || t->recipe.rule_fails_without_answer;
}

void ModelRewards::score(std::shared_ptr<ModelGroup> group, std::function<void(std::shared_ptr<ModelGroup>)> done) {
  pool_->submit([this, group = std::move(group), done = std::move(done)]() mutable {
    score_now(*group);
    done(std::move(group));
  });
}

void ModelRewards::score_now(ModelGroup& g) {
  const size_t n = g.rollouts.size();
  g.model_scores.assign(n, {});
  auto prompt = wire::read<wire::Prompt>(g.prompt);
  if (!prompt) return;
  const std::string task = (*prompt)->task()->str();
  const TaskSources* t = find(task);
  if (t->recipe.rule_fails_without_answer) {
    for (auto& v : g.verdicts) {
      if (!v.extracted) v.ok = false;
    }
  }
  if (t->sources.empty()) return;
  const Reference ref = reference_of(**prompt);
  const std::string question = (*prompt)->text() ? (*prompt)->text()->str() : "";
  std::vector<std::string> responses(n);
  for (size_t i = 0; i < n; ++i) {
    auto r = wire::read<wire::Rollout>(g.rollouts[i]);
    if (r && (*r)->response_text()) responses[i] = (*r)->response_text()->str();
  }
  std::vector<float> verifier_raw(n, -1.0f);
  for (const auto& src : t->sources) {
    const auto kind = src.config.kind == "verifier" ? rl::RewardSourceKind::kVerifier : rl::RewardSourceKind::kPreference;
    // A source of weight 0 is a fallback only: ask it about failed rule verdicts.
    std::vector<size_t> which;
    for (size_t i = 0; i < n; ++i) {
      if (src.config.weight > 0 || i >= g.verdicts.size() || !g.verdicts[i].ok) which.push_back(i);
    }
    if (which.empty()) continue;
    if (!ref.ok) {
      for (size_t i : which) g.model_scores[i].push_back({kind, 0.0f, false, 0.0f, "no reference for this prompt"});
      continue;
    }
    std::vector<rewards::ScoreItem> items;
    for (size_t i : which) {
      items.push_back({question, kind == rl::RewardSourceKind::kVerifier ? ref.answer_core : ref.response, responses[i]});
    }
    auto results = src.client->score(items);
    for (size_t k = 0; k < which.size(); ++k) {
      const auto& r = results[k];
      const float raw = kind == rl::RewardSourceKind::kPreference && r.ok ? sigmoid(r.score) : r.score;
      g.model_scores[which[k]].push_back({kind, raw, r.ok, float(r.latency_ms), r.detail});
      if (kind == rl::RewardSourceKind::kVerifier && r.ok) verifier_raw[which[k]] = raw;
      if (metrics_) {
        if (r.ok) {
          metrics_->reward.Add({{"task", task}, {"source", src.config.kind}}, monitoring::Metrics::reward_buckets())
              .Observe(raw);
        } else {
          metrics_->reward_model_errors.Add({{"source", src.config.kind}}).Increment();
        }
      }
    }
    if (metrics_ && !results.empty()) {
      // One observation per request: items of a batch share its latency.
      double last = -1;
      for (const auto& r : results) {
        if (r.latency_ms != last) {
          metrics_->reward_model_seconds.Add({{"source", src.config.kind}}, monitoring::Metrics::latency_buckets())
              .Observe(r.latency_ms / 1000.0);
          last = r.latency_ms;
        }
      }
    }
  }
  if (disagree_family_) {
    auto* fam = static_cast<prometheus::Family<prometheus::Counter>*>(disagree_family_);
    for (size_t i = 0; i < n && i < g.verdicts.size(); ++i) {
      if (verifier_raw[i] < 0 || !g.verdicts[i].ok) continue;
      // 0.5: the pass threshold every source shares (storage/rollout_summary.hpp).
      if ((g.verdicts[i].score >= 0.5) != (verifier_raw[i] >= 0.5)) fam->Add({{"task", task}}).Increment();
    }
  }
}

}  // namespace troupe::actors
