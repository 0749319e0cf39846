// The replay actor (see replay_actor.hpp).
#include "actors/replay_actor.hpp"

#include <chrono>

#include "actors/messages.hpp"
#include "actors/run_status.hpp"
#include "monitoring/metrics.hpp"
#include "storage/replay_store.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

struct ReplayState {
  std::shared_ptr<storage::ReplayStore> store;
  std::shared_ptr<RunStatus> status;
  monitoring::Metrics* metrics = nullptr;
  prometheus::Histogram* append_seconds = nullptr;
  prometheus::Histogram* sample_seconds = nullptr;
  prometheus::Gauge* stored = nullptr;
};

caf::behavior replay_behavior(caf::stateful_actor<ReplayState>* self, std::shared_ptr<storage::ReplayStore> store,
                              std::shared_ptr<RunStatus> status, monitoring::Metrics* metrics) {
  auto& st = self->state;
  st.store = std::move(store);
  st.status = std::move(status);
  st.metrics = metrics;
  if (metrics) {
    st.append_seconds = &metrics->replay_append_seconds.Add({}, monitoring::Metrics::latency_buckets());
    st.sample_seconds = &metrics->replay_sample_seconds.Add({}, monitoring::Metrics::latency_buckets());
    st.stored = &metrics->replay_rollouts.Add({});
  }
  return {
      [self](scored_atom, const BytesList& scored) {
        auto& s = self->state;
        for (const auto& b : scored) {
          auto t0 = std::chrono::steady_clock::now();
          // The callback runs on the store's writer thread: it touches only thread-safe state.
          s.store->append_async(b, [status = s.status, hist = s.append_seconds, gauge = s.stored,
                                    store = s.store.get(), t0](Result<uint64_t> id) {
            if (!id) {
              if (status) ++status->store_errors;
              return;
            }
            if (status) ++status->stored;
            if (hist) hist->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (gauge) gauge->Set(static_cast<double>(store->counters().count));
          });
        }
      },
      [self](batch_atom, const BatchAsk& ask) -> BytesList {
        auto& s = self->state;
        auto t0 = std::chrono::steady_clock::now();
        storage::SampleRequest req;
        req.max_rollouts = ask.max_rollouts;
        req.order = storage::SampleOrder::kFifo;
        req.min_version = ask.min_version;
        req.group_size = ask.group_size;
        req.learner_version = ask.learner_version;
        BytesList out;
        auto got = s.store->sample(req);
        if (got) {
          for (auto& r : got->rollouts) out.push_back(std::move(r.bytes));
        }
        if (s.sample_seconds) {
          s.sample_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_replay_actor(caf::actor_system& sys, std::shared_ptr<storage::ReplayStore> store,
                              std::shared_ptr<RunStatus> status, monitoring::Metrics* metrics) {
  // Detached: a group commit may block on fsync, which must not stall the scheduler.
  return sys.spawn<caf::detached>(replay_behavior, std::move(store), std::move(status), metrics);
}

}  // namespace troupe::actors
