// Metric families and the exposer (see metrics.hpp).
#include "monitoring/metrics.hpp"


namespace troupe::monitoring {
namespace {

template <class T>
Family<T>& family(prometheus::Registry& r, const std::string& run, const char* name, const char* help) {
  return prometheus::detail::Builder<T>().Name(name).Help(help).Labels({{"run", run}}).Register(r);
}

}  // namespace

const Histogram::BucketBoundaries& Metrics::latency_buckets() {
  static const Histogram::BucketBoundaries b = {5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
                                                5e-2, 0.1,  0.25,   0.5,  1,    2.5,    5,    10,   30,   60};
  return b;
}
const Histogram::BucketBoundaries& Metrics::reward_buckets() {
  // Rule rewards live in [0, 1]; normalised ones spread around 0.
  static const Histogram::BucketBoundaries b = {-2, -1, -0.5, -0.25, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 2};
  return b;
}
const Histogram::BucketBoundaries& Metrics::staleness_buckets() {
  static const Histogram::BucketBoundaries b = {0, 1, 2, 3, 4, 6, 8, 12, 16, 32};
  return b;
}

Metrics::Metrics(const std::string& run)
    : registry_(std::make_shared<prometheus::Registry>()),
      rollouts(family<Counter>(*registry_, run, "troupe_rollouts_total", "Rollouts generated, by task")),
      tokens(family<Counter>(*registry_, run, "troupe_tokens_generated_total", "Response tokens generated, by task")),
      rollouts_dropped(family<Counter>(*registry_, run, "troupe_rollouts_dropped_total",
                                       "Rollouts not trained on, by reason")),
      reward(family<Histogram>(*registry_, run, "troupe_reward", "Reward per source and total, by task")),
      pass_rate(family<Gauge>(*registry_, run, "troupe_pass_rate", "Moving pass rate, by task and difficulty")),
      verify_seconds(family<Histogram>(*registry_, run, "troupe_env_verify_seconds", "Env verify latency, by task")),
      policy_version(family<Gauge>(*registry_, run, "troupe_policy_version", "Policy version held, by actor")),
      staleness(family<Histogram>(*registry_, run, "troupe_staleness_versions",
                                  "Learner version minus behaviour version of trained rollouts")),
      staleness_max(family<Gauge>(*registry_, run, "troupe_staleness_max_versions",
                                  "Largest staleness among the rollouts of the last trained batch")),
      staleness_bound(family<Gauge>(*registry_, run, "troupe_staleness_bound",
                                    "Staleness bound of the run (async.max_staleness)")),
      learner_step_seconds(family<Histogram>(*registry_, run, "troupe_learner_step_seconds", "Learner step time")),
      learner_loss(family<Gauge>(*registry_, run, "troupe_learner_loss", "Learner loss of the last step")),
      learner_kl(family<Gauge>(*registry_, run, "troupe_learner_kl", "KL to the reference policy (k3)")),
      learner_entropy(family<Gauge>(*registry_, run, "troupe_learner_entropy", "Entropy estimate of trained tokens")),
      learner_grad_norm(family<Gauge>(*registry_, run, "troupe_learner_grad_norm", "Global gradient norm")),
      learner_lr(family<Gauge>(*registry_, run, "troupe_learner_lr", "Learning rate")),
      weight_sync_seconds(family<Histogram>(*registry_, run, "troupe_weight_sync_seconds",
                                            "Weight broadcast duration, by backend")),
      weight_sync_bytes(family<Counter>(*registry_, run, "troupe_weight_sync_bytes_total",
                                        "Weight bytes broadcast, by backend")),
      replay_rollouts(family<Gauge>(*registry_, run, "troupe_replay_rollouts", "Rollouts in the replay store")),
      replay_bytes(family<Gauge>(*registry_, run, "troupe_replay_bytes", "Replay store size on disk")),
      replay_disk_free(family<Gauge>(*registry_, run, "troupe_replay_disk_free_bytes",
                                     "Free bytes on the replay store's filesystem")),
      replay_disk_capacity(family<Gauge>(*registry_, run, "troupe_replay_disk_capacity_bytes",
                                         "Size of the replay store's filesystem")),
      replay_append_seconds(family<Histogram>(*registry_, run, "troupe_replay_append_seconds",
                                              "Replay append latency until durable")),
      replay_sample_seconds(family<Histogram>(*registry_, run, "troupe_replay_sample_seconds",
                                              "Replay batch sampling latency")),
      mailbox_depth(family<Gauge>(*registry_, run, "troupe_mailbox_depth", "Messages waiting, by actor")),
      messages(family<Counter>(*registry_, run, "troupe_messages_total", "Messages, by peer and direction")),
      message_bytes(family<Counter>(*registry_, run, "troupe_message_bytes_total",
                                    "Message bytes, by peer and direction")),
      messages_invalid(family<Counter>(*registry_, run, "troupe_messages_invalid_total",
                                       "Messages dropped unread, by reason")),
      actor_restarts(family<Counter>(*registry_, run, "troupe_actor_restarts_total", "Actor restarts, by role")),
      reward_model_seconds(family<Histogram>(*registry_, run, "troupe_reward_model_seconds",
                                             "Reward model call latency, by source")),
      reward_model_errors(family<Counter>(*registry_, run, "troupe_reward_model_errors_total",
                                          "Reward model call errors, by source")),
      reward_agreement(family<Counter>(*registry_, run, "troupe_reward_agreement_total",
                                       "Rollouts scored by the rule and a model source, by whether they agree")) {
  for (const char* reason : {"truncated", "looping", "equal_group", "stale", "duplicate"}) {
    rollouts_dropped.Add({{"reason", reason}});
  }
  for (const char* reason : {"verify_failed", "unknown_kind"}) messages_invalid.Add({{"reason", reason}});
  for (const char* role : kRoles) actor_restarts.Add({{"role", role}});
}

void Metrics::declare_reward_source(const std::string& source) {
  reward_model_seconds.Add({{"source", source}}, latency_buckets());
  reward_model_errors.Add({{"source", source}});
  reward_agreement.Add({{"source", source}, {"agree", "true"}});
  reward_agreement.Add({{"source", source}, {"agree", "false"}});
}

Metrics::~Metrics() = default;

Status Metrics::serve(const std::string& listen) {
  if (server_) return Status::invalid_argument("metrics already served on " + address_);
  auto server = MetricsServer::start(listen, registry_);
  if (!server) return server.status();
  server_ = std::move(*server);
  address_ = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(server_->port());
  return Status::ok();
}

}  // namespace troupe::monitoring
