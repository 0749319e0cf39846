// `troupe node FILE --node NAME`: one node of a cluster run (what `troupe launch` starts on each
// host). The head (the host with the controller) runs the job of `troupe run` with the other roles
// reached over the wire; any other node hosts its placed actors until the head stops it.
#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "actors/node.hpp"
#include "actors/pipeline.hpp"
#include "actors/placement.hpp"
#include "cli/command.hpp"
#include "cli/run_job.hpp"
#include "configs/schema.hpp"
#include "monitoring/metrics.hpp"

namespace troupe::cli {
namespace {

std::atomic<bool> member_stop{false};

extern "C" void on_member_signal(int sig) {
  member_stop.store(true);
  std::signal(sig, SIG_DFL);
}

struct NodeArgs {
  JobArgs job;
  std::string node;
  std::string host_addresses;  // comma-separated: overrides placement.hosts[i].address in order
  bool stdin_control = false;
};

// --stdin-control: a line "stop" on stdin, or its end, stops this node as SIGTERM does. Signals do
// not cross ssh, so this is how `troupe launch` stops a node it started over ssh (and a node whose
// launcher died stops too). The reader is detached: it ends with the process.
void watch_stdin_for_stop() {
  std::thread([] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line == "stop") break;
    }
    std::cerr << "node: " << (std::cin.eof() ? "stdin closed" : "told to stop") << " by the launcher; stopping\n";
    ::kill(::getpid(), SIGTERM);
  }).detach();
}

// The IPv4 address of `host` (a dotted address stays as it is; a name, as Slurm gives them, is looked
// up), or "" with `why` set.
std::string ipv4_of(const std::string& host, std::string& why) {
  in_addr probe{};
  if (::inet_pton(AF_INET, host.c_str(), &probe) == 1) return host;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    why = rc != 0 ? ::gai_strerror(rc) : "no IPv4 address";
    return "";
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  ::freeaddrinfo(found);
  return text;
}

int run_node(NodeArgs& args) {
  // The launcher reads our output through a pipe: line by line, so its prefixes interleave sensibly.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (args.stdin_control) watch_stdin_for_stop();
  auto loaded = configs::load_config(args.job.file);
  if (!loaded) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  if (!args.host_addresses.empty()) {
    std::vector<std::string> addrs;
    std::stringstream in(args.host_addresses);
    for (std::string a; std::getline(in, a, ',');) addrs.push_back(a);
    if (addrs.size() < loaded->placement.hosts.size()) {
      std::cerr << "--host-addresses: " << addrs.size() << " addresses for " << loaded->placement.hosts.size()
                << " hosts in " << args.job.file << "\n";
      return 1;
    }
    for (size_t i = 0; i < loaded->placement.hosts.size(); ++i) {
      std::string why;
      const std::string ip = ipv4_of(addrs[i], why);
      if (ip.empty()) {
        std::cerr << "--host-addresses: entry " << i + 1 << " \"" << addrs[i]
                  << "\" is neither an IPv4 address nor a host name with one (" << why << ")\n";
        return 1;
      }
      loaded->placement.hosts[i].address = ip;
    }
  }
  auto plan = actors::make_plan(*loaded);
  if (!plan) {
    std::cerr << args.job.file << ": " << plan.status().message() << "\n";
    return 1;
  }
  const actors::NodePlan* me = plan->find(args.node);
  if (me == nullptr) {
    std::string known;
    for (const auto& n : plan->nodes) known += (known.empty() ? "" : ", ") + n.node;
    std::cerr << args.job.file << ": no host named \"" << args.node << "\" in placement.hosts; hosts: " << known
              << "\n";
    return 1;
  }
  const std::string listen = me->host.address + ":" + std::to_string(me->host.metrics_port);
  if (args.node == plan->head) {
    const char* secret = std::getenv(loaded->placement.token_env.c_str());
    if (secret == nullptr || *secret == '\0') {
      std::cerr << "the cluster token is not set: export " << loaded->placement.token_env
                << "=<the run's shared secret> (the same on every node)\n";
      return 1;
    }
    actors::ClusterRole role;
    role.plan = &*plan;
    role.node = args.node;
    role.token = secret;
    args.job.cluster = &role;
    args.job.metrics_listen = listen;
    args.job.write_targets = false;  // the launcher lists every node's metrics
    return run_job(args.job);
  }
  monitoring::Metrics metrics(loaded->run.name);
  if (loaded->monitoring.enabled) {
    Status s = metrics.serve(listen);
    if (s) {
      std::cout << "metrics: http://" << metrics.address() << "/metrics" << std::endl;
    } else {
      spdlog::warn("node {}: no metrics: {}", args.node, s.message());
    }
  }
  std::signal(SIGINT, on_member_signal);
  std::signal(SIGTERM, on_member_signal);
  actors::MemberOptions options;
  options.config_path = args.job.file;
  options.stop = &member_stop;
  return actors::run_member_node(*loaded, *plan, args.node, &metrics, options);
}

void setup(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<NodeArgs>();
  auto* cmd = root.add_subcommand(
      "node",
      "Run one node of a cluster run (troupe launch starts one per host). The head (the host with the\n"
      "controller) runs the job as `troupe run` does, reaching the other nodes' actors over UCX; any other\n"
      "node hosts the actors placed on it until the head stops it. Every node needs the cluster token in\n"
      "the environment variable named by placement.token_env (default TROUPE_CLUSTER_TOKEN).");
  add_job_options(cmd, args->job);
  cmd->add_option("--node", args->node, "which host of placement.hosts this process is")->required();
  cmd->add_flag("--stdin-control", args->stdin_control,
                "stop (as on SIGTERM) when stdin says \"stop\" or closes; troupe launch passes it to nodes it "
                "starts over ssh, which signals cannot reach");
  cmd->add_option("--host-addresses", args->host_addresses,
                  "A,B,C: the addresses of placement.hosts in order, replacing the config's (batch schedulers "
                  "decide them at start; troupe launch --emit slurm passes Slurm's); host names are looked "
                  "up to their IPv4 address");
  cmd->callback([args, &exit_code] { exit_code = run_node(*args); });
}

TROUPE_REGISTER_COMMAND("node", 12, setup);

}  // namespace
}  // namespace troupe::cli
