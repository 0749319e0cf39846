// wire_bench: the transport's figures beside ucx_perftest's, measured in the same invocation on
// 127.0.0.1. It starts its own child processes (this binary again, by PID) and ucx_perftest server
// and client pairs, and prints one table:
//   - small-message round trip: UCX transport alone (from a thread that waits for each answer, and
//     answered on both progress threads, with a Heartbeat and with an ActorMessage), and actor ->
//     gateway -> UCX -> gateway -> actor, against ucx_perftest tag_lat (8 B; its figure is one-way,
//     so doubled);
//   - message rate (one-way stream of small messages) against ucx_perftest tag_bw message rate;
//   - 64 MiB bandwidth against ucx_perftest tag_bw -s 64 MiB;
//   - weight broadcast of a 100M-parameter fp32 model (400 MB) to 1, 2 and 4 receivers, beside a
//     memcpy of the same bytes: down a chain of UCX transfers, and through same-host shared memory;
//   - peak RSS of this process and of its children.
// Usage: wire_bench [--quick]   (--quick: fewer iterations, 10M parameters)
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/io/all.hpp>

#include "actors/gateway.hpp"
#include "actors/messages.hpp"
#include "actors/remote.hpp"
#include "actors/remote_codec.hpp"
#include "wire/hop_trace.hpp"
#include "wire/mapped_buffer.hpp"
#include "wire/ucx_transport.hpp"
#include "wire/shared_weights.hpp"
#include "wire/weight_broadcast.hpp"

extern char** environ;

namespace {

using namespace troupe;
using namespace troupe::wire;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// TROUPE_BENCH_BUSY_US / TROUPE_BENCH_IDLE_US / TROUPE_BENCH_ANSWER_US override the transports'
// busy-poll windows while a rendezvous is in flight / after receiving / after only sending (for experiments); see also TROUPE_BENCH_CAF and
// TROUPE_BENCH_PING_TIMEOUT_MS below.
std::chrono::microseconds busy_poll() {
  const char* v = std::getenv("TROUPE_BENCH_BUSY_US");
  return std::chrono::microseconds(v ? std::atol(v) : TransportOptions{}.busy_poll.count());
}
std::chrono::microseconds idle_busy_poll() {
  const char* v = std::getenv("TROUPE_BENCH_IDLE_US");
  return std::chrono::microseconds(v ? std::atol(v) : TransportOptions{}.idle_busy_poll.count());
}
std::chrono::microseconds answer_busy_poll() {
  const char* v = std::getenv("TROUPE_BENCH_ANSWER_US");
  return std::chrono::microseconds(v ? std::atol(v) : TransportOptions{}.answer_busy_poll.count());
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- child processes ---------------------------------------------------------------------------

struct Proc {
  pid_t pid = -1;
  FILE* out = nullptr;
  ~Proc() { stop(); }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st;
      ::waitpid(pid, &st, 0);
      pid = -1;
    }
    if (out) std::fclose(out);
    out = nullptr;
  }
  std::string line() {
    char buf[4096];
    if (!out || !std::fgets(buf, sizeof buf, out)) return {};
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
};

// Starts `argv` with stdout (and stderr when `merge`) on a pipe.
std::unique_ptr<Proc> spawn(std::vector<std::string> argv, bool merge = false) {
  int fds[2];
  if (pipe(fds) != 0) return nullptr;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  if (merge) posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  auto p = std::make_unique<Proc>();
  if (posix_spawnp(&p->pid, args[0], &fa, nullptr, args.data(), environ) != 0) p->pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  p->out = fdopen(fds[0], "r");
  return p;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "wire_bench";
}

// A queue between the transport's progress thread and the child's main thread.
struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Envelope> q;
  std::atomic<int> downs{0};
  void push(Envelope&& e) {
    std::lock_guard lk(m);
    q.push_back(std::move(e));
    cv.notify_one();
  }
  bool pop(Envelope* e, std::chrono::milliseconds wait) {
    std::unique_lock lk(m);
    if (!cv.wait_for(lk, wait, [&] { return !q.empty(); })) return false;
    *e = std::move(q.front());
    q.pop_front();
    return true;
  }
};

Bytes heartbeat(uint64_t seq) {
  HeartbeatT h;
  h.node = "bench";
  h.sequence = seq;
  return pack(h);
}


// actors::tune_scheduler, then TROUPE_BENCH_CAF="key=value,..." overrides (integers; experiments),
// e.g. TROUPE_BENCH_CAF=work-stealing.moderate-poll-attempts=500 for CAF's defaults.
void bench_scheduler(caf::actor_system_config& cfg) {
  cfg.set("logger.console", caf::atom("none"));
  actors::tune_scheduler(cfg);
  const char* v = std::getenv("TROUPE_BENCH_CAF");
  if (v == nullptr) return;
  std::string all = v;
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find(',', pos);
    if (end == std::string::npos) end = all.size();
    std::string kv = all.substr(pos, end - pos);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) cfg.set(kv.substr(0, eq), std::stoll(kv.substr(eq + 1)));
    pos = end + 1;
  }
}

// The options every transport of the bench starts with.
TransportOptions bench_transport(const std::string& name) {
  TransportOptions o;
  o.name = name;
  o.token = "bench";
  o.prefault_heap_bytes = 2 * o.max_queued_bytes;
  o.busy_poll = busy_poll();
  o.idle_busy_poll = idle_busy_poll();
  o.answer_busy_poll = answer_busy_poll();
  return o;
}

// ---- the full actor stack (actors/remote.hpp) and CAF's own remote actors -----------------------

