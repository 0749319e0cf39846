// `troupe eval`: pass@1 (and pass@k) of a checkpoint per task and level, on
// held-out cases (odd seeds, never used by `troupe sft`), as a table or JSON.
#include <iostream>

#include "cli/command.hpp"
#include "cli/task_examples.hpp"
#include "configs/schema.hpp"
#include "model/checkpoint.hpp"

namespace troupe::cli {
namespace {

struct EvalArgs {
  std::string checkpoint;
  std::string config;
  std::string tasks;
  std::string difficulty;
  EvalOptions options;
  bool json = false;
  std::string device = "auto";
};

int run_eval(EvalArgs a) {
  if (a.config.empty() == a.tasks.empty()) {
    std::cerr << "troupe eval: give exactly one of --config FILE or --tasks T1,T2\n";
    return 1;
  }
  Result<std::vector<TaskSpec>> specs = Status::invalid_argument("unset");
  if (!a.config.empty()) {
    auto cfg = configs::load_config(a.config);
    if (!cfg) {
      std::cerr << cfg.status().message() << "\n";
      return 1;
    }
    specs = task_specs(*cfg);
    if (specs && !a.difficulty.empty()) {  // --difficulty overrides the config's ranges
      auto levels = task_specs(specs->front().name, a.difficulty);
      if (!levels) {
        std::cerr << levels.status().message() << "\n";
        return 1;
      }
      for (auto& s : *specs) {
        s.min_level = levels->front().min_level;
        s.max_level = levels->front().max_level;
      }
    }
  } else {
    specs = task_specs(a.tasks, a.difficulty);
  }
  if (!specs) {
    std::cerr << specs.status().message() << "\n";
    return 1;
  }
  if (a.options.samples < 1 || a.options.n < 1) {
    std::cerr << "troupe eval: -n and --samples must be at least 1\n";
    return 1;
  }
  auto m = model::load_checkpoint(a.checkpoint);
  if (!m) {
    std::cerr << m.status().message() << "\n";
    return 1;
  }
  auto where = model::place_model(*m, a.device);
  if (!where) {
    std::cerr << where.status().with_context("--device").message() << "\n";
    return 1;
  }
  model::Sampler sampler(std::move(*m));
  auto scores = evaluate(sampler, *specs, a.options);
  if (!scores) {
    std::cerr << scores.status().message() << "\n";
    return 1;
  }
  std::cout << (a.json ? scores_json(*scores) + "\n" : format_scores(*scores));
  return 0;
}

void setup(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = root.add_subcommand("eval", "pass@1 / pass@k of a checkpoint on held-out cases of env tasks");
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json + model.safetensors)")->required();
  cmd->add_option("--config", a->config, "experiment config whose tasks and difficulty ranges to evaluate");
  cmd->add_option("--tasks", a->tasks, "comma-separated task names (instead of --config)");
  cmd->add_option("--difficulty", a->difficulty, "level (3) or range (1-4); default: the config's ranges, or 1");
  cmd->add_option("-n", a->options.n, "held-out cases per task and level (default 200)");
  cmd->add_option("--samples", a->options.samples, "responses per case: k of pass@k (default 1, greedy)");
  cmd->add_option("--temperature", a->options.temperature, "sampling temperature when --samples > 1 (default 1)");
  cmd->add_option("--max-new-tokens", a->options.max_new_tokens, "response length limit (default 96)");
  cmd->add_option("--seed", a->options.seed, "which held-out cases (default 1)");
  cmd->add_flag("--json", a->json, "print JSON instead of a table");
  cmd->add_option("--device", a->device, "auto (the GPU when one is visible), cuda or cpu (default auto)");
  cmd->callback([a, &exit_code] { exit_code = run_eval(*a); });
}

TROUPE_REGISTER_COMMAND("eval", 41, setup);

}  // namespace
}  // namespace troupe::cli
