// Per-hop timestamps of a message's way through the stack, for latency work. Compiled out unless
// the build sets TROUPE_HOP_TRACE (cmake -DTROUPE_HOP_TRACE=ON); then, with the environment
// variable TROUPE_HOP_TRACE=1, every TROUPE_HOP(point) a process passes appends (TSC, point) to
// /dev/shm/troupe-hops.<pid> (at most kHopRecords records; later ones are dropped).
// bench/hop_trace.py merges the files of the processes of one run by TSC (one clock on one host)
// and prints, for each pair of consecutive points, how often it occurred and its median time: a
// round trip between two processes reads as a chain of hops, each with its cost.
//
// Example (wire_bench's actor round trip; see bench/README.md):
//   cmake -B build-hops -DTROUPE_HOP_TRACE=ON && cmake --build build-hops --target wire_bench
//   rm -f /dev/shm/troupe-hops.*
//   TROUPE_HOP_TRACE=1 TROUPE_BENCH_ONLY=rtt TROUPE_BENCH_REPS=1 build-hops/bench/wire_bench --quick
//   python3 bench/hop_trace.py
//
// A process-wide buffer is the one global here: a trace must see every thread's points without
// being passed around, as a logger does. Off, a point costs nothing; on, ~10-20 ns.
#pragma once

#include <cstdint>

namespace troupe::wire {

enum class Hop : uint16_t {
  // transport (wire/ucx_transport.cpp)
  kRecv = 0,        // a data message arrived (UCX's active-message callback)
  kVerified = 1,    // verified, handed to on_message
  kDelivered = 2,   // on_message returned
  kSendEnter = 4,   // Transport::send called
  kSendQueued = 5,  // ... queued for the worker
  kPostStart = 7,   // ucp_am_send_nbx called
  kPosted = 8,      // ... returned
  // gateway (actors/gateway.cpp)
  kRunStart = 3,    // an actor run on the progress thread starts
  kRunEnd = 6,      // ... ends
  kRouted = 11,     // a delivered message found its local actor
  kGatewaySend = 26,  // a message for another node reached the gateway
  // remote actors (actors/remote.cpp)
  kProxyReply = 12,     // a proxy got the answer to a call
  kProxyDecoded = 13,   // ... decoded it
  kProxyCall = 20,      // a proxy got a call
  kProxyEncoded = 21,   // ... registered it, and is about to encode and send it
  kProxyCallSent = 29,  // ... sent it
  kIngressCall = 15,    // an ingress got a message
  kIngressDecoded = 16,  // ... decoded it
  kIngressAnswer = 17,  // the local actor answered a call
  kIngressReplied = 30,  // ... and the answer went out
  // benchmark actors (bench/wire_bench.cpp)
  kBenchPing = 40,     // the caller got an answer (or starts)
  kBenchCalled = 41,   // ... and is about to call again
  kBenchHandler = 45,  // the called actor's handler runs
};

inline constexpr uint32_t kHopRecords = 1u << 22;

#ifdef TROUPE_HOP_TRACE
void hop(Hop point);
#define TROUPE_HOP(point) ::troupe::wire::hop(::troupe::wire::Hop::point)
#else
#define TROUPE_HOP(point) ((void)0)
#endif

}  // namespace troupe::wire