using namespace troupe::atoms;

// A small Prompt, as an env actor answers a generate call with.
wire::Bytes small_prompt(uint64_t id) {
  PromptT p;
  p.prompt_id = id;
  p.task = "bench";
  p.identity_json = "{}";
  p.text = "2+2=";
  p.group_size = 8;
  return pack(p);
}

// The exposed side: a CAF actor answering generate calls and counting weights notifications,
// exposed as "env/bench" through the gateway and the remote layer, as a member node exposes its
// env actors.
int exposed_child(TransportOptions o) {
  caf::actor_system_config cfg;
  bench_scheduler(cfg);
  caf::actor_system sys{cfg};
  auto g = actors::Gateway::start(sys, o);
  if (!g) return std::printf("ERROR %s\n", g.status().to_string().c_str()), 2;
  auto r = actors::RemoteActors::create(sys, **g, nullptr);
  if (!r) return std::printf("ERROR %s\n", r.status().to_string().c_str()), 2;
  wire::Bytes prompt = small_prompt(7);
  auto env = sys.spawn([prompt](caf::event_based_actor* self) -> caf::behavior {
    auto notes = std::make_shared<uint64_t>(0);
    return {
        [prompt](generate_atom, const actors::PromptTicket&) { TROUPE_HOP(kBenchHandler); return prompt; },
        [notes](weights_atom, uint64_t) { ++*notes; },
        [notes](verify_atom, const std::string&, const std::vector<std::string>&) {
          // Answers how many notifications arrived (the rate test's end marker).
          return std::vector<actors::RuleVerdict>{actors::RuleVerdict{static_cast<double>(*notes), false, "", true}};
        },
    };
    (void)self;
  });
  (*r)->expose("env/bench", env).ignore();
  // Replies go back to "~bench/*": route them once the client connected.
  std::printf("PORT %u\n", (*g)->port());
  std::fflush(stdout);
  for (int i = 0; i < 60000 && !(*g)->transport().is_up("bench"); ++i) std::this_thread::sleep_for(1ms);
  (*r)->accept_peer("bench").ignore();
  std::printf("READY\n");
  std::fflush(stdout);
  // TROUPE_BENCH_CHILD_STATS=1: this side's gateway counters on stderr when they moved (experiments).
  const bool stats = std::getenv("TROUPE_BENCH_CHILD_STATS") != nullptr;
  uint64_t last = 0;
  for (int i = 0; i < 3600 * 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!stats) continue;
    auto gs = (*g)->stats();
    if (gs.ran_inline + gs.to_scheduler == last) continue;
    last = gs.ran_inline + gs.to_scheduler;
    std::fprintf(stderr, "[exposed side] %llu runs on the progress thread, %llu to the scheduler, %llu slow\n",
                 static_cast<unsigned long long>(gs.ran_inline), static_cast<unsigned long long>(gs.to_scheduler),
                 static_cast<unsigned long long>(gs.heavy));
  }
  return 0;
}

// CAF's own remote actors (io middleman, TCP): an echo actor published on 127.0.0.1.
int caf_echo_child() {
  caf::actor_system_config cfg;
  bench_scheduler(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto echo = sys.spawn([]() -> caf::behavior { return {[](uint64_t x) { return x; }}; });
  auto port = sys.middleman().publish(echo, 0, "127.0.0.1");
  if (!port) return std::printf("ERROR %s\n", sys.render(port.error()).c_str()), 2;
  std::printf("PORT %u\n", *port);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::hours(1));
  return 0;
}

// Round trips measured by an event-based actor (as real actor code makes calls): each call starts
// when the previous reply arrived.
struct RoundTrips {
  std::mutex m;
  std::condition_variable cv;
  std::vector<double> us;
  int failures = 0;
  bool done = false;
};

