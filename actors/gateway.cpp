// The gateway behind actors/gateway.hpp.
#include "actors/gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/send.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "wire/hop_trace.hpp"

namespace troupe::actors {

namespace {

// An actor whose inline runs were slow kHeavyStreak times in a row goes to the CAF scheduler for a
// while: the progress thread must stay free to receive (and to drive bulk transfers). Slow: over
// kHeavyRun of wall time, and the thread either used that much CPU or blocked (a voluntary context
// switch). Wall time alone is not enough: under load (5-10 here) a light run is often preempted for
// 100s of us, and in a 20000-call benchmark streaks of such runs came often enough to send the light
// actors (ingress, proxy, caller) to the scheduler (for good, while a mark was for good).
//
// CPU time and switches cost a getrusage call (~0.3 us here, traced: more than the transport's own
// work on a message), so only suspects pay it: a run that took kHeavyRun of wall time makes its
// actor a suspect, and a suspect's runs are measured until one is fast again.
constexpr auto kHeavyRun = std::chrono::microseconds(100);
constexpr uint8_t kHeavyStreak = 2;
// How long a heavy actor stays with the scheduler before it gets an inline run again: doubling from
// the first to the last each time it proves heavy again, back to the first after a fast run. A
// light actor that had bad luck returns soon; a heavy one costs the progress thread one run per
// 10 s at most.
constexpr auto kHeavyFirst = std::chrono::milliseconds(50);
constexpr auto kHeavyLast = std::chrono::milliseconds(10000);

struct ThreadUsage {
  int64_t cpu_us = 0;
  long blocked = 0;  // voluntary context switches
};

// This thread's CPU time and voluntary switches so far (one getrusage call).
ThreadUsage thread_usage() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return {};
  auto us = [](const timeval& t) { return int64_t{t.tv_sec} * 1000000 + t.tv_usec; };
  return {us(ru.ru_utime) + us(ru.ru_stime), ru.ru_nvcsw};
}
// At most this much of one progress pass runs actors inline; the rest goes to the scheduler.
constexpr auto kPassBudget = std::chrono::microseconds(500);
// Messages an actor processes per inline run before it yields to the others queued here.
constexpr size_t kInlineThroughput = 16;
// Heavy actors remembered (by address); when full the map starts over and actors re-qualify.
constexpr size_t kMaxHeavy = 1024;

// The transport's progress thread as a CAF execution unit. A message the progress thread delivers
// wakes its actor through this unit (exec_later) instead of the scheduler; after the pass the
// gateway resumes those actors right here, and whatever they send to other idle actors lands here
// too. So a reply that needs a few light actors (ingress, the callee, the proxy, the caller) costs
// no thread hand-off: no condition-variable wake-up of a CAF worker, which on this 2-core VM costs
// 5-30 us each. Actors that prove heavy, detached and blocking actors, and everything while a bulk
// transfer is in flight, go to the scheduler as before.
class InlineUnit final : public caf::execution_unit {
 public:
  explicit InlineUnit(caf::actor_system* sys) : caf::execution_unit(sys) {}

  // From an actor this unit runs or from the progress thread's delivery; anything else (cannot
  // happen by CAF's contract, but costs nothing to handle) goes to the scheduler.
  void exec_later(caf::resumable* job) override {
    if (std::this_thread::get_id() != owner.load()) return system_->scheduler().enqueue(job);
    jobs.push_back(job);
  }

