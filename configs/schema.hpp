// The experiment configuration: one YAML file describes a whole troupe run.
//
// `load_config` reads and validates a file against the schema below and returns
// either a fully populated ExperimentConfig (every default filled in) or every
// problem found, each as "FILE:LINE:COLUMN: key.path: what was expected". Unknown
// keys are rejected with the nearest known key as a suggestion. `to_yaml` writes a
// config back out, defaults included, so `troupe config show` is a round trip.
// The structs are plain data, safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace troupe::configs {

struct RunConfig {
  std::string name = "troupe";          // the `run` label on every metric
  int64_t seed = 1;
  std::string output_dir = "runs/troupe";
  int64_t max_steps = 0;                // learner steps; 0 = until max_seconds
  double max_seconds = 0;               // wall clock; 0 = until max_steps
  bool operator==(const RunConfig&) const = default;
};

struct ModelConfig {
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t context = 128;
  std::string init_checkpoint;          // warm-start directory (safetensors + JSON); empty = random init
  std::string device = "auto";          // learners and policy workers: auto | cpu | cuda
  bool operator==(const ModelConfig&) const = default;
};

struct WarmStartConfig {
  double max_minutes = 5;               // wall-clock bound of supervised warm-up
  int64_t max_steps = 0;                // step bound; 0 = only the time bound
  int64_t batch = 128;                  // sequences per step
  double lr = 1e-3;
  int64_t warmup_steps = 100;
  double corrupt_fraction = 0.0;        // share of demonstrations with a wrong answer (imperfect demos)
  bool worked_solutions = false;        // train on worked solutions instead of answers alone
  int64_t eval_every = 100;             // steps between held-out evaluations
  int64_t eval_cases = 100;             // held-out cases per task per evaluation
  int64_t patience = 4;                 // evaluations without improvement before stopping
  bool operator==(const WarmStartConfig&) const = default;
};

struct DifficultyRange {
  int64_t min = 1;
  int64_t max = 1;
  bool operator==(const DifficultyRange&) const = default;
};

struct TaskEntry {
  std::string name;                     // registry name, e.g. "Game24bootcamp"
  double weight = 1.0;                  // share of prompts in the mixture
  DifficultyRange difficulty;
  bool operator==(const TaskEntry&) const = default;
};

struct CurriculumConfig {
  bool enabled = true;
  int64_t window = 64;                  // rollouts in the moving pass rate
  double raise_above = 0.8;             // raise difficulty when the pass rate exceeds this
  double drop_above = 0.99;             // stop sampling (task, level) always solved
  double drop_below = 0.01;             // ... or never solved (after a full window)
  bool operator==(const CurriculumConfig&) const = default;
};

struct RewardSourceConfig {
  std::string kind = "rule";            // rule | verifier | preference
  double weight = 1.0;
  std::string endpoint;                 // OpenAI-compatible URL for model sources
  std::string recipe;                   // named prompt recipe: troupe (default) | compass_verifier
  int64_t timeout_ms = 10000;
  std::string model;                    // the "model" field of requests (servers with several models)
  int64_t max_batch = 32;               // items per scoring request
  int64_t concurrency = 4;              // requests in flight to this endpoint
  int64_t retries = 3;                  // retries after a failed attempt (connection, timeout, 429, 5xx)
  int64_t backoff_ms = 100;             // wait before the first retry, doubling each time
  bool relative = false;                // preference: score minus the reference response's score (POLAR-style)
  bool operator==(const RewardSourceConfig&) const = default;
};

struct RewardRecipe {
  std::vector<RewardSourceConfig> sources{RewardSourceConfig{}};
  std::vector<std::string> fallback;    // source kinds tried in order when one fails
  std::string normalise = "group";      // none | group | running
  bool rule_fails_without_answer = false;  // a response whose answer the rule verifier cannot extract
                                           // counts as a rule failure, so the fallback decides
  bool operator==(const RewardRecipe&) const = default;
};

struct RewardsConfig {
  RewardRecipe default_recipe;          // key "default"
  std::map<std::string, RewardRecipe> per_task;
  double running_window = 256;          // effective length (rollouts) of the running normaliser's EMA
  bool operator==(const RewardsConfig&) const = default;
};

