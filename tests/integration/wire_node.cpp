// wire_node: one process of the multi-process wire tests (tests/integration/wire_*_test.cpp spawns
// several and reads their stdout). It listens on 127.0.0.1, prints "PORT <n>", connects to the
// peers it is given, then plays one role:
//   chat       send --count Heartbeats to every --expect peer, check what arrives is in order,
//              carry on when a peer goes down; prints "RECV <peer> <n> <in-order 0/1>", "DONE".
//   source     broadcast weight versions 1..--versions (deterministic bytes) down --chain and wait
//              for the acknowledgements; prints "ACK <node> <v>", "DONE". With --backend shm the
//              versions go through same-host shared memory (--slots segments) to every node of
//              --chain directly; with --backend nccl GPU to GPU from --gpu (each receiver names its
//              own --gpu), retrying a failed version with the receivers still up.
//   receiver   take broadcasts; prints "COMMIT <v> <bit-identical 0/1>"; with --stall-after K it
//              stops reading after K chunks of the last version, with --stall-at-version V once it
//              committed V, holding it (the test kills it there).
//   allreduce  sum a deterministic vector over the ring --expect (in order); prints "SUM <crc>
//              <exact 0/1>".
//   nccl_allreduce  the same sum in GPU memory by ncclAllReduce, as --rank of --nranks on --gpu,
//              over the communicator --nccl-id (hex; the test made it); no transport.
// Every line goes to stdout, flushed; "UP <peer>", "DOWN <peer>", "REFUSED <who>" report events.
// The process ends by itself within --deadline-ms.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#if TROUPE_HAVE_NCCL
#include <cuda_runtime.h>

#include "wire/nccl_collectives.hpp"
#endif
#include "wire/crc32c.hpp"
#include "wire/device_weights.hpp"
#include "wire/mapped_buffer.hpp"
#include "wire/ring_allreduce.hpp"
#include "wire/shared_weights.hpp"
#include "wire/ucx_transport.hpp"
#include "wire/weight_broadcast.hpp"

using namespace troupe;
using namespace troupe::wire;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string name, role = "chat", token;
  uint16_t port = 0;
  std::vector<std::pair<std::string, uint16_t>> connect;
  std::vector<std::string> expect, chain;
  int count = 100, interval_us = 1000, versions = 1, deadline_ms = 60000;
  size_t bytes = size_t{1} << 20, chunk = size_t{4} << 20, floats = 1 << 20;
  long stall_after = -1;
  int stall_at_version = -1, slots = 3;
  std::string backend = "ucx";
  int gpu = 0, device_wait_ms = 10000, rank = 0, nranks = 1;
  std::string nccl_id;
  int busy_poll_us = 200, linger_ms = 0;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void say(const char* fmt, auto... args) {
  std::printf(fmt, args...);
  std::printf("\n");
  std::fflush(stdout);
}

// Deterministic weight bytes for version v: what every receiver checks against.
uint8_t weight_byte(uint64_t v, size_t i) { return static_cast<uint8_t>((i * 2654435761u >> 13) + v * 7); }

struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::variant<Envelope, PeerEvent>> items;
  void push(std::variant<Envelope, PeerEvent> v) {
    std::lock_guard lk(m);
    items.push_back(std::move(v));
    cv.notify_all();
  }
  bool pop(std::variant<Envelope, PeerEvent>* out, std::chrono::milliseconds wait) {
    std::unique_lock lk(m);
    if (!cv.wait_for(lk, wait, [&] { return !items.empty(); })) return false;
    *out = std::move(items.front());
    items.pop_front();
    return true;
  }
};

