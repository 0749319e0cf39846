// The process-to-process transport: one UCP context, one worker and one progress thread per
// process; a listener on a configured address; one connection per peer node; active messages that
// carry a routing header (destination name, source name, message kind, session) and a FlatBuffers
// payload. No CAF here: actors/gateway.* puts an actor in front of it.
//
// Connections. A client reaches a server through its listener (TCP through UCX's connection
// manager). The first message on that connection is a Handshake carrying the run's shared secret; a
// peer without it is refused, logged and counted, and nothing it sends is delivered. After the
// handshake both sides also open a data endpoint to the other's UCP worker address, which on one
// host runs over shared memory (+ CMA for rendezvous), with peer error handling on both endpoints.
// See the "transport mode" comment in ucx_transport.cpp for why.
//
// Delivery. Every received payload passes `verify_any` and must match the kind its header names;
// failures are counted and dropped. Messages arrive on the progress thread through `on_message`,
// which must not block (push into a queue and return). Messages from one peer arrive in the order
// they were sent to it.
//
// Failure. An endpoint error (the peer died, its socket closed) marks the peer down, fails what was
// queued to it, and reaches the owner as a PeerEvent; sends to a down peer return `unavailable`.
// Nothing waits forever: connect and flush take timeouts.
//
// Back-pressure. Each peer has a bounded send queue (bytes and messages not yet completed by UCX);
// `send` waits up to its `wait` argument for room, then returns `unavailable`.
//
// Thread-safety: every public method may be called from any thread, including from inside
// `on_message`/`on_peer_event`/`on_progress` (there `send` never waits, and connect, flush and
// describe fail instead of waiting for the thread they run on). UCX is called under one lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "wire/messages.hpp"

