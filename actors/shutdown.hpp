// Stopping actors before what they use goes away. An exit is an ordinary message, handled after
// whatever is queued before it (and after the message a detached actor is busy with), so an actor that
// uses a gateway, a transport or a store may still be at work for a while after it was sent one. Its
// owner calls stop_and_wait before destroying what the actor uses.
//
// Thread-safety: call from a thread that is not an actor (it blocks that thread); any number of
// threads may call it at once.
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <vector>

namespace troupe::actors {

// Sends every actor (null handles are skipped) an exit with reason user_shutdown and waits, at most
// `bound` in all, until each has terminated. Returns how many had not terminated when the bound ran
// out (each is logged with `what`).
size_t stop_and_wait(caf::actor_system& system, const std::vector<caf::actor>& actors,
                     std::chrono::milliseconds bound, const char* what);

}  // namespace troupe::actors
