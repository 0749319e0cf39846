// The policy worker (see policy_worker.hpp).
#include "actors/policy_worker.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "actors/messages.hpp"
#include "actors/run_status.hpp"
#include "actors/weight_board.hpp"
#include "model/sampler.hpp"
#include "model/tokenizer.hpp"
#include "kernels/matmul.hpp"
#include "monitoring/metrics.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

struct WorkerState {
  std::unique_ptr<model::Sampler> sampler;
  PolicyWorkerSetup setup;
  caf::actor reward;
  caf::actor controller;  // the sender of prompts; told about prompts this worker could not answer
  model::SamplingParams params;
  int group_size = 1;
  std::deque<wire::Bytes> pending;
  bool scheduled = false;
  uint64_t counter = 0;
  uint64_t generations = 0;
  prometheus::Gauge* version_gauge = nullptr;
  prometheus::Gauge* mailbox = nullptr;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* sent_bytes = nullptr;
};

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Stages the board's newest weights if they are newer than what the sampler runs.
void maybe_stage(WorkerState& st, uint64_t& staged_version) {
  if (!st.setup.board || st.setup.board->version() <= staged_version) return;
  auto snap = st.setup.board->latest();
  if (!snap.params || snap.version <= staged_version) return;
  st.sampler->stage_weights(*snap.params, snap.version);
  staged_version = snap.version;
}

void generate(caf::stateful_actor<WorkerState>* self) {
  auto& st = self->state;
  const size_t max_prompts = std::max<size_t>(1, static_cast<size_t>(st.setup.rows / st.group_size));
  std::vector<wire::Bytes> batch;
  while (!st.pending.empty() && batch.size() < max_prompts) {
    batch.push_back(std::move(st.pending.front()));
    st.pending.pop_front();
  }
  std::vector<std::vector<int>> prompts;
  std::vector<const wire::Prompt*> roots;
  for (const auto& b : batch) {
    auto p = wire::read<wire::Prompt>(b);  // verified by the env actor's pack; re-checked, never trusted
    roots.push_back(p ? *p : nullptr);
    if (!p && st.setup.metrics) st.setup.metrics->messages_invalid.Add({{"reason", "verify_failed"}}).Increment();
    if (!p) continue;
    auto toks = model::encode_prompt((*p)->text() ? (*p)->text()->string_view() : std::string_view());
    for (int g = 0; g < st.group_size; ++g) prompts.push_back(toks);
  }
  uint64_t staged = st.sampler->model().version();
  maybe_stage(st, staged);
  model::SamplingParams params = st.params;
  params.seed = (static_cast<uint64_t>(st.setup.index) << 48) ^ (st.generations++ * 0x9e3779b97f4a7c15ull);
  params.on_step = [&st, &staged](int) { maybe_stage(st, staged); };
  auto results = prompts.empty() ? Result<std::vector<model::SampleResult>>(std::vector<model::SampleResult>{})
                                 : st.sampler->sample(prompts, params);
  if (!results) {
    // A batch the sampler refuses (a prompt too long for the context): the
    // controller re-issues each prompt once and then gives up on it.
    for (const auto* p : roots) {
      if (p && st.controller) self->send(st.controller, lost_atom_v, p->prompt_id());
    }
    return;
  }
  if (st.version_gauge) st.version_gauge->Set(static_cast<double>(st.sampler->model().version()));
  size_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const wire::Prompt* p = roots[i];
    if (!p) continue;
    BytesList group;
    uint64_t tokens = 0;
    for (int g = 0; g < st.group_size; ++g, ++row) {
      auto& r = (*results)[row];
      wire::RolloutT out;
      out.rollout_id = (static_cast<uint64_t>(st.setup.index) << 40) + ++st.counter;
      out.prompt_id = p->prompt_id();
      out.group_index = g;
      out.task = p->task()->str();
      out.difficulty = p->difficulty();
      out.policy_version = r.versions.empty() ? st.sampler->model().version()
                                              : *std::min_element(r.versions.begin(), r.versions.end());
      out.worker = st.setup.name;
      out.prompt_tokens = prompts[row];
      out.response_tokens = r.tokens;
      out.behaviour_logprobs = r.logprobs;
      out.response_text = r.text;
      out.finish = (r.stop == model::StopReason::kEos || r.stop == model::StopReason::kStopString)
                       ? wire::FinishReason::Stop
                       : wire::FinishReason::Length;
      out.created_unix_ms = now_ms();
      tokens += r.tokens.size();
      group.push_back(wire::pack(out));
    }
    if (st.setup.status) {
      st.setup.status->rollouts += static_cast<uint64_t>(st.group_size);
      st.setup.status->tokens += tokens;
    }
    if (st.setup.metrics) {
      st.setup.metrics->rollouts.Add({{"task", p->task()->str()}}).Increment(st.group_size);
      st.setup.metrics->tokens.Add({{"task", p->task()->str()}}).Increment(static_cast<double>(tokens));
    }
    if (st.sent) {
      size_t bytes = batch[i].size();
      for (const auto& b : group) bytes += b.size();
      st.sent->Increment();
      st.sent_bytes->Increment(static_cast<double>(bytes));
    }
    self->send(st.reward, group_atom_v, batch[i], std::move(group));
  }
}

