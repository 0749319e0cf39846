// `troupe replay`: the replay-store inspection command (verbs stats, ls, show,
// export, tail, verify; see replay_cmd.cpp). Declared here so tests can mount the
// same command on their own CLI::App with captured output streams.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>

namespace troupe::cli {

// Adds `replay` and its verbs to `root`; verbs write to `out`/`err` and store their
// exit status in `exit_code`. The streams must outlive `root`.
void add_replay_command(CLI::App& root, int& exit_code, std::ostream& out, std::ostream& err);

}  // namespace troupe::cli
