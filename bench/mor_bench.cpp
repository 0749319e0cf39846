// Mixture-of-Rewards vs rule-only rewards: does calling the reward models slow the RL loop?
//
// Runs the one-process RL loop of a Mixture-of-Rewards config (configs/mor.yaml by default)
// from one warm start for the same wall time in two arms, alternating them `--repeats` times so
// a drift in the machine's load falls on both:
//   rule-only  every task's recipe reduced to its rule sources (the anchor, measured here);
//   mixture    the config's recipes, the verifier and preference sources served by real
//              `troupe serve` processes on 127.0.0.1 (started and stopped by PID here).
// Prints rollouts/s and response tokens/s of each arm (the median over repeats), the ratio
// mixture / rule-only (the target is at least 0.80), how many reward components each
// source contributed (read back from the arm's replay store with `troupe replay stats --json`,
// so the mixture arm demonstrably called the models), and peak RSS of this process and of each
// server. The curriculum is off in both arms unless --curriculum (it would stop sampling a task
// that is always solved, and with it that task's reward model). Missing reward-model checkpoints are trained first with `troupe train` (short budget),
// a missing warm start with the config's supervised recipe.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "actors/pipeline.hpp"
#include "actors/warm_start.hpp"
#include "configs/schema.hpp"
#include "bench/rl_bench_common.hpp"
#include "model/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using namespace troupe;

// VmHWM of a live process, in MiB; -1 when unreadable.
long peak_rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