  // Progress thread: runs what the last pass woke. Returns whether there was anything.
  bool run(bool bulk_in_flight) {
    if (jobs.empty()) return false;
    const auto start = std::chrono::steady_clock::now();
    while (!jobs.empty()) {
      caf::resumable* job = jobs.front();
      jobs.pop_front();
      const auto t0 = std::chrono::steady_clock::now();
      auto h = heavy.find(job);
      if (bulk_in_flight || t0 - start > kPassBudget || job->subtype() != caf::resumable::scheduled_actor ||
          (h != heavy.end() && t0 < h->second.until)) {
        system_->scheduler().enqueue(job);  // takes over our reference
        to_scheduler.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      ran_inline.fetch_add(1, std::memory_order_relaxed);
      // Measured: suspects, and an actor back from the scheduler (one slow run sends it back).
      auto w = suspects.empty() ? suspects.end() : suspects.find(job);
      const bool measure = w != suspects.end() || h != heavy.end();
      const ThreadUsage before = measure ? thread_usage() : ThreadUsage{};
      TROUPE_HOP(kRunStart);
      auto result = job->resume(this, kInlineThroughput);
      TROUPE_HOP(kRunEnd);
      if (std::chrono::steady_clock::now() - t0 <= kHeavyRun) {
        if (w != suspects.end()) suspects.erase(w);
        if (h != heavy.end()) heavy.erase(h);
      } else if (!measure) {
        if (suspects.size() >= kMaxHeavy) suspects.clear();
        suspects.emplace(job, 0);  // slow by the clock: its next runs say whether it is heavy
      } else {
        const ThreadUsage after = thread_usage();
        const bool heavy_run = after.cpu_us - before.cpu_us > kHeavyRun.count() || after.blocked > before.blocked;
        uint8_t streak = heavy_run ? (w != suspects.end() ? w->second : 0) + 1 : 0;
        if (heavy_run && (streak >= kHeavyStreak || h != heavy.end())) {
          if (heavy.size() >= kMaxHeavy) heavy.clear();
          auto& e = heavy[job];
          e.period = e.period.count() == 0 ? kHeavyFirst : std::min<std::chrono::milliseconds>(2 * e.period, kHeavyLast);
          e.until = std::chrono::steady_clock::now() + e.period;
          heavy_marks.fetch_add(1, std::memory_order_relaxed);
          if (w != suspects.end()) suspects.erase(w);
        } else {
          if (suspects.size() >= kMaxHeavy) suspects.clear();
          suspects[job] = streak;  // preempted, not heavy: still a suspect
        }
      }
      switch (result) {
        case caf::resumable::resume_later:
          jobs.push_back(job);  // more mail: after the others (the budget check may move it on)
          break;
        default:  // awaiting_message, done: the reference exec_later handed us is ours to drop
          intrusive_ptr_release(job);
          break;
      }
    }
    return true;
  }

  // After the progress thread stopped: whatever is left goes to the scheduler.
  void hand_over() {
    for (caf::resumable* job : jobs) system_->scheduler().enqueue(job);
    jobs.clear();
  }

  std::atomic<std::thread::id> owner;
  std::atomic<uint64_t> ran_inline{0}, to_scheduler{0}, heavy_marks{0};  // GatewayStats

 private:
  // Progress thread only. Bounded by the number of actors (an actor waits here at most once).
  std::deque<caf::resumable*> jobs;
  struct Heavy {
    std::chrono::steady_clock::time_point until;  // with the scheduler until then
    std::chrono::milliseconds period{0};
  };
  std::unordered_map<const caf::resumable*, Heavy> heavy;
  // Actors whose last inline run was slow by the clock -> heavy runs in a row since (measured).
  std::unordered_map<const caf::resumable*, uint8_t> suspects;
};

}  // namespace

struct Gateway::Impl : std::enable_shared_from_this<Gateway::Impl> {
  caf::actor_system& system;
  NameDirectory directory;
  std::unique_ptr<wire::Transport> transport;
  // One lane per peer whose send queue was ever full: a detached actor that waits for room for that
  // peer only (a slow peer never holds up messages to the others), and the count of messages handed
  // to it and not yet given to the transport. While that count is above zero, later messages to the
  // peer follow through the lane, so nothing overtakes what waits for room. The count is bounded
  // (`max_backlog`): beyond it a message fails at once and is counted, so the lane's mailbox stays
  // bounded. Lanes are made on first need (one per peer at most) and stopped by ~Gateway.
  struct Lane {
    caf::actor sender;
    std::atomic<uint64_t> backlog{0};
  };
  std::mutex lanes_mu;
  std::unordered_map<std::string, std::shared_ptr<Lane>> lanes;
  std::atomic<bool> any_lane{false};  // set before the first lane is made; never cleared
  uint64_t max_backlog = 4096;

  std::mutex mu;
  std::unordered_map<std::string, caf::actor> locals;
  std::unordered_map<std::string, caf::actor> proxies;
  std::vector<caf::actor> listeners;

  std::atomic<uint64_t> forwarded{0}, delivered{0}, unroutable{0}, send_failures{0};
  // Held shared while a thread uses `transport` to send; ~Gateway takes it exclusively to close it.
  std::shared_mutex transport_mu;

  InlineUnit unit;  // the progress thread's (see InlineUnit)

  explicit Impl(caf::actor_system& sys) : system(sys), unit(&sys) {}

  void count_failure(const std::string& node, std::string_view dst, std::string_view src, const Status& s) {
    if (send_failures.fetch_add(1) < 5) {
      std::fprintf(stderr, "[troupe gateway %s] %.*s -> %.*s@%s: %s\n", transport->name().c_str(),
                   static_cast<int>(src.size()), src.data(), static_cast<int>(dst.size()), dst.data(), node.c_str(),
                   s.to_string().c_str());
    }
  }

  std::shared_ptr<Lane> lane(const std::string& node) {
    std::lock_guard lk(lanes_mu);
    auto& l = lanes[node];
    if (!l) l = std::make_shared<Lane>();
    return l;
  }

