// The env actor: hosts one bootcamp task; makes prompts and verifies responses.
//
// Protocol (actors/messages.hpp): (generate_atom, PromptTicket) -> Prompt bytes;
// (verify_atom, identity_json, vector<string> responses) -> vector<RuleVerdict>.
// Tasks are stateless and thread-safe, so an env actor is thin: it unpacks, calls
// envs/, and packs. Errors become caf::error with the task's message.
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>
#include <string>

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

// REQUIRES: `task` is a registered task name; `metrics` (may be null) outlives the actor.
caf::actor spawn_env_actor(caf::actor_system& sys, const std::string& task, int group_size,
                           monitoring::Metrics* metrics);

}  // namespace troupe::actors
