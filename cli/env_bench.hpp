// `troupe env bench`: verification and generation throughput per task (see env_bench.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace troupe::cli {

// Adds the `bench` subcommand under `env`.
void add_env_bench(CLI::App& env, int& exit_code);

}  // namespace troupe::cli
