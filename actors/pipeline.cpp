// The one-process RL loop (see pipeline.hpp).
#include "actors/pipeline.hpp"

#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "actors/controller.hpp"
#include "actors/controller_state.hpp"
#include "actors/env_actor.hpp"
#include "actors/learner_actor.hpp"
#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "actors/placement.hpp"
#include "actors/policy_worker.hpp"
#include "actors/replay_actor.hpp"
#include "actors/reward_actor.hpp"
#include "actors/shutdown.hpp"
#include "actors/weight_board.hpp"
#include "actors/weight_sync.hpp"
#include "rl/collective.hpp"
#include "envs/registry.hpp"
#include "kernels/matmul.hpp"
#include "model/checkpoint.hpp"
#include "storage/replay_store.hpp"

namespace troupe::actors {

using namespace troupe::atoms;

Result<storage::ReplayOptions> replay_options(const configs::ExperimentConfig& config) {
  storage::ReplayOptions ro;
  auto durability = storage::parse_durability(config.storage.durability);
  if (!durability) return durability.status().with_context("storage.durability");
  ro.durability = *durability;
  ro.group_commit_ms = config.storage.group_commit_ms;
  ro.group_commit_rollouts = config.storage.group_commit_rollouts;
  ro.group_commit_queue = config.limits.rollout_queue;
  ro.max_rollouts = config.storage.max_rollouts;
  ro.max_bytes = config.storage.max_bytes;
  ro.max_version_age = config.storage.max_version_age;
  ro.reuse = config.storage.reuse;
  ro.seed = static_cast<uint64_t>(config.run.seed);
  return ro;
}

Result<PipelineResult> run_pipeline(const configs::ExperimentConfig& config, const model::Transformer& initial,
                                    monitoring::Metrics* metrics, const PipelineOptions& options) {
  for (const auto& t : config.tasks) {
    auto found = envs::find_task(t.name);
    if (!found) return found.status().with_context("task mixture");
  }
  if (config.algorithm.learners > config.algorithm.prompts_per_step) {
    return Status::invalid_argument("algorithm.learners (" + std::to_string(config.algorithm.learners) +
                                    ") exceeds algorithm.prompts_per_step (" +
                                    std::to_string(config.algorithm.prompts_per_step) +
                                    "): each learner needs at least one group per step");
  }
  auto ro = replay_options(config);
  if (!ro) return ro.status();
  auto opened = storage::ReplayStore::open(options.replay_path, *ro);
  if (!opened) return opened.status().with_context("opening the replay store");
  std::shared_ptr<storage::ReplayStore> store = std::move(*opened);

  std::optional<RunState> resume = options.resume;
  if (resume) {  // check the resume state against this config before anything starts
    // After a crash the store may hold groups issued after the checkpoint was written; their prompt
    // ids must not be issued again.
    auto largest = store->largest_prompt_id();
    if (!largest) return largest.status().with_context("resuming");
    if (*largest >= resume->controller.next_prompt_id) {
      spdlog::info("the replay store holds prompts up to id {} issued after the checkpoint; continuing from {}",
                   *largest, *largest + 1);
      resume->controller.next_prompt_id = *largest + 1;
    } else {
      spdlog::info("the replay store holds no prompt issued after the checkpoint; continuing from {}",
                   resume->controller.next_prompt_id);
    }
    ControllerState probe(config);
    std::string err = probe.restore(resume->version, resume->controller);
    if (!err.empty()) return Status::invalid_argument("cannot resume with this config: " + err);
  }
  auto status = std::make_shared<RunStatus>();
  auto final_policy = std::make_shared<WeightBoard>();
  auto checkpoints = std::make_shared<std::atomic<uint64_t>>(0);
  auto checkpoint_errors = std::make_shared<std::atomic<uint64_t>>(0);
  auto board = std::make_shared<WeightBoard>();
  {
    auto params = std::make_shared<const std::vector<float>>(initial.parameters().begin(), initial.parameters().end());
    board->publish(initial.version(), std::move(params));
  }

  // The actors set OpenBLAS to one thread (a process-wide setting); put back what the
  // caller had when the loop ends, for evaluation on the calling thread.
  const int blas_threads_before = kernels::cpu::blas_threads();
  auto made = model::Transformer::create(initial.config(), 0);
  if (!made) return made.status();
  PipelineResult result{std::move(*made)};
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  {  // the actor system lives in this block; leaving it waits for every actor to finish
  caf::actor_system_config cfg;
  // Two scheduler threads carry the light actors; workers, learner and replay run detached.
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};

  // Cluster mode: this node's network, and where each named actor lives.
  std::unique_ptr<NodeNet> net;
  const ClusterPlan* plan = options.cluster ? options.cluster->plan : nullptr;
  if (plan) {
    auto started = NodeNet::start(sys, *plan, options.cluster->node, options.cluster->token, metrics,
                                  config.limits.weight_chunk_bytes);
    if (!started) return started.status().with_context("starting the head's network");
    net = std::move(*started);
  }
  std::unique_ptr<ClusterHead> cluster_head;
  if (net) {
    auto h = ClusterHead::start(sys, *net, board, metrics, options.cluster->heartbeat_grace);
    if (!h) return h.status().with_context("starting the head's cluster duties");
    cluster_head = std::move(*h);
    // Members dial the head as soon as it listens; the loop starts once they are all here (or
    // without the late ones, which join when they connect).
    net->await_peers(std::chrono::seconds(30));
  }
  auto here = [&](const std::string& name) { return !plan || plan->node_of.at(name) == options.cluster->node; };
  // Local actors are exposed to the other nodes; a failure here is a bug in the plan (names are unique).
  auto expose = [&](const std::string& name, const caf::actor& a) {
    if (net) {
      Status s = net->remote().expose(name, a);
      if (!s) spdlog::error("cannot expose {}: {}", name, s.message());
    }
    return a;
  };
  // Every name of the plan has a route (NodeNet adds them), so this cannot fail; a null handle
  // would only drop messages, never hang the shutdown below.
  auto reach = [&](const std::string& name) {
    auto a = net->remote().resolve(name);
    if (!a) spdlog::error("cannot reach {}: {}", name, a.status().message());
    return a ? *a : caf::actor{};
  };

  std::map<std::string, caf::actor> envs;
  for (const auto& t : config.tasks) {
    const std::string name = "env/" + t.name;
    if (here(name)) {
      envs[t.name] = expose(name, spawn_env_actor(sys, t.name, static_cast<int>(config.algorithm.group_size), metrics));
    } else {
      envs[t.name] = reach(name);
    }
  }
  auto replay = expose("replay", spawn_replay_actor(sys, store, status, metrics));
  std::vector<caf::actor> rewards, local_rewards;
  for (int i = 0; i < (plan ? plan->rewards : 1); ++i) {
    const std::string name = "reward/" + std::to_string(i);
    if (here(name)) {
      rewards.push_back(expose(name, spawn_reward_actor(sys, config, envs, replay, metrics)));
      local_rewards.push_back(rewards.back());
    } else {
      rewards.push_back(reach(name));
    }
  }
  auto sync = spawn_weight_sync(sys, board, metrics);

  auto make_worker = [&sys, &config, &initial, &rewards, board, status, metrics, &options, &expose, plan](int index) {
    PolicyWorkerSetup setup;
    setup.name = "policy/" + std::to_string(index);
    setup.index = index;
    setup.rows = options.worker_rows;
    setup.reward = rewards[static_cast<size_t>(reward_for_worker(index, static_cast<int>(rewards.size())))];
    setup.board = board;
    setup.status = status;
    setup.metrics = metrics;
    setup.cpu_threads = options.cpu_threads;
    setup.gpu = plan ? plan->gpu_of(setup.name) : -1;
    std::string name = setup.name;
    return expose(name, spawn_policy_worker(sys, config, initial, std::move(setup)));
  };
  std::vector<caf::actor> workers;
  std::vector<bool> available;         // remote workers wait for their node's weights
  std::vector<caf::actor> respawned_envs;  // the env actors alive at the stop (the controller's list)
  const int n_workers = plan ? plan->policy_workers : std::max(1, options.policy_workers);
  for (int i = 0; i < n_workers; ++i) {
    const std::string name = "policy/" + std::to_string(i);
    if (here(name)) {
      workers.push_back(make_worker(i));
      available.push_back(true);
    } else {
      workers.push_back(reach(name));
      available.push_back(false);
    }
  }

  LearnerSetup ls;
  ls.replay = replay;
  ls.weight_sync = sync;
  ls.status = status;
  ls.metrics = metrics;
  ls.cpu_threads = options.cpu_threads;
  ls.gpu = plan ? plan->gpu_of(ls.name) : -1;
  if (!options.checkpoint_dir.empty()) {
    // The policy and optimizer first, run_state.json last: a crash between them leaves
    // a run_state of an older version beside newer weights, and resume trusts the
    // weights' own version (the run state only carries prompt ids and the curriculum).
    auto save = [dir = options.checkpoint_dir, status, checkpoints, checkpoint_errors, store](
                    const model::Transformer& policy, const model::AdamW& opt, uint64_t version) {
      Status s = model::save_checkpoint(dir, policy, &opt);
      if (s) s = save_run_state(dir, RunState{version, status->controller()});
      if (s) {
        ++*checkpoints;
        // The replay store's checkpoint index: which version the directory holds and how
        // training stood when it was written (`troupe run` adds held-out figures at the end).
        const LearnerSnapshot l = status->learner();
        const uint64_t scored = status->scored.load();
        const nlohmann::json training = {
            {"training",
             {{"learner_version", l.version},
              {"loss", l.loss},
              {"kl", l.kl},
              {"mean_raw_reward", l.mean_raw_reward},
              {"rollouts_scored", scored},
              {"rule_pass_rate", scored ? double(status->passed.load()) / double(scored) : 0.0}}}};
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        if (Status indexed = store->put_checkpoint({version, dir, training.dump(), uint64_t(now.count())});
            !indexed) {
          spdlog::warn("checkpoint of version {} written but not indexed: {}", version, indexed.message());
        }
      } else {
        ++*checkpoint_errors;
        spdlog::warn("checkpoint of version {} failed: {}", version, s.message());
      }
    };
    ls.after_step = [save, every = static_cast<uint64_t>(std::max(1, options.checkpoint_every))](
                        const model::Transformer& policy, const model::AdamW& opt, uint64_t version) {
      if (version % every == 0) save(policy, opt, version);
    };
    ls.on_stop = save;
    if (resume) ls.resume_optimizer_dir = options.checkpoint_dir;
  }
  // The learner's last step may not have reached the weight board before the stop:
  // the final policy is taken from the learner itself.
  ls.on_stop = [final_policy, save = std::move(ls.on_stop)](const model::Transformer& policy,
                                                            const model::AdamW& opt, uint64_t version) {
    final_policy->publish(version, std::make_shared<const std::vector<float>>(policy.parameters().begin(),
                                                                              policy.parameters().end()));
    if (save) save(policy, opt, version);
  };
  // Data-parallel learners: rank 0 (set up above) publishes and checkpoints; the
  // others only train on their share and add their gradients.
  const int n_learners = static_cast<int>(config.algorithm.learners);
  std::vector<std::shared_ptr<rl::GradientCollective>> collective;
  if (n_learners > 1) collective = rl::InProcessCollective::make_group(n_learners);
  std::vector<caf::actor> learners;
  for (int r = 0; r < n_learners; ++r) {
    LearnerSetup setup = r == 0 ? ls : LearnerSetup{};
    if (r > 0) {
      setup.name = "learner/" + std::to_string(r);
      setup.replay = replay;
      setup.metrics = metrics;
      setup.cpu_threads = options.cpu_threads;
      setup.gpu = plan ? plan->gpu_of(setup.name) : -1;
    }
    if (n_learners > 1) setup.collective = collective[static_cast<size_t>(r)];
    learners.push_back(spawn_learner(sys, config, initial, std::move(setup)));
  }
  ls = LearnerSetup{};

  ControllerSetup cs;
  cs.env_actors = envs;
  cs.workers = workers;
  cs.available = available;
  cs.respawn_worker = make_worker;
  cs.respawn_env = [&sys, &config, metrics, &expose](const std::string& task) {
    return expose("env/" + task, spawn_env_actor(sys, task, static_cast<int>(config.algorithm.group_size), metrics));
  };
  cs.rewards = local_rewards;
  cs.prompt_timeout_s = config.async.prompt_timeout_s;
  cs.status = status;
  cs.metrics = metrics;
  cs.resume = resume;
  // The state was checked above, so spawning cannot fail here.
  caf::actor controller = expose("controller", *spawn_controller(sys, config, std::move(cs)));
  for (auto& r : local_rewards) caf::anon_send(r, done_atom_v, controller);
  if (cluster_head) cluster_head->set_controller(controller);
  caf::anon_send(sync, done_atom_v, controller);
  for (auto& l : learners) caf::anon_send(l, train_atom_v);

  double next_progress = options.progress_every_s;
  bool killed = false;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double t = elapsed();
    if (options.kill_worker_after_s > 0 && !killed && t >= options.kill_worker_after_s) {
      caf::anon_send_exit(workers[0], caf::exit_reason::kill);
      if (options.kill_env_too) caf::anon_send_exit(envs.begin()->second, caf::exit_reason::kill);
      killed = true;
    }
    if (options.on_progress && t >= next_progress) {
      options.on_progress(*status, t);
      next_progress += options.progress_every_s;
    }
    if (options.max_seconds > 0 && t >= options.max_seconds) break;
    if (options.max_steps > 0 && status->learner_steps.load() >= options.max_steps) break;
    if (options.stop_requested && options.stop_requested->load()) break;
  }
  {
    // The controller first, and wait for it: the learner's final checkpoint must
    // record the controller's last prompt id, so a resumed run never repeats one.
    // Its answer names the workers alive now: respawned ones too must be shut down.
    caf::scoped_actor self{sys};
    self->request(controller, std::chrono::seconds(10), stop_atom_v)
        .receive(
            [&workers, &respawned_envs](const LiveActors& live) {
              workers = live.workers;
              respawned_envs = live.envs;  // the originals too, when alive: exiting twice is harmless
            },
            [](caf::error&) { spdlog::warn("the controller did not confirm its stop"); });
  }
  {
    // Learners finish their step, write the final checkpoint (stop_atom) and exit. A
    // data-parallel learner left waiting in the all-reduce for a peer that has already
    // stopped is released after a grace period: its step fails and is dropped, and
    // the checkpoint holds the last completed step.
    caf::scoped_actor self{sys};
    for (auto& l : learners) {
      self->monitor(l);
      caf::anon_send(l, stop_atom_v);
      caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
    }
    size_t down = 0;
    bool aborted = false;
    while (down < learners.size()) {
      self->receive([&down](caf::down_msg&) { ++down; },
                    caf::after(std::chrono::seconds(5)) >> [&] {
                      if (!collective.empty() && !aborted) {
                        rl::group_of(collective[0])->abort();
                        aborted = true;
                      }
                    });
    }
  }
  {
    // Every local actor is gone before the connections (and the proxies they send through) close:
    // a worker finishing a group or a late reply must not reach a destroyed gateway.
    std::vector<caf::actor> local = {controller, sync, replay};
    local.insert(local.end(), local_rewards.begin(), local_rewards.end());
    local.insert(local.end(), workers.begin(), workers.end());
    for (auto& [_, e] : envs) local.push_back(e);
    local.insert(local.end(), respawned_envs.begin(), respawned_envs.end());
    stop_and_wait(sys, local, std::chrono::seconds(30), "pipeline");
  }
  if (cluster_head) cluster_head->stop_members();
  cluster_head.reset();
  net.reset();  // proxies and ingresses stop, then the connections close

  }  // the actor system's destructor has waited for every actor, a learner mid-step included
  store.reset();  // flushes queued appends, calling back each one
  kernels::cpu::set_blas_threads(blas_threads_before);
  result.seconds = elapsed();
  auto latest = board->latest();
  auto last = final_policy->latest();
  if (last.params && last.version >= latest.version) latest = last;
  TROUPE_RETURN_IF_ERROR(result.policy.load_parameters(*latest.params, latest.version));
  result.learner_steps = status->learner_steps.load();
  // Remote policy workers count nothing here; every group they make is scored through the controller.
  result.rollouts = std::max(status->rollouts.load(), status->scored.load());
  result.tokens = status->tokens.load();
  result.stored = status->stored.load();
  result.store_errors = status->store_errors.load();
  result.prompts_lost = status->prompts_lost.load();
  result.worker_restarts = status->worker_restarts.load();
  result.env_restarts = status->env_restarts.load();
  result.checkpoints = checkpoints->load();
  result.checkpoint_errors = checkpoint_errors->load();
  return result;
}

}  // namespace troupe::actors
