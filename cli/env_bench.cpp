// `troupe env bench [--task T]`: placeholder filled in below.
#include "cli/env_bench.hpp"

namespace troupe::cli {
void add_env_bench(CLI::App& env, int& exit_code) {
  (void)env;
  (void)exit_code;
}
}  // namespace troupe::cli
