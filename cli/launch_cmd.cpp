// `troupe launch FILE`: a cluster run from a placement. Validates the config, prints the plan
// (`--dry-run` stops there), starts one `troupe node` per host (a local child process, or over ssh),
// prefixes each node's output with its name, writes the Prometheus targets of every node, restarts a
// node that dies (with backoff; the head is restarted with --resume once it has a checkpoint), and
// stops everything on Ctrl-C: the first asks the head to stop early (it checkpoints, evaluates and
// stops the others), a second kills every node at once. `--emit slurm` writes an sbatch script that
// starts the same nodes under Slurm instead.
//
// Local children are started in their own process group with PR_SET_PDEATHSIG, so they die with
// the launcher even if it is killed; every child is waited for by PID before the launcher exits.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "actors/placement.hpp"
#include "cli/command.hpp"
#include "configs/schema.hpp"
#include "monitoring/scrape_targets.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<int> interrupts{0};
extern "C" void on_launch_signal(int) { interrupts.fetch_add(1); }

struct LaunchArgs {
  std::string file;
  std::string run_dir;
  double max_minutes = -1;
  double warm_minutes = -1;
  int eval_cases = -1;
  bool dry_run = false;
  bool resume = false;
  bool fresh = false;
  std::string emit;
  std::string out;
  int max_restarts = 10;
  std::string remote_troupe = "troupe";
};

std::mutex print_mu;

void say(const std::string& line) {
  std::lock_guard lk(print_mu);
  std::cout << "[launch] " << line << std::endl;
}

// Copies a child's output to ours, a line at a time, each prefixed with the node's name.
void pump(int fd, std::string node) {
  std::string pending;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (pending[i] != '\n' && pending[i] != '\r') continue;
      if (i > start) {
        std::lock_guard lk(print_mu);
        std::cout << "[" << node << "] " << std::string_view(pending).substr(start, i - start) << "\n";
        std::cout.flush();
      }
      start = i + 1;
    }
    pending.erase(0, start);
    if (pending.size() > (1 << 16)) pending.clear();  // a line without end: bound what we hold
  }
  if (!pending.empty()) {
    std::lock_guard lk(print_mu);
    std::cout << "[" << node << "] " << pending << std::endl;
  }
  ::close(fd);
}

struct Child {
  std::string node;
  bool head = false;
  const actors::NodePlan* plan = nullptr;
  pid_t pid = -1;
  std::thread reader;
  int starts = 0;
  Clock::time_point restart_at{};
  bool done = false;  // exited and not to be restarted
  int exit_code = 0;
  int control_fd = -1;  // ssh nodes: the write end of the remote node's stdin (see ask_to_stop)
};

// Asks a node to stop as SIGTERM does. A local node gets SIGTERM; signals do not cross ssh (the
// ssh client would die and the remote node run on), so an ssh node is told "stop" on its stdin,
// which `troupe node --stdin-control` watches (EOF counts too: a launcher that died stops it).
void ask_to_stop(Child& c) {
  if (c.pid <= 0) return;
  if (c.control_fd < 0) {
    ::kill(c.pid, SIGTERM);
    return;
  }
  static const char kStop[] = "stop\n";
  if (::write(c.control_fd, kStop, sizeof kStop - 1) < 0) ::kill(c.pid, SIGTERM);
  ::close(c.control_fd);
  c.control_fd = -1;
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("troupe") : p.string();
}

std::string random_token() {
  std::random_device rd;
  std::string t;
  static const char* kHex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) t += kHex[rd() % 16];
  return t;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// How a node process starts: its first start follows the launch's own --resume/--fresh; a restart
// never discards anything and lets the head resume from a checkpoint if its own disk holds one.
enum class Start { first, restart };

// The `troupe node` arguments (after the program name) for `node`.
std::vector<std::string> node_args(const LaunchArgs& a, const std::string& node, Start start, bool ssh) {
  std::vector<std::string> v = {"node", a.file, "--node", node};
  if (ssh) v.push_back("--stdin-control");
  if (!a.run_dir.empty()) v.insert(v.end(), {"--run-dir", a.run_dir});
  if (a.max_minutes >= 0) v.insert(v.end(), {"--max-minutes", std::to_string(a.max_minutes)});
  if (a.warm_minutes >= 0) v.insert(v.end(), {"--warm-minutes", std::to_string(a.warm_minutes)});
  if (a.eval_cases > 0) v.insert(v.end(), {"--eval-cases", std::to_string(a.eval_cases)});
  if (start == Start::restart) {
    v.push_back("--resume-if-checkpoint");
  } else if (a.resume) {
    v.push_back("--resume");
  } else if (a.fresh) {
    v.push_back("--fresh");
  }
  return v;
}