// The callers' request timeout: none, as troupe's callers call (the controller and the reward actors
// keep their deadlines in a tick, and a proxy fails calls itself); TROUPE_BENCH_PING_TIMEOUT_MS=N
// gives every call a CAF request timeout of N ms instead, which arms and cancels a timer on CAF's
// clock thread: two futex wake-ups of another thread per call, on both paths alike.
std::optional<std::chrono::milliseconds> ping_timeout() {
  const char* v = std::getenv("TROUPE_BENCH_PING_TIMEOUT_MS");
  long ms = v ? std::atol(v) : 0;
  if (ms <= 0) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

struct PingState {
  caf::actor target;
  int total = 0, issued = 0;
  bool typed = true;
  std::optional<std::chrono::milliseconds> timeout = ping_timeout();
  std::shared_ptr<RoundTrips> out;
};
using PingActor = caf::stateful_actor<PingState>;

void ping_once(PingActor* self) {
  TROUPE_HOP(kBenchPing);
  auto& st = self->state;
  if (st.issued == st.total) {
    std::lock_guard lk(st.out->m);
    st.out->done = true;
    st.out->cv.notify_all();
    self->quit();
    return;
  }
  ++st.issued;
  const auto t0 = Clock::now();
  auto record = [self, t0] {
    self->state.out->us.push_back(seconds_since(t0) * 1e6);
    ping_once(self);
  };
  auto failed = [self](caf::error&) {
    ++self->state.out->failures;
    ping_once(self);
  };
  TROUPE_HOP(kBenchCalled);
  if (st.typed) {
    actors::PromptTicket t;
    t.prompt_id = static_cast<uint64_t>(st.issued);
    if (st.timeout) {
      self->request(st.target, *st.timeout, generate_atom_v, t).then([record](const wire::Bytes&) { record(); }, failed);
    } else {
      self->request(st.target, caf::infinite, generate_atom_v, t).then([record](const wire::Bytes&) { record(); }, failed);
    }
  } else if (st.timeout) {
    self->request(st.target, *st.timeout, static_cast<uint64_t>(st.issued)).then([record](uint64_t) { record(); }, failed);
  } else {
    self->request(st.target, caf::infinite, static_cast<uint64_t>(st.issued)).then([record](uint64_t) { record(); }, failed);
  }
}

caf::behavior pinger(PingActor* self, caf::actor target, int n, bool typed, std::shared_ptr<RoundTrips> out) {
  self->state.target = std::move(target);
  self->state.total = n;
  self->state.typed = typed;
  self->state.out = std::move(out);
  ping_once(self);
  return {[](tick_atom) {}};
}

// p50 of `n` round trips after n/10 unmeasured ones; 0 when the calls failed.
double actor_round_trips(caf::actor_system& sys, const caf::actor& target, int n, bool typed, int* failures) {
  auto warm = std::make_shared<RoundTrips>();
  auto out = std::make_shared<RoundTrips>();
  for (auto [rt, count] : {std::pair{warm, n / 10}, std::pair{out, n}}) {
    sys.spawn(pinger, target, count, typed, rt);
    std::unique_lock lk(rt->m);
    if (!rt->cv.wait_for(lk, 120s, [&] { return rt->done; })) return 0;
  }
  *failures = out->failures;
  if (out->us.empty()) return 0;
  std::sort(out->us.begin(), out->us.end());
  return out->us[out->us.size() / 2];
}

// Child roles. Each prints "PORT n" and serves until killed.
int child(const std::string& role, const std::string& name, uint16_t connect_port) {
  Inbox inbox;
  std::unique_ptr<Transport> t;
  TransportOptions o = bench_transport(name);
  Transport* raw = nullptr;
  if (role == "echo") {
    // Replies from the progress thread itself: the transport's own round trip.
    o.on_message = [&raw](Envelope&& e) {
      if (raw) raw->send(e.peer, e.src, e.dst, e.kind, std::move(e.payload), 0ms).ignore();
    };
  } else if (role == "sink") {
    // Counts messages; acknowledges every `sequence`-marked last one.
    o.on_message = [&raw](Envelope&& e) {
      if (e.dst == "sink/ack" && raw) raw->send(e.peer, e.src, e.dst, e.kind, std::move(e.payload), 0ms).ignore();
    };
  } else if (role == "receiver") {
    o.on_message = [&inbox](Envelope&& e) { inbox.push(std::move(e)); };
    o.on_peer_event = [&inbox](const PeerEvent& e) {
      if (e.kind == PeerEvent::Kind::kDown) ++inbox.downs;
    };
  } else if (role == "rexpose") {
    return exposed_child(o);
  } else if (role == "cafecho") {
    return caf_echo_child();
  } else if (role == "gecho") {
    caf::actor_system_config cfg;
    bench_scheduler(cfg);
    caf::actor_system sys{cfg};
    auto g = actors::Gateway::start(sys, o);
    if (!g) return std::printf("ERROR %s\n", g.status().to_string().c_str()), 2;
    actors::Gateway* gw = g->get();
    auto e = sys.spawn([gw](caf::event_based_actor* self) -> caf::behavior {
      return {[self, gw](const actors::WireMessage& m) {
        auto back = gw->resolve(m.src);
        if (back) self->send(*back, actors::WireMessage{m.src, m.dst, m.kind, m.payload});
      }};
    });
    (*g)->register_local("echo/0", e).ignore();
    (*g)->add_route("client/*", "bench").ignore();
    std::printf("PORT %u\n", (*g)->port());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::hours(1));
    return 0;
  }
  auto r = Transport::start(o);
  if (!r) return std::printf("ERROR %s\n", r.status().to_string().c_str()), 2;
  t = std::move(*r);
  raw = t.get();
  std::printf("PORT %u\n", t->port());
  std::fflush(stdout);
  if (role != "receiver") {
    std::this_thread::sleep_for(std::chrono::hours(1));
    return 0;
  }
  // A receiver forwards to its successor, which connects to it; it also reaches its predecessor.
  if (connect_port != 0 && !t->connect("127.0.0.1", connect_port)) {
    std::fprintf(stderr, "receiver %s: cannot reach its predecessor\n", name.c_str());
  }
  WeightReceiver rx(*t);
  while (true) {
    Envelope e;
    if (!inbox.pop(&e, 1000ms)) continue;
    if (e.dst == kWeightsDst) {
      auto c = rx.on_message(e);
      if (!c) std::fprintf(stderr, "receiver %s: %s\n", name.c_str(), c.status().to_string().c_str());
    }
  }
}

// ---- ucx_perftest anchors ------------------------------------------------------------------------

struct PerftestResult {
  bool ok = false;
  double latency_us = 0;   // typical (50th percentile) one-way latency
  double bandwidth_mbs = 0;  // overall, MB/s (2^20 bytes)
  double msg_rate = 0;      // overall messages/s
};

