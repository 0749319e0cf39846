// The job `troupe run` and the head of `troupe node` run: validate the config, serve metrics, make
// (or load) a supervised warm start, measure it on held-out seeds, run the asynchronous RL loop for a
// bounded time, measure again, and write the before/after table to RUN_DIR/summary.json. The first
// SIGINT or SIGTERM stops the RL loop early (the learner writes its final checkpoint; the table is
// still printed); a second one ends the process at once.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace troupe::actors {
struct ClusterRole;
}

namespace troupe::cli {

struct JobArgs {
  std::string file;
  std::string run_dir;
  double max_minutes = -1;
  double warm_minutes = -1;
  int eval_cases = 200;
  bool fresh = false;
  bool resume = false;
  bool resume_if_checkpoint = false;  // resume when RUN_DIR holds a checkpoint, else start RL afresh
  // Cluster mode: this process is the head of a placement (null: every actor here).
  const actors::ClusterRole* cluster = nullptr;
  std::string metrics_listen;  // empty: the config's monitoring.listen
  bool write_targets = true;   // the launcher writes a cluster's Prometheus targets itself
};

// Returns the process exit code; errors are printed.
int run_job(const JobArgs& args);

// The options `troupe run` and `troupe node` share (FILE, --run-dir, --max-minutes, ...).
void add_job_options(CLI::App* cmd, JobArgs& args);

}  // namespace troupe::cli
