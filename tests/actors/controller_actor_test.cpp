// The controller actor with a real env actor and a policy worker that never answers: a prompt handed
// out and left unanswered past async.prompt_timeout_s counts as lost and is re-issued once, then
// dropped, and its admission slot comes back (the same prompt id is never handed out a third time).
#include "actors/controller.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "actors/env_actor.hpp"
#include "actors/messages.hpp"
#include "actors/run_status.hpp"
#include "wire/messages.hpp"

namespace troupe::actors {
namespace {

using namespace troupe::atoms;
using namespace std::chrono_literals;

// Counts how often each prompt id reached it; answers nothing.
struct Seen {
  std::mutex mu;
  std::map<uint64_t, int> times;
  int total() {
    std::lock_guard lk(mu);
    int n = 0;
    for (auto& [_, k] : times) n += k;
    return n;
  }
};

caf::behavior silent_worker(caf::event_based_actor*, std::shared_ptr<Seen> seen) {
  return {[seen](prompt_atom, const wire::Bytes& bytes) {
    auto p = wire::read<wire::Prompt>(bytes);
    if (!p) return;
    std::lock_guard lk(seen->mu);
    ++seen->times[(*p)->prompt_id()];
  }};
}

TEST(ControllerActor, AnUnansweredPromptIsReissuedOnceAfterTheTimeoutThenDropped) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  configs::ExperimentConfig config;
  config.tasks = {{"copy", 1.0, {1, 1}}};
  config.algorithm.prompts_per_step = 2;
  config.async.max_staleness = 0;  // two prompts admitted until the learner publishes
  config.limits.prompt_queue = 100;
  auto seen = std::make_shared<Seen>();
  ControllerSetup setup;
  setup.env_actors["copy"] = spawn_env_actor(sys, "copy", 4, nullptr);
  setup.workers = {sys.spawn(silent_worker, seen)};
  setup.prompt_timeout_s = 1;
  setup.status = std::make_shared<RunStatus>();
  auto controller = spawn_controller(sys, config, setup);
  ASSERT_TRUE(controller) << controller.status().message();

  // Two prompts at once; each again ~1 s later; then both are dropped and two new ones admitted.
  for (int i = 0; i < 100 && seen->total() < 6; ++i) std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lk(seen->mu);
    ASSERT_GE(seen->times.size(), 4u) << "dropped prompts gave their admission slots back";
    EXPECT_EQ(seen->times[1], 2) << "handed out, then re-issued once";
    EXPECT_EQ(seen->times[2], 2);
    for (auto& [id, k] : seen->times) EXPECT_LE(k, 2) << "prompt " << id << " handed out a third time";
  }
  EXPECT_GE(setup.status->prompts_lost.load(), 4u);
  caf::scoped_actor self{sys};
  self->request(*controller, 5s, stop_atom_v).receive([](const LiveActors&) {}, [](caf::error&) {});
  for (auto& w : setup.workers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(setup.env_actors["copy"], caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*controller, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace troupe::actors
