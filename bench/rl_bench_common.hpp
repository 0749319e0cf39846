// What the RL-loop benchmarks (rl_async_bench, mor_bench) share: the options of one timed run
// of the one-process loop on a fresh replay store, printing its progress every 10 s, and the
// process's peak RSS. Header-only; single-threaded use.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "actors/pipeline.hpp"

namespace troupe::bench {

inline long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// A run of `seconds` on a replay store at `replay` (removed first; its parent is created).
inline actors::PipelineOptions timed_run(const std::filesystem::path& replay, double seconds, int cpu_threads) {
  std::filesystem::remove_all(replay);
  std::error_code ec;
  std::filesystem::create_directories(replay.parent_path(), ec);
  actors::PipelineOptions po;
  po.replay_path = replay.string();
  po.max_seconds = seconds;
  po.cpu_threads = cpu_threads;
  po.progress_every_s = 10;
  po.on_progress = [](const actors::RunStatus& s, double t) {
    std::printf("    %4.0fs  v%-4llu %6.0f rollouts/s\n", t, static_cast<unsigned long long>(s.learner().version),
                static_cast<double>(s.rollouts.load()) / t);
    std::fflush(stdout);
  };
  return po;
}

}  // namespace troupe::bench