// Starts a node: a local child, or ssh to its host. Returns the pid, or -1 (printed).
pid_t spawn(Child& c, const LaunchArgs& a, const configs::ExperimentConfig& config, const std::string& token,
            Start start) {
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) {
    say("cannot start " + c.node + ": pipe: " + std::strerror(errno));
    return -1;
  }
  const bool ssh = c.plan->host.via == "ssh";
  std::vector<std::string> argv;
  if (ssh) {
    std::string remote = "read -r T && export " + config.placement.token_env + "=\"$T\" && exec " +
                         shell_quote(a.remote_troupe);
    for (const auto& s : node_args(a, c.node, start, true)) remote += " " + shell_quote(s);
    argv = {"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", c.plan->host.ssh_target, remote};
  } else {
    argv = {self_exe()};
    for (auto& s : node_args(a, c.node, start, false)) argv.push_back(s);
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // The child: its own process group (the terminal's Ctrl-C goes to the launcher, which decides),
    // and it dies with the launcher.
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);  // the launcher ignores it; an ignored signal would stay so across exec
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::dup2(in[0], 0);
    if (!ssh) ::setenv(config.placement.token_env.c_str(), token.c_str(), 1);
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(in[0]);
  if (pid < 0) {
    say("cannot start " + c.node + ": fork: " + std::strerror(errno));
    ::close(out[0]);
    ::close(in[1]);
    return -1;
  }
  if (c.control_fd >= 0) ::close(c.control_fd);  // an earlier incarnation's
  c.control_fd = -1;
  if (ssh) {
    std::string line = token + "\n";
    if (::write(in[1], line.data(), line.size()) < 0) say("cannot hand " + c.node + " the token");
    c.control_fd = in[1];  // kept open: the node stops when told "stop" or at EOF
  } else {
    ::close(in[1]);
  }
  if (c.reader.joinable()) c.reader.join();
  c.reader = std::thread(pump, out[0], c.node);
  ++c.starts;
  say("started " + c.node + (c.head ? " (head)" : "") + " pid " + std::to_string(pid) +
      (ssh ? " via ssh " + c.plan->host.ssh_target : "") +
      (start == Start::restart ? (c.head ? " (resumes if it holds a checkpoint)" : "") : a.resume ? " --resume" : ""));
  return pid;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

int emit_slurm(const LaunchArgs& a, const configs::ExperimentConfig& config, const actors::ClusterPlan& plan) {
  const std::string out = a.out.empty() ? config.run.name + ".sbatch" : a.out;
  size_t gpus = 0;
  for (const auto& n : plan.nodes) gpus = std::max(gpus, n.host.gpus.size());
  std::string nodes;
  for (const auto& n : plan.nodes) nodes += (nodes.empty() ? "" : " ") + n.node;
  // What each Slurm task runs: its node is the placement host at its SLURM_PROCID, and the
  // placement's addresses become the hosts Slurm allocated, in the same order.
  std::string task = "nodes=($TROUPE_NODES); exec \"$TROUPE\" node " + shell_quote(a.file) +
                     " --node \"${nodes[$SLURM_PROCID]}\" --host-addresses \"$TROUPE_HOSTS\"";
  if (!a.run_dir.empty()) task += " --run-dir " + shell_quote(a.run_dir);
  if (a.max_minutes >= 0) task += " --max-minutes " + std::to_string(a.max_minutes);
  if (a.warm_minutes >= 0) task += " --warm-minutes " + std::to_string(a.warm_minutes);
  if (a.resume) task += " --resume";
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Generated by `troupe launch " << a.file << " --emit slurm`: one troupe node per allocated host, in\n"
    << "# placement order (Slurm's first host runs the placement's first host, ...), each listening on the\n"
    << "# address Slurm gave its host and the placement's ports. Submit with: sbatch " << out << "\n"
    << "#SBATCH --job-name=troupe-" << config.run.name << "\n"
    << "#SBATCH --nodes=" << plan.nodes.size() << "\n"
    << "#SBATCH --ntasks=" << plan.nodes.size() << "\n"
    << "#SBATCH --ntasks-per-node=1\n";
  if (gpus > 0) s << "#SBATCH --gpus-per-node=" << gpus << "\n";
  s << "#SBATCH --output=troupe-" << config.run.name << "-%j.out\n"
    << "set -euo pipefail\n"
    << "# The cluster's shared secret: kept from the submitting shell, or made for this job.\n"
    << "export " << config.placement.token_env << "=\"${" << config.placement.token_env
    << ":-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')}\"\n"
    << "export TROUPE=\"${TROUPE:-" << a.remote_troupe << "}\"\n"
    << "export TROUPE_NODES=" << shell_quote(nodes) << "\n"
    << "export TROUPE_HOSTS=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | paste -sd, -)\"\n"
    << "srun --kill-on-bad-exit=0 bash -c " << shell_quote(task) << "\n";
  std::ofstream f(out);
  f << s.str();
  f.close();
  if (!f) {
    std::cerr << "cannot write " << out << "\n";
    return 1;
  }
  fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  std::cout << "wrote " << out << ": `sbatch " << out << "` starts the " << plan.nodes.size() << " nodes\n";
  return 0;
}

