// The learner actor (see learner_actor.hpp).
#include "actors/learner_actor.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "actors/messages.hpp"
#include "actors/run_status.hpp"
#include "kernels/matmul.hpp"
#include "model/checkpoint.hpp"
#include "monitoring/metrics.hpp"
#include "rl/trainer.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

// The replay store answers from memory and disk in milliseconds; a minute
// without an answer means it is gone, and the learner asks again.
constexpr auto kBatchTimeout = std::chrono::seconds(60);
// How long to wait before asking again when the store had nothing new.
constexpr auto kPollDelay = std::chrono::milliseconds(20);

struct LearnerState {
  std::unique_ptr<rl::PolicyTrainer> trainer;
  LearnerSetup setup;
  std::vector<rl::TrainSample> samples;
  double raw_reward_sum = 0;  // of `samples`, before normalisation (see LearnerSnapshot)
  size_t need = 0;
  int group_size = 1;
  uint64_t max_staleness = 0;
  bool stopping = false;
  bool asking = false;
};

rl::TrainerOptions trainer_options(const configs::ExperimentConfig& c) {
  rl::TrainerOptions o;
  const auto& a = c.algorithm;
  o.objective = a.objective == "grpo" ? rl::Objective::kGrpo
                                      : a.objective == "oreal" ? rl::Objective::kOreal : rl::Objective::kPpo;
  o.advantage.kind = a.advantage == "leave_one_out" ? rl::AdvantageKind::kLeaveOneOut : rl::AdvantageKind::kGroupMean;
  o.advantage.scale_by_std = a.objective == "grpo";
  o.loss.clip = static_cast<float>(a.clip);
  o.loss.importance_cap = static_cast<float>(a.importance_cap);
  o.loss.kl_coef = static_cast<float>(a.kl_coef);
  o.loss.entropy_coef = static_cast<float>(a.entropy_coef);
  o.passes = static_cast<int>(a.passes);
  o.lr = static_cast<float>(a.lr);
  o.warmup_steps = a.warmup_steps;
  o.drop_equal_groups = a.drop_equal_groups;
  o.adamw.weight_decay = static_cast<float>(a.weight_decay);
  o.adamw.max_grad_norm = static_cast<float>(a.max_grad_norm);
  return o;
}

// The mixed reward before normalisation: weighted mean of the answering sources' raw scores.
double raw_mixed_reward(const wire::ScoredRollout& s) {
  double num = 0, den = 0;
  if (const auto* comps = s.rewards()->components()) {
    for (const auto* c : *comps) {
      if (!c->ok()) continue;
      num += static_cast<double>(c->weight()) * c->raw();
      den += c->weight();
    }
  }
  return den > 0 ? num / den : 0.0;
}

rl::TrainSample to_sample(const wire::ScoredRollout& s) {
  rl::TrainSample t;
  const auto* r = s.rollout();
  t.prompt_id = r->prompt_id();
  if (r->prompt_tokens()) t.prompt_tokens.assign(r->prompt_tokens()->begin(), r->prompt_tokens()->end());
  if (r->response_tokens()) t.response_tokens.assign(r->response_tokens()->begin(), r->response_tokens()->end());
  if (r->behaviour_logprobs()) {
    t.behaviour_logprobs.assign(r->behaviour_logprobs()->begin(), r->behaviour_logprobs()->end());
  }
  t.reward = s.rewards()->total();
  t.truncated = r->finish() == wire::FinishReason::Length;
  t.policy_version = r->policy_version();
  return t;
}

