// The weight-sync actor (see weight_sync.hpp).
#include "actors/weight_sync.hpp"

#include <chrono>

#include "actors/messages.hpp"
#include "actors/weight_board.hpp"
#include "monitoring/metrics.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

struct SyncState {
  std::shared_ptr<WeightBoard> board;
  caf::actor controller;
  monitoring::Metrics* metrics = nullptr;
};

caf::behavior sync_behavior(caf::stateful_actor<SyncState>* self, std::shared_ptr<WeightBoard> board,
                            monitoring::Metrics* metrics) {
  self->state.board = std::move(board);
  self->state.metrics = metrics;
  return {
      [self](done_atom, caf::actor controller) { self->state.controller = std::move(controller); },
      [self](weights_atom, const WeightSet& ws) {
        auto& st = self->state;
        auto t0 = std::chrono::steady_clock::now();
        st.board->publish(ws.version, ws.params);
        if (st.metrics && ws.params) {
          st.metrics->weight_sync_seconds.Add({{"backend", "local"}}, monitoring::Metrics::latency_buckets())
              .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          st.metrics->weight_sync_bytes.Add({{"backend", "local"}})
              .Increment(static_cast<double>(ws.params->size() * sizeof(float)));
        }
        if (st.controller) self->send(st.controller, weights_atom_v, ws.version);
      },
  };
}

}  // namespace

caf::actor spawn_weight_sync(caf::actor_system& sys, std::shared_ptr<WeightBoard> board, monitoring::Metrics* metrics) {
  return sys.spawn(sync_behavior, std::move(board), metrics);
}

}  // namespace troupe::actors
