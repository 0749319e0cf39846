// The reward actor (see reward_actor.hpp).
#include "actors/reward_actor.hpp"

#include <chrono>
#include <cstdio>
#include <deque>
#include <unordered_set>

#include "actors/messages.hpp"
#include "actors/model_reward.hpp"
#include "monitoring/metrics.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<troupe::actors::ModelGroup>)

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

// A verifier slower than this is treated as failed for the group; the recipe's
// fallback decides. Generous: rule verifiers answer in microseconds. Enforced by a tick over the
// calls in flight (`verifying`), not by a CAF request timeout per call: those arm and cancel a timer
// on CAF's clock thread, two wake-ups of another thread per call (see actors/controller.cpp).
constexpr auto kVerifyTimeout = std::chrono::seconds(30);

struct RewardState {
  std::map<std::string, caf::actor> env_actors;
  std::map<std::string, rl::Recipe> recipes;
  rl::Recipe default_recipe;
  caf::actor replay;
  caf::actor controller;
  rl::RunningNormaliser running{256};
  monitoring::Metrics* metrics = nullptr;
  // Prompts whose group was already taken, newest last: a prompt re-issued after its
  // worker died may come back twice when the dead worker's group was already on its
  // way; the second group is dropped, so each prompt is scored and stored once.
  // Bounded: ids leave the window after `seen_bound` newer prompts.
  std::unordered_set<uint64_t> seen;
  std::deque<uint64_t> seen_order;
  size_t seen_bound = 4096;

  bool first_time(uint64_t prompt_id) {
    if (!seen.insert(prompt_id).second) return false;
    seen_order.push_back(prompt_id);
    if (seen_order.size() > seen_bound) {
      seen.erase(seen_order.front());
      seen_order.pop_front();
    }
    return true;
  }
  std::shared_ptr<ModelRewards> models;  // null: rule-only recipes (actors/model_reward.hpp)
  // Verify calls in flight: call id -> its group and deadline. Bounded by the groups in flight.
  struct Verifying {
    std::chrono::steady_clock::time_point deadline;
    wire::Bytes prompt;
    BytesList rollouts;
  };
  std::map<uint64_t, Verifying> verifying;
  uint64_t next_call = 1;
  bool ticking = false;

  const rl::Recipe& recipe(const std::string& task) const {
    auto it = recipes.find(task);
    return it == recipes.end() ? default_recipe : it->second;
  }
};

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void finish_group(caf::stateful_actor<RewardState>* self, const wire::Bytes& prompt_bytes, const BytesList& rollouts,
                  const std::vector<RuleVerdict>& verdicts,
                  const std::vector<std::vector<rl::SourceScore>>& model_scores = {}) {
  auto& st = self->state;
  auto prompt = wire::read<wire::Prompt>(prompt_bytes);
  if (!prompt) return;  // checked on arrival; cannot happen
  const std::string task = (*prompt)->task()->str();
  if (st.models && st.models->needs_models(task) && model_scores.empty() && !rollouts.empty()) {
    // Model sources score on ModelRewards' threads; the group comes back as a message.
    auto g = std::make_shared<ModelGroup>(ModelGroup{prompt_bytes, rollouts, verdicts, {}});
    st.models->score(std::move(g), [me = caf::actor_cast<caf::actor>(self)](std::shared_ptr<ModelGroup> done) {
      caf::anon_send(me, scored_atom_v, std::move(done));
    });
    return;
  }
  auto scored = score_group(**prompt, rollouts, verdicts, model_scores, st.recipe(task), &st.running, now_ms());
  std::vector<int> passed;
  for (const auto& v : verdicts) passed.push_back(v.ok && v.score >= 1.0 ? 1 : 0);
  if (scored) {
    if (st.metrics) {
      auto& rule = st.metrics->reward.Add({{"task", task}, {"source", "rule"}}, monitoring::Metrics::reward_buckets());
      auto& total = st.metrics->reward.Add({{"task", task}, {"source", "total"}}, monitoring::Metrics::reward_buckets());
      for (size_t i = 0; i < verdicts.size(); ++i) {
        rule.Observe(verdicts[i].score);
        auto s = wire::read<wire::ScoredRollout>((*scored)[i]);
        if (s) total.Observe((*s)->rewards()->total());
      }
    }
    self->send(st.replay, scored_atom_v, std::move(*scored));
  }
  if (st.controller) self->send(st.controller, done_atom_v, (*prompt)->prompt_id(), std::move(passed));
}

// Finishes the group of verify call `call` with `verdicts`, or with every verdict failed when null (the
// call failed or timed out: the recipe's fallback decides). A call already finished is ignored (an
// answer that came after its deadline).
void finish_verify(caf::stateful_actor<RewardState>* self, uint64_t call, const std::vector<RuleVerdict>* verdicts) {
  auto it = self->state.verifying.find(call);
  if (it == self->state.verifying.end()) return;
  auto v = std::move(it->second);
  self->state.verifying.erase(it);
  if (verdicts != nullptr) return finish_group(self, v.prompt, v.rollouts, *verdicts);
  finish_group(self, v.prompt, v.rollouts, std::vector<RuleVerdict>(v.rollouts.size(), RuleVerdict{.ok = false}));
}

