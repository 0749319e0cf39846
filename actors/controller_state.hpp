// The controller's bookkeeping, without an actor system: which prompt to issue
// next, how many may be in flight, and what each finished prompt taught the
// curriculum.
//
// Staleness control (AReaL-style admission): a prompt issued while the learner is
// at version v is trained on at version >= v, so at most
// (v + 1 + max_staleness) * prompts_per_step prompts may have been issued in total
// when the learner is at v. max_staleness = 0 is the synchronous mode: the next
// step's prompts are issued only once the learner has published the current step.
// Independently, at most `max_in_flight` prompts wait for sampling and scoring, so
// queues stay bounded. Prompts whose worker died are re-issued exactly once per
// loss (tracked by prompt id). Not thread-safe: owned by the controller actor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/run_state.hpp"
#include "configs/schema.hpp"
#include "rl/curriculum.hpp"

namespace troupe::actors {

struct PromptTicket {
  uint64_t prompt_id = 0;
  size_t task = 0;      // index in the config's task list
  std::string task_name;
  int level = 1;
  uint64_t seed = 0;    // the case generator's seed
  int attempt = 0;      // 0 first issue, 1 after one re-issue
};

class ControllerState {
 public:
  explicit ControllerState(const configs::ExperimentConfig& config);

  // The next prompt to issue, or nothing while admission or the in-flight bound says wait.
  std::optional<PromptTicket> next_prompt();
  // A prompt's group was scored: record each response's rule verdict for the curriculum.
  // Returns the finished prompt's ticket, or nothing for a prompt no longer in flight
  // (a late answer for one already given up on).
  std::optional<PromptTicket> prompt_done(uint64_t prompt_id, const std::vector<bool>& passed);
  // A prompt was lost (its worker died, a request timed out): returns the ticket to
  // re-issue, or nothing if it was already re-issued once (then it is dropped and counted).
  std::optional<PromptTicket> prompt_lost(uint64_t prompt_id);
  // The learner published `version`.
  void learner_version(uint64_t version) { learner_version_ = std::max(learner_version_, version); }

  uint64_t learner_version() const { return learner_version_; }
  uint64_t issued() const { return issued_; }
  uint64_t completed() const { return completed_; }
  uint64_t dropped() const { return dropped_; }
  size_t in_flight() const { return in_flight_.size(); }
  const rl::Curriculum& curriculum() const { return curriculum_; }

  // What a checkpoint keeps of this state, and restoring it on resume: the learner
  // is at `version`, prompt ids continue from the snapshot (so no case seed repeats),
  // the curriculum continues, and admission counts as if every earlier version's
  // prompts had been issued. Errors: a curriculum of another shape (message).
  ControllerSnapshot snapshot() const { return {next_id_, curriculum_.snapshot()}; }
  std::string restore(uint64_t version, const ControllerSnapshot& s);

 private:
  uint64_t admission_limit() const;

  rl::Curriculum curriculum_;
  std::vector<std::string> task_names_;
  uint64_t seed_base_;
  uint64_t prompts_per_step_;
  uint64_t max_staleness_;
  size_t max_in_flight_;
  uint64_t learner_version_ = 0;
  uint64_t next_id_ = 1;
  uint64_t issued_ = 0;      // distinct prompts issued that may still yield a group (re-issues and
                             // dropped prompts not counted)
  uint64_t completed_ = 0;
  uint64_t dropped_ = 0;
  std::map<uint64_t, PromptTicket> in_flight_;
};

// The seed of the i-th training case: far from the held-out evaluation seeds,
// which start at kEvalSeedBase, so training never sees an evaluation case.
inline constexpr uint64_t kEvalSeedBase = uint64_t{1} << 62;

}  // namespace troupe::actors
