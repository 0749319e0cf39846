// How subcommands join the `troupe` command: each cli/<name>.cpp registers a
// setup function that adds its CLI11 subcommand, so main.cpp never changes when
// one is added. Registration happens during static initialisation (single-threaded).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace troupe::cli {

// Adds a subcommand to `root`. Its callback stores the process exit code in `exit_code`.
using CommandSetup = std::function<void(CLI::App& root, int& exit_code)>;

struct CommandEntry {
  std::string name;
  int order;  // position in `troupe --help`
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, int order, CommandSetup setup) {
    command_registry().push_back({std::move(name), order, std::move(setup)});
  }
};

}  // namespace troupe::cli

#define TROUPE_CLI_CONCAT2(a, b) a##b
#define TROUPE_CLI_CONCAT(a, b) TROUPE_CLI_CONCAT2(a, b)
#define TROUPE_REGISTER_COMMAND(name, order, fn) \
  static ::troupe::cli::CommandRegistrar TROUPE_CLI_CONCAT(troupe_command_, __LINE__)(name, order, fn)