  // The sending thread gives the message to the transport itself (which posts it to UCX at once when
  // the worker is free): no hand-off. Only when the peer's queue is full, or earlier messages to it
  // wait for room, does it go to the peer's lane, which waits for room without stalling the caller's
  // scheduler thread. `whole`, when given, is the same message, moved into the lane instead of built
  // anew. Returns false when nothing was sent because `node` is not connected (counted and logged
  // when `down_is_failure`).
  bool send(const std::string& node, std::string_view dst, std::string_view src, wire::MessageKind kind,
            const wire::Bytes& payload, WireMessage* whole, bool down_is_failure);

  // Transport progress thread: hand the message to the destination's mailbox and return.
  void deliver(wire::Envelope&& e) {
    caf::actor target;
    {
      std::lock_guard lk(mu);
      auto it = locals.find(e.dst);
      if (it != locals.end()) target = it->second;
    }
    if (!target) {
      if (unroutable.fetch_add(1) < 5) {
        std::fprintf(stderr, "[troupe gateway %s] no local actor \"%s\" for a %s from %s@%s; dropped\n",
                     transport->name().c_str(), e.dst.c_str(), wire::kind_name(e.kind), e.src.c_str(),
                     e.peer.c_str());
      }
      return;
    }
    ++delivered;
    TROUPE_HOP(kRouted);
    unit.owner.store(std::this_thread::get_id());
    // Through the progress thread's unit: an idle actor runs after this pass, on this thread.
    caf::actor_cast<caf::abstract_actor*>(target)->enqueue(
        nullptr, caf::make_message_id(),
        caf::make_message(
            WireMessage{std::move(e.dst), std::move(e.src), e.kind, std::move(e.payload), std::move(e.peer)}),
        &unit);
  }