caf::behavior worker_behavior(caf::stateful_actor<WorkerState>* self, std::shared_ptr<model::Transformer> policy,
                              PolicyWorkerSetup setup, model::SamplingParams params, int group_size) {
  // Runs on the actor's own thread (detached). Default one kernel thread: the
  // learner keeps the other core busy, and two pools of spinning threads per core
  // are several times slower (kernels/matmul.hpp).
  kernels::cpu::set_cpu_threads(std::max(1, setup.cpu_threads));
  auto& st = self->state;
  st.sampler = std::make_unique<model::Sampler>(std::move(*policy));
  st.reward = setup.reward;
  st.setup = std::move(setup);
  st.params = std::move(params);
  st.group_size = group_size;
  if (auto* m = st.setup.metrics) {
    st.version_gauge = &m->policy_version.Add({{"actor", st.setup.name}});
    st.mailbox = &m->mailbox_depth.Add({{"actor", st.setup.name}});
    st.sent = &m->messages.Add({{"peer", "reward"}, {"direction", "sent"}});
    st.sent_bytes = &m->message_bytes.Add({{"peer", "reward"}, {"direction", "sent"}});
  }
  return {
      [self](prompt_atom, wire::Bytes prompt) {
        auto& s = self->state;
        // Prompts taken off the mailbox but not yet generated still wait: both count.
        if (s.mailbox) s.mailbox->Set(static_cast<double>(self->mailbox().size() + s.pending.size()));
        if (!s.controller) s.controller = caf::actor_cast<caf::actor>(self->current_sender());
        s.pending.push_back(std::move(prompt));
        if (!s.scheduled) {
          s.scheduled = true;
          self->send(self, decode_atom_v);
        }
      },
      [self](decode_atom) {
        generate(self);
        auto& s = self->state;
        if (s.mailbox) s.mailbox->Set(static_cast<double>(self->mailbox().size() + s.pending.size()));
        if (s.pending.empty()) {
          s.scheduled = false;
        } else {
          self->send(self, decode_atom_v);
        }
      },
  };
}

}  // namespace

caf::actor spawn_policy_worker(caf::actor_system& sys, const configs::ExperimentConfig& config,
                               const model::Transformer& initial, PolicyWorkerSetup setup) {
  auto copy = model::Transformer::create(initial.config(), 0);
  if (!copy) return caf::actor{};
  auto status = copy->load_parameters(initial.parameters(), initial.version());
  if (!status) return caf::actor{};
  if (auto where = model::place_model(*copy, config.model.device, setup.gpu); !where) {
    spdlog::warn("{}: model.device {}; sampling on the CPU", setup.name, where.status().message());
  }
  auto policy = std::make_shared<model::Transformer>(std::move(*copy));
  model::SamplingParams params;
  params.temperature = static_cast<float>(config.algorithm.temperature);
  params.top_p = static_cast<float>(config.algorithm.top_p);
  params.max_new_tokens = static_cast<int>(config.algorithm.max_new_tokens);
  return sys.spawn<caf::detached>(worker_behavior, policy, std::move(setup), std::move(params),
                                  static_cast<int>(config.algorithm.group_size));
}

}  // namespace troupe::actors
