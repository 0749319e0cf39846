// The controller actor (see controller.hpp).
#include "actors/controller.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "actors/messages.hpp"
#include "actors/run_status.hpp"
#include "monitoring/metrics.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;

// Generating a prompt takes microseconds; an env actor silent this long is gone. Enforced by the
// tick (`generating`), not by a CAF request timeout: each of those arms and cancels a timer on
// CAF's clock thread, two wake-ups of another thread per call (on a remote env actor that was
// 2-5 us of a ~6 us call, and whole runs at ~60 us when the clock thread had to preempt a busy
// core; wire_bench). A remote env actor's proxy fails calls to a node that went down at once.
constexpr auto kGenerateTimeout = std::chrono::seconds(30);
// A heartbeat tick re-runs admission even when no message arrives.
constexpr auto kTickPeriod = std::chrono::milliseconds(200);

struct ControllerActorState {
  std::unique_ptr<ControllerState> core;
  ControllerSetup setup;
  std::map<uint64_t, size_t> worker_of;  // prompt id -> worker index
  // prompt id -> when it was handed to its worker (entries leave with worker_of), and the timeout
  // after which an unanswered one counts as lost.
  std::map<uint64_t, std::chrono::steady_clock::time_point> handed_at;
  std::chrono::milliseconds prompt_timeout{120000};
  // prompt id -> when its generate call counts as failed (entries leave with the answer). Bounded
  // by the prompts in flight.
  std::map<uint64_t, std::chrono::steady_clock::time_point> generating;
  size_t next_worker = 0;
  bool stopping = false;
  std::vector<bool> available;           // per worker: takes prompts now
  // Prompts made while no worker was available, oldest first (they count as in flight, so
  // the controller's in-flight bound bounds this queue).
  std::deque<std::pair<uint64_t, wire::Bytes>> waiting;
};

// Hands a made prompt to the next available worker, round robin; keeps it while none is.
void hand_out(caf::stateful_actor<ControllerActorState>* self, uint64_t id, wire::Bytes prompt) {
  auto& s = self->state;
  const size_t n = s.setup.workers.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t w = s.next_worker++ % n;
    if (!s.available[w]) continue;
    s.worker_of[id] = w;
    s.handed_at[id] = std::chrono::steady_clock::now();
    self->send(s.setup.workers[w], prompt_atom_v, std::move(prompt));
    return;
  }
  s.waiting.emplace_back(id, std::move(prompt));
}

// The prompts of worker `i` are lost: each is re-issued once (lost_atom).
void orphan(caf::stateful_actor<ControllerActorState>* self, size_t i) {
  std::vector<uint64_t> orphans;
  for (const auto& [id, w] : self->state.worker_of) {
    if (w == i) orphans.push_back(id);
  }
  for (auto id : orphans) self->send(self, lost_atom_v, id);
}

void issue(caf::stateful_actor<ControllerActorState>* self);

// Prompts handed out longer ago than the timeout are lost (re-issued once): the notification that
// would have finished them went down with a node, or their worker died without a down message.
// A late group for one is dropped by its reward actor's seen-window or counted as a late answer.
void expire_overdue(caf::stateful_actor<ControllerActorState>* self) {
  auto& s = self->state;
  const auto cutoff = std::chrono::steady_clock::now() - s.prompt_timeout;
  std::vector<uint64_t> overdue;
  for (const auto& [id, at] : s.handed_at) {
    if (at < cutoff) overdue.push_back(id);
  }
  if (overdue.empty()) return;
  spdlog::warn("controller: {} prompts unanswered after {} s count as lost (first: {})", overdue.size(),
               s.prompt_timeout.count() / 1000.0, overdue.front());
  for (auto id : overdue) {
    s.handed_at.erase(id);
    s.worker_of.erase(id);
    self->send(self, lost_atom_v, id);  // counted in prompts_lost
  }
}

void dispatch(caf::stateful_actor<ControllerActorState>* self, const PromptTicket& t) {
  auto& st = self->state;
  auto env = st.setup.env_actors.find(t.task_name);
  if (env == st.setup.env_actors.end()) return;
  st.generating[t.prompt_id] = std::chrono::steady_clock::now() + kGenerateTimeout;
  self->request(env->second, caf::infinite, generate_atom_v, t)
      .then(
          [self, id = t.prompt_id](const wire::Bytes& prompt) {
            if (self->state.generating.erase(id) == 0) return;  // late: already counted as lost
            if (self->state.setup.workers.empty()) return;
            hand_out(self, id, prompt);
          },
          [self, id = t.prompt_id](caf::error&) {
            if (self->state.generating.erase(id) != 0) self->send(self, lost_atom_v, id);
          });
}

// Generate calls unanswered past their deadline: the prompt is lost (re-issued once).
void expire_generating(caf::stateful_actor<ControllerActorState>* self) {
  auto& s = self->state;
  const auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> overdue;
  for (const auto& [id, deadline] : s.generating) {
    if (deadline <= now) overdue.push_back(id);
  }
  if (overdue.empty()) return;
  spdlog::warn("controller: {} prompts not made by their env actor within {} s count as lost (first: {})",
               overdue.size(), std::chrono::duration_cast<std::chrono::seconds>(kGenerateTimeout).count(),
               overdue.front());
  for (auto id : overdue) {
    s.generating.erase(id);
    self->send(self, lost_atom_v, id);
  }
}

