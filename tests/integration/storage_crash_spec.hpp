// The rollout the crash writer stores for each rollout_id, shared by the writer
// process and the test that checks what survived: values of 2-32 KB across four
// tasks and groups of four, so a reader can regenerate and compare the bytes.
#pragma once

#include "storage/synthetic_rollouts.hpp"

namespace troupe::storage {

inline SyntheticSpec crash_spec(uint64_t rid) {
  static const char* kTasks[] = {"arith", "logic", "maze", "cipher"};
  SyntheticSpec s;
  s.rollout_id = rid;
  s.prompt_id = rid / 4;
  s.group_index = static_cast<int32_t>(rid % 4);
  s.task = kTasks[(rid / 4) % 4];
  s.policy_version = rid / 100;
  // response 700..11,000 bytes -> values of ~2-32 KB (about 3x the text, see SyntheticSpec)
  s.response_bytes = 700 + (rid * 7919) % 10300;
  s.correct = rid % 3 != 0;
  return s;
}

}  // namespace troupe::storage