// Runs argv to completion (inheriting stdout/stderr); its exit status, or -1.
int run_to_end(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A `troupe serve` child process on 127.0.0.1, stopped by PID when destroyed.
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const std::string& checkpoint, const fs::path& dir) {
    auto s = std::unique_ptr<Server>(new Server);
    const std::string port_file = (dir / (fs::path(checkpoint).filename().string() + ".port")).string();
    fs::remove(port_file);
    const std::vector<std::string> args = {TROUPE_BIN, "serve", "--checkpoint", checkpoint, "--port", "0",
                                           "--port-file", port_file, "--cpu-threads", "1"};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    s->pid_ = fork();
    if (s->pid_ < 0) return Status::io_error("fork for troupe serve");
    if (s->pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, STDOUT_FILENO);  // its banner; errors still reach stderr
      execv(argv[0], argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      if (in >> s->port_ && s->port_ > 0) return s;
      int status = 0;
      if (waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
        s->pid_ = -1;
        return Status::unavailable("troupe serve --checkpoint " + checkpoint + " exited before listening");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Status::unavailable("troupe serve --checkpoint " + checkpoint + " did not listen within 60 s");
  }
  ~Server() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  Server() = default;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Arm {
  double rollouts_per_s = 0, tokens_per_s = 0, steps_per_s = 0;
  double step_seconds = 0;    // the learner's mean step time (sampled once a second)
  double groups_trained = 0;  // share of the groups served to the learner that it trained on
  std::map<std::string, uint64_t> components;  // source kind -> reward components stored
};

// Reward components per source in a replay store, from `troupe replay stats --json`.
Result<std::map<std::string, uint64_t>> components_by_source(const fs::path& replay) {
  const std::string cmd = std::string(TROUPE_BIN) + " replay stats " + replay.string() + " --json 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return Status::io_error("running " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (rc != 0 || !j.is_object() || !j.contains("reward_histograms")) {
    return Status::internal("`troupe replay stats " + replay.string() + " --json` gave no reward histograms");
  }
  std::map<std::string, uint64_t> counts;
  for (const auto& [source, hist] : j["reward_histograms"].items()) {
    uint64_t total = 0;
    for (const auto& [bucket, c] : hist.items()) total += c.get<uint64_t>();
    counts[source] = total;
  }
  return counts;
}

Result<Arm> run_arm(const configs::ExperimentConfig& config, const model::Transformer& warm, const fs::path& replay,
                    double seconds) {
  actors::PipelineOptions po = bench::timed_run(replay, seconds, 1);
  // Sample the learner's last step once a second (printing every tenth as before): how long its
  // steps take and how many of the groups it was served survived the filters (all-equal groups,
  // truncated or looping responses are dropped), which sets how much training a step holds.
  double step_sum = 0, used = 0, served = 0;
  int samples = 0;
  uint64_t last_version = 0;
  po.progress_every_s = 1;
  po.on_progress = [print = po.on_progress, &step_sum, &used, &served, &samples, &last_version](
                       const actors::RunStatus& s, double t) {
    const actors::LearnerSnapshot l = s.learner();
    if (l.version != last_version && l.groups > 0) {
      last_version = l.version;
      step_sum += l.step_seconds;
      used += static_cast<double>(l.groups_used);
      served += static_cast<double>(l.groups);
      ++samples;
    }
    if (static_cast<int>(t + 0.5) % 10 == 0) print(s, t);
  };
  auto r = actors::run_pipeline(config, warm, nullptr, po);
  if (!r) return r.status();
  Arm a;
  a.steps_per_s = static_cast<double>(r->learner_steps) / r->seconds;
  a.step_seconds = samples ? step_sum / samples : 0;
  a.groups_trained = served > 0 ? used / served : 0;
  a.rollouts_per_s = static_cast<double>(r->rollouts) / r->seconds;
  a.tokens_per_s = static_cast<double>(r->tokens) / r->seconds;
  auto counts = components_by_source(replay);
  if (!counts) return counts.status();
  a.components = std::move(*counts);
  fs::remove_all(replay);
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Mixture-of-Rewards vs rule-only rewards: rollouts/s of the same RL loop and warm start, side by side.\n"
      "The mixture arm's verifier and preference models run as `troupe serve` processes started here."};
  std::string config_path = "configs/mor.yaml";
  std::string warm_dir, verifier_dir, preference_dir;
  double seconds = 60, warm_minutes = 3, train_minutes = 2;
  int repeats = 2;
  bool curriculum = false, train_all = false;
  app.add_option("CONFIG", config_path, "Mixture-of-Rewards experiment config (YAML)")->capture_default_str();
  app.add_option("--warm", warm_dir, "warm-start checkpoint (default: run.output_dir/warmstart; trained if missing)");
  app.add_option("--verifier", verifier_dir, "verifier checkpoint (default: run.output_dir/verifier; trained if missing)");
  app.add_option("--preference", preference_dir,
                 "preference checkpoint (default: run.output_dir/preference; trained if missing)");
  app.add_option("--seconds", seconds, "wall time of each arm")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "runs of each arm, alternating; the medians are compared")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_option("--warm-minutes", warm_minutes, "budget of the warm start when it must be trained")
      ->capture_default_str();
  app.add_option("--train-minutes", train_minutes, "budget of each reward model when it must be trained")
      ->capture_default_str();
  app.add_flag("--curriculum", curriculum,
               "keep the config's curriculum (by default it is off in both arms, so every task is sampled at its "
               "mixture weight and each source is called as often as the config's mix implies)");
  app.add_flag("--train-all-groups", train_all,
               "train on every group in both arms (drop_equal_groups off): the mixture's graded rewards leave fewer "
               "groups all-equal than pass/fail rules, so by default its learner trains on more per step; this "
               "isolates what serving the reward models costs");
  CLI11_PARSE(app, argc, argv);

  auto loaded = configs::load_config(config_path);
  if (!loaded) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  const configs::ExperimentConfig config = *loaded;
  const fs::path out = config.run.output_dir;
  if (warm_dir.empty()) {
    warm_dir = config.model.init_checkpoint.empty() ? (out / "warmstart").string() : config.model.init_checkpoint;
  }
  if (verifier_dir.empty()) verifier_dir = (out / "verifier").string();
  if (preference_dir.empty()) preference_dir = (out / "preference").string();

  // ---- what the arms need: reward models and a warm start ----
  for (const auto& [kind, dir] : {std::pair<std::string, std::string>{"verifier", verifier_dir},
                                  std::pair<std::string, std::string>{"preference", preference_dir}}) {
    if (fs::exists(fs::path(dir) / "model.safetensors")) continue;
    std::printf("training the %s model (%.1f min) into %s\n", kind.c_str(), train_minutes, dir.c_str());
    std::fflush(stdout);
    if (run_to_end({TROUPE_BIN, "train", kind, "--out", dir, "--max-minutes", fmt::format("{}", train_minutes)}) != 0) {
      std::cerr << "`troupe train " << kind << "` failed\n";
      return 1;
    }
  }
  std::optional<model::Transformer> warm;
  if (auto w = model::load_checkpoint(warm_dir)) {
    warm = std::move(*w);
  } else {
    std::printf("no warm start in %s: supervised training for at most %.1f min\n", warm_dir.c_str(), warm_minutes);
    std::fflush(stdout);
    configs::ExperimentConfig wc = config;
    wc.warm_start.max_minutes = warm_minutes;
    model::ModelConfig mc;
    mc.d_model = static_cast<int>(config.model.d_model);
    mc.n_layers = static_cast<int>(config.model.n_layers);
    mc.n_heads = static_cast<int>(config.model.n_heads);
    mc.context = static_cast<int>(config.model.context);
    auto init = model::Transformer::create(mc, static_cast<uint64_t>(config.run.seed));
    if (!init) {
      std::cerr << init.status().message() << "\n";
      return 1;
    }
    auto ws = actors::warm_start(wc, std::move(*init), nullptr);
    if (!ws) {
      std::cerr << "warm start: " << ws.status().message() << "\n";
      return 1;
    }
    if (Status s = model::save_checkpoint(warm_dir, ws->policy); !s) {
      std::cerr << "note: the warm start was not saved: " << s.message() << "\n";
    }
    warm = std::move(ws->policy);
  }

  const fs::path tmp = fs::temp_directory_path() / fmt::format("troupe_mor_bench_{}", ::getpid());
  std::error_code ec;
  fs::create_directories(tmp, ec);
  auto verifier = Server::start(verifier_dir, tmp);
  auto preference = verifier ? Server::start(preference_dir, tmp) : Result<std::unique_ptr<Server>>(verifier.status());
  if (!verifier || !preference) {
    std::cerr << (verifier ? preference.status() : verifier.status()).message() << "\n";
    fs::remove_all(tmp);
    return 1;
  }

  // The two arms' configs: the same run, the mixture pointed at our servers, the anchor rule-only.
  configs::ExperimentConfig mixture = config, rule_only = config;
  if (!curriculum) mixture.curriculum.enabled = rule_only.curriculum.enabled = false;
  if (train_all) mixture.algorithm.drop_equal_groups = rule_only.algorithm.drop_equal_groups = false;
  auto point = [&](configs::RewardRecipe& r) {
    for (auto& s : r.sources) {
      if (s.kind == "verifier") s.endpoint = (*verifier)->url();
      if (s.kind == "preference") s.endpoint = (*preference)->url();
    }
  };
  auto rules = [](configs::RewardRecipe& r) {
    std::vector<configs::RewardSourceConfig> kept;
    for (const auto& s : r.sources) {
      if (s.kind == "rule") kept.push_back(s);
    }
    r.sources = kept.empty() ? std::vector<configs::RewardSourceConfig>{configs::RewardSourceConfig{}} : kept;
    r.sources.front().weight = 1.0;
    r.fallback.clear();
    r.rule_fails_without_answer = false;
  };
  point(mixture.rewards.default_recipe);
  for (auto& [task, r] : mixture.rewards.per_task) point(r);
  rules(rule_only.rewards.default_recipe);
  for (auto& [task, r] : rule_only.rewards.per_task) rules(r);

  std::printf("Mixture-of-Rewards vs rule-only, %s: %lld prompts x %lld, %.0f s per arm, %d repeat(s), "
              "verifier on %s, preference on %s\n",
              config_path.c_str(), static_cast<long long>(config.algorithm.prompts_per_step),
              static_cast<long long>(config.algorithm.group_size), seconds, repeats, (*verifier)->url().c_str(),
              (*preference)->url().c_str());
  std::vector<double> rule_rps, mix_rps, rule_tps, mix_tps, rule_sps, mix_sps, rule_step, mix_step, rule_used,
      mix_used;
  std::map<std::string, uint64_t> rule_components, mix_components;
  for (int rep = 0; rep < repeats; ++rep) {
    for (bool mixed : {false, true}) {
      std::printf("  %s, run %d\n", mixed ? "mixture" : "rule-only", rep + 1);
      std::fflush(stdout);
      auto a = run_arm(mixed ? mixture : rule_only, *warm, tmp / (mixed ? "mix" : "rule"), seconds);
      if (!a) {
        std::cerr << (mixed ? "mixture" : "rule-only") << " arm: " << a.status().message() << "\n";
        fs::remove_all(tmp);
        return 1;
      }
      std::printf("    -> %.0f rollouts/s\n", a->rollouts_per_s);
      (mixed ? mix_rps : rule_rps).push_back(a->rollouts_per_s);
      (mixed ? mix_tps : rule_tps).push_back(a->tokens_per_s);
      (mixed ? mix_sps : rule_sps).push_back(a->steps_per_s);
      (mixed ? mix_step : rule_step).push_back(a->step_seconds);
      (mixed ? mix_used : rule_used).push_back(a->groups_trained);
      for (const auto& [source, n] : a->components) (mixed ? mix_components : rule_components)[source] += n;
    }
  }
  const long verifier_rss = peak_rss_mib((*verifier)->pid()), preference_rss = peak_rss_mib((*preference)->pid());
  verifier->reset();
  preference->reset();
  fs::remove_all(tmp);

  const double rr = median(rule_rps), mr = median(mix_rps), rt = median(rule_tps), mt = median(mix_tps);
  auto ratio = [](double x, double y) { return y > 0 ? fmt::format("{:.2f}x", x / y) : std::string("-"); };
  std::printf("\n%-32s %12s %12s %8s\n", "", "mixture", "rule-only", "ratio");
  std::printf("%-32s %12.0f %12.0f %8s\n", "rollouts/s (median)", mr, rr, ratio(mr, rr).c_str());
  std::printf("%-32s %12.0f %12.0f %8s\n", "response tokens/s (median)", mt, rt, ratio(mt, rt).c_str());
  const double ms = median(mix_sps), rs = median(rule_sps), mst = median(mix_step), rst = median(rule_step);
  std::printf("%-32s %12.3f %12.3f %8s\n", "learner steps/s (median)", ms, rs, ratio(ms, rs).c_str());
  std::printf("%-32s %12.2f %12.2f %8s\n", "learner step seconds (median)", mst, rst, ratio(mst, rst).c_str());
  std::printf("%-32s %11.0f%% %11.0f%%\n", "groups trained on (median)", 100 * median(mix_used),
              100 * median(rule_used));
  for (const char* source : {"rule", "verifier", "preference"}) {
    std::printf("%-32s %12llu %12llu\n", fmt::format("{} components stored", source).c_str(),
                static_cast<unsigned long long>(mix_components[source]),
                static_cast<unsigned long long>(rule_components[source]));
  }
  std::printf("runs per arm: mixture");
  for (double x : mix_rps) std::printf(" %.0f", x);
  std::printf("; rule-only");
  for (double x : rule_rps) std::printf(" %.0f", x);
  std::printf(" rollouts/s\n");
  std::printf("peak RSS: this process %ld MiB, verifier server %ld MiB, preference server %ld MiB\n",
              bench::peak_rss_mib(), verifier_rss, preference_rss);
  return 0;
}