PerftestResult perftest(const std::vector<std::string>& args, int port) {
  PerftestResult r;
  std::vector<std::string> server = {"ucx_perftest", "-p", std::to_string(port)};
  auto srv = spawn(server, true);
  std::this_thread::sleep_for(500ms);  // the server must listen before the client connects
  std::vector<std::string> client = {"ucx_perftest", "127.0.0.1", "-p", std::to_string(port), "-f"};
  client.insert(client.end(), args.begin(), args.end());
  auto cli = spawn(client, true);
  std::string l, last;
  while (!(l = cli->line()).empty() || (cli->out && !std::feof(cli->out))) {
    if (!l.empty() && l.find_first_not_of(" 0123456789.") == std::string::npos) last = l;
  }
  // -f prints: iterations, 50%ile lat, avg lat, overall lat, avg bw, overall bw, avg rate, overall rate.
  double it, p50, avg, overall, bw_avg, bw, rate_avg, rate;
  if (std::sscanf(last.c_str(), "%lf %lf %lf %lf %lf %lf %lf %lf", &it, &p50, &avg, &overall, &bw_avg, &bw, &rate_avg,
                  &rate) == 8) {
    r.ok = true;
    r.latency_us = p50;
    r.bandwidth_mbs = bw;
    r.msg_rate = rate;
  }
  srv->stop();
  cli->stop();
  return r;
}

// ---- what this machine allows -------------------------------------------------------------------

// p50 of `n` round trips between two processes that block in read() on pipes: two wake-ups per
// round trip and no spinning. A message path whose threads sleep when idle pays at least this.
double pipe_wakeup_round_trip(int n) {
  int ab[2], ba[2];
  if (pipe(ab) != 0 || pipe(ba) != 0) return 0;
  pid_t pid = fork();  // before any thread of ours exists: nothing but this loop runs in the child
  if (pid < 0) {
    for (int fd : {ab[0], ab[1], ba[0], ba[1]}) close(fd);
    return 0;
  }
  if (pid == 0) {
    close(ab[1]);  // so that read() sees end-of-file once the parent closes its end
    close(ba[0]);
    char c;
    while (read(ab[0], &c, 1) == 1 && write(ba[1], &c, 1) == 1) {
    }
    _exit(0);
  }
  close(ab[0]);
  close(ba[1]);
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    char c = 'x';
    auto t0 = Clock::now();
    if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) break;
    us.push_back(seconds_since(t0) * 1e6);
  }
  close(ab[1]);
  close(ba[0]);
  int st;
  waitpid(pid, &st, 0);
  if (us.empty()) return 0;
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// p50 of `n` round trips between two threads of one process through a condition variable (how a
// transport thread hands a message to a sleeping CAF worker): two wake-ups, no spinning.
double thread_wakeup_round_trip(int n) {
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;  // 0: main's, 1: the other's; -1: stop
  std::thread other([&] {
    std::unique_lock lk(m);
    while (true) {
      cv.wait(lk, [&] { return turn != 0; });
      if (turn < 0) return;
      turn = 0;
      cv.notify_all();
    }
  });
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    std::unique_lock lk(m);
    turn = 1;
    cv.notify_all();
    cv.wait(lk, [&] { return turn == 0; });
    us.push_back(seconds_since(t0) * 1e6);
  }
  {
    std::lock_guard lk(m);
    turn = -1;
  }
  cv.notify_all();
  other.join();
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// CPU seconds (user + system) process `pid` has used so far; 0 if it cannot be read.
double cpu_seconds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces; fields follow it
  unsigned long utime = 0, stime = 0;
  if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---- our measurements -----------------------------------------------------------------------------

struct Pinger {
  std::mutex m;
  std::condition_variable cv;
  uint64_t replies = 0;
};

void print_row(const char* what, double ours, const char* unit, double anchor, const char* anchor_name) {
  if (anchor > 0) {
    std::printf("%-44s %12.3f %-6s | %-34s %12.3f | ratio %.2f\n", what, ours, unit, anchor_name, anchor,
                ours / anchor);
  } else {
    std::printf("%-44s %12.3f %-6s | %-34s %12s |\n", what, ours, unit, anchor_name, "n/a");
  }
}

uint16_t read_port(Proc& p) {
  std::string l = p.line();
  return l.rfind("PORT ", 0) == 0 ? static_cast<uint16_t>(std::stoi(l.substr(5))) : 0;
}

