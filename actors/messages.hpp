// The one CAF vocabulary of troupe's actors: atoms and the few types that travel
// inside CAF messages. Included only by actors/*.cpp (CAF headers are costly).
//
// Payloads are wire::Bytes (immutable, reference-counted FlatBuffers), never
// copies of tensors; weights travel as a shared pointer to an immutable vector.
// These types are local-only in CAF's eyes (CAF_ALLOW_UNSAFE_MESSAGE_TYPE):
// crossing a process goes through the UCX gateway as FlatBuffers, never CAF's own
// serialisation.
//
// Protocols (request -> reply), by actor:
//   env        (generate_atom, PromptTicket)         -> wire::Bytes (Prompt)
//              (verify_atom, identity_json, text)    -> RuleVerdict
//   policy     (prompt_atom, wire::Bytes Prompt)     -> (nothing; sends group_atom to reward)
//              (weights_atom, WeightSet)             -> (switches between decode steps)
//   reward     (group_atom, Prompt, vector<Rollout>) -> (sends scored_atom to replay, done_atom to controller)
//   replay     (scored_atom, vector<ScoredRollout>)  -> (appends durably)
//              (batch_atom, BatchAsk)                -> std::vector<wire::Bytes> (ScoredRollout)
//   weight sync(weights_atom, WeightSet)             -> (forwards to every policy worker and the controller)
//   controller (stop_atom)                           -> LiveActors (no prompt is issued after the reply)
//   reward     (env_atom, task, actor)               -> (a respawned env actor replaces the task's old one)
//   controller (worker_atom, index, up)              -> (a remote policy worker became reachable and holds
//                                                        weights, or its node went down: its prompts are re-issued)
#pragma once

#include <caf/all.hpp>

#include <memory>
#include <vector>

#include "actors/controller_state.hpp"
#include "actors/scoring.hpp"
#include "wire/messages.hpp"

namespace troupe::actors {

// A published policy: parameters of one version, shared by every reader.
struct WeightSet {
  uint64_t version = 0;
  std::shared_ptr<const std::vector<float>> params;
};

// What a learner asks the replay actor for.
struct BatchAsk {
  uint64_t learner_version = 0;
  uint64_t min_version = 0;
  size_t max_rollouts = 0;
  int group_size = 0;
};

using BytesList = std::vector<wire::Bytes>;

// The controller's answer to stop_atom: the policy workers and env actors alive
// now (respawned ones included), for the pipeline to shut down.
struct LiveActors {
  std::vector<caf::actor> workers;
  std::vector<caf::actor> envs;
};

}  // namespace troupe::actors

CAF_ADD_ATOM(troupe, troupe::atoms, generate_atom, "generate")
CAF_ADD_ATOM(troupe, troupe::atoms, verify_atom, "verify")
CAF_ADD_ATOM(troupe, troupe::atoms, prompt_atom, "prompt")
CAF_ADD_ATOM(troupe, troupe::atoms, group_atom, "group")
CAF_ADD_ATOM(troupe, troupe::atoms, scored_atom, "scored")
CAF_ADD_ATOM(troupe, troupe::atoms, batch_atom, "batch")
CAF_ADD_ATOM(troupe, troupe::atoms, weights_atom, "weights")
CAF_ADD_ATOM(troupe, troupe::atoms, done_atom, "done")
CAF_ADD_ATOM(troupe, troupe::atoms, lost_atom, "lost")
CAF_ADD_ATOM(troupe, troupe::atoms, decode_atom, "decode")
CAF_ADD_ATOM(troupe, troupe::atoms, tick_atom, "tick")
CAF_ADD_ATOM(troupe, troupe::atoms, stop_atom, "stop")
CAF_ADD_ATOM(troupe, troupe::atoms, train_atom, "train")
CAF_ADD_ATOM(troupe, troupe::atoms, stats_atom, "stats")
CAF_ADD_ATOM(troupe, troupe::atoms, env_atom, "env")
CAF_ADD_ATOM(troupe, troupe::atoms, worker_atom, "worker")

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::wire::Bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::BytesList)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::WeightSet)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::BatchAsk)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::LiveActors)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::PromptTicket)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::RuleVerdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<troupe::actors::RuleVerdict>)