caf::behavior reward_behavior(caf::stateful_actor<RewardState>* self, std::map<std::string, caf::actor> envs,
                              std::map<std::string, rl::Recipe> recipes, rl::Recipe default_recipe, caf::actor replay,
                              monitoring::Metrics* metrics, std::shared_ptr<ModelRewards> models, double window,
                              size_t seen_bound) {
  auto& st = self->state;
  st.seen_bound = seen_bound;
  st.models = std::move(models);
  st.running = rl::RunningNormaliser(window);
  st.env_actors = std::move(envs);
  st.recipes = std::move(recipes);
  st.default_recipe = std::move(default_recipe);
  st.replay = std::move(replay);
  st.metrics = metrics;
  prometheus::Gauge* mailbox = metrics ? &metrics->mailbox_depth.Add({{"actor", "reward"}}) : nullptr;
  return {
      [self](done_atom, caf::actor controller) { self->state.controller = std::move(controller); },
      [self](env_atom, const std::string& task, caf::actor env) { self->state.env_actors[task] = std::move(env); },
      [self](scored_atom, std::shared_ptr<ModelGroup> g) {
        finish_group(self, g->prompt, g->rollouts, g->verdicts, g->model_scores);
      },
      [self, mailbox](group_atom, wire::Bytes prompt_bytes, BytesList rollouts) {
        if (mailbox) mailbox->Set(static_cast<double>(self->mailbox().size()));
        auto prompt = wire::read<wire::Prompt>(prompt_bytes);
        if (!prompt) return;
        if (!self->state.first_time((*prompt)->prompt_id())) {
          if (self->state.metrics) self->state.metrics->rollouts_dropped.Add({{"reason", "duplicate"}}).Increment(rollouts.size());
          return;
        }
        auto env = self->state.env_actors.find((*prompt)->task()->str());
        if (env == self->state.env_actors.end()) return;
        std::vector<std::string> texts;
        for (const auto& b : rollouts) {
          auto r = wire::read<wire::Rollout>(b);
          texts.push_back(r && (*r)->response_text() ? (*r)->response_text()->str() : std::string());
        }
        auto& rs = self->state;
        const uint64_t call = rs.next_call++;
        rs.verifying.emplace(call, RewardState::Verifying{std::chrono::steady_clock::now() + kVerifyTimeout,
                                                          prompt_bytes, rollouts});
        if (!rs.ticking) {
          rs.ticking = true;
          self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
        }
        self->request(env->second, caf::infinite, verify_atom_v, (*prompt)->identity_json()->str(), std::move(texts))
            .then(
                [self, call](const std::vector<RuleVerdict>& verdicts) { finish_verify(self, call, &verdicts); },
                [self, call](caf::error&) { finish_verify(self, call, nullptr); });
      },
      [self](tick_atom) {
        auto& rs = self->state;
        const auto now = std::chrono::steady_clock::now();
        std::vector<uint64_t> overdue;
        for (const auto& [call, v] : rs.verifying) {
          if (v.deadline <= now) overdue.push_back(call);
        }
        for (uint64_t call : overdue) finish_verify(self, call, nullptr);
        rs.ticking = !rs.verifying.empty();
        if (rs.ticking) self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
      },
  };
}

}  // namespace

caf::actor spawn_reward_actor(caf::actor_system& sys, const configs::ExperimentConfig& config,
                              std::map<std::string, caf::actor> env_actors, caf::actor replay,
                              monitoring::Metrics* metrics) {
  std::map<std::string, rl::Recipe> recipes;
  for (const auto& [task, r] : config.rewards.per_task) {
    auto rr = recipe_from_config(r);
    if (rr) recipes.emplace(task, std::move(*rr));
  }
  auto def = recipe_from_config(config.rewards.default_recipe);
  // Re-issues happen while a prompt is in flight: four in-flight bounds of history is ample.
  const size_t seen_bound = static_cast<size_t>(std::max<int64_t>(64, 4 * config.limits.prompt_queue));
  if (metrics) {  // configured model sources are visible (at zero) before their first call
    std::vector<const configs::RewardRecipe*> all{&config.rewards.default_recipe};
    for (const auto& [_, r] : config.rewards.per_task) all.push_back(&r);
    for (const auto* r : all) {
      for (const auto& s : r->sources) {
        if (s.kind != "rule") metrics->declare_reward_source(s.kind);
      }
    }
  }
  auto models = ModelRewards::create(config, metrics);
  if (!models) std::fprintf(stderr, "reward actor: model sources disabled: %s\n", models.status().message().c_str());
  return sys.spawn(reward_behavior, std::move(env_actors), std::move(recipes), def ? *def : rl::Recipe{},
                   std::move(replay), metrics, models ? *models : nullptr, config.rewards.running_window, seen_bound);
}

}  // namespace troupe::actors