void train_step(caf::stateful_actor<LearnerState>* self) {
  auto& st = self->state;
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t before = st.trainer->version();
  auto stats = st.trainer->step(st.samples);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t learner_version = st.trainer->version();
  auto* m = st.setup.metrics;
  if (m) {
    auto& hist = m->staleness.Add({}, monitoring::Metrics::staleness_buckets());
    uint64_t worst = 0;
    for (const auto& s : st.samples) {
      const uint64_t stale = learner_version - std::min(learner_version, s.policy_version);
      worst = std::max(worst, stale);
      hist.Observe(static_cast<double>(stale));
    }
    m->staleness_max.Add({{"learner", st.setup.name}}).Set(static_cast<double>(worst));
  }
  const double raw_mean = st.samples.empty() ? 0 : st.raw_reward_sum / static_cast<double>(st.samples.size());
  st.samples.clear();
  st.raw_reward_sum = 0;
  if (!stats) return;  // a malformed batch is skipped; the loop goes on
  const bool leader = !st.setup.collective || st.setup.collective->rank() == 0;
  if (st.trainer->version() != before && leader) {
    auto params = std::make_shared<const std::vector<float>>(st.trainer->policy().parameters().begin(),
                                                             st.trainer->policy().parameters().end());
    self->send(st.setup.weight_sync, weights_atom_v, WeightSet{st.trainer->version(), std::move(params)});
    if (st.setup.after_step) st.setup.after_step(st.trainer->policy(), st.trainer->optimizer(), st.trainer->version());
  }
  LearnerSnapshot snap;
  snap.version = st.trainer->version();
  snap.loss = stats->loss;
  snap.kl = stats->kl;
  snap.entropy = stats->entropy;
  snap.grad_norm = stats->grad_norm;
  snap.lr = stats->lr;
  snap.mean_reward = stats->mean_reward;
  snap.mean_raw_reward = raw_mean;
  snap.staleness_mean = stats->staleness_mean;
  snap.clip_fraction = stats->clip_fraction;
  snap.step_seconds = seconds;
  snap.samples_used = stats->samples_used;
  snap.groups_used = stats->groups_used;
  snap.groups = stats->groups;
  if (st.setup.status && leader) {
    st.setup.status->set_learner(snap);
    if (stats->stepped) ++st.setup.status->learner_steps;
  }
  if (m) {
    const auto& l = st.setup.name;
    m->learner_step_seconds.Add({{"learner", l}}, monitoring::Metrics::latency_buckets()).Observe(seconds);
    m->learner_loss.Add({{"learner", l}}).Set(stats->loss);
    m->learner_kl.Add({{"learner", l}}).Set(stats->kl);
    m->learner_entropy.Add({{"learner", l}}).Set(stats->entropy);
    m->learner_grad_norm.Add({{"learner", l}}).Set(stats->grad_norm);
    m->learner_lr.Add({{"learner", l}}).Set(stats->lr);
    m->policy_version.Add({{"actor", l}}).Set(static_cast<double>(st.trainer->version()));
    if (stats->dropped_looping) m->rollouts_dropped.Add({{"reason", "looping"}}).Increment(stats->dropped_looping);
    if (stats->dropped_truncated) {
      m->rollouts_dropped.Add({{"reason", "truncated"}}).Increment(static_cast<double>(stats->dropped_truncated));
    }
    const int64_t equal = stats->groups - stats->groups_used;
    if (equal > 0) m->rollouts_dropped.Add({{"reason", "equal_group"}}).Increment(static_cast<double>(equal));
  }
}

void ask(caf::stateful_actor<LearnerState>* self) {
  auto& st = self->state;
  if (st.stopping || st.asking) return;
  st.asking = true;
  const uint64_t v = st.trainer->version();
  BatchAsk q;
  q.learner_version = v;
  q.min_version = v > st.max_staleness ? v - st.max_staleness : 0;
  q.max_rollouts = st.need - st.samples.size();
  q.group_size = st.group_size;
  self->request(st.setup.replay, kBatchTimeout, batch_atom_v, q)
      .then(
          [self](const BytesList& rollouts) {
            auto& s = self->state;
            s.asking = false;
            if (s.setup.metrics && !rollouts.empty()) {
              size_t bytes = 0;
              for (const auto& b : rollouts) bytes += b.size();
              s.setup.metrics->messages.Add({{"peer", "replay"}, {"direction", "received"}}).Increment();
              s.setup.metrics->message_bytes.Add({{"peer", "replay"}, {"direction", "received"}})
                  .Increment(static_cast<double>(bytes));
            }
            for (const auto& b : rollouts) {
              auto r = wire::read<wire::ScoredRollout>(b);
              if (r) {
                s.samples.push_back(to_sample(**r));
                s.raw_reward_sum += raw_mixed_reward(**r);
              } else if (s.setup.metrics) {
                s.setup.metrics->messages_invalid.Add({{"reason", "verify_failed"}}).Increment();
              }
            }
            if (s.samples.size() >= s.need) {
              train_step(self);
              self->send(self, train_atom_v);
            } else {
              self->delayed_send(self, kPollDelay, train_atom_v);
            }
          },
          [self](caf::error&) {
            self->state.asking = false;
            self->delayed_send(self, kPollDelay, train_atom_v);
          });
}

