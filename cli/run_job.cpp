// The job behind cli/run_job.hpp.
#include "cli/run_job.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "actors/evaluation.hpp"
#include "actors/pipeline.hpp"
#include "actors/placement.hpp"
#include "actors/run_state.hpp"
#include "actors/warm_start.hpp"
#include "cli/progress_line.hpp"
#include "configs/schema.hpp"
#include "model/checkpoint.hpp"
#include "monitoring/metrics.hpp"
#include "monitoring/scrape_targets.hpp"
#include "storage/replay_store.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> stop_requested{false};

extern "C" void on_job_signal(int sig) {
  stop_requested.store(true);
  std::signal(sig, SIG_DFL);  // a second one ends the process at once
}

// SIGINT and SIGTERM ask the RL loop to stop while this lives.
struct StopOnSignal {
  StopOnSignal() {
    std::signal(SIGINT, on_job_signal);
    std::signal(SIGTERM, on_job_signal);
  }
  ~StopOnSignal() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
};

// The warm start's and the RL loop's live lines (every update also in logs: they come every few seconds).
ProgressLine& progress() {
  static ProgressLine line(stdout, 0.0);
  return line;
}
void progress_line(const std::string& text) { progress().update(text); }
void end_progress() { progress().end(); }

}  // namespace

int run_job(const JobArgs& args) {
  auto loaded = configs::load_config(args.file);
  if (!loaded) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  const configs::ExperimentConfig& config = *loaded;
  if (!args.cluster && !config.placement.hosts.empty()) {
    std::cout << "note: " << args.file << " places actors on " << config.placement.hosts.size()
              << " hosts; `troupe run` runs them all in this process (`troupe launch` spreads them)\n";
  }
  const std::string run_dir = args.run_dir.empty() ? config.run.output_dir : args.run_dir;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) {
    std::cerr << "cannot create run directory \"" << run_dir << "\": " << ec.message() << "\n";
    return 1;
  }
  const fs::path replay_dir = fs::path(run_dir) / "replay";
  const fs::path checkpoint_dir = fs::path(run_dir) / "checkpoint";
  if (args.fresh) {
    for (const fs::path& gone : {replay_dir, fs::path(run_dir) / "warmstart", checkpoint_dir}) {
      fs::remove_all(gone, ec);
      if (ec) {
        std::cerr << "--fresh: cannot remove " << gone.string() << ": " << ec.message() << "\n";
        return 1;
      }
    }
  }
  std::optional<actors::RunState> resume;
  std::optional<model::Transformer> resumed_policy;
  const bool resuming =
      args.resume || (args.resume_if_checkpoint && fs::exists(checkpoint_dir / actors::kRunStateFile));
  if (resuming) {
    auto rs = actors::load_run_state(checkpoint_dir.string());
    if (!rs) {
      std::cerr << "cannot resume " << run_dir << ": " << rs.status().message() << "\n";
      return 1;
    }
    auto p = model::load_checkpoint(checkpoint_dir.string());
    if (!p) {
      std::cerr << "cannot resume " << run_dir << ": " << p.status().message() << "\n";
      return 1;
    }
    rs->version = p->version();  // the weights' own version is the one to continue from
    resume = std::move(*rs);
    resumed_policy = std::move(*p);
  } else if (fs::exists(replay_dir) || fs::exists(checkpoint_dir)) {
    // A new RL phase from the warm start; the earlier one is kept aside (never overwritten: a head that
    // a launcher restarts before its first checkpoint leaves one per incarnation), not mixed in.
    fs::path previous = fs::path(run_dir) / "previous";
    for (int n = 2; fs::exists(previous); ++n) previous = fs::path(run_dir) / ("previous-" + std::to_string(n));
    fs::create_directories(previous, ec);
    if (fs::exists(replay_dir)) fs::rename(replay_dir, previous / "replay", ec);
    if (!ec && fs::exists(checkpoint_dir)) fs::rename(checkpoint_dir, previous / "checkpoint", ec);
    if (ec) {
      std::cerr << "cannot move the earlier RL run in " << run_dir << " aside to " << previous.string() << ": "
                << ec.message() << " (pass --resume to continue it, or --fresh to discard it)\n";
      return 1;
    }
    std::cout << "the earlier RL run of " << run_dir << " was moved to " << previous.string()
              << " (--resume continues a run instead)\n";
  }

  monitoring::Metrics metrics(config.run.name);
  monitoring::ScrapeTargets targets;  // removed when the run ends
  if (config.monitoring.enabled) {
    Status s = metrics.serve(args.metrics_listen.empty() ? config.monitoring.listen : args.metrics_listen);
    if (!s) {
      spdlog::warn("{}; serving metrics on a free port instead", s.message());
      s = metrics.serve("127.0.0.1:0");
    }
    if (s) std::cout << "metrics: http://" << metrics.address() << "/metrics" << std::endl;
    if (s && args.write_targets && !config.monitoring.targets_dir.empty() &&
        fs::is_directory(config.monitoring.targets_dir, ec)) {
      s = targets.write(config.monitoring.targets_dir, config.run.name, {{metrics.address(), "local"}});
      if (s) std::cout << "prometheus targets: " << targets.path() << std::endl;
      if (!s) spdlog::warn("{}", s.message());
    }
  }
  std::cout << "run " << config.run.name << ": " << config.tasks.size() << " tasks, objective "
            << config.algorithm.objective << ", " << config.algorithm.prompts_per_step << " prompts x "
            << config.algorithm.group_size << " per step, max_staleness " << config.async.max_staleness
            << ", run directory " << run_dir << "\n";

  // ---- the warm start: given, kept from an earlier run, or trained now ----
  const std::string warm_dir = config.model.init_checkpoint.empty() ? (fs::path(run_dir) / "warmstart").string()
                                                                    : config.model.init_checkpoint;
  std::optional<model::Transformer> warm;
  if (fs::exists(fs::path(warm_dir) / "model.safetensors")) {
    auto w = model::load_checkpoint(warm_dir);
    if (!w) {
      std::cerr << w.status().message() << "\n";
      return 1;
    }
    std::cout << "warm start: loaded " << warm_dir << "\n";
    warm = std::move(*w);
  } else {
    auto init = model::Transformer::create(actors::policy_config(config), static_cast<uint64_t>(config.run.seed));
    if (!init) {
      std::cerr << init.status().message() << "\n";
      return 1;
    }
    configs::ExperimentConfig wc = config;
    if (args.warm_minutes >= 0) wc.warm_start.max_minutes = args.warm_minutes;
    std::cout << "warm start: supervised training for at most " << wc.warm_start.max_minutes
              << " min, until the held-out pass rate stops rising\n";
    auto ws = actors::warm_start(wc, std::move(*init), [](const actors::WarmStartProgress& p) {
      if (p.step % 10 != 0) return;
      char buf[256];
      std::snprintf(buf, sizeof buf, "  sft step %5lld  loss %.4f  %7.0f tok/s  held-out %s  best %s  %3.0f/%3.0fs",
                    static_cast<long long>(p.step), p.loss, p.tokens_per_second,
                    p.last_eval < 0 ? "  -  " : fmt::format("{:5.1f}%", 100 * p.last_eval).c_str(),
                    p.best_eval < 0 ? "  -  " : fmt::format("{:5.1f}%", 100 * p.best_eval).c_str(), p.elapsed_s,
                    p.budget_s);
      progress_line(buf);
    });
    end_progress();
    if (!ws) {
      std::cerr << ws.status().message() << "\n";
      return 1;
    }
    std::cout << "warm start: " << ws->steps << " steps in " << static_cast<int>(ws->seconds) << " s, best held-out "
              << fmt::format("{:.1f}%", 100 * ws->best_eval)
              << (ws->plateaued ? " (stopped: no longer rising)" : " (stopped: time bound)") << "\n";
    Status saved = model::save_checkpoint(warm_dir, ws->policy);
    if (!saved) spdlog::warn("could not save the warm start: {}", saved.message());
    warm = std::move(ws->policy);
  }

  std::cout << "measuring the warm start on held-out seeds...\n";
  auto before = actors::evaluate_greedy_and_sampled(*warm, config, args.eval_cases);
  if (!before) {
    std::cerr << before.status().message() << "\n";
    return 1;
  }

  // ---- online RL ----
  actors::PipelineOptions po;
  po.replay_path = replay_dir.string();
  po.checkpoint_dir = checkpoint_dir.string();
  po.resume = resume;
  if (resume) {
    std::cout << "resuming from " << po.checkpoint_dir << " at policy version " << resume->version << "\n";
  }
  po.max_seconds = args.max_minutes >= 0 ? args.max_minutes * 60 : (config.run.max_seconds > 0 ? config.run.max_seconds : 900);
  po.max_steps = static_cast<uint64_t>(config.run.max_steps);
  // Rates and the pass rate over the last progress interval; reward, staleness and
  // loss of the learner's last batch.
  po.on_progress = [last_t = 0.0, last_rollouts = uint64_t{0}, last_tokens = uint64_t{0}, last_scored = uint64_t{0},
                    last_passed = uint64_t{0}](const actors::RunStatus& s, double t) mutable {
    auto l = s.learner();
    // Remote policy workers count nothing here; the controller scores every group.
    const uint64_t rollouts = std::max(s.rollouts.load(), s.scored.load()), tokens = s.tokens.load(),
                   scored = s.scored.load(), passed = s.passed.load();
    const double dt = std::max(1e-9, t - last_t);
    const uint64_t window_scored = scored - last_scored;
    progress_line(fmt::format("  rl {:4.0f}s  v{:<4} {:6.0f} rollouts/s {:7.0f} tok/s  pass {:5.1f}%  reward {:.3f}  "
                              "staleness {:.2f}  loss {:+.4f}  stored {}",
                              t, l.version, static_cast<double>(rollouts - last_rollouts) / dt,
                              static_cast<double>(tokens - last_tokens) / dt,
                              window_scored ? 100.0 * static_cast<double>(passed - last_passed) / window_scored : 0.0,
                              l.mean_raw_reward, l.staleness_mean, l.loss, s.stored.load()));
    last_t = t;
    last_rollouts = rollouts;
    last_tokens = tokens;
    last_scored = scored;
    last_passed = passed;
  };
  po.cluster = args.cluster;
  po.stop_requested = &stop_requested;
  std::cout << "online RL for at most " << po.max_seconds << " s (replay: " << po.replay_path << ")"
            << (args.cluster ? " as the head of " + std::to_string(args.cluster->plan->nodes.size()) + " nodes" : "")
            << "; Ctrl-C stops it early, with a checkpoint\n";
  StopOnSignal on_signal;
  auto rl = actors::run_pipeline(config, resumed_policy ? *resumed_policy : *warm, &metrics, po);
  end_progress();
  if (!rl) {
    std::cerr << rl.status().message() << "\n";
    return 1;
  }
  if (stop_requested) std::cout << "stopped early by a signal\n";
  std::cout << "online RL: " << rl->learner_steps << " learner steps (policy version " << rl->policy.version()
            << "), " << rl->rollouts << " rollouts (" << static_cast<int>(rl->rollouts / std::max(1.0, rl->seconds))
            << "/s), " << rl->stored << " stored durably, in " << static_cast<int>(rl->seconds) << " s; "
            << rl->checkpoints << " checkpoints in " << po.checkpoint_dir
            << (rl->checkpoint_errors ? fmt::format(" ({} failed)", rl->checkpoint_errors) : std::string()) << "\n";

  auto after = actors::evaluate_greedy_and_sampled(rl->policy, config, args.eval_cases);
  if (!after) {
    std::cerr << after.status().message() << "\n";
    return 1;
  }

  // ---- the table and summary.json ----
  nlohmann::json summary;
  summary["config"] = args.file;
  summary["eval_cases_per_task"] = args.eval_cases;
  summary["rl_seconds"] = rl->seconds;
  summary["policy_version"] = rl->policy.version();
  summary["resumed_from_version"] = resume ? nlohmann::json(resume->version) : nlohmann::json(nullptr);
  summary["learner_steps"] = rl->learner_steps;
  summary["rollouts"] = rl->rollouts;
  summary["stored"] = rl->stored;
  std::printf("\nheld-out pass@1 (%d cases per task, seeds never trained on)\n", args.eval_cases);
  std::printf("%-34s %10s %10s %10s %10s\n", "task", "warm greedy", "RL greedy", "warm T", "RL T");
  for (size_t i = 0; i < config.tasks.size(); ++i) {
    const auto& name = config.tasks[i].name;
    std::printf("%-34s %9.1f%% %9.1f%% %9.1f%% %9.1f%%\n", name.c_str(), 100 * before->greedy[i].pass_rate(),
                100 * after->greedy[i].pass_rate(), 100 * before->sampled[i].pass_rate(),
                100 * after->sampled[i].pass_rate());
    summary["tasks"][name] = {{"warm_greedy", before->greedy[i].pass_rate()},
                              {"rl_greedy", after->greedy[i].pass_rate()},
                              {"warm_sampled", before->sampled[i].pass_rate()},
                              {"rl_sampled", after->sampled[i].pass_rate()}};
  }
  const double bg = actors::mean_pass_rate(before->greedy), ag = actors::mean_pass_rate(after->greedy);
  const double bs = actors::mean_pass_rate(before->sampled), as = actors::mean_pass_rate(after->sampled);
  std::printf("%-34s %9.1f%% %9.1f%% %9.1f%% %9.1f%%\n", "mean", 100 * bg, 100 * ag, 100 * bs, 100 * as);
  std::printf("(T = sampled at the rollout temperature %.2f)\n", config.algorithm.temperature);
  summary["mean"] = {{"warm_greedy", bg}, {"rl_greedy", ag}, {"warm_sampled", bs}, {"rl_sampled", as}};
  {
    const fs::path summary_path = fs::path(run_dir) / "summary.json";
    std::ofstream out(summary_path);
    out << summary.dump(2) << "\n";
    out.close();
    if (!out) {
      std::cerr << "cannot write " << summary_path.string() << "\n";
      return 1;
    }
    std::cout << "summary: " << summary_path.string() << "\n";
  }

  // The final checkpoint's row in the replay store's checkpoint index gets the held-out
  // figures (`troupe replay stats` lists them).
  auto index_final_checkpoint = [&]() -> Status {
    // The figures belong to the policy in memory; they go on the checkpoint's row only if the
    // directory holds that version (its last save may have failed).
    auto saved = actors::load_run_state(po.checkpoint_dir);
    if (!saved) return saved.status();
    if (saved->version != rl->policy.version()) {
      return Status::unavailable(fmt::format("{} holds version {}, the evaluated policy is version {}",
                                                     po.checkpoint_dir, saved->version, rl->policy.version()));
    }
    auto ro = actors::replay_options(config);
    if (!ro) return ro.status();
    auto store = storage::ReplayStore::open(po.replay_path, *ro);
    if (!store) return store.status();
    const nlohmann::json eval = {{"held_out_pass@1", summary["tasks"]},
                                 {"mean", summary["mean"]},
                                 {"eval_cases_per_task", args.eval_cases}};
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return (*store)->put_checkpoint({rl->policy.version(), po.checkpoint_dir, eval.dump(), uint64_t(now.count())});
  };
  if (rl->checkpoints > 0) {
    if (Status s = index_final_checkpoint(); !s) {
      std::cerr << "note: the checkpoint index was not updated: " << s.message() << "\n";
    }
  }
  return 0;
}

