// The message every troupe actor exchanges with a peer actor, local or remote: the routing names,
// the kind, and the FlatBuffers bytes (immutable, reference-counted: a local send shares the buffer,
// a remote send hands the same bytes to UCX). No CAF here, so any file may include it.
#pragma once

#include <string>

#include "wire/messages.hpp"

namespace troupe::actors {

struct WireMessage {
  std::string dst;  // e.g. "policy/3"
  std::string src;  // the sender's name, for replies
  wire::MessageKind kind = wire::MessageKind::kControl;
  wire::Bytes payload;
  std::string peer;  // the node it arrived from; empty when it did not cross a process
};

}  // namespace troupe::actors
