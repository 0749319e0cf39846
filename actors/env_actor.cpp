// The env actor (see env_actor.hpp).
#include "actors/env_actor.hpp"

#include <chrono>

#include "actors/messages.hpp"
#include "envs/registry.hpp"
#include "monitoring/metrics.hpp"


namespace troupe::actors {
namespace {

using namespace troupe::atoms;

struct EnvState {
  const envs::Task* task = nullptr;
  std::string name;
  int group_size = 1;
  prometheus::Histogram* verify_seconds = nullptr;
  prometheus::Gauge* mailbox = nullptr;
};

caf::error to_error(const Status& s) { return caf::make_error(caf::sec::runtime_error, s.to_string()); }

caf::behavior env_behavior(caf::stateful_actor<EnvState>* self, const envs::Task* task, std::string name,
                           int group_size, prometheus::Histogram* verify_seconds, prometheus::Gauge* mailbox) {
  self->state.task = task;
  self->state.name = std::move(name);
  self->state.group_size = group_size;
  self->state.verify_seconds = verify_seconds;
  self->state.mailbox = mailbox;
  return {
      [self](generate_atom, const PromptTicket& t) -> caf::result<wire::Bytes> {
        auto& st = self->state;
        if (st.mailbox) st.mailbox->Set(static_cast<double>(self->mailbox().size()));
        auto c = st.task->generate_level(t.seed, t.level);
        if (!c) return to_error(c.status().with_context("generating " + st.name));
        wire::PromptT p;
        p.prompt_id = t.prompt_id;
        p.task = st.name;
        p.difficulty = t.level;
        p.seed = t.seed;
        p.identity_json = c->identity.dump();
        p.text = c->prompt;
        p.group_size = st.group_size;
        return wire::pack(p);
      },
      [self](verify_atom, const std::string& identity_json,
             const std::vector<std::string>& responses) -> caf::result<std::vector<RuleVerdict>> {
        auto& st = self->state;
        if (st.mailbox) st.mailbox->Set(static_cast<double>(self->mailbox().size()));
        envs::Json identity = envs::Json::parse(identity_json, nullptr, /*allow_exceptions=*/false);
        std::vector<RuleVerdict> out;
        out.reserve(responses.size());
        for (const auto& r : responses) {
          auto t0 = std::chrono::steady_clock::now();
          auto v = st.task->verify(identity, r);
          if (st.verify_seconds) {
            st.verify_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
          if (!v) {
            out.push_back({.ok = false});
            continue;
          }
          out.push_back({v->score, v->extracted, v->extracted_answer, true});
        }
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_env_actor(caf::actor_system& sys, const std::string& task, int group_size,
                           monitoring::Metrics* metrics) {
  auto found = envs::find_task(task);
  // The pipeline validates task names before spawning anything; a miss here is a bug.
  if (!found) return caf::actor{};
  prometheus::Histogram* verify_seconds = nullptr;
  prometheus::Gauge* mailbox = nullptr;
  if (metrics) {
    verify_seconds = &metrics->verify_seconds.Add({{"task", task}}, monitoring::Metrics::latency_buckets());
    mailbox = &metrics->mailbox_depth.Add({{"actor", "env/" + task}});
  }
  return sys.spawn(env_behavior, *found, task, group_size, verify_seconds, mailbox);
}

}  // namespace troupe::actors
