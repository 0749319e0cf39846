// `troupe serve --checkpoint DIR`: serves a troupe checkpoint over an
// OpenAI-compatible HTTP API (rewards/model_server.hpp) until SIGINT or SIGTERM:
// a policy answers completions, a verifier and a preference model answer
// /v1/score (and a verifier answers the CompassVerifier chat prompt), so reward
// models can run on other machines than the reward actor.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/command.hpp"
#include "kernels/matmul.hpp"
#include "model/checkpoint.hpp"
#include "rewards/model_server.hpp"

namespace troupe::cli {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;  // set by SIGINT/SIGTERM
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

struct ServeArgs {
  std::string checkpoint;
  std::string host = "127.0.0.1";  // Default: loopback only
  int port = 8000;                 // Default: 8000
  int threads = 4;                 // Default: 4 connection threads
  int cpu_threads = 1;             // Default: 1 BLAS thread
  std::string name;                // Default: the checkpoint folder's name
  std::string port_file;           // Default: none
};

int run_serve(const ServeArgs& a) {
  kernels::cpu::set_cpu_threads(std::max(1, a.cpu_threads));
  auto m = model::load_checkpoint(a.checkpoint);
  if (!m) {
    std::cerr << "serve: " << m.status().message() << "\n";
    return 1;
  }
  rewards::ServerOptions o;
  o.host = a.host;
  o.port = a.port;
  o.threads = a.threads;
  o.model_name = a.name.empty() ? std::filesystem::path(a.checkpoint).lexically_normal().filename().string() : a.name;
  if (o.model_name.empty()) o.model_name = "troupe";
  auto server = rewards::ModelServer::start(std::move(*m), o);
  if (!server) {
    std::cerr << "serve: " << server.status().message() << "\n";
    return 1;
  }
  std::printf("troupe serve: %s model \"%s\" on http://%s:%d (/v1/completions, /v1/chat/completions, /v1/score)\n",
              (*server)->kind(), o.model_name.c_str(), a.host.c_str(), (*server)->port());
  std::fflush(stdout);
  if (!a.port_file.empty()) {
    const std::string tmp = a.port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::filesystem::rename(tmp, a.port_file);  // readers never see a half-written file
  }
  // Whichever thread the signal lands on, the handler only sets the flag this loop polls.
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  while (g_stop_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "troupe serve: signal %d, stopping\n", int(g_stop_signal));
  server->reset();
  return 0;
}

void setup(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = root.add_subcommand("serve", "Serve a checkpoint over an OpenAI-compatible HTTP API (completions, "
                                           "chat completions, and /v1/score for verifier and preference models)");
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json + model.safetensors)")->required();
  cmd->add_option("--host", a->host, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", a->port, "port (default 8000; 0 picks a free one, see --port-file)");
  cmd->add_option("--threads", a->threads, "connection threads (default 4)");
  cmd->add_option("--cpu-threads", a->cpu_threads, "BLAS threads for the model (default 1)");
  cmd->add_option("--name", a->name, "model name in responses and /v1/models (default: the checkpoint folder)");
  cmd->add_option("--port-file", a->port_file, "write the bound port to this file once listening");
  cmd->callback([a, &exit_code] { exit_code = run_serve(*a); });
}

TROUPE_REGISTER_COMMAND("serve", 46, setup);

}  // namespace
}  // namespace troupe::cli