// Section 4's set-up and round trip: a child process exposes "env/bench" (exposed_child); this
// process calls it through a typed proxy, prints the p50 round trip beside `anchor` (ucx_perftest
// tag_lat x2 of the same run) and this side's gateway counters, then runs `then` on the same
// stack. Returns the p50 (0 when the stack did not come up or every call failed).
double actor_rtt_section(const std::string& exe, int lat_iters, double anchor,
                         const std::function<void(caf::actor_system&, const caf::actor&)>& then = {}) {
  auto rx = spawn({exe, "--child", "rexpose", "rexpose"});
  uint16_t pr = read_port(*rx);
  caf::actor_system_config cfg;
  bench_scheduler(cfg);
  caf::actor_system sys{cfg};
  auto g = actors::Gateway::start(sys, bench_transport("bench"));
  auto r = g ? actors::RemoteActors::create(sys, **g, nullptr) : Result<std::unique_ptr<actors::RemoteActors>>(g.status());
  if (!r || !(*r)->connect_peer("127.0.0.1", pr) || rx->line() != "READY") {
    std::printf("ERROR the typed actor stack did not come up\n");
    return 0;
  }
  (*r)->add_route("env/*", "rexpose").ignore();
  auto proxy = (*r)->resolve("env/bench");
  if (!proxy) {
    std::printf("ERROR %s\n", proxy.status().to_string().c_str());
    return 0;
  }
  int failures = 0;
  const uint64_t sleeps_before = (*g)->transport().stats().sleeps;
  const double typed_rtt = actor_round_trips(sys, *proxy, lat_iters, true, &failures);
  print_row("round trip, actor->proxy->UCX->actor (p50)", typed_rtt, "us", anchor, "ucx_perftest tag_lat x2 (p50)");
  if (failures > 0) std::printf("  (%d calls failed)\n", failures);
  // The same figure beside tag_lat with messages as large as ours (8 B above): the call and the
  // answer each carry a routing header (names) and an ActorMessage, not 8 bytes.
  const size_t header = 20 + std::string("env/bench").size() + std::string("~bench/env/bench").size();
  const size_t call = header + actors::remote::generate_call(1, actors::PromptTicket{}).size();
  const size_t answer = header + actors::remote::prompt_note(1, small_prompt(7)).size();
  const size_t same = (call + answer) / 2;
  auto sized = perftest({"-t", "tag_lat", "-s", std::to_string(same), "-n", std::to_string(lat_iters * 5)}, 13394);
  char anchor_name[64];
  std::snprintf(anchor_name, sizeof anchor_name, "ucx_perftest tag_lat x2, %zu B (p50)", same);
  print_row("round trip, actor->proxy->UCX->actor (p50)", typed_rtt, "us", sized.ok ? 2 * sized.latency_us : 0,
            anchor_name);
  std::printf("  (messages: the call %zu B, the answer %zu B, routing headers included)\n", call, answer);
  auto gs = (*g)->stats();
  std::printf("  (this side: %llu actor runs on the progress thread, %llu to the CAF scheduler, %llu slow; "
              "the progress thread slept %llu times)\n",
              static_cast<unsigned long long>(gs.ran_inline), static_cast<unsigned long long>(gs.to_scheduler),
              static_cast<unsigned long long>(gs.heavy),
              static_cast<unsigned long long>((*g)->transport().stats().sleeps - sleeps_before));
  std::fflush(stdout);
  if (then) then(sys, *proxy);
  return typed_rtt;
}

