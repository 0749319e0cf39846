// troupe's Prometheus metrics: one registry and one /metrics endpoint per node
// (metrics_server.hpp says why it is not prometheus::Exposer).
//
// Every family is declared here, once, with a stable name and documented labels,
// so dashboards and alert rules can rely on them (monitoring/grafana/,
// monitoring/prometheus/). Every series carries the constant label `run`.
// Updating a metric is a relaxed atomic operation (counters, gauges) or a bucket
// search plus atomics (histograms): safe from any thread, nothing measurable on
// the hot path (bench/metrics_bench.cpp measures it). Looking up a labelled child
// (`Family::Add`) takes a lock: actors look their children up once and keep the
// reference.
//
// Children whose label values are known in advance (drop and invalid-message
// reasons, actor roles, configured reward-model sources) exist from the start at
// zero, so a rate over them is 0 rather than "no data" and alert rules can tell
// "nothing happened" from "nobody reports".
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "base/status.hpp"
#include "monitoring/metrics_server.hpp"

namespace troupe::monitoring {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

class Metrics {
  // Declared first: every family below is registered in it during construction.
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  // A registry without an exposer (tests, tools).
  explicit Metrics(const std::string& run);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Starts serving /metrics on `listen` (HOST:PORT; port 0 picks a free one).
  // Fails with a message naming the address when it cannot bind.
  Status serve(const std::string& listen);
  // "HOST:PORT" actually bound, or "" when not serving.
  const std::string& address() const { return address_; }
  prometheus::Registry& registry() { return *registry_; }

  // ---- rollouts and tasks ----
  Family<Counter>& rollouts;           // troupe_rollouts_total{task}: rollouts generated
  Family<Counter>& tokens;             // troupe_tokens_generated_total{task}: response tokens generated
  Family<Counter>& rollouts_dropped;   // troupe_rollouts_dropped_total{reason}: truncated, looping, equal_group, stale, duplicate
  Family<Histogram>& reward;           // troupe_reward{task,source}: per source (rule, verifier, preference) and total
  Family<Gauge>& pass_rate;            // troupe_pass_rate{task,difficulty}: moving pass rate
  Family<Histogram>& verify_seconds;   // troupe_env_verify_seconds{task}
  // ---- policy versions and staleness ----
  Family<Gauge>& policy_version;       // troupe_policy_version{actor}: weights an actor holds
  Family<Histogram>& staleness;        // troupe_staleness_versions: learner version - behaviour version, per trained rollout
  Family<Gauge>& staleness_max;        // troupe_staleness_max_versions{learner}: largest staleness in the last batch
  Family<Gauge>& staleness_bound;      // troupe_staleness_bound: async.max_staleness of the run
  // ---- learner ----
  Family<Histogram>& learner_step_seconds;  // troupe_learner_step_seconds{learner}
  Family<Gauge>& learner_loss;         // troupe_learner_loss{learner}
  Family<Gauge>& learner_kl;           // troupe_learner_kl{learner}
  Family<Gauge>& learner_entropy;      // troupe_learner_entropy{learner}
  Family<Gauge>& learner_grad_norm;    // troupe_learner_grad_norm{learner}
  Family<Gauge>& learner_lr;           // troupe_learner_lr{learner}
  // ---- weight sync ----
  Family<Histogram>& weight_sync_seconds;  // troupe_weight_sync_seconds{backend}: ucx, nccl, local
  Family<Counter>& weight_sync_bytes;  // troupe_weight_sync_bytes_total{backend}
  // ---- replay ----
  Family<Gauge>& replay_rollouts;      // troupe_replay_rollouts: rollouts stored
  Family<Gauge>& replay_bytes;         // troupe_replay_bytes: bytes on disk
  Family<Gauge>& replay_disk_free;     // troupe_replay_disk_free_bytes: free bytes on the store's filesystem
  Family<Gauge>& replay_disk_capacity; // troupe_replay_disk_capacity_bytes: size of that filesystem
  Family<Histogram>& replay_append_seconds;  // troupe_replay_append_seconds
  Family<Histogram>& replay_sample_seconds;  // troupe_replay_sample_seconds
  // ---- system ----
  Family<Gauge>& mailbox_depth;        // troupe_mailbox_depth{actor}
  // peer: the node at the other end, or for buffers passed inside one process, the
  // role of the receiving (sent) or sending (received) actor.
  Family<Counter>& messages;           // troupe_messages_total{peer,direction}: sent, received
  Family<Counter>& message_bytes;      // troupe_message_bytes_total{peer,direction}
  Family<Counter>& messages_invalid;   // troupe_messages_invalid_total{reason}: verify_failed, unknown_kind
  Family<Counter>& actor_restarts;     // troupe_actor_restarts_total{role}: one child per role in kRoles
  // source: verifier, preference. Every call is observed, failed ones included, so
  // errors / calls is the error ratio.
  Family<Histogram>& reward_model_seconds;  // troupe_reward_model_seconds{source}
  Family<Counter>& reward_model_errors;     // troupe_reward_model_errors_total{source}
  // Rollouts scored by both the rule verifier and a model source, by whether their
  // verdicts agree (both pass or both fail; a model score >= 0.5 passes).
  Family<Counter>& reward_agreement;   // troupe_reward_agreement_total{source,agree}: agree="true"|"false"

  // The roles a node hosts (actor_restarts children).
  static constexpr const char* kRoles[] = {"controller", "env", "policy_worker", "reward",
                                           "replay",     "learner", "weight_sync"};
  // Creates the zero-valued children of a reward-model source (reward_model_seconds,
  // reward_model_errors, reward_agreement), so a configured source is visible before
  // its first call. Idempotent; takes the families' locks.
  void declare_reward_source(const std::string& source);

  // Bucket boundaries shared by the latency histograms (seconds, 50 us .. 60 s).
  static const Histogram::BucketBoundaries& latency_buckets();
  static const Histogram::BucketBoundaries& reward_buckets();
  static const Histogram::BucketBoundaries& staleness_buckets();

 private:
  std::unique_ptr<MetricsServer> server_;
  std::string address_;
};

}  // namespace troupe::monitoring