int launch(const LaunchArgs& a) {
  auto loaded = configs::load_config(a.file);
  if (!loaded) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  const configs::ExperimentConfig& config = *loaded;
  auto plan = actors::make_plan(config);
  if (!plan) {
    std::cerr << a.file << ": " << plan.status().message() << "\n";
    return 1;
  }
  std::cout << actors::describe(*plan, config);
  if (!a.emit.empty()) {
    if (a.emit != "slurm") {
      std::cerr << "--emit: unknown scheduler \"" << a.emit << "\"; known: slurm\n";
      return 1;
    }
    return emit_slurm(a, config, *plan);
  }
  if (a.dry_run) return 0;

  std::string token;
  if (const char* t = std::getenv(config.placement.token_env.c_str()); t != nullptr && *t != '\0') {
    token = t;
  } else {
    token = random_token();
    say("no " + config.placement.token_env + " in the environment: this run uses a fresh random token");
  }
  const std::string run_dir = a.run_dir.empty() ? config.run.output_dir : a.run_dir;
  monitoring::ScrapeTargets targets;
  if (config.monitoring.enabled && !config.monitoring.targets_dir.empty() &&
      fs::is_directory(config.monitoring.targets_dir)) {
    std::vector<monitoring::ScrapeTarget> list;
    for (const auto& n : plan->nodes) {
      list.push_back({n.host.address + ":" + std::to_string(n.host.metrics_port), n.node});
    }
    Status s = targets.write(config.monitoring.targets_dir, config.run.name, list);
    say(s ? "prometheus targets: " + targets.path() : s.message());
  }
  for (const auto& n : plan->nodes) {
    say("metrics of " + n.node + ": http://" + n.host.address + ":" + std::to_string(n.host.metrics_port) + "/metrics");
  }

  std::signal(SIGINT, on_launch_signal);
  std::signal(SIGTERM, on_launch_signal);
  std::signal(SIGPIPE, SIG_IGN);  // "stop" to an ssh node whose connection is gone fails, not kills us
  std::vector<Child> children(plan->nodes.size());
  for (size_t i = 0; i < plan->nodes.size(); ++i) {
    children[i].node = plan->nodes[i].node;
    children[i].plan = &plan->nodes[i];
    children[i].head = plan->nodes[i].node == plan->head;
  }
  for (auto& c : children) c.pid = spawn(c, a, config, token, Start::first);

  int exit_code = 0;
  bool head_finished = false;
  int handled_interrupts = 0;
  Clock::time_point wind_down{};  // when the members must be gone after the head finished
  bool termed = false, killed = false;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int seen = interrupts.load();
    if (seen > handled_interrupts) {
      handled_interrupts = seen;
      if (seen == 1) {
        say("interrupted: asking the head to stop early (it checkpoints and stops the others); "
            "Ctrl-C again to kill every node");
        for (auto& c : children) {
          if (c.head) ask_to_stop(c);
        }
        bool head_running = false;
        for (auto& c : children) head_running |= c.head && c.pid > 0;
        if (!head_running) {
          for (auto& c : children) {
            ask_to_stop(c);
          }
        }
      } else {
        say("killing every node");
        for (auto& c : children) {
          if (c.pid > 0) ::kill(c.pid, SIGKILL);
        }
        exit_code = 130;
        killed = true;
      }
    }
    for (auto& c : children) {
      if (c.pid <= 0) continue;
      int status = 0;
      pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r != c.pid) continue;
      c.pid = -1;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      say(c.node + " " + describe_exit(status));
      if (c.head && (ok || interrupts.load() > 0)) {
        head_finished = true;
        exit_code = killed ? 130 : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        c.done = true;
        wind_down = Clock::now() + std::chrono::seconds(15);
        continue;
      }
      if (head_finished || interrupts.load() > 0 || (!c.head && ok)) {
        c.done = true;  // a member exits 0 only when the head told it to stop
        continue;
      }
      if (c.starts > a.max_restarts) {
        say(c.node + " restarted " + std::to_string(a.max_restarts) + " times; giving up on it");
        c.done = true;
        if (c.head) {
          exit_code = 1;
          head_finished = true;
          wind_down = Clock::now();
        }
        continue;
      }
      const auto backoff = std::chrono::seconds(std::min(30, 1 << std::min(c.starts - 1, 5)));
      c.restart_at = Clock::now() + backoff;
      say("restarting " + c.node + " in " + std::to_string(backoff.count()) + " s");
    }
    // Restarts that are due.
    for (auto& c : children) {
      if (c.pid > 0 || c.done || head_finished || interrupts.load() > 0) continue;
      if (c.restart_at == Clock::time_point{} || Clock::now() < c.restart_at) continue;
      c.restart_at = {};
      // The head continues from its last checkpoint; without one it starts the RL phase again.
      c.pid = spawn(c, a, config, token, Start::restart);
      if (c.pid < 0) c.done = true;
    }
    bool any = false;
    for (auto& c : children) any |= c.pid > 0;
    if (!any && (head_finished || interrupts.load() > 0 || killed)) break;
    if (!any) {
      bool pending = false;
      for (auto& c : children) pending |= !c.done;
      if (!pending) break;
    }
    if (head_finished && any && Clock::now() >= wind_down) {
      // The head told the members to stop; those still here are asked, then made to.
      for (auto& c : children) {
        if (termed) {
          if (c.pid > 0) ::kill(c.pid, SIGKILL);
        } else {
          ask_to_stop(c);
        }
      }
      if (!termed) say("stopping the nodes still running");
      termed = true;
      wind_down = Clock::now() + std::chrono::seconds(5);
    }
  }
  for (auto& c : children) {
    if (c.reader.joinable()) c.reader.join();
    if (c.control_fd >= 0) ::close(c.control_fd);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  say(exit_code == 0 ? "the run finished" : "the run ended with code " + std::to_string(exit_code));
  return exit_code;
}

