// What a run must remember, beside its policy checkpoint and its replay store, to
// continue after a stop or a crash: the controller's next prompt id (so resumed
// training never repeats a case seed) and the curriculum (frontiers and each
// level's recent verdicts). Written as RUN_DIR/checkpoint/run_state.json next to
// the policy it belongs to, by write-to-temporary-then-rename, so a crash leaves
// the previous file whole.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.hpp"
#include "rl/curriculum.hpp"

namespace troupe::actors {

struct ControllerSnapshot {
  uint64_t next_prompt_id = 1;
  rl::CurriculumSnapshot curriculum;
};

struct RunState {
  uint64_t version = 0;           // the policy version of the checkpoint beside it
  ControllerSnapshot controller;
};

// The file's name inside the checkpoint directory (its presence marks a checkpoint one can resume).
inline constexpr const char* kRunStateFile = "run_state.json";

[[nodiscard]] Status save_run_state(const std::string& dir, const RunState& state);
// Errors: the file is absent, not JSON, or misses a field (the message names the file and the field).
Result<RunState> load_run_state(const std::string& dir);

}  // namespace troupe::actors
