// The replay actor (see replay_actor.hpp).
#include "actors/replay_actor.hpp"

#include <chrono>
#include <filesystem>

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
  prometheus::Gauge* mailbox = nullptr;
  prometheus::Counter* received = nullptr;
  prometheus::Counter* received_bytes = nullptr;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* sent_bytes = nullptr;
  std::chrono::steady_clock::time_point disk_checked{};
};

// Walking the store directory and asking the filesystem costs tens of microseconds:
// done at most once per period, from whichever message arrives.
constexpr auto kDiskPeriod = std::chrono::seconds(1);

void record_disk(ReplayState& st) {
  if (!st.metrics) return;
  auto now = std::chrono::steady_clock::now();
  if (now - st.disk_checked < kDiskPeriod) return;
  st.disk_checked = now;
  st.metrics->replay_bytes.Add({}).Set(static_cast<double>(st.store->disk_bytes()));
  std::error_code ec;
  auto space = std::filesystem::space(st.store->path(), ec);
  if (!ec) {
    st.metrics->replay_disk_free.Add({}).Set(static_cast<double>(space.available));
    st.metrics->replay_disk_capacity.Add({}).Set(static_cast<double>(space.capacity));
  }
}

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
    st.stored->Set(static_cast<double>(st.store->counters().count));
    st.mailbox = &metrics->mailbox_depth.Add({{"actor", "replay"}});
    st.received = &metrics->messages.Add({{"peer", "reward"}, {"direction", "received"}});
    st.received_bytes = &metrics->message_bytes.Add({{"peer", "reward"}, {"direction", "received"}});
    st.sent = &metrics->messages.Add({{"peer", "learner"}, {"direction", "sent"}});
    st.sent_bytes = &metrics->message_bytes.Add({{"peer", "learner"}, {"direction", "sent"}});
    record_disk(st);
  }
  return {
      [self](scored_atom, const BytesList& scored) {
        auto& s = self->state;
        if (s.metrics) {
          size_t bytes = 0;
          for (const auto& b : scored) bytes += b.size();
          s.received->Increment();
          s.received_bytes->Increment(static_cast<double>(bytes));
          s.mailbox->Set(static_cast<double>(self->mailbox().size()));
          record_disk(s);
        }
        for (const auto& b : scored) {
          auto t0 = std::chrono::steady_clock::now();
          // The callback runs on the store's writer thread: it touches only thread-safe state.
          // It may also run while the store is being destroyed (the final flush): never call the store here.
          s.store->append_async(b, [status = s.status, hist = s.append_seconds, gauge = s.stored,
                                    t0](Result<uint64_t> id) {
            if (!id) {
              if (status) ++status->store_errors;
              return;
            }
            if (status) ++status->stored;
            if (hist) hist->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (gauge) gauge->Increment();
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
        if (s.metrics) {
          s.sample_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          if (!out.empty()) {
            size_t bytes = 0;
            for (const auto& b : out) bytes += b.size();
            s.sent->Increment();
            s.sent_bytes->Increment(static_cast<double>(bytes));
          }
          s.mailbox->Set(static_cast<double>(self->mailbox().size()));
          record_disk(s);
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