void add_job_options(CLI::App* cmd, JobArgs& a) {
  auto* args = &a;
  cmd->add_option("FILE", args->file, "experiment config (YAML), e.g. configs/local.yaml")->required();
  cmd->add_option("--run-dir", args->run_dir, "where the warm start, replay store, checkpoints and summary go "
                                              "(default: run.output_dir of the config)");
  cmd->add_option("--max-minutes", args->max_minutes, "bound of the online RL phase (default: run.max_seconds)");
  cmd->add_option("--warm-minutes", args->warm_minutes,
                  "bound of the supervised warm start when one must be trained (default: warm_start.max_minutes)");
  cmd->add_option("--eval-cases", args->eval_cases, "held-out cases per task for the before/after table")
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--fresh", args->fresh, "discard the run directory's warm start, replay and checkpoints first");
  cmd->add_flag("--resume", args->resume,
                "continue the run directory's RL phase from its last checkpoint and replay store (the policy "
                "version, optimizer state, prompt ids and curriculum continue); without it, an earlier RL phase "
                "is moved to RUN_DIR/previous and RL starts again from the warm start")
      ->excludes("--fresh");
  cmd->add_flag("--resume-if-checkpoint", args->resume_if_checkpoint,
                "resume as --resume does when RUN_DIR holds a checkpoint, else start the RL phase from the warm "
                "start (troupe launch restarts a head with it: the head decides on its own disk)")
      ->excludes("--fresh")
      ->excludes("--resume");
}

}  // namespace troupe::cli
