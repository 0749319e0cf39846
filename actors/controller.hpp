// The controller: the directory of the run's actors, the curriculum, admission
// under the staleness bound, and supervision of policy workers.
//
// Protocol: (tick_atom) issues every prompt admission allows: it asks the task's
// env actor for the prompt (generate_atom) and hands it to a policy worker, round
// robin. (done_atom, prompt_id, passed flags) from the reward actor feeds the
// curriculum; (weights_atom, version) from weight sync raises admission;
// (lost_atom, prompt_id) re-issues a prompt once. A policy worker that dies is
// respawned and its prompts re-issued exactly once; an env actor that dies is
// respawned (its prompts fail their generate request and are re-issued once, to
// the new actor). (worker_atom, index, up) marks a worker on another node reachable or gone: prompts
// go only to reachable workers (and wait while none is), and a gone worker's prompts are re-issued
// exactly once. (stop_atom) stops issuing and answers the live workers and env
// actors (LiveActors) once the run status holds its final resumable state.
// All bookkeeping lives in ControllerState (tested without CAF).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/run_state.hpp"
#include "base/status.hpp"
#include "configs/schema.hpp"

namespace troupe::monitoring {
class Metrics;
}

namespace troupe::actors {

class RunStatus;

struct ControllerSetup {
  std::map<std::string, caf::actor> env_actors;
  std::vector<caf::actor> workers;
  // Which workers take prompts from the start (empty = all). Remote workers start unavailable and
  // become available with (worker_atom, index, true) once their node holds weights.
  std::vector<bool> available;
  // Makes a replacement for worker `index` after it died.
  std::function<caf::actor(int index)> respawn_worker;
  // Makes a replacement for a task's env actor after it died; every reward actor in this process is
  // told the new handle (env_atom) so verification goes on (remote ones reach env/<task> by name).
  std::function<caf::actor(const std::string& task)> respawn_env;
  std::vector<caf::actor> rewards;
  // A prompt handed to a worker and unanswered this long is lost (async.prompt_timeout_s).
  double prompt_timeout_s = 120;
  std::shared_ptr<RunStatus> status;
  monitoring::Metrics* metrics = nullptr;
  // Set when resuming: the controller continues from this state (see ControllerState::restore).
  std::optional<RunState> resume;
};

// Errors: a resume state whose curriculum does not match the config's tasks and levels.
Result<caf::actor> spawn_controller(caf::actor_system& sys, const configs::ExperimentConfig& config,
                                    ControllerSetup setup);

}  // namespace troupe::actors
