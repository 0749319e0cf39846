// Asynchronous vs synchronous RL on this machine, same config, same wall time.
//
// Starting from one warm-start checkpoint, runs the one-process RL loop for the
// same number of seconds with the config's staleness bound (asynchronous: policy
// workers keep sampling while the learner trains) and with max_staleness 0
// (synchronous: the next step's prompts wait for the learner's new version), each
// with one and with two kernel threads per heavy actor; the faster of each mode is
// compared. Every run uses a fresh replay store in a temporary directory. Prints rollouts/s, response tokens/s, learner steps/s and the
// held-out pass@1 each reached (greedy and at the rollout temperature), side by
// side with the ratio async/sync, then the peak RSS of the process. The
// synchronous run is the anchor, measured in the same run on the same machine.
// A third arm continues the warm start's supervised training (same demonstrations,
// same recipe, best validation checkpoint kept) for the same wall time: what the
// RL time would have bought with demonstrations instead of a verifier.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <fmt/core.h>
#include <iostream>

#include "actors/evaluation.hpp"
#include "actors/pipeline.hpp"
#include "actors/warm_start.hpp"
#include "bench/rl_bench_common.hpp"
#include "configs/schema.hpp"
#include "model/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using namespace troupe;

struct ModeResult {
  double seconds = 0;
  double rollouts_per_s = 0, tokens_per_s = 0, steps_per_s = 0;
  uint64_t version = 0;
  double greedy = 0, sampled = 0;
};

Result<ModeResult> run_mode(const configs::ExperimentConfig& config, const model::Transformer& warm,
                            const fs::path& replay, double seconds, int eval_cases, int cpu_threads, int workers) {
  actors::PipelineOptions po = bench::timed_run(replay, seconds, cpu_threads);
  po.policy_workers = workers;
  auto r = actors::run_pipeline(config, warm, nullptr, po);
  if (!r) return r.status();
  ModeResult m;
  m.seconds = r->seconds;
  m.rollouts_per_s = static_cast<double>(r->rollouts) / r->seconds;
  m.tokens_per_s = static_cast<double>(r->tokens) / r->seconds;
  m.steps_per_s = static_cast<double>(r->learner_steps) / r->seconds;
  m.version = r->policy.version();
  auto e = actors::evaluate_greedy_and_sampled(r->policy, config, eval_cases);
  if (!e) return e.status();
  m.greedy = e->mean_greedy();
  m.sampled = e->mean_sampled();
  fs::remove_all(replay);
  return m;
}