// Small integers sum exactly in fp32, so every rank can check the exact total.
std::vector<float> addend(size_t n, size_t rank) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i + 3 * rank) % 17);
  return v;
}
bool exact_total(const std::vector<float>& v, size_t ranks) {
  for (size_t i = 0; i < v.size(); ++i) {
    float want = 0;
    for (size_t k = 0; k < ranks; ++k) want += static_cast<float>((i + 3 * k) % 17);
    if (v[i] != want) return false;
  }
  return true;
}
void say_sum(const std::vector<float>& v, size_t ranks) {
  uint32_t crc = crc32c({reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
  say("SUM %08x %d", crc, exact_total(v, ranks) ? 1 : 0);
}

int run_nccl_allreduce(const Args& a) {
#if TROUPE_HAVE_NCCL
  std::vector<uint8_t> id;
  for (size_t i = 0; i + 1 < a.nccl_id.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = a.nccl_id.substr(i, 2);
    const unsigned long byte = std::strtoul(pair.c_str(), &end, 16);
    if (end != pair.c_str() + 2) return say("ERROR --nccl-id: \"%s\" at %zu is not a hex byte", pair.c_str(), i), 2;
    id.push_back(static_cast<uint8_t>(byte));
  }
  auto comm = NcclComm::create(id, a.nranks, a.rank, a.gpu);
  if (!comm) return say("ALLREDUCE_FAILED %s", comm.status().to_string().c_str()), 5;
  std::vector<float> v = addend(a.floats, static_cast<size_t>(a.rank));
  float* dev = nullptr;
  if (cudaMalloc(&dev, v.size() * sizeof(float)) != cudaSuccess ||
      cudaMemcpy(dev, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
    return say("ALLREDUCE_FAILED cannot place the vector on GPU %d", a.gpu), 5;
  }
  Status s = (*comm)->all_reduce_sum(dev, v.size(), nullptr);
  if (s) s = (*comm)->synchronize(nullptr);
  if (!s) return say("ALLREDUCE_FAILED %s", s.to_string().c_str()), 5;
  cudaMemcpy(v.data(), dev, v.size() * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dev);
  say_sum(v, static_cast<size_t>(a.nranks));
  say("DONE");
  return 0;
#else
  (void)a;
  say("ERROR this build has no CUDA");
  return 2;
#endif
}

int run(const Args& a) {
  Inbox inbox;
  // Fed directly from the progress thread. Set before the first connection: a predecessor may send
  // its first segment the moment it sees us up, before this process has seen every peer.
  std::atomic<RingAllReduce*> ring{nullptr};
  std::unique_ptr<RingAllReduce> ring_owner;
  TransportOptions o;
  o.name = a.name;
  o.listen_port = a.port;
  o.token = a.token;
  o.busy_poll = std::chrono::microseconds(a.busy_poll_us);
  if (a.role == "source" || a.role == "receiver") o.prefault_heap_bytes = 2 * o.max_queued_bytes;
  o.on_message = [&](Envelope&& e) {
    if (RingAllReduce* r = ring.load(); r != nullptr && e.dst == "allreduce") return r->deliver(std::move(e));
    inbox.push(std::move(e));
  };
  o.on_peer_event = [&](const PeerEvent& e) {
    if (RingAllReduce* r = ring.load(); r != nullptr && e.kind == PeerEvent::Kind::kDown) r->on_peer_down(e.peer);
    inbox.push(e);
  };
  auto t = Transport::start(o);
  if (!t) {
    say("ERROR %s", t.status().to_string().c_str());
    return 2;
  }
  Transport& tr = **t;
  say("PORT %u", tr.port());
  if (a.role == "allreduce") {
    size_t rank = 0;
    while (rank < a.expect.size() && a.expect[rank] != a.name) ++rank;
    ring_owner = std::make_unique<RingAllReduce>(tr, a.expect, rank);
    ring.store(ring_owner.get());
  }
  for (auto& [host, port] : a.connect) {
    auto peer = tr.connect(host, port);
    if (!peer) {
      say("CONNECT_FAILED %s", peer.status().to_string().c_str());
      continue;
    }
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(a.deadline_ms);
  std::set<std::string> up, down;
  auto handle_event = [&](const PeerEvent& e) {
    if (e.kind == PeerEvent::Kind::kUp) {
      up.insert(e.peer);
      say("UP %s", e.peer.c_str());
    } else if (e.kind == PeerEvent::Kind::kDown) {
      down.insert(e.peer);
      say("DOWN %s", e.peer.c_str());
    } else {
      say("REFUSED %s %s", e.peer.c_str(), e.reason.c_str());
    }
  };
  // Messages that arrived while waiting for peers, handed out before newer ones.
  std::deque<std::variant<Envelope, PeerEvent>> backlog;
  auto next = [&](std::variant<Envelope, PeerEvent>* item, std::chrono::milliseconds wait) {
    if (!backlog.empty()) {
      *item = std::move(backlog.front());
      backlog.pop_front();
      return true;
    }
    return inbox.pop(item, wait);
  };
  // Waits for every expected peer to be up (or gone).
  auto await_peers = [&](const std::vector<std::string>& names) -> bool {
    while (Clock::now() < deadline) {
      bool all = true;
      for (auto& n : names) all &= n == a.name || tr.is_up(n) || down.count(n);
      if (all) return true;
      std::variant<Envelope, PeerEvent> item;
      if (!inbox.pop(&item, std::chrono::milliseconds(20))) continue;
      if (std::holds_alternative<PeerEvent>(item)) {
        handle_event(std::get<PeerEvent>(item));
      } else {
        backlog.push_back(std::move(item));
      }
    }
    return false;
  };

  if (a.role == "chat") {
    if (!await_peers(a.expect)) return say("TIMEOUT waiting for peers"), 3;
    say("READY");
    std::map<std::string, uint64_t> got;
    std::map<std::string, bool> in_order;
    int sent = 0;
    auto next_send = Clock::now();
    while (Clock::now() < deadline) {
      if (sent < a.count && Clock::now() >= next_send) {
        for (auto& p : a.expect) {
          if (p == a.name || down.count(p)) continue;
          HeartbeatT h;
          h.node = a.name;
          h.sequence = static_cast<uint64_t>(sent);
          Status s = tr.send(p, "chat/" + p, "chat/" + a.name, MessageKind::kHeartbeat, pack(h),
                             std::chrono::milliseconds(1000));
          if (!s && !down.count(p)) say("SEND_FAILED %s %s", p.c_str(), s.to_string().c_str());
        }
        ++sent;
        next_send += std::chrono::microseconds(a.interval_us);
      }
      bool finished = sent >= a.count;
      for (auto& p : a.expect) {
        if (p != a.name && !down.count(p) && got[p] < static_cast<uint64_t>(a.count)) finished = false;
      }
      if (finished) break;
      std::variant<Envelope, PeerEvent> item;
      if (!next(&item, std::chrono::milliseconds(sent < a.count ? 0 : 20))) continue;
      if (auto* e = std::get_if<PeerEvent>(&item)) {
        handle_event(*e);
        continue;
      }
      auto& env = std::get<Envelope>(item);
      auto h = read<Heartbeat>(env.payload);
      if (!h || env.dst != "chat/" + a.name || env.src != "chat/" + env.peer) {
        say("BAD message from %s to %s", env.peer.c_str(), env.dst.c_str());
        continue;
      }
      if (!in_order.count(env.peer)) in_order[env.peer] = true;
      if ((*h)->sequence() != got[env.peer] && in_order[env.peer]) {
        in_order[env.peer] = false;
        say("GAP %s expected %llu got %llu", env.peer.c_str(), (unsigned long long)got[env.peer],
            (unsigned long long)(*h)->sequence());
      }
      ++got[env.peer];
    }
    if (!tr.flush({}, std::chrono::milliseconds(5000))) say("FLUSH_TIMEOUT");
    // --linger-ms: keep answering events (e.g. an intruder's handshake) before reporting.
    for (auto until = Clock::now() + std::chrono::milliseconds(a.linger_ms); Clock::now() < until;) {
      std::variant<Envelope, PeerEvent> item;
      if (inbox.pop(&item, std::chrono::milliseconds(20)) && std::holds_alternative<PeerEvent>(item)) {
        handle_event(std::get<PeerEvent>(item));
      }
    }
    for (auto& p : a.expect) {
      if (p != a.name) say("RECV %s %llu %d", p.c_str(), static_cast<unsigned long long>(got[p]), in_order[p] ? 1 : 0);
    }
    auto st = tr.stats();
    say("STATS delivered=%llu dropped_corrupt=%llu dropped_unauth=%llu refused=%llu",
        (unsigned long long)st.delivered, (unsigned long long)st.dropped_corrupt,
        (unsigned long long)st.dropped_unauthenticated, (unsigned long long)st.refused_handshakes);
    say("DONE");
    // Stay a little so peers finish reading from us before our endpoints close.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
  }

  if (a.role == "source") {
    std::vector<std::string> need = a.chain;
    if (!await_peers(need)) return say("TIMEOUT waiting for peers"), 3;
    say("READY");
    auto buffer = MappedBuffer::allocate(a.bytes);
    if (!buffer) return say("ERROR %s", buffer.status().to_string().c_str()), 2;
    std::span<uint8_t> data = buffer->span();
    SharedPublishOptions so;
    so.slots = a.slots;
    SharedWeightPublisher publisher(tr, so);
    std::unique_ptr<DeviceWeightLink> link;
    std::unique_ptr<DeviceWeightPublisher> device;
    if (a.backend == "nccl") {
      auto opened = open_nccl_weight_link(a.gpu);
      if (!opened) return say("ERROR %s", opened.status().to_string().c_str()), 2;
      link = std::move(*opened);
      DevicePublishOptions dpo;
      dpo.join_wait = std::chrono::milliseconds(3 * a.device_wait_ms);  // receivers give up on a failed one first
      dpo.retry_first = std::chrono::milliseconds(200);
      device = std::make_unique<DeviceWeightPublisher>(tr, *link, dpo);
    }
    for (int v = 1; v <= a.versions; ++v) {
      for (size_t i = 0; i < data.size(); ++i) data[i] = weight_byte(v, i);
      TensorInfoT tensor;
      tensor.name = "all";
      tensor.dtype = "u8";
      tensor.shape = {static_cast<int64_t>(data.size())};
      tensor.offset = 0;
      tensor.bytes = data.size();
      auto start = Clock::now();
      BroadcastOptions bo;
      bo.chunk_bytes = a.chunk;
      std::vector<std::string> alive;
      for (auto& r : a.chain) {
        if (!down.count(r)) alive.push_back(r);
      }
      auto publish = [&] {
        if (a.backend == "nccl") return device->publish(alive, v, {tensor}, data);
        return a.backend == "shm" ? publisher.publish(alive, v, {tensor}, data)
                                  : broadcast_weights(tr, a.chain, v, {tensor}, data, bo);
      };
      Status s = publish();
      if (!s) say("BCAST_FAILED %d %s", v, s.to_string().c_str());
      // NCCL: a failed version may have missed some receivers; send it again to those still up (one that
      // already holds it takes part and acknowledges it again).
      while (!s && a.backend == "nccl" && Clock::now() < deadline) {
        std::variant<Envelope, PeerEvent> item;
        while (inbox.pop(&item, std::chrono::milliseconds(100))) {
          if (auto* e = std::get_if<PeerEvent>(&item)) {
            handle_event(*e);
            if (e->kind == PeerEvent::Kind::kDown) device->on_peer_down(e->peer);
          } else {
            backlog.push_back(std::move(item));
          }
        }
        alive.clear();
        for (auto& r : a.chain) {
          if (!down.count(r)) alive.push_back(r);
        }
        if (alive.empty()) break;
        s = publish();
        if (!s) say("BCAST_FAILED %d %s", v, s.to_string().c_str());
      }
      // Collect acknowledgements from every receiver still alive.
      std::set<std::string> acked;
      while (Clock::now() < deadline) {
        bool all = true;
        for (auto& r : a.chain) all &= acked.count(r) || down.count(r);
        if (all) break;
        std::variant<Envelope, PeerEvent> item;
        if (!next(&item, std::chrono::milliseconds(20))) continue;
        if (auto* e = std::get_if<PeerEvent>(&item)) {
          handle_event(*e);
          if (e->kind == PeerEvent::Kind::kDown) publisher.on_peer_down(e->peer);
          continue;
        }
        auto& env = std::get<Envelope>(item);
        auto h = read<Heartbeat>(env.payload);
        if (h && env.dst == "weights/ack" && device) device->on_ack(env.peer, (*h)->policy_version());
        if (h && env.dst == "weights/ack" && (*h)->policy_version() == static_cast<uint64_t>(v)) {
          acked.insert(env.peer);
          say("ACK %s %d", env.peer.c_str(), v);
        }
      }
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      say("BCAST_TIME %d %.6f", v, secs);
    }
    if (a.backend == "shm") say("SLOTS %d", publisher.slots_allocated());
    say("DONE");
    // Receivers may still be forwarding our last chunks: stay until told to go or the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
  }

  if (a.role == "receiver") {
    WeightReceiver rx(tr);
    std::unique_ptr<DeviceWeightLink> link;
    if (a.backend == "nccl") {
      auto opened = open_nccl_weight_link(a.gpu);
      if (!opened) return say("ERROR %s", opened.status().to_string().c_str()), 2;
      link = std::move(*opened);
      rx.set_device_link(link.get(), std::chrono::milliseconds(a.device_wait_ms));
    }
    say("READY");
    uint64_t seen_chunks = 0;
    while (Clock::now() < deadline) {
      std::variant<Envelope, PeerEvent> item;
      if (!next(&item, std::chrono::milliseconds(50))) continue;
      if (auto* e = std::get_if<PeerEvent>(&item)) {
        handle_event(*e);
        if (e->kind == PeerEvent::Kind::kDown) {
          rx.on_peer_down(e->peer);
          say("STAGING %llu COMMITTED %llu", (unsigned long long)rx.staging_version(),
              (unsigned long long)rx.committed().version);
        }
        continue;
      }
      auto& env = std::get<Envelope>(item);
      if (env.dst != kWeightsDst) continue;
      if (env.kind == MessageKind::kWeightChunk && a.stall_after >= 0) {
        auto c = read<WeightChunk>(env.payload);
        if (c && (*c)->version() == static_cast<uint64_t>(a.versions) && ++seen_chunks > static_cast<uint64_t>(a.stall_after)) {
          say("STALLED");
          std::this_thread::sleep_until(deadline);  // the test kills us here
          return 4;
        }
      }
      auto r = rx.on_message(env);
      if (!r) {
        say("WEIGHT_ERROR %s", r.status().to_string().c_str());
        continue;
      }
      if (*r) {
        auto w = rx.committed();
        bool same = true;
        const uint8_t* d = w.data->data();
        for (size_t i = 0; i < w.data->size(); ++i) same &= d[i] == weight_byte(w.version, i);
        say("COMMIT %llu %d", (unsigned long long)w.version, same ? 1 : 0);
        if (static_cast<int>(w.version) == a.stall_at_version) {
          say("STALLED");
          std::this_thread::sleep_until(deadline);  // the test kills us here, holding this version
          return 4;
        }
        if (w.version == static_cast<uint64_t>(a.versions)) {
          // Give the next hop time to drain what we forwarded before we exit.
          tr.flush({}, std::chrono::milliseconds(10000)).ignore();
          say("DONE");
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          return 0;
        }
      }
    }
    say("FINAL %llu", (unsigned long long)rx.committed().version);
    return 0;
  }

  if (a.role == "allreduce") {
    if (!await_peers(a.expect)) return say("TIMEOUT waiting for peers"), 3;
    RingAllReduce& r = *ring_owner;
    size_t rank = 0;
    while (rank < a.expect.size() && a.expect[rank] != a.name) ++rank;
    std::vector<float> v = addend(a.floats, rank);
    Status s = r.sum(v, 1);
    if (!s) return say("ALLREDUCE_FAILED %s", s.to_string().c_str()), 5;
    say_sum(v, a.expect.size());
    tr.flush({}, std::chrono::milliseconds(5000)).ignore();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    say("DONE");
    return 0;
  }
  say("ERROR unknown role %s", a.role.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--name") a.name = v;
    else if (k == "--role") a.role = v;
    else if (k == "--token") a.token = v;
    else if (k == "--port") a.port = static_cast<uint16_t>(std::stoi(v));
    else if (k == "--connect") {
      size_t colon = v.rfind(':');
      a.connect.emplace_back(v.substr(0, colon), static_cast<uint16_t>(std::stoi(v.substr(colon + 1))));
    } else if (k == "--expect") a.expect = split(v);
    else if (k == "--chain") a.chain = split(v);
    else if (k == "--count") a.count = std::stoi(v);
    else if (k == "--interval-us") a.interval_us = std::stoi(v);
    else if (k == "--versions") a.versions = std::stoi(v);
    else if (k == "--bytes") a.bytes = std::stoull(v);
    else if (k == "--chunk") a.chunk = std::stoull(v);
    else if (k == "--floats") a.floats = std::stoull(v);
    else if (k == "--stall-after") a.stall_after = std::stol(v);
    else if (k == "--stall-at-version") a.stall_at_version = std::stoi(v);
    else if (k == "--backend") {
      if (v != "ucx" && v != "shm" && v != "nccl") {
        std::fprintf(stderr, "wire_node: --backend %s: expected ucx, shm or nccl\n", v.c_str());
        std::exit(2);
      }
      a.backend = v;
    }
    else if (k == "--slots") a.slots = std::stoi(v);
    else if (k == "--gpu") a.gpu = std::stoi(v);
    else if (k == "--rank") a.rank = std::stoi(v);
    else if (k == "--nranks") a.nranks = std::stoi(v);
    else if (k == "--nccl-id") a.nccl_id = v;
    else if (k == "--device-wait-ms") a.device_wait_ms = std::stoi(v);
    else if (k == "--deadline-ms") a.deadline_ms = std::stoi(v);
    else if (k == "--busy-poll-us") a.busy_poll_us = std::stoi(v);
    else if (k == "--linger-ms") a.linger_ms = std::stoi(v);
    else {
      std::fprintf(stderr, "wire_node: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.name.empty()) {
    std::fprintf(stderr, "usage: wire_node --name N [--role chat|source|receiver|allreduce] [--connect host:port]...\n");
    return 2;
  }
  if (a.role == "nccl_allreduce") return run_nccl_allreduce(a);
  return run(a);
}