namespace troupe::wire {

// The environment variable that carries the run's shared secret.
inline constexpr const char* kTokenEnvVar = "TROUPE_CLUSTER_TOKEN";

// A message as delivered to the owner.
struct Envelope {
  std::string peer;  // the node it came from
  std::string dst;   // destination name, e.g. "policy/3"
  std::string src;   // sender name, e.g. "learner/0"
  MessageKind kind = MessageKind::kControl;
  Bytes payload;     // verified
};

struct PeerEvent {
  enum class Kind { kUp, kDown, kRefused };
  Kind kind = Kind::kUp;
  std::string peer;    // node name (for kRefused: the address or claimed name)
  std::string reason;
};
const char* peer_event_name(PeerEvent::Kind kind);

enum class TransportMode {
  // Handshake over the listener's TCP connection, data over worker-address endpoints (shared memory
  // + CMA on one host), peer error handling on both. The default.
  kSharedMemory,
  // Everything over the listener's connection (TCP). For comparison and for hosts without shm.
  kTcpOnly,
};

struct TransportOptions {
  std::string name;                           // this node's name, unique in the run; required
  std::string listen_host = "127.0.0.1";      // Default: loopback only
  uint16_t listen_port = 0;                   // Default: 0, an ephemeral port (see Transport::port)
  std::string token;                          // Default: empty, read from TROUPE_CLUSTER_TOKEN
  TransportMode mode = TransportMode::kSharedMemory;
  // Default: 64 MiB and 4096 messages queued or in flight per peer before `send` waits. A small
  // window lets message buffers be recycled instead of faulted in afresh (see mapped_buffer.hpp).
  size_t max_queued_bytes = size_t{64} << 20;
  size_t max_queued_messages = 4096;
  // Default: 50 us of busy polling after the last activity while a rendezvous send or receive is
  // in flight (a bulk transfer: each step of it comes within microseconds), then sleep on the
  // worker's event fd. Not longer: on this 2-core machine two spinning progress threads starve the
  // application thread that would produce the next message (measured: a 200 us window gave
  // 550-900 us round trips under load, 0 us gave 64).
  std::chrono::microseconds busy_poll{50};
  // Default: 5 us of busy polling after a pass that only received, when nothing is in flight:
  // enough for the next message of a back-to-back stream (the message rate fell ~10x without it).
  std::chrono::microseconds idle_busy_poll{5};
  // Default: 30 us of busy polling after a pass that sent (a call, or an answer that may be
  // followed by the next call, whether an actor run or on_message itself sent it): the answer is
  // read without a sleep and a wake-up when it comes within the window. Measured on this idle
  // 2-core machine (wire_bench --quick, 6 alternating pairs): actor round trip p50 5.9-9.6 us with
  // 30, 16.9-82 us with 0; a thread's call answered by an echo from on_message, 7.7-11 us where the
  // echo spun only idle_busy_poll gave 32-34 (wire_bench full runs). The cost: at most 30 us of CPU
  // per such pass, and on a loaded machine a peer woken on this CPU waits out the spin.
  std::chrono::microseconds answer_busy_poll{30};
  // Default: 5 s for a connecting peer to complete the handshake before it is dropped.
  std::chrono::milliseconds handshake_timeout{5000};
  // Default: 0. Heap to populate up front for message buffers (tune_allocator_for_large_messages);
  // nodes that move weights set ~2x max_queued_bytes. Process-wide: the first transport decides.
  size_t prefault_heap_bytes = 0;
  std::function<void(Envelope&&)> on_message;          // progress thread; must not block
  std::function<void(const PeerEvent&)> on_peer_event;  // progress thread; must not block
  // Called on the progress thread after every pass over the worker, outside the worker lock, with
  // whether a rendezvous (bulk) transfer is in flight; returns whether it did work (the loop then
  // polls again instead of sleeping). It may send (when it returns true, what it sent is posted right
  // after it) and must not block. The gateway runs the actors a pass delivered to here (actors/gateway.cpp).
  std::function<bool(bool bulk_in_flight)> on_progress;
};

struct TransportStats {
  uint64_t sent = 0;                   // messages completed by UCX
  uint64_t delivered = 0;              // messages handed to on_message
  uint64_t dropped_corrupt = 0;        // failed verify_any, bad header, or kind mismatch
  uint64_t dropped_unauthenticated = 0;  // data from a session no handshake established
  uint64_t refused_handshakes = 0;     // wrong token, malformed handshake, duplicate name, timeout
  uint64_t send_failures = 0;          // sends that completed with an error or were failed by a peer down
  uint64_t sleeps = 0;                 // times the progress thread armed the workers and waited for an event
};

class Transport {
 public:
  // Creates the UCP context and worker, binds the listener and starts the progress thread.
  static Result<std::unique_ptr<Transport>> start(TransportOptions options);
  ~Transport();  // closes every endpoint (peers see a peer-down), stops the thread
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const std::string& name() const;
  uint16_t port() const;  // the bound port (the ephemeral one when listen_port was 0)

  // Connects to the node listening at host:port and runs the handshake; returns its node name.
  Result<std::string> connect(const std::string& host, uint16_t port,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  // Queues `payload` for `peer`. Waits up to `wait` for room in the peer's queue (never on the
  // progress thread). REQUIRES: payload was produced by wire::pack/finish (it is verified on receipt).
  Status send(const std::string& peer, std::string_view dst, std::string_view src, MessageKind kind,
              Bytes payload, std::chrono::milliseconds wait = std::chrono::milliseconds(10000));

  // Waits until everything queued to `peer` (every peer when empty) completed or failed. Not from
  // the progress thread (connect, flush and describe wait for it there: they fail at once instead).
  Status flush(const std::string& peer = {},
               std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

  bool is_up(const std::string& peer) const;
  std::vector<std::string> peers() const;  // up peers
  TransportStats stats() const;
  // UCX's description of the lanes and transports of the data endpoint to `peer` (for benchmarks).
  Result<std::string> describe(const std::string& peer);

  struct Impl;

 private:
  explicit Transport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The shared secret from TROUPE_CLUSTER_TOKEN; invalid_argument naming the variable when unset.
Result<std::string> token_from_env();

}  // namespace troupe::wire
