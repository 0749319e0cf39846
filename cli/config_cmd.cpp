// `troupe config check|show|schema`: validate an experiment config, print it with
// every default filled in, or list every key with its meaning.
#include <iostream>

#include "actors/placement.hpp"
#include "cli/command.hpp"
#include "configs/schema.hpp"

namespace troupe::cli {
namespace {

void setup(CLI::App& root, int& exit_code) {
  auto* config = root.add_subcommand("config", "Validate and print experiment configs");
  config->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  auto* check = config->add_subcommand(
      "check", "Validate FILE; on error print FILE:LINE:COLUMN, the key path and what was expected, exit 1");
  check->add_option("FILE", *file, "experiment config (YAML)")->required();
  check->callback([file, &exit_code] {
    auto c = configs::load_config(*file);
    if (!c) {
      std::cerr << c.status().message() << "\n";
      exit_code = 1;
      return;
    }
    if (!c->placement.hosts.empty()) {
      // Beyond each key's rules: the placement as a whole must make a runnable cluster.
      auto plan = actors::make_plan(*c);
      if (!plan) {
        std::cerr << *file << ": " << plan.status().message() << "\n";
        exit_code = 1;
        return;
      }
    }
    std::cout << *file << ": ok (" << c->tasks.size() << " tasks, objective " << c->algorithm.objective
              << ", max_staleness " << c->async.max_staleness;
    if (!c->placement.hosts.empty()) std::cout << "; " << c->placement.hosts.size() << " hosts: troupe launch runs it";
    std::cout << ")\n";
  });

  auto* show = config->add_subcommand("show", "Print FILE as YAML with every default filled in");
  show->add_option("FILE", *file, "experiment config (YAML)")->required();
  show->callback([file, &exit_code] {
    auto c = configs::load_config(*file);
    if (!c) {
      std::cerr << c.status().message() << "\n";
      exit_code = 1;
      return;
    }
    std::cout << configs::to_yaml(*c);
  });

  auto* schema = config->add_subcommand("schema", "List every config key with its type, default and meaning");
  schema->callback([] { std::cout << configs::describe_schema(); });
}

TROUPE_REGISTER_COMMAND("config", 20, setup);

}  // namespace
}  // namespace troupe::cli
