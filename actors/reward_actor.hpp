// The reward actor: verifies a group of rollouts with its env actor, mixes the
// rewards by the task's recipe (Mixture-of-Rewards), stores the scored group and
// tells the controller what passed.
//
// Protocol: (group_atom, Prompt bytes, vector<Rollout bytes>) from a policy
// worker. It asks the env actor (verify_atom) with a timeout; a verifier that
// fails or times out marks the rule component not ok, and the recipe's fallback
// decides. It then sends (scored_atom, vector<ScoredRollout>) to the replay actor
// and (done_atom, prompt_id, passed flags) to the controller, which it learns from
// a (done_atom, controller) message at start-up.
#pragma once

#include <caf/fwd.hpp>

#include <map>
#include <string>

#include "configs/schema.hpp"

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

// REQUIRES: every task of `config` has an entry in `env_actors`.
caf::actor spawn_reward_actor(caf::actor_system& sys, const configs::ExperimentConfig& config,
                              std::map<std::string, caf::actor> env_actors, caf::actor replay,
                              monitoring::Metrics* metrics);

}  // namespace troupe::actors