struct AlgorithmConfig {
  std::string objective = "ppo";        // grpo | ppo | oreal
  std::string advantage = "group";      // group | leave_one_out
  int64_t group_size = 8;
  int64_t prompts_per_step = 64;
  double lr = 3e-4;
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;
  int64_t passes = 2;
  double clip = 0.2;
  double importance_cap = 5.0;          // truncation of the behaviour/proximal ratio
  double kl_coef = 0.0;
  double entropy_coef = 0.0;
  bool drop_equal_groups = true;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t max_new_tokens = 32;
  int64_t learners = 1;                 // data-parallel learners; each trains on a share of every batch
  bool operator==(const AlgorithmConfig&) const = default;
};

struct AsyncConfig {
  int64_t max_staleness = 2;            // 0 = synchronous
  double prompt_timeout_s = 120;        // a prompt handed to a worker without an answer by then is lost
  bool operator==(const AsyncConfig&) const = default;
};

struct StorageConfig {
  std::string path = "runs/troupe/replay";
  std::string durability = "group_commit";  // sync | group_commit
  int64_t group_commit_ms = 5;
  int64_t group_commit_rollouts = 64;
  int64_t max_rollouts = 1000000;       // retention by count
  int64_t max_bytes = int64_t{4} << 30; // retention by size
  int64_t max_version_age = 0;          // retention by age; 0 = keep
  int64_t reuse = 1;                    // times a rollout may be trained on
  bool operator==(const StorageConfig&) const = default;
};

struct MonitoringConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";
  // Prometheus file_sd directory (monitoring/prometheus/prometheus.yml reads its
  // *.json): a run writes RUN.json there while it serves metrics, if the directory
  // exists. Empty = never.
  std::string targets_dir = "monitoring/prometheus/targets";
  bool operator==(const MonitoringConfig&) const = default;
};

struct LimitsConfig {
  int64_t mailbox = 1024;               // messages queued per actor before senders wait
  int64_t prompt_queue = 256;
  int64_t rollout_queue = 4096;
  int64_t weight_chunk_bytes = int64_t{4} << 20;
  bool operator==(const LimitsConfig&) const = default;
};

struct HostConfig {
  std::string name;
  std::string address = "127.0.0.1";
  std::string via = "local";            // local | ssh
  std::string ssh_target;               // user@host when via: ssh
  std::vector<int64_t> gpus;
  int64_t port = 13370;                 // the node's UCX listener
  int64_t metrics_port = 9464;
  bool operator==(const HostConfig&) const = default;
};

struct RolePlacement {
  std::string role;                     // controller | env | policy_worker | reward | replay | learner
  std::string host;
  int64_t count = 1;
  std::vector<int64_t> gpus;
  std::vector<std::string> tasks;       // env actors: which tasks; empty = all in the mixture
  bool operator==(const RolePlacement&) const = default;
};

struct PlacementConfig {
  std::string token_env = "TROUPE_CLUSTER_TOKEN";
  // How weights reach the policy-worker nodes: shm (a shared-memory segment written once, for nodes on
  // the head's machine), ucx (a chunked chain of UCX transfers), auto (shm where the node shares the
  // head's machine, ucx for the rest).
  std::string weight_broadcast = "auto";
  // Shared-memory segments the head keeps for weights (each holds one version: 3 x the model's bytes
  // at most). Three never wait in steady state: one held, one being taken up, one being written.
  int64_t weight_shm_slots = 3;
  std::vector<HostConfig> hosts;
  std::vector<RolePlacement> roles;
  bool operator==(const PlacementConfig&) const = default;
};

struct ExperimentConfig {
  RunConfig run;
  ModelConfig model;
  WarmStartConfig warm_start;
  std::vector<TaskEntry> tasks;
  CurriculumConfig curriculum;
  RewardsConfig rewards;
  AlgorithmConfig algorithm;
  AsyncConfig async;
  StorageConfig storage;
  MonitoringConfig monitoring;
  LimitsConfig limits;
  PlacementConfig placement;

  // The reward recipe for a task: its own when given, else the default.
  const RewardRecipe& recipe_for(const std::string& task) const;
  bool operator==(const ExperimentConfig&) const = default;
};

// Reads and validates a YAML file. On failure the Status message lists every
// problem, one per line, each starting "FILE:LINE:COLUMN: ".
Result<ExperimentConfig> load_config(const std::string& path);
// The same for text already in memory; `name` stands for the file in messages.
Result<ExperimentConfig> parse_config(std::string_view yaml, const std::string& name);
// YAML with every field, defaults included; parse_config(to_yaml(c)) == c.
std::string to_yaml(const ExperimentConfig& config);
// Every key with its type, default and meaning, for `troupe config schema`.
std::string describe_schema();

}  // namespace troupe::configs