  void peer_event(const wire::PeerEvent& e) {
    std::vector<caf::actor> to;
    {
      std::lock_guard lk(mu);
      to = listeners;
    }
    if (e.kind == wire::PeerEvent::Kind::kRefused) return;
    for (auto& l : to) caf::anon_send(l, peer_atom::value, e.peer, e.kind == wire::PeerEvent::Kind::kUp);
  }
};

namespace {

// A peer's lane (see Gateway::Impl::Lane): sends what waits for room in that peer's queue. Detached:
// a full queue blocks this thread only.
caf::behavior lane_actor(caf::event_based_actor* self, std::shared_ptr<Gateway::Impl> impl, std::string node,
                         std::shared_ptr<Gateway::Impl::Lane> lane) {
  (void)self;
  return {
      [impl, node, lane](forward_atom, const WireMessage& m) {
        std::shared_lock alive(impl->transport_mu);
        if (!impl->transport) return;
        // Default wait: 5 s of back-pressure before the message is counted as failed.
        ++impl->forwarded;  // before the send, as in Impl::send
        Status s = impl->transport->send(node, m.dst, m.src, m.kind, m.payload, std::chrono::milliseconds(5000));
        --lane->backlog;
        if (!s) {
          --impl->forwarded;
          impl->count_failure(node, m.dst, m.src, s);
        }
      },
  };
}

}  // namespace

bool Gateway::Impl::send(const std::string& node, std::string_view dst, std::string_view src, wire::MessageKind kind,
                         const wire::Bytes& payload, WireMessage* whole, bool down_is_failure) {
  std::shared_lock alive(transport_mu);
  if (!transport) return false;  // the gateway is closing
  TROUPE_HOP(kGatewaySend);
  // Until some peer's queue was full once, no lane exists and nothing can wait for room: no lookup.
  std::shared_ptr<Lane> l = any_lane.load(std::memory_order_acquire) ? lane(node) : nullptr;
  if (!l || l->backlog.load() == 0) {
    // Counted before the send: the answer may arrive (and someone read the stats) before this
    // thread runs again.
    ++forwarded;
    Status s = transport->send(node, dst, src, kind, payload, std::chrono::milliseconds(0));
    if (s) return true;
    --forwarded;
    if (!transport->is_up(node)) {  // down: waiting cannot help
      if (down_is_failure) count_failure(node, dst, src, s);
      return false;
    }
  }
  if (!l) {
    any_lane.store(true, std::memory_order_release);  // before the backlog can rise: later sends look
    l = lane(node);
  }
  if (l->backlog.load() >= max_backlog) {
    count_failure(node, dst, src,
                  Status::unavailable(std::to_string(max_backlog) +
                                      " messages already wait for room in this peer's queue; dropped"));
    return true;  // the node is up: a full queue is back-pressure, counted, not a down peer
  }
  ++l->backlog;
  caf::actor sender;
  {
    std::lock_guard lk(lanes_mu);
    if (!l->sender) l->sender = system.spawn<caf::detached>(lane_actor, shared_from_this(), node, l);
    sender = l->sender;
  }
  caf::anon_send(sender, forward_atom::value,
                 whole != nullptr ? std::move(*whole) : WireMessage{std::string(dst), std::string(src), kind, payload, {}});
  return true;
}

namespace {

// Stands for a remote actor: everything it receives goes to the transport, addressed to `name`.
caf::behavior proxy_actor(caf::event_based_actor* self, std::shared_ptr<Gateway::Impl> impl, std::string node,
                          std::string name) {
  (void)self;
  return {
      [impl, node, name](const WireMessage& m) { impl->send(node, name, m.src, m.kind, m.payload, nullptr, true); },
  };
}

}  // namespace

void tune_scheduler(caf::actor_system_config& cfg) {
  // Aggressive polling (no sleeps) keeps a worker that just finished a job ready for the reply
  // that usually follows within microseconds; then straight to the condition variable.
  cfg.set("work-stealing.aggressive-poll-attempts", 1000);
  cfg.set("work-stealing.moderate-poll-attempts", 0);
}

Gateway::Gateway(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() {
  {
    std::unique_lock closing(impl_->transport_mu);
    impl_->transport.reset();  // no more callbacks into impl_, no more sends
  }
  impl_->unit.hand_over();  // the progress thread has stopped: actors it had not run yet
  {
    std::lock_guard lk(impl_->lanes_mu);
    for (auto& [_, l] : impl_->lanes) {
      if (l->sender) caf::anon_send_exit(l->sender, caf::exit_reason::user_shutdown);
    }
  }
  std::lock_guard lk(impl_->mu);
  for (auto& [_, p] : impl_->proxies) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
}

Result<std::unique_ptr<Gateway>> Gateway::start(caf::actor_system& system, wire::TransportOptions options) {
  auto impl = std::make_shared<Impl>(system);
  Impl* raw = impl.get();  // the transport dies before impl (see ~Gateway)
  options.on_message = [raw](wire::Envelope&& e) { raw->deliver(std::move(e)); };
  options.on_peer_event = [raw](const wire::PeerEvent& e) { raw->peer_event(e); };
  options.on_progress = [raw](bool bulk_in_flight) { return raw->unit.run(bulk_in_flight); };
  impl->max_backlog = options.max_queued_messages;  // a peer's lane holds at most one queue's worth more
  auto t = wire::Transport::start(std::move(options));
  if (!t) return t.status().with_context("starting the gateway");
  impl->transport = std::move(*t);
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

const std::string& Gateway::node() const { return impl_->transport->name(); }
uint16_t Gateway::port() const { return impl_->transport->port(); }

Result<std::string> Gateway::connect(const std::string& host, uint16_t port) {
  return impl_->transport->connect(host, port);
}

Status Gateway::register_local(const std::string& name, const caf::actor& actor) {
  TROUPE_RETURN_IF_ERROR(impl_->directory.add_local(name));
  std::lock_guard lk(impl_->mu);
  impl_->locals[name] = actor;
  return Status::ok();
}

void Gateway::unregister_local(const std::string& name) {
  impl_->directory.remove_local(name);
  std::lock_guard lk(impl_->mu);
  impl_->locals.erase(name);
}

Status Gateway::add_route(const std::string& pattern, const std::string& node) {
  return impl_->directory.add_route(pattern, node);
}

Result<Location> Gateway::locate(const std::string& name) const { return impl_->directory.lookup(name); }

Result<caf::actor> Gateway::resolve(const std::string& name) {
  auto where = impl_->directory.lookup(name);
  if (!where) return where.status();
  std::lock_guard lk(impl_->mu);
  if (where->local) {
    auto it = impl_->locals.find(name);
    if (it != impl_->locals.end()) return it->second;
    return Status::not_found("actor \"" + name + "\" was unregistered");
  }
  auto it = impl_->proxies.find(name);
  if (it != impl_->proxies.end()) return it->second;
  caf::actor proxy = impl_->system.spawn(proxy_actor, impl_, where->node, name);
  impl_->proxies[name] = proxy;
  return proxy;
}

void Gateway::subscribe(const caf::actor& listener) {
  std::lock_guard lk(impl_->mu);
  impl_->listeners.push_back(listener);
}

GatewayStats Gateway::stats() const {
  return {impl_->forwarded.load(),        impl_->delivered.load(),         impl_->unroutable.load(),
          impl_->send_failures.load(),    impl_->unit.ran_inline.load(),  impl_->unit.to_scheduler.load(),
          impl_->unit.heavy_marks.load()};
}

wire::Transport& Gateway::transport() { return *impl_->transport; }

void Gateway::send(const std::string& node, WireMessage message) {
  impl_->send(node, message.dst, message.src, message.kind, message.payload, &message, true);
}

bool Gateway::send_to(const std::string& node, std::string_view dst, std::string_view src, wire::MessageKind kind,
                      const wire::Bytes& payload) {
  return impl_->send(node, dst, src, kind, payload, nullptr, false);
}

}  // namespace troupe::actors