int parent(bool quick) {
  std::printf("wire_bench: 127.0.0.1, UCX 1.13, transport data path sysv shm + CMA (same host); load average "
              "at start: ");
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char b[64] = {};
    if (std::fgets(b, sizeof b, f)) std::printf("%s", b);
    std::fclose(f);
  }
  // TROUPE_BENCH_LAT_ITERS: more round trips per latency figure (e.g. to profile a steady state).
  const char* lat_env = std::getenv("TROUPE_BENCH_LAT_ITERS");
  const int lat_iters = lat_env ? std::max(10, std::atoi(lat_env)) : quick ? 2000 : 20000;
  const int rate_msgs = quick ? 20000 : 200000;
  const int bw_msgs = quick ? 4 : 16;
  const size_t params = quick ? size_t{10'000'000} : size_t{100'000'000};
  const std::string exe = self_exe();
  // The machine's floor for paths that sleep when idle (before any thread of ours starts).
  const double pipe_rtt = pipe_wakeup_round_trip(lat_iters / 4);
  const double cv_rtt = thread_wakeup_round_trip(lat_iters / 4);

  // TROUPE_BENCH_ONLY=rtt: only the actor round trip beside its tag_lat anchor, TROUPE_BENCH_REPS
  // times (default 3) alternating, for A/B comparisons and profiling on a noisy machine.
  if (const char* only = std::getenv("TROUPE_BENCH_ONLY"); only != nullptr && std::string(only) == "rtt") {
    const char* reps_env = std::getenv("TROUPE_BENCH_REPS");
    const int reps = reps_env ? std::max(1, std::atoi(reps_env)) : 3;
    for (int rep = 0; rep < reps; ++rep) {
      auto anchor = perftest({"-t", "tag_lat", "-n", std::to_string(lat_iters * 5)}, 13391);
      actor_rtt_section(exe, lat_iters, anchor.ok ? 2 * anchor.latency_us : 0);
    }
    return 0;
  }

  // Anchors first, while nothing else of ours runs.
  auto lat = perftest({"-t", "tag_lat", "-n", std::to_string(lat_iters * 5)}, 13391);
  auto rate = perftest({"-t", "tag_bw", "-n", std::to_string(rate_msgs * 5)}, 13392);
  auto bw = perftest({"-t", "tag_bw", "-s", std::to_string(64 << 20), "-n", std::to_string(bw_msgs * 2)}, 13393);

  Pinger ping;
  TransportOptions o = bench_transport("bench");
  std::atomic<uint64_t> acks{0};
  // Ping-pong answered on both progress threads (no other thread, no CAF, no decoding): what the
  // transport and UCX cost a round trip here. Only the progress thread touches `pp` while it runs.
  struct PingPong {
    Transport* t = nullptr;
    int left = 0;
    std::vector<Clock::time_point> at;
  } pp;
  o.on_message = [&](Envelope&& e) {
    if (e.dst == "bench/ack" || e.dst == "weights/ack") {
      ++acks;
      return;
    }
    if (e.dst == "bench/pp") {
      pp.at.push_back(Clock::now());
      if (--pp.left > 0) {
        pp.t->send(e.peer, "echo/0", "bench/pp", e.kind, std::move(e.payload), 0ms).ignore();
        return;
      }
    }
    std::lock_guard lk(ping.m);
    ++ping.replies;
    ping.cv.notify_all();
  };
  auto tr = Transport::start(o);
  if (!tr) return std::printf("ERROR %s\n", tr.status().to_string().c_str()), 2;
  Transport& t = **tr;

  // 1. Transport round trip.
  auto echo = spawn({exe, "--child", "echo", "echo"});
  uint16_t pe = read_port(*echo);
  auto peer = t.connect("127.0.0.1", pe);
  if (!peer) return std::printf("ERROR %s\n", peer.status().to_string().c_str()), 2;
  auto round_trips = [&](int n) {
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto start = Clock::now();
      uint64_t want;
      {
        std::lock_guard lk(ping.m);
        want = ping.replies + 1;
      }
      t.send("echo", "echo/0", "bench/0", MessageKind::kHeartbeat, heartbeat(i)).ignore();
      std::unique_lock lk(ping.m);
      ping.cv.wait_for(lk, 5s, [&] { return ping.replies >= want; });
      us.push_back(seconds_since(start) * 1e6);
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  round_trips(lat_iters / 10);  // warm-up (also completes the data endpoint's wire-up)
  if (auto d = t.describe("echo")) {
    // UCX's own account of the data endpoint's lanes: shows which transports carry our bytes.
    std::string text = *d;
    for (size_t pos = 0; (pos = text.find("lane[", pos)) != std::string::npos; ++pos) {
      std::printf("data endpoint %s\n", text.substr(pos, text.find('\n', pos) - pos).c_str());
    }
  }
  double rtt = round_trips(lat_iters);
  pp.t = &t;
  // 0 when the echo stopped answering (then the progress thread may still touch `pp`: no second run).
  auto ping_pong = [&](MessageKind kind, const Bytes& payload) {
    const int n = lat_iters * 2;
    uint64_t want = 0;
    {
      std::lock_guard lk(ping.m);
      pp.at.clear();
      pp.at.reserve(n + 1);
      pp.at.push_back(Clock::now());  // before the first send: the progress thread is not in it yet
      pp.left = n;
      want = ping.replies + 1;
    }
    t.send("echo", "echo/0", "bench/pp", kind, payload).ignore();
    std::unique_lock lk(ping.m);
    if (!ping.cv.wait_for(lk, 60s, [&] { return ping.replies >= want; })) {
      std::printf("ERROR the echo child stopped answering the ping-pong (no reply in 60 s)\n");
      return 0.0;
    }
    std::vector<double> us;
    for (size_t i = pp.at.size() / 10 + 1; i < pp.at.size(); ++i) {
      us.push_back(std::chrono::duration<double, std::micro>(pp.at[i] - pp.at[i - 1]).count());
    }
    std::sort(us.begin(), us.end());
    return us.empty() ? 0.0 : us[us.size() / 2];
  };
  const double pp_small = ping_pong(MessageKind::kHeartbeat, heartbeat(1));
  const Bytes call_sized = actors::remote::generate_call(1, actors::PromptTicket{});
  const double pp_call = pp_small > 0 ? ping_pong(MessageKind::kActor, call_sized) : 0.0;
  std::printf("\n%-44s %12s %-6s | %-34s %12s |\n", "figure (ours)", "value", "unit", "anchor (same run)", "value");
  print_row("floor: 2 processes waking by pipe (p50)", pipe_rtt, "us", lat.ok ? 2 * lat.latency_us : 0,
            "ucx_perftest tag_lat x2 (p50)");
  print_row("floor: 2 threads waking by condvar (p50)", cv_rtt, "us", lat.ok ? 2 * lat.latency_us : 0,
            "ucx_perftest tag_lat x2 (p50)");
  print_row("round trip, transport, 8 B Heartbeat (p50)", rtt, "us", lat.ok ? 2 * lat.latency_us : 0,
            "ucx_perftest tag_lat x2 (p50)");
  print_row("the same, answered on progress threads", pp_small, "us", lat.ok ? 2 * lat.latency_us : 0,
            "ucx_perftest tag_lat x2 (p50)");
  char pp_name[64];
  std::snprintf(pp_name, sizeof pp_name, "the same, a %zu B ActorMessage", call_sized.size());
  print_row(pp_name, pp_call, "us", lat.ok ? 2 * lat.latency_us : 0, "ucx_perftest tag_lat x2 (p50)");
  std::printf("  (no thread hand-off, no CAF, nothing decoded: the transport's and UCX's share of a round trip)\n");

  // 2. Message rate, one way, with one acknowledgement at the end.
  {
    auto sink = spawn({exe, "--child", "sink", "sink"});
    uint16_t ps = read_port(*sink);
    if (t.connect("127.0.0.1", ps)) {
      Bytes hb = heartbeat(1);
      auto start = Clock::now();
      for (int i = 0; i < rate_msgs; ++i) t.send("sink", "sink/0", "bench/0", MessageKind::kHeartbeat, hb).ignore();
      t.send("sink", "sink/ack", "bench/ack", MessageKind::kHeartbeat, hb).ignore();
      for (int i = 0; i < 10000 && acks.load() == 0; ++i) std::this_thread::sleep_for(1ms);
      double secs = seconds_since(start);
      print_row("message rate, transport, Heartbeat (msg/s)", rate_msgs / secs, "msg/s", rate.ok ? rate.msg_rate : 0,
                "ucx_perftest tag_bw 8 B msg/s");
      // 3. 64 MiB bandwidth.
      WeightChunkT c;
      c.version = 1;
      c.data.assign(size_t{64} << 20, 1);
      Bytes big = pack(c);
      acks = 0;
      t.send("sink", "sink/0", "bench/0", MessageKind::kWeightChunk, big).ignore();  // warm-up
      t.flush("sink", 60s).ignore();
      start = Clock::now();
      for (int i = 0; i < bw_msgs; ++i) t.send("sink", "sink/0", "bench/0", MessageKind::kWeightChunk, big, 60s).ignore();
      t.send("sink", "sink/ack", "bench/ack", MessageKind::kHeartbeat, hb).ignore();
      for (int i = 0; i < 60000 && acks.load() == 0; ++i) std::this_thread::sleep_for(1ms);
      secs = seconds_since(start);
      double mbs = bw_msgs * double(big.size()) / (1 << 20) / secs;
      print_row("bandwidth, transport, 64 MiB WeightChunk", mbs, "MB/s", bw.ok ? bw.bandwidth_mbs : 0,
                "ucx_perftest tag_bw 64 MiB MB/s");
    }
  }

  // 4. Through the actor stack, as the cluster runtime uses it: an event-based actor calls a typed
  //    proxy (actors/remote.hpp), which sends an ActorMessage through the gateway and UCX to the
  //    ingress of an actor exposed in another process; the reply comes back the same way.
  // Then the message rate through the same stack: notifications, then one call that counts them.
  auto actor_rate = [&](caf::actor_system& sys, const caf::actor& proxy) {
    caf::scoped_actor self{sys};
    const int notes = rate_msgs / 4;
    // In windows of 1024 (a quarter of a peer's send queue, which drops what does not fit rather
    // than grow): after each window one call, answered once all before it went through.
    auto start = Clock::now();
    double counted = 0;
    for (int sent = 0; sent < notes;) {
      for (int k = 0; k < 1024 && sent < notes; ++k, ++sent) {
        self->send(proxy, weights_atom_v, static_cast<uint64_t>(sent));
      }
      self->request(proxy, 60s, verify_atom_v, std::string("{}"), std::vector<std::string>{})
          .receive([&](const std::vector<actors::RuleVerdict>& v) { counted = v.empty() ? 0 : v[0].score; },
                   [](caf::error&) {});
    }
    double secs = seconds_since(start);
    print_row("message rate, actor->proxy->UCX->actor", counted / secs, "msg/s", rate.ok ? rate.msg_rate : 0,
              "ucx_perftest tag_bw 8 B msg/s");
    if (counted < notes) std::printf("  (%.0f of %d notifications arrived)\n", counted, notes);
  };
  const double typed_rtt = actor_rtt_section(exe, lat_iters, lat.ok ? 2 * lat.latency_us : 0, actor_rate);

  // 4b. Raw WireMessages through the gateway's own proxies (actor -> proxy -> UCX -> echo actor).
  {
    auto gecho = spawn({exe, "--child", "gecho", "gecho"});
    uint16_t pg = read_port(*gecho);
    caf::actor_system_config cfg;
    bench_scheduler(cfg);
    caf::actor_system sys{cfg};
    auto g = actors::Gateway::start(sys, bench_transport("bench"));
    if (g && (*g)->connect("127.0.0.1", pg)) {
      (*g)->add_route("echo/*", "gecho").ignore();
      caf::scoped_actor self{sys};
      (*g)->register_local("client/0", caf::actor_cast<caf::actor>(self)).ignore();
      auto remote = (*g)->resolve("echo/0");
      std::vector<double> us;
      int n = lat_iters / 2;
      for (int i = 0; i < n + n / 10; ++i) {
        auto start = Clock::now();
        self->send(*remote, actors::WireMessage{"echo/0", "client/0", MessageKind::kHeartbeat, heartbeat(i)});
        self->receive([](const actors::WireMessage&) {}, caf::after(5s) >> [] {});
        if (i >= n / 10) us.push_back(seconds_since(start) * 1e6);
      }
      std::sort(us.begin(), us.end());
      print_row("round trip, raw WireMessage via gateway (p50)", us[us.size() / 2], "us",
                lat.ok ? 2 * lat.latency_us : 0, "ucx_perftest tag_lat x2 (p50)");
      (*g)->unregister_local("client/0");
    }
  }

  // 4c. CAF's own remote actors (io middleman over TCP) with the same calling actor: the second anchor.
  {
    auto ce = spawn({exe, "--child", "cafecho", "cafecho"});
    uint16_t pc = read_port(*ce);
    caf::actor_system_config cfg;
    bench_scheduler(cfg);
    cfg.load<caf::io::middleman>();
    caf::actor_system sys{cfg};
    auto remote = sys.middleman().remote_actor("127.0.0.1", pc);
    if (remote && typed_rtt > 0) {
      int failures = 0;
      double caf_rtt = actor_round_trips(sys, *remote, lat_iters, false, &failures);
      print_row("round trip, actor->proxy->UCX->actor (p50)", typed_rtt, "us", caf_rtt,
                "CAF io remote actor, TCP (p50)");
      std::printf("%-44s %12s\n", "  (targets: <= 3 vs perftest, <= 0.1 vs CAF)", "");
    } else {
      std::printf("ERROR CAF remote actor: %s\n", remote ? "no typed figure" : sys.render(remote.error()).c_str());
    }
  }

  // 5. Weight broadcast of `params` fp32 parameters to 1, 2, 4 receivers down a chain.
  {
    auto data = MappedBuffer::allocate(params * sizeof(float));
    if (!data) return std::printf("ERROR %s\n", data.status().to_string().c_str()), 2;
    for (size_t i = 0; i < data->size(); i += 4096) data->data()[i] = static_cast<uint8_t>(i >> 12);
    auto copy = MappedBuffer::allocate(data->size());
    auto start = Clock::now();
    std::memcpy(copy->data(), data->data(), data->size());
    double memcpy_s = seconds_since(start);
    TensorInfoT tensor;
    tensor.name = "model";
    tensor.dtype = "f32";
    tensor.shape = {static_cast<int64_t>(params)};
    tensor.bytes = data->size();
    std::atomic<uint64_t> committed{0};
    std::vector<std::unique_ptr<Proc>> receivers;
    std::vector<std::string> chain;
    uint16_t last_port = 0;
    uint64_t version = 0;
    // Sends `rounds` versions to the first n receivers with `send` and times the last one (until all n
    // acknowledged), with the CPU seconds the source and those receivers spent on it.
    struct Timed {
      double secs = 0, cpu_src = 0, cpu_rx = 0;
    };
    auto timed = [&](int n, int rounds, const std::function<Status()>& send) {
      Timed r;
      for (int round = 0; round < rounds; ++round) {
        ++version;
        acks = 0;
        r.cpu_src = -cpu_seconds(getpid());
        r.cpu_rx = 0;
        for (int i = 0; i < n; ++i) r.cpu_rx -= cpu_seconds(receivers[i]->pid);
        start = Clock::now();
        Status s = send();
        if (!s) std::printf("broadcast failed: %s\n", s.to_string().c_str());
        for (int i = 0; i < 1200000 && acks.load() < static_cast<uint64_t>(n); ++i) std::this_thread::sleep_for(100us);
        r.secs = seconds_since(start);
        r.cpu_src += cpu_seconds(getpid());
        for (int i = 0; i < n; ++i) r.cpu_rx += cpu_seconds(receivers[i]->pid);
      }
      return r;
    };
    double t1 = 0;
    for (int n : {1, 2, 4}) {
      while (static_cast<int>(receivers.size()) < n) {
        std::string name = "rx" + std::to_string(receivers.size());
        std::vector<std::string> args = {exe, "--child", "receiver", name, std::to_string(last_port)};
        receivers.push_back(spawn(args));
        uint16_t port = read_port(*receivers.back());
        if (!t.connect("127.0.0.1", port)) return std::printf("ERROR cannot reach %s\n", name.c_str()), 2;
        chain.push_back(name);
        last_port = port;
      }
      std::this_thread::sleep_for(200ms);  // the chain's own handshakes complete
      // Two untimed versions first: a receiver stages a version in a fresh buffer until it can
      // reuse the one of the version before last (weight_broadcast.hpp), and fresh memory costs a
      // page-zeroing pass (slow in this VM: see the wire notes). Training broadcasts every step, so
      // the steady state is what the third version shows.
      const auto [secs, cpu_src, cpu_rx] =
          timed(n, 3, [&] { return broadcast_weights(t, chain, version, {tensor}, data->span()); });
      if (n == 1) t1 = secs;
      char what[96];
      std::snprintf(what, sizeof what, "broadcast %zuM fp32 params to %d receiver(s)", params / 1000000, n);
      print_row(what, secs, "s", memcpy_s, "memcpy of the same bytes, s");
      // CPU the broadcast took (10 ms ticks): with fewer cores than processes, the work of all of
      // them shares the cores, so (source + receivers) / cores bounds the time from below.
      std::printf("  CPU s: source %.2f, receivers %.2f (%.2f each); / %u cores = %.3f s\n", cpu_src, cpu_rx,
                  cpu_rx / n, std::thread::hardware_concurrency(),
                  (cpu_src + cpu_rx) / std::max(1u, std::thread::hardware_concurrency()));
      if (n > 1) {
        std::snprintf(what, sizeof what, "  time to %d / time to 1 (target <= 1.5)", n);
        std::printf("%-44s %12.3f\n", what, secs / t1);
      }
    }
    // 5b. The same weights through same-host shared memory (wire/shared_weights.hpp): written once,
    // mapped and checked by every receiver; the same receivers, the source sends each a manifest.
    SharedWeightPublisher publisher(t);
    double s1 = 0;
    for (int n : {1, 2, 4}) {
      std::vector<std::string> to(chain.begin(), chain.begin() + n);
      // Untimed rounds first, as above: the publisher's slots are created and populated once, and a
      // receiver maps each slot once (its page tables are filled then).
      const auto [secs, cpu_src, cpu_rx] =
          timed(n, 4, [&] { return publisher.publish(to, version, {tensor}, data->span()); });
      if (n == 1) s1 = secs;
      char what[96];
      std::snprintf(what, sizeof what, "shared-memory broadcast %zuM fp32 to %d", params / 1000000, n);
      print_row(what, secs, "s", memcpy_s, "memcpy of the same bytes, s");
      std::printf("  CPU s: source %.2f, receivers %.2f (%.2f each); slots %d\n", cpu_src, cpu_rx, cpu_rx / n,
                  publisher.slots_allocated());
      if (n > 1) {
        std::snprintf(what, sizeof what, "  time to %d / time to 1 (target <= 1.5)", n);
        std::printf("%-44s %12.3f\n", what, secs / s1);
      }
    }
    (void)committed;
  }

  rusage self_ru{}, kids{};
  getrusage(RUSAGE_SELF, &self_ru);
  getrusage(RUSAGE_CHILDREN, &kids);
  std::printf("%-44s %12.1f %-6s\n", "peak RSS, this process", self_ru.ru_maxrss / 1024.0, "MiB");
  std::printf("%-44s %12.1f %-6s\n", "peak RSS, largest reaped child", kids.ru_maxrss / 1024.0, "MiB");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--child") {
    return child(argv[2], argv[3], argc >= 5 ? static_cast<uint16_t>(std::stoi(argv[4])) : 0);
  }
  bool quick = argc >= 2 && std::string(argv[1]) == "--quick";
  return parent(quick);
}