void issue(caf::stateful_actor<ControllerActorState>* self) {
  auto& st = self->state;
  if (st.stopping) return;
  bool issued = false;
  while (auto t = st.core->next_prompt()) {
    dispatch(self, *t);
    issued = true;
  }
  // A checkpoint must never record a prompt id already used: refresh after issuing.
  if (issued && st.setup.status) st.setup.status->set_controller(st.core->snapshot());
}

// Publishes the moving pass rate of the (task, level) a finished prompt came from.
void record_pass_rate(ControllerActorState& st, const PromptTicket& t) {
  if (!st.setup.metrics) return;
  const auto& lv = st.core->curriculum().level(t.task, t.level);
  if (lv.ring.empty()) return;
  st.setup.metrics->pass_rate.Add({{"task", t.task_name}, {"difficulty", std::to_string(t.level)}})
      .Set(lv.pass_rate());
}

caf::behavior controller_behavior(caf::stateful_actor<ControllerActorState>* self,
                                  std::shared_ptr<ControllerState> core, ControllerSetup setup) {
  auto& st = self->state;
  st.core.reset(new ControllerState(std::move(*core)));
  st.setup = std::move(setup);
  st.available = st.setup.available;
  st.prompt_timeout = std::chrono::milliseconds(static_cast<int64_t>(st.setup.prompt_timeout_s * 1000));
  st.available.resize(st.setup.workers.size(), true);
  for (const auto& w : st.setup.workers) self->monitor(w);
  for (const auto& [_, e] : st.setup.env_actors) self->monitor(e);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    for (auto& [task, env] : s.setup.env_actors) {
      if (env.address() != msg.source) continue;
      if (s.setup.metrics) s.setup.metrics->actor_restarts.Add({{"role", "env"}}).Increment();
      if (s.setup.status) ++s.setup.status->env_restarts;
      if (s.setup.respawn_env && !s.stopping) {
        env = s.setup.respawn_env(task);
        self->monitor(env);
        for (const auto& r : s.setup.rewards) self->send(r, env_atom_v, task, env);
      }
      return;
    }
    for (size_t i = 0; i < s.setup.workers.size(); ++i) {
      if (s.setup.workers[i].address() != msg.source) continue;
      if (s.setup.status) ++s.setup.status->worker_restarts;
      if (s.setup.metrics) s.setup.metrics->actor_restarts.Add({{"role", "policy_worker"}}).Increment();
      if (s.setup.respawn_worker && !s.stopping) {
        s.setup.workers[i] = s.setup.respawn_worker(static_cast<int>(i));
        self->monitor(s.setup.workers[i]);
      }
      orphan(self, i);
    }
  });
  self->send(self, tick_atom_v);
  return {
      [self](tick_atom) {
        auto& s = self->state;
        if (s.setup.status) s.setup.status->set_controller(s.core->snapshot());  // the curriculum moves on
        if (!s.stopping) expire_overdue(self);
        if (!s.stopping) expire_generating(self);
        issue(self);
        if (!self->state.stopping) self->delayed_send(self, kTickPeriod, tick_atom_v);
      },
      [self](done_atom, uint64_t prompt_id, const std::vector<int>& passed) {
        auto& s = self->state;
        std::vector<bool> flags(passed.begin(), passed.end());
        auto finished = s.core->prompt_done(prompt_id, flags);
        s.worker_of.erase(prompt_id);
        s.handed_at.erase(prompt_id);
        if (s.setup.status) {
          s.setup.status->scored += passed.size();
          for (int p : passed) s.setup.status->passed += p ? 1 : 0;
        }
        if (finished) record_pass_rate(s, *finished);
        issue(self);
      },
      [self](lost_atom, uint64_t prompt_id) {
        auto& s = self->state;
        s.worker_of.erase(prompt_id);
        s.handed_at.erase(prompt_id);
        if (s.setup.status) ++s.setup.status->prompts_lost;
        if (auto again = s.core->prompt_lost(prompt_id)) {
          if (!s.stopping) dispatch(self, *again);
        }
        issue(self);
      },
      [self](worker_atom, uint64_t index, bool up) {
        auto& s = self->state;
        if (index >= s.available.size() || s.available[index] == up) return;
        s.available[index] = up;
        if (!up) return orphan(self, index);
        auto waiting = std::move(s.waiting);
        s.waiting.clear();
        for (auto& [id, prompt] : waiting) hand_out(self, id, std::move(prompt));
      },
      [self](weights_atom, uint64_t version) {
        self->state.core->learner_version(version);
        issue(self);
      },
      [self](stop_atom) -> LiveActors {  // answered once no further prompt will be issued
        auto& s = self->state;
        s.stopping = true;
        if (s.setup.status) s.setup.status->set_controller(s.core->snapshot());
        LiveActors live{s.setup.workers, {}};
        for (const auto& [_, e] : s.setup.env_actors) live.envs.push_back(e);
        return live;
      },
  };
}

}  // namespace

Result<caf::actor> spawn_controller(caf::actor_system& sys, const configs::ExperimentConfig& config,
                                    ControllerSetup setup) {
  auto core = std::make_shared<ControllerState>(config);
  if (setup.resume) {
    std::string err = core->restore(setup.resume->version, setup.resume->controller);
    if (!err.empty()) return Status::invalid_argument("resuming the controller: " + err);
  }
  if (setup.status) setup.status->set_controller(core->snapshot());
  return sys.spawn(controller_behavior, core, std::move(setup));
}

}  // namespace troupe::actors
