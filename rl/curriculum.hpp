// Curriculum: which task and difficulty level the next prompt comes from.
//
// Tasks are drawn by their mixture weight. Each task has a frontier level that
// starts at its minimum; a level's pass rate is the mean over its last `window`
// verdicts. When the frontier's pass rate passes `raise_above` (over a full
// window) the frontier moves up one level. A level that is always solved
// (> drop_above) or never solved (< drop_below) over a full window stops being
// sampled: it teaches nothing under group-relative advantages. Levels are drawn
// uniformly among the active ones up to the frontier. Memory is bounded by
// tasks x levels x window. Not thread-safe: owned by the controller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe::rl {

struct CurriculumOptions {
  bool enabled = true;      // Default: true; false samples levels uniformly in [min, max]
  int window = 64;          // Default: 64 verdicts per level
  double raise_above = 0.8; // Default: 0.8
  double drop_above = 0.99; // Default: 0.99
  double drop_below = 0.01; // Default: 0.01
};

struct CurriculumTask {
  std::string name;
  double weight = 1.0;
  int min_level = 1;
  int max_level = 1;
};

enum class LevelStatus { kActive, kMastered, kHopeless };

struct LevelState {
  std::vector<uint8_t> ring;  // last `window` verdicts (1 = passed)
  size_t next = 0;
  int64_t seen = 0;
  LevelStatus status = LevelStatus::kActive;
  double pass_rate() const;
  bool full(int window) const { return static_cast<int>(ring.size()) >= window; }
};

// Everything a curriculum has learned, for checkpoints: restoring it into a
// curriculum over the same tasks and levels continues exactly where it stopped.
struct CurriculumSnapshot {
  std::vector<int> frontier;                     // per task
  std::vector<std::vector<LevelState>> levels;   // [task][level - min_level]
  uint64_t rng_state = 0;
};

class Curriculum {
 public:
  Curriculum(CurriculumOptions options, std::vector<CurriculumTask> tasks, uint64_t seed);

  struct Pick {
    size_t task;  // index into the task list
    int level;
  };
  // The next prompt's task and level. Never empty: when every level of every task
  // has been dropped, it falls back to each task's frontier (and `exhausted()` says so).
  Pick next();
  void record(size_t task, int level, bool passed);

  int frontier(size_t task) const { return frontier_[task]; }
  const LevelState& level(size_t task, int level) const;
  const std::vector<CurriculumTask>& tasks() const { return tasks_; }
  bool exhausted() const { return exhausted_; }

  CurriculumSnapshot snapshot() const { return {frontier_, levels_, rng_state_}; }
  // Errors (returned as a message, empty on success): a snapshot of another task
  // list shape (task count, level count, frontier out of range, ring longer than the window).
  std::string restore(const CurriculumSnapshot& s);

 private:
  uint64_t next_random();
  double uniform() { return static_cast<double>(next_random() >> 11) * 0x1.0p-53; }
  bool sampleable(size_t task) const;

  CurriculumOptions options_;
  std::vector<CurriculumTask> tasks_;
  std::vector<int> frontier_;
  std::vector<std::vector<LevelState>> levels_;  // [task][level - min_level]
  uint64_t rng_state_;
  bool exhausted_ = false;
};

}  // namespace troupe::rl