void setup(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<LaunchArgs>();
  auto* cmd = root.add_subcommand(
      "launch",
      "Run a config's placement as a cluster: one `troupe node` per host (local child processes, or ssh\n"
      "for `via: ssh` hosts), their output prefixed with the node name, Prometheus targets for every\n"
      "node, dead nodes restarted with backoff (the head resumes from its last checkpoint), Ctrl-C to\n"
      "stop (the head checkpoints and evaluates; twice kills everything). configs/cluster-local.yaml runs\n"
      "three nodes on this machine.");
  cmd->add_option("FILE", args->file, "experiment config with a placement, e.g. configs/cluster-local.yaml")
      ->required();
  cmd->add_flag("--dry-run", args->dry_run, "print the plan (which actors on which node) and stop");
  cmd->add_option("--run-dir", args->run_dir, "the head's run directory (default: run.output_dir)");
  cmd->add_option("--max-minutes", args->max_minutes, "bound of the online RL phase (default: run.max_seconds)");
  cmd->add_option("--warm-minutes", args->warm_minutes, "bound of the warm start when the head must train one");
  cmd->add_option("--eval-cases", args->eval_cases, "held-out cases per task for the before/after table");
  cmd->add_flag("--resume", args->resume, "continue the run from its last checkpoint and replay store");
  cmd->add_flag("--fresh", args->fresh, "discard the run directory's warm start, replay and checkpoints first")
      ->excludes("--resume");
  cmd->add_option("--max-restarts", args->max_restarts, "restarts of one node before the launcher gives up on it")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--emit", args->emit, "write a batch-scheduler script instead of starting nodes: slurm");
  cmd->add_option("--out", args->out, "where --emit writes (default: RUN_NAME.sbatch)");
  cmd->add_option("--remote-troupe", args->remote_troupe,
                  "the troupe binary on ssh hosts and under Slurm (default: troupe on their PATH); the config "
                  "file must exist at the same path there");
  cmd->callback([args, &exit_code] { exit_code = launch(*args); });
}

TROUPE_REGISTER_COMMAND("launch", 11, setup);

}  // namespace
}  // namespace troupe::cli