caf::behavior learner_behavior(caf::stateful_actor<LearnerState>* self, std::shared_ptr<rl::PolicyTrainer> trainer,
                               LearnerSetup setup, size_t need, int group_size, uint64_t max_staleness) {
  auto& st = self->state;
  kernels::cpu::set_cpu_threads(std::max(1, setup.cpu_threads));  // see policy_worker.cpp
  st.trainer.reset(new rl::PolicyTrainer(std::move(*trainer)));
  st.setup = std::move(setup);
  st.need = need;
  st.group_size = group_size;
  st.max_staleness = max_staleness;
  if (st.setup.metrics) st.setup.metrics->staleness_bound.Add({}).Set(static_cast<double>(max_staleness));
  prometheus::Gauge* mailbox = st.setup.metrics ? &st.setup.metrics->mailbox_depth.Add({{"actor", st.setup.name}})
                                                : nullptr;
  return {
      [self, mailbox](train_atom) {
        if (mailbox) mailbox->Set(static_cast<double>(self->mailbox().size()));
        ask(self);
      },
      [self](stop_atom) {
        auto& s = self->state;
        if (s.stopping) return;
        s.stopping = true;
        if (s.setup.on_stop) s.setup.on_stop(s.trainer->policy(), s.trainer->optimizer(), s.trainer->version());
      },
  };
}

}  // namespace

caf::actor spawn_learner(caf::actor_system& sys, const configs::ExperimentConfig& config,
                         const model::Transformer& initial, LearnerSetup setup) {
  auto copy = model::Transformer::create(initial.config(), 0);
  if (!copy) return caf::actor{};
  if (!copy->load_parameters(initial.parameters(), initial.version())) return caf::actor{};
  // The trunk on the GPU when the config allows and one is visible; the weights stay on the host,
  // so the optimizer, all-reduce, checkpoints and weight broadcast are unchanged.
  if (auto where = model::place_model(*copy, config.model.device, setup.gpu); !where) {
    spdlog::warn("{}: model.device {}; training on the CPU", setup.name, where.status().message());
  }
  std::optional<model::Transformer> reference;
  if (config.algorithm.kl_coef > 0) {
    auto ref = model::Transformer::create(initial.config(), 0);
    if (!ref || !ref->load_parameters(initial.parameters(), initial.version())) return caf::actor{};
    reference = std::move(*ref);
  }
  rl::TrainerOptions topts = trainer_options(config);
  topts.collective = setup.collective;
  auto trainer = std::make_shared<rl::PolicyTrainer>(std::move(*copy), topts, std::move(reference));
  trainer->set_version(initial.version());
  if (!setup.resume_optimizer_dir.empty()) {
    // Fresh moments are a safe fallback (a checkpoint written before optimizer
    // state was kept); the caller checked the directory exists.
    model::load_optimizer_state(setup.resume_optimizer_dir, trainer->policy(), &trainer->optimizer()).ignore();
  }
  // This learner's share of the step: whole groups, the remainder to the lowest ranks.
  const int64_t learners = setup.collective ? setup.collective->size() : 1;
  const int64_t rank = setup.collective ? setup.collective->rank() : 0;
  const int64_t groups = config.algorithm.prompts_per_step / learners + (rank < config.algorithm.prompts_per_step % learners ? 1 : 0);
  const size_t need = static_cast<size_t>(std::max<int64_t>(1, groups) * config.algorithm.group_size);
  return sys.spawn<caf::detached>(learner_behavior, trainer, std::move(setup), need,
                                  static_cast<int>(config.algorithm.group_size),
                                  static_cast<uint64_t>(config.async.max_staleness));
}

}  // namespace troupe::actors
