// stop_and_wait (see shutdown.hpp).
#include "actors/shutdown.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace troupe::actors {

size_t stop_and_wait(caf::actor_system& system, const std::vector<caf::actor>& actors,
                     std::chrono::milliseconds bound, const char* what) {
  caf::scoped_actor self{system};
  size_t waiting = 0;
  for (const auto& a : actors) {
    if (!a) continue;
    self->monitor(a);  // an actor that has already terminated answers with a down message at once
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    ++waiting;
  }
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (waiting > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    bool timed_out = false;
    self->receive([&](caf::down_msg&) { --waiting; }, caf::after(left) >> [&] { timed_out = true; });
    if (timed_out) break;
  }
  if (waiting > 0) spdlog::warn("{}: {} actors had not stopped after {} ms", what, waiting, bound.count());
  return waiting;
}

}  // namespace troupe::actors
