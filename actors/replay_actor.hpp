// The replay actor: appends scored rollouts to the RocksDB replay store and
// serves learners batches within the staleness bound.
//
// Protocol: (scored_atom, vector<ScoredRollout>) appends (acknowledged only once
// durable, per storage.durability); (batch_atom, BatchAsk) -> vector<ScoredRollout>
// of whole prompt groups with policy_version >= min_version, oldest first, each
// served `reuse` times at most (possibly empty). The store's group-commit queue
// is bounded, so a flood of appends waits instead of growing memory.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

namespace troupe::storage {
class ReplayStore;
}
namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class RunStatus;

caf::actor spawn_replay_actor(caf::actor_system& sys, std::shared_ptr<storage::ReplayStore> store,
                              std::shared_ptr<RunStatus> status, monitoring::Metrics* metrics);

}  // namespace troupe::actors
