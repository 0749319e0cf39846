// troupe: the command line. Each subcommand lives in its own cli/<name>.cpp.
#include <algorithm>

#include "cli/command.hpp"

std::vector<troupe::cli::CommandEntry>& troupe::cli::command_registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}

int main(int argc, char** argv) {
  CLI::App app{"troupe: asynchronous actor-model reinforcement learning for language-model policies\n"
               "on verifiable reasoning tasks. Start with `troupe run configs/local.yaml`."};
  app.require_subcommand(1);
  int exit_code = 0;
  auto& commands = troupe::cli::command_registry();
  std::sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.order < b.order; });
  for (auto& c : commands) c.setup(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
