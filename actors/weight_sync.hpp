// The weight-sync actor: takes each version the learner publishes and makes it
// the process's newest policy (WeightBoard, read by policy workers between
// decode steps), then tells the controller the learner's version. Across
// processes the same actor hands the weights to the wire broadcast (issue: wire).
//
// Protocol: (weights_atom, WeightSet) from the learner.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class WeightBoard;

caf::actor spawn_weight_sync(caf::actor_system& sys, std::shared_ptr<WeightBoard> board, monitoring::Metrics* metrics);

}  // namespace troupe::actors
