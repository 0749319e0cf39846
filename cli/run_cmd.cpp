// `troupe run FILE`: the default job (cli/run_job.hpp), every actor in this process.
#include "cli/command.hpp"
#include "cli/run_job.hpp"

namespace troupe::cli {
namespace {

void setup(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<JobArgs>();
  auto* cmd = root.add_subcommand(
      "run",
      "Run an experiment on this machine: supervised warm start (unless one exists), held-out evaluation,\n"
      "asynchronous online RL for a bounded time, evaluation again; writes RUN_DIR/summary.json");
  add_job_options(cmd, *args);
  cmd->callback([args, &exit_code] { exit_code = run_job(*args); });
}

TROUPE_REGISTER_COMMAND("run", 10, setup);

}  // namespace
}  // namespace troupe::cli