Result<ModeResult> run_supervised(const configs::ExperimentConfig& config, const model::Transformer& warm,
                                  double seconds, int eval_cases) {
  configs::ExperimentConfig c = config;
  c.warm_start.max_minutes = seconds / 60.0;
  c.warm_start.max_steps = 0;
  c.warm_start.patience = int64_t{1} << 40;  // the whole wall time, as the RL arms get
  c.warm_start.warmup_steps = 0;              // continuing, not starting
  auto copy = model::Transformer::create(warm.config(), 0);
  if (!copy) return copy.status();
  TROUPE_RETURN_IF_ERROR(copy->load_parameters(warm.parameters(), 0));
  auto t0 = std::chrono::steady_clock::now();
  auto ws = actors::warm_start(c, std::move(*copy), nullptr);
  if (!ws) return ws.status();
  ModeResult m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto e = actors::evaluate_greedy_and_sampled(ws->policy, config, eval_cases);
  if (!e) return e.status();
  m.greedy = e->mean_greedy();
  m.sampled = e->mean_sampled();
  m.version = static_cast<uint64_t>(ws->steps);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Asynchronous vs synchronous RL: the same config and warm start, the same wall time, side by side.\n"
      "Needs a warm-start checkpoint: `troupe run CONFIG` leaves one in RUN_DIR/warmstart."};
  std::string config_path = "configs/local.yaml";
  std::string warm_dir;
  double seconds = 120;
  int eval_cases = 400;
  int64_t staleness = -1;
  bool supervised_arm = true;
  int workers = 1;
  app.add_option("CONFIG", config_path, "experiment config (YAML)")->capture_default_str();
  app.add_option("--warm", warm_dir, "warm-start checkpoint directory (default: run.output_dir/warmstart)");
  app.add_option("--seconds", seconds, "wall time of each mode")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--eval-cases", eval_cases, "held-out cases per task for each pass@1")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--staleness", staleness, "max_staleness of the asynchronous mode (default: the config's, 2 if 0)");
  app.add_flag("!--no-supervised", supervised_arm, "skip the arm that continues supervised training instead");
  app.add_option("--workers", workers, "policy workers in every mode (each one kernel thread in the asynchronous mode)")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  CLI11_PARSE(app, argc, argv);

  auto loaded = configs::load_config(config_path);
  if (!loaded) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  configs::ExperimentConfig config = *loaded;
  if (warm_dir.empty()) {
    warm_dir = config.model.init_checkpoint.empty() ? (fs::path(config.run.output_dir) / "warmstart").string()
                                                    : config.model.init_checkpoint;
  }
  auto warm = model::load_checkpoint(warm_dir);
  if (!warm) {
    std::cerr << "no warm start to benchmark from: " << warm.status().message()
              << "\n(run `troupe run " << config_path << "` first, or pass --warm DIR)\n";
    return 1;
  }
  const int64_t async_staleness = staleness >= 0 ? staleness : (config.async.max_staleness > 0 ? config.async.max_staleness : 2);
  const fs::path tmp = fs::temp_directory_path() / fmt::format("troupe_rl_async_bench_{}", ::getpid());
  std::printf("RL loop, %s: %lld prompts x %lld, %s, %d policy worker(s), %.0f s per mode, pass@1 on %d held-out "
              "cases per task\n",
              config_path.c_str(), static_cast<long long>(config.algorithm.prompts_per_step),
              static_cast<long long>(config.algorithm.group_size), config.algorithm.objective.c_str(), workers,
              seconds, eval_cases);

  // Each mode runs with one and with two kernel threads per heavy actor, alternating modes so that
  // a drift in the machine's load falls on both; the faster of each mode is what the table compares.
  // (Asynchronously, one thread each gives the worker and the learner a core apiece; two each let
  // whichever has work use both. Synchronously the phases alternate, so two threads may help more.)
  std::optional<ModeResult> a, s;
  int async_threads = 1, sync_threads = 1;
  for (int threads : {1, 2}) {
    for (bool asynchronous : {true, false}) {
      config.async.max_staleness = asynchronous ? async_staleness : 0;
      std::printf("  %s (max_staleness %lld), %d kernel thread%s per actor\n",
                  asynchronous ? "asynchronous" : "synchronous", static_cast<long long>(config.async.max_staleness),
                  threads, threads > 1 ? "s" : "");
      auto r = run_mode(config, *warm, tmp / fmt::format("{}-{}", asynchronous ? "async" : "sync", threads), seconds,
                        eval_cases, threads, workers);
      if (!r) {
        std::cerr << (asynchronous ? "asynchronous" : "synchronous") << " run: " << r.status().message() << "\n";
        return 1;
      }
      std::printf("    -> %.0f rollouts/s\n", r->rollouts_per_s);
      auto& best = asynchronous ? a : s;
      if (!best || r->rollouts_per_s > best->rollouts_per_s) {
        best = *r;
        (asynchronous ? async_threads : sync_threads) = threads;
      }
    }
  }
  fs::remove_all(tmp);
  std::optional<ModeResult> sup;
  if (supervised_arm) {
    std::printf("  supervised training continued (the warm start's demonstrations)\n");
    auto r = run_supervised(config, *warm, seconds, eval_cases);
    if (!r) {
      std::cerr << "supervised arm: " << r.status().message() << "\n";
      return 1;
    }
    sup = *r;
  }
  auto w = actors::evaluate_greedy_and_sampled(*warm, config, eval_cases);
  if (!w) {
    std::cerr << "evaluating the warm start: " << w.status().message() << "\n";
    return 1;
  }

  auto ratio = [](double x, double y) { return y > 0 ? fmt::format("{:.2f}x", x / y) : std::string("-"); };
  std::printf("\n%-28s %14s %14s %8s\n", "", fmt::format("asynchronous/{}", async_threads).c_str(),
              fmt::format("synchronous/{}", sync_threads).c_str(), "ratio");
  std::printf("%-28s %14.0f %14.0f %8s\n", "rollouts/s", a->rollouts_per_s, s->rollouts_per_s,
              ratio(a->rollouts_per_s, s->rollouts_per_s).c_str());
  std::printf("%-28s %14.0f %14.0f %8s\n", "response tokens/s", a->tokens_per_s, s->tokens_per_s,
              ratio(a->tokens_per_s, s->tokens_per_s).c_str());
  std::printf("%-28s %14.3f %14.3f %8s\n", "learner steps/s", a->steps_per_s, s->steps_per_s,
              ratio(a->steps_per_s, s->steps_per_s).c_str());
  std::printf("%-28s %14llu %14llu\n", "policy version reached", static_cast<unsigned long long>(a->version),
              static_cast<unsigned long long>(s->version));
  std::printf("%-28s %13.1f%% %13.1f%% %+7.1f pts\n", "held-out pass@1 greedy", 100 * a->greedy, 100 * s->greedy,
              100 * (a->greedy - s->greedy));
  std::printf("%-28s %13.1f%% %13.1f%% %+7.1f pts\n",
              fmt::format("held-out pass@1 T={:.1f}", config.algorithm.temperature).c_str(), 100 * a->sampled,
              100 * s->sampled, 100 * (a->sampled - s->sampled));
  std::printf("\nheld-out pass@1 from the warm start (greedy / T=%.1f): warm start %.1f%% / %.1f%%\n",
              config.algorithm.temperature, 100 * w->mean_greedy(), 100 * w->mean_sampled());
  std::printf("  asynchronous RL, %.0f s:        %.1f%% / %.1f%%\n", seconds, 100 * a->greedy, 100 * a->sampled);
  std::printf("  synchronous RL, %.0f s:         %.1f%% / %.1f%%\n", seconds, 100 * s->greedy, 100 * s->sampled);
  if (sup) {
    std::printf("  more supervised training, %.0f s (%llu steps): %.1f%% / %.1f%%\n", sup->seconds,
                static_cast<unsigned long long>(sup->version), 100 * sup->greedy, 100 * sup->sampled);
  }
  std::printf("\npeak RSS %ld MiB\n", bench::peak_rss_mib());
  return 0;
}
