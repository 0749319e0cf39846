// The UCX transport behind wire/ucx_transport.hpp.
//
// Transport mode (see PLATFORM.md "UCX modes"), as measured here with UCX 1.13.1:
//   - sockaddr endpoints through ucp_listener with peer error handling: TCP only (~10 us round
//     trip, 4.6-6 GB/s at 64 MiB);
//   - an endpoint created from the peer's worker address WITH peer error handling is TCP only too
//     (`ucx_info -e -u me` -> tcp/lo): posix/sysv shared memory only offer "ep_check", not "peer
//     failure", so UCX 1.13 will not put them on a UCP_ERR_HANDLING_MODE_PEER endpoint;
//   - the same endpoint with error handling off gets sysv shared memory + CMA (`-u m`; 0.3 us) but
//     cannot itself notice a dead peer.
// So each connection has two endpoints. The control endpoint goes through the listener, with peer
// error handling: it carries the token handshake (nobody learns our worker address before proving
// the token), and its TCP socket reports a dead peer at once (the kernel closes a killed process's
// sockets). The data endpoint is created from the worker address the handshake carried: on the same
// host (same hostname + kernel boot id) with error handling off, so UCX picks shared memory + CMA;
// across hosts with peer error handling (TCP). A control-endpoint error marks the peer down and
// force-closes both endpoints, which completes whatever was in flight to it with an error.
// The two endpoints live on two UCP workers (control and data, see Impl::dworker): the progress
// loop polls the data worker every pass and the control worker's TCP sockets every 32nd pass and
// whenever they wake it, so a TCP epoll_wait does not delay every shared-memory message.
// TransportMode::kTcpOnly keeps everything on the control endpoint.
//
// Threading: the UCP workers are created UCS_THREAD_MODE_SERIALIZED and every call into them holds
// `wmu` (the worker lock); UCX callbacks therefore run under it too. The progress thread holds it
// while it progresses, and releases it between iterations and while it sleeps. A sending thread
// appends its message to `outbox` (under `mu`) and then tries to take `wmu` itself: when it gets it
// (the progress thread is asleep or between iterations), it posts the outbox to UCX at once, in
// order, with no hand-off and no wake-up; only an operation UCX could not finish inline (a
// rendezvous) wakes the progress thread to drive it. When `wmu` is taken, the progress thread
// posts the outbox on its next iteration (it is awake: it holds the lock). Either way the outbox is
// posted in FIFO order under `wmu`, so messages keep their order per sender. Commands (connect,
// describe) still run on the progress thread. The progress loop busy-polls after the last activity
// (`busy_poll` while a rendezvous is in flight, `idle_busy_poll` after a pass that only received,
// `answer_busy_poll` after a pass that sent), then arms the worker and sleeps in epoll on the
// worker's event fd and the wake eventfd: an idle process spends no CPU here. After each pass,
// outside the lock, `on_progress` lets the owner run what the pass delivered (the gateway runs light
// actors there).
#include "wire/ucx_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "wire/mapped_buffer.hpp"
#include "wire/hop_trace.hpp"
#include "wire/schema/handshake_generated.h"

namespace troupe::wire {

const char* peer_event_name(PeerEvent::Kind kind) {
  switch (kind) {
    case PeerEvent::Kind::kUp: return "up";
    case PeerEvent::Kind::kDown: return "down";
    case PeerEvent::Kind::kRefused: return "refused";
  }
  return "unknown";
}

Result<std::string> token_from_env() {
  const char* v = std::getenv(kTokenEnvVar);
  if (v == nullptr || *v == '\0') {
    return Status::invalid_argument(std::string("the cluster token is not set: export ") + kTokenEnvVar +
                                    "=<the run's shared secret> on every node");
  }
  return std::string(v);
}

namespace {

constexpr uint16_t kAmHandshake = 1;
constexpr uint16_t kAmData = 2;
// "TRH1" little-endian: the routing header's magic, so stray bytes are rejected early.
constexpr uint32_t kHeaderMagic = 0x31485254;
// magic u32 | kind u8 | flags u8 | dst_len u16 | src_len u16 | reserved u16 | session u64 | dst | src
constexpr size_t kHeaderFixed = 20;
// Actor names are short ("env/gsm8k_like/0"); 256 bytes bounds what a header can make us allocate.
constexpr size_t kMaxNameBytes = 256;
// The wait in epoll when idle: bounds how late handshake timeouts and shutdown are noticed.
constexpr int kIdleWaitMs = 100;
// How long a closing transport waits for the sends and receives UCX already carries.
constexpr auto kShutdownFlush = std::chrono::seconds(2);
// A handful of log lines per kind of drop, then silence: a flood must not flood the log too.
constexpr uint64_t kMaxDropLogs = 5;

struct Header {
  uint64_t session = 0;
  MessageKind kind = MessageKind::kControl;
  std::string_view dst, src;
};

void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint16_t get_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
uint32_t get_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get_u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// Writes the routing header into `h` (kHeaderFixed + dst.size() + src.size() bytes).
void encode_header(uint8_t* h, uint64_t session, MessageKind kind, std::string_view dst, std::string_view src) {
  put_u32(h, kHeaderMagic);
  h[4] = static_cast<uint8_t>(kind);
  h[5] = 0;
  put_u16(h + 6, static_cast<uint16_t>(dst.size()));
  put_u16(h + 8, static_cast<uint16_t>(src.size()));
  put_u16(h + 10, 0);
  put_u64(h + 12, session);
  std::memcpy(h + kHeaderFixed, dst.data(), dst.size());
  std::memcpy(h + kHeaderFixed + dst.size(), src.data(), src.size());
}

bool decode_header(const void* data, size_t len, Header* out) {
  if (data == nullptr || len < kHeaderFixed) return false;
  const auto* p = static_cast<const uint8_t*>(data);
  if (get_u32(p) != kHeaderMagic) return false;
  if (p[4] > static_cast<uint8_t>(kLastMessageKind)) return false;
  size_t dl = get_u16(p + 6), sl = get_u16(p + 8);
  if (dl > kMaxNameBytes || sl > kMaxNameBytes || kHeaderFixed + dl + sl != len) return false;
  out->kind = static_cast<MessageKind>(p[4]);
  out->session = get_u64(p + 12);
  out->dst = std::string_view(reinterpret_cast<const char*>(p + kHeaderFixed), dl);
  out->src = std::string_view(reinterpret_cast<const char*>(p + kHeaderFixed + dl), sl);
  return true;
}

// Compares secrets without an early exit, so timing does not reveal a matching prefix.
bool same_token(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned>(static_cast<uint8_t>(a[i]) ^ static_cast<uint8_t>(b[i]));
  }
  return diff == 0;
}

std::string read_host_id() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  std::string id = name;
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char boot[64] = {};
    if (std::fgets(boot, sizeof boot, f) != nullptr) id += std::string("/") + boot;
    std::fclose(f);
  }
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

std::string ucx_error(const char* what, ucs_status_t s) {
  return std::string(what) + ": " + ucs_status_string(s);
}

}  // namespace

struct Peer;

struct Outgoing {
  Outgoing() = default;
  Outgoing(const Outgoing&) = delete;  // `header` may point into this very record
  Outgoing& operator=(const Outgoing&) = delete;

  Transport::Impl* impl = nullptr;
  Peer* peer = nullptr;
  uint16_t am_id = kAmData;
  uint32_t flags = 0;
  bool counted = true;       // counts against the peer's queue bound
  bool close_after = false;  // a Refused handshake: close the connection once it is out
  // The routing header: in `inline_header` when it fits (names up to ~100 bytes together: one
  // allocation per message, not two), else in `long_header`.
  std::array<uint8_t, 128> inline_header;
  std::vector<uint8_t> long_header;
  uint8_t* header = nullptr;
  size_t header_size = 0;
  Bytes payload;

  void set_header(uint64_t session, MessageKind kind, std::string_view dst, std::string_view src) {
    header_size = kHeaderFixed + dst.size() + src.size();
    if (header_size <= inline_header.size()) {
      header = inline_header.data();
    } else {
      long_header.resize(header_size);
      header = long_header.data();
    }
    encode_header(header, session, kind, dst, src);
  }
};

struct ConnectWaiter {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::string name;
};

struct Peer {
  // kDying: the control endpoint failed; sends are refused, but what the peer already put in our
  // shared-memory receive queue is still delivered until the worker is idle, then kDown.
  enum class State { kConnecting, kAccepting, kWaitReady, kUp, kDying, kDown };
  Transport::Impl* impl = nullptr;
  State state = State::kConnecting;  // written by the progress thread under mu_
  std::string name;                  // node name, known after the handshake
  std::string address;               // for logs
  ucp_ep_h boot_ep = nullptr;
  ucp_ep_h data_ep = nullptr;
  uint64_t my_session = 0;
  uint64_t their_session = 0;
  size_t queued_bytes = 0;  // under mu_: queued or in flight
  size_t queued_msgs = 0;
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point died;  // when it entered kDying
  std::string down_reason;
  std::shared_ptr<ConnectWaiter> waiter;  // client side, until the handshake ends
  bool closed = false;                    // progress thread: endpoints closed
};

struct PendingRecv {
  Transport::Impl* impl;
  Peer* peer;
  MessageKind kind;
  std::string dst, src;
  Bytes buf;           // uninitialised until UCX fills it
  uint8_t* into = nullptr;
};

struct Transport::Impl {
  TransportOptions opt;
  ucp_context_h context = nullptr;
  // Two workers: `worker` holds the listener and the control endpoints (TCP, with peer error
  // handling), `dworker` the data endpoints. Why apart: UCX progresses every transport a worker's
  // endpoints use on every ucp_worker_progress, and TCP's progress is an epoll_wait system call
  // (~40% of a spinning progress thread's time when both were on one worker: it delayed every
  // message the shared-memory lane carried). The data worker is progressed on every pass; the
  // control worker every kControlEvery passes and whenever its event fd fires while asleep.
  // With TransportMode::kTcpOnly the data travels on the control endpoints: both every pass.
  ucp_worker_h worker = nullptr;
  ucp_worker_h dworker = nullptr;
  ucp_listener_h listener = nullptr;
  std::vector<uint8_t> worker_address;  // dworker's: the handshake carries it
  std::string host_id;  // hostname + boot id: equal only for processes sharing a kernel (and /dev/shm)
  uint16_t port = 0;
  int worker_fd = -1, dworker_fd = -1, wake_fd = -1, epoll_fd = -1;
  std::thread thread;
  std::atomic<std::thread::id> thread_id;
  std::atomic<bool> stop{false};
  // The worker lock: held for every call into UCX (see "Threading" above).
  std::mutex wmu;
  std::atomic<bool> sleeping{false};
  std::atomic<bool> kicked{false};  // a sender left an operation in flight: poll before sleeping
  std::mt19937_64 rng{std::random_device{}()};

  mutable std::mutex mu;
  std::condition_variable cv;  // room in a queue, a peer down, a flush
  std::deque<Outgoing*> outbox;
  std::deque<std::function<void()>> commands;
  // Set (under mu) when outbox or commands gained an entry; cleared under mu when both are empty.
  // The progress thread reads it without the lock on every pass: a spinning pass takes mu only
  // when there is something to take (three lock pairs per idle pass were ~40% of a spinning
  // thread's time, perf). A store it misses is seen on the next pass, and the loop checks both
  // queues under mu before it sleeps.
  std::atomic<bool> queued_work{false};
  // What post_outbox and drain take out of the two queues, kept between passes (guarded by wmu): a
  // std::deque allocates when constructed, and the loop drains on every pass.
  std::deque<Outgoing*> outbox_taken;
  std::deque<std::function<void()>> commands_taken;
  std::unordered_map<std::string, Peer*> up;  // name -> peer, while up
  TransportStats stats;  // under mu, but for `delivered`
  std::atomic<uint64_t> delivered{0};

  // Under wmu (the progress thread, or a sender posting the outbox).
  std::vector<std::unique_ptr<Peer>> peers;
  std::unordered_map<uint64_t, Peer*> sessions;  // their_session -> peer
  std::vector<void*> close_requests;
  std::vector<Peer*> to_close;
  std::vector<Peer*> dying;
  // Rendezvous receives in flight: UCX does not complete them when their peer dies mid-transfer
  // and the worker is destroyed, so teardown frees what is left.
  std::unordered_map<PendingRecv*, bool> pending_recvs;
  size_t sends_in_flight = 0;  // sends UCX keeps going (their callback has not run)
  uint64_t drop_logs = 0;

  ~Impl() { teardown(); }

  // Posts the outbox from a sending thread when the worker lock is free (see "Threading"); else
  // leaves it to the progress thread, waking it if it sleeps.
  void post_or_wake() {
    if (!on_progress_thread() && wmu.try_lock()) {
      bool pending = false;
      {
        std::lock_guard wl(wmu, std::adopt_lock);
        if (!stop.load()) post_outbox(&pending);
      }
      if (!pending) return;
      // UCX keeps the operation going: the progress thread must drive it (and stay awake a while).
      kicked.store(true);
    }
    wake();
  }

  bool on_progress_thread() const { return std::this_thread::get_id() == thread_id.load(); }

  void wake() {
    if (sleeping.load()) {
      uint64_t one = 1;
      ssize_t n = ::write(wake_fd, &one, sizeof one);
      (void)n;  // a full eventfd counter is still a wake-up
    }
  }

  void post(std::function<void()> fn) {
    {
      std::lock_guard lk(mu);
      commands.push_back(std::move(fn));
      queued_work.store(true, std::memory_order_release);
    }
    wake();
  }

  void log_drop(const std::string& what) {
    if (++drop_logs <= kMaxDropLogs) {
      std::fprintf(stderr, "[troupe wire %s] dropped: %s\n", opt.name.c_str(), what.c_str());
    }
  }

  // ---- endpoints --------------------------------------------------------
  static void on_ep_error(void* arg, ucp_ep_h ep, ucs_status_t status) {
    auto* peer = static_cast<Peer*>(arg);
    (void)ep;
    peer->impl->peer_failed(peer, ucx_error("endpoint error", status));
  }

  ucp_ep_params_t ep_params(Peer* peer) {
    ucp_ep_params_t p{};
    p.field_mask = UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    p.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    p.err_handler.cb = &Impl::on_ep_error;
    p.err_handler.arg = peer;
    return p;
  }

  Peer* new_peer(Peer::State state, std::string address) {
    auto p = std::make_unique<Peer>();
    p->impl = this;
    p->state = state;
    p->address = std::move(address);
    p->my_session = rng();
    peers.push_back(std::move(p));
    return peers.back().get();
  }

  void set_state(Peer* peer, Peer::State s) {
    std::lock_guard lk(mu);
    peer->state = s;
    if (s == Peer::State::kUp) up[peer->name] = peer;
    if (s == Peer::State::kDown || s == Peer::State::kDying) {
      auto it = up.find(peer->name);
      if (it != up.end() && it->second == peer) up.erase(it);
    }
    cv.notify_all();
  }

  void emit(PeerEvent::Kind kind, const std::string& peer, const std::string& reason) {
    if (opt.on_peer_event) opt.on_peer_event(PeerEvent{kind, peer, reason});
  }

  void finish_waiter(Peer* peer, Status s) {
    if (!peer->waiter) return;
    {
      std::lock_guard lk(peer->waiter->m);
      peer->waiter->done = true;
      peer->waiter->status = std::move(s);
      peer->waiter->name = peer->name;
    }
    peer->waiter->cv.notify_all();
    peer->waiter.reset();
  }

  // A peer's endpoint failed, it was refused, or its handshake timed out.
  void peer_failed(Peer* peer, const std::string& reason) {
    if (peer->state == Peer::State::kDown || peer->state == Peer::State::kDying) return;
    if (peer->state == Peer::State::kUp) {
      set_state(peer, Peer::State::kDying);
      peer->died = std::chrono::steady_clock::now();
      peer->down_reason = reason;
      dying.push_back(peer);
      return;
    }
    set_state(peer, Peer::State::kDown);
    sessions.erase(peer->their_session);
    to_close.push_back(peer);
    finish_waiter(peer, Status::unavailable("connecting to " + peer->address + ": " + reason));
  }

  // Dying peers become down once their last messages were delivered: when the worker found no
  // work, or after kDrainLimit at the latest (a busy worker must not keep a dead peer alive).
  void bury(bool idle) {
    constexpr auto kDrainLimit = std::chrono::milliseconds(50);
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < dying.size();) {
      Peer* peer = dying[i];
      if (!idle && now - peer->died < kDrainLimit) {
        ++i;
        continue;
      }
      dying[i] = dying.back();
      dying.pop_back();
      set_state(peer, Peer::State::kDown);
      sessions.erase(peer->their_session);
      to_close.push_back(peer);
      std::fprintf(stderr, "[troupe wire %s] peer %s down: %s\n", opt.name.c_str(), peer->name.c_str(),
                   peer->down_reason.c_str());
      emit(PeerEvent::Kind::kDown, peer->name, peer->down_reason);
    }
  }

  void close_endpoints(Peer* peer) {
    if (peer->closed) return;
    peer->closed = true;
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    auto close_one = [&](ucp_ep_h ep) {
      void* r = ucp_ep_close_nbx(ep, &p);
      if (r != nullptr && !UCS_PTR_IS_ERR(r)) close_requests.push_back(r);
    };
    if (peer->data_ep != nullptr && peer->data_ep != peer->boot_ep) close_one(peer->data_ep);
    if (peer->boot_ep != nullptr) close_one(peer->boot_ep);
    peer->data_ep = peer->boot_ep = nullptr;
  }

  void reap_closes() {
    for (Peer* p : to_close) close_endpoints(p);
    to_close.clear();
    for (size_t i = 0; i < close_requests.size();) {
      if (ucp_request_check_status(close_requests[i]) != UCS_INPROGRESS) {
        ucp_request_free(close_requests[i]);
        close_requests[i] = close_requests.back();
        close_requests.pop_back();
      } else {
        ++i;
      }
    }
  }

  // ---- sending ----------------------------------------------------------
  static void on_send_done(void* request, ucs_status_t status, void* user_data) {
    auto* o = static_cast<Outgoing*>(user_data);
    --o->impl->sends_in_flight;
    o->impl->complete(o, status);
    ucp_request_free(request);
  }

  void complete(Outgoing* o, ucs_status_t status) {
    {
      std::lock_guard lk(mu);
      if (o->counted) {
        o->peer->queued_bytes -= o->payload.size();
        o->peer->queued_msgs -= 1;
      }
      if (status == UCS_OK) ++stats.sent; else ++stats.send_failures;
    }
    cv.notify_all();
    if (o->close_after) to_close.push_back(o->peer);
    delete o;
  }

  // Returns true when UCX keeps the operation in flight (completion comes from progress).
  bool issue(Outgoing* o, ucp_ep_h ep) {
    if (ep == nullptr) {
      complete(o, UCS_ERR_NOT_CONNECTED);
      return false;
    }
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
    p.cb.send = &Impl::on_send_done;
    p.user_data = o;
    p.flags = o->flags;
    TROUPE_HOP(kPostStart);
    ucs_status_ptr_t r = ucp_am_send_nbx(ep, o->am_id, o->header, o->header_size, o->payload.data(),
                                         o->payload.size(), &p);
    TROUPE_HOP(kPosted);
    if (r == nullptr) {
      complete(o, UCS_OK);
      return false;
    }
    if (UCS_PTR_IS_ERR(r)) {
      complete(o, UCS_PTR_STATUS(r));
      return false;
    }
    ++sends_in_flight;
    return true;
  }

  void send_handshake(Peer* peer, HandshakeStage stage, const std::string& reason, bool close_after) {
    flatbuffers::FlatBufferBuilder fbb(256 + worker_address.size());
    bool with_secret = stage != HandshakeStage::Refused;
    bool with_address = with_secret && stage != HandshakeStage::Ready && opt.mode == TransportMode::kSharedMemory;
    auto token = with_secret ? fbb.CreateString(opt.token) : 0;
    auto node = fbb.CreateString(opt.name);
    auto addr = with_address ? fbb.CreateVector(worker_address) : 0;
    auto why = fbb.CreateString(reason);
    auto host = with_address ? fbb.CreateString(host_id) : 0;
    HandshakeBuilder b(fbb);
    b.add_stage(stage);
    if (with_secret) b.add_token(token);
    b.add_node(node);
    b.add_session(peer->my_session);
    if (with_address) b.add_worker_address(addr);
    b.add_pid(static_cast<int32_t>(::getpid()));
    if (with_address) b.add_host(host);
    b.add_reason(why);
    fbb.Finish(b.Finish(), HandshakeIdentifier());
    auto* o = new Outgoing;
    o->impl = this;
    o->peer = peer;
    o->am_id = kAmHandshake;
    o->flags = UCP_AM_SEND_FLAG_REPLY;  // the receiver finds the connection through the reply endpoint
    o->counted = false;
    o->close_after = close_after;
    o->payload = Bytes(std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()));
    issue(o, peer->boot_ep);
  }

  void refuse(Peer* peer, const std::string& reason) {
    std::fprintf(stderr, "[troupe wire %s] refused connection from %s (%s): %s\n", opt.name.c_str(),
                 peer->address.c_str(), peer->name.empty() ? "unnamed" : peer->name.c_str(), reason.c_str());
    {
      std::lock_guard lk(mu);
      ++stats.refused_handshakes;
    }
    sessions.erase(peer->their_session);
    set_state(peer, Peer::State::kDown);
    emit(PeerEvent::Kind::kRefused, peer->name.empty() ? peer->address : peer->name, reason);
    if (peer->boot_ep != nullptr) {
      send_handshake(peer, HandshakeStage::Refused, reason, /*close_after=*/true);
    } else {
      to_close.push_back(peer);
    }
  }

  Status open_data_ep(Peer* peer, const Handshake* hs) {
    if (opt.mode == TransportMode::kTcpOnly) {
      peer->data_ep = peer->boot_ep;
      return Status::ok();
    }
    if (hs->worker_address() == nullptr || hs->worker_address()->size() == 0) {
      return Status::corruption("handshake carries no worker address");
    }
    ucp_ep_params_t p = ep_params(peer);
    // Same host: error handling off so UCX may pick shared memory + CMA (the control connection
    // watches the peer). Another host: keep peer error handling (UCX then picks TCP).
    bool same_host = hs->host() != nullptr && hs->host()->string_view() == host_id;
    if (same_host) p.err_mode = UCP_ERR_HANDLING_MODE_NONE;
    p.field_mask |= UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    p.address = reinterpret_cast<const ucp_address_t*>(hs->worker_address()->data());
    ucs_status_t s = ucp_ep_create(dworker, &p, &peer->data_ep);
    if (s != UCS_OK) return Status::unavailable(ucx_error("creating the data endpoint from the worker address", s));
    return Status::ok();
  }

  // ---- receiving --------------------------------------------------------
  static ucs_status_t on_handshake_am(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                     const ucp_am_recv_param_t* param) {
    (void)header;
    (void)header_length;
    auto* self = static_cast<Impl*>(arg);
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) return UCS_ERR_MESSAGE_TRUNCATED;  // handshakes are small
    ucp_ep_h ep = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : nullptr;
    // Copied: UCX's buffer need not be aligned and the verifier checks alignment.
    std::vector<uint8_t> buf(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + length);
    self->handle_handshake(ep, buf);
    return UCS_OK;
  }

  void handle_handshake(ucp_ep_h ep, const std::vector<uint8_t>& buf) {
    Peer* peer = nullptr;
    for (auto& p : peers) {
      if (p->boot_ep == ep && ep != nullptr && p->state != Peer::State::kDown) peer = p.get();
    }
    if (peer == nullptr) {
      log_drop("a handshake on an unknown or closed connection");
      std::lock_guard lk(mu);
      ++stats.dropped_unauthenticated;
      return;
    }
    flatbuffers::Verifier v(buf.data(), buf.size(), detail::verifier_options());
    if (buf.size() < 8 || !flatbuffers::BufferHasIdentifier(buf.data(), HandshakeIdentifier()) ||
        !VerifyHandshakeBuffer(v) || !detail::check_version(GetHandshake(buf.data())->schema_version(), "Handshake")) {
      return refuse(peer, "malformed handshake (" + std::to_string(buf.size()) + " bytes)");
    }
    const Handshake* hs = GetHandshake(buf.data());
    std::string node = hs->node() ? hs->node()->str() : std::string();
    auto token_ok = [&] { return hs->token() != nullptr && same_token(hs->token()->string_view(), opt.token); };

    switch (peer->state) {
      case Peer::State::kAccepting: {  // server: expecting Hello
        if (hs->stage() != HandshakeStage::Hello) return refuse(peer, "first message is not a Hello");
        peer->name = node;
        if (!token_ok()) return refuse(peer, "wrong or missing cluster token");
        if (node.empty() || node.size() > kMaxNameBytes) return refuse(peer, "invalid node name");
        if (is_up_locked(node) || node == opt.name) return refuse(peer, "node name already connected");
        peer->their_session = hs->session();
        if (Status s = open_data_ep(peer, hs); !s) return refuse(peer, s.message());
        sessions[peer->their_session] = peer;
        set_state(peer, Peer::State::kWaitReady);
        send_handshake(peer, HandshakeStage::Welcome, "", false);
        return;
      }
      case Peer::State::kConnecting: {  // client: expecting Welcome or Refused
        if (hs->stage() == HandshakeStage::Refused) {
          std::string why = hs->reason() ? hs->reason()->str() : "no reason given";
          peer->name = node;
          peer_failed(peer, "refused by " + node + ": " + why);
          return;
        }
        peer->name = node;
        if (hs->stage() != HandshakeStage::Welcome) return peer_failed(peer, "expected a Welcome");
        if (!token_ok()) return peer_failed(peer, "the server does not hold our cluster token");
        if (node.empty() || node.size() > kMaxNameBytes || is_up_locked(node)) {
          return peer_failed(peer, "invalid or duplicate node name \"" + node + "\"");
        }
        peer->their_session = hs->session();
        if (Status s = open_data_ep(peer, hs); !s) return peer_failed(peer, s.message());
        sessions[peer->their_session] = peer;
        send_handshake(peer, HandshakeStage::Ready, "", false);
        set_state(peer, Peer::State::kUp);
        finish_waiter(peer, Status::ok());
        emit(PeerEvent::Kind::kUp, peer->name, "connected to " + peer->address);
        return;
      }
      case Peer::State::kWaitReady: {  // server: expecting Ready
        if (hs->stage() != HandshakeStage::Ready || hs->session() != peer->their_session) {
          return refuse(peer, "expected Ready");
        }
        set_state(peer, Peer::State::kUp);
        emit(PeerEvent::Kind::kUp, peer->name, "accepted from " + peer->address);
        return;
      }
      default:
        log_drop("a handshake message after the handshake from " + peer->name);
        return;
    }
  }

  bool is_up_locked(const std::string& node) {
    std::lock_guard lk(mu);
    return up.count(node) > 0;
  }

  // Data arrives on either worker (see `dworker`); a rendezvous is received on the one it came to.
  struct DataAmArg {
    Impl* impl;
    ucp_worker_h* worker;
  };
  DataAmArg data_am_args[2] = {{this, &worker}, {this, &dworker}};

  static ucs_status_t on_data_am(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                 const ucp_am_recv_param_t* param) {
    auto* a = static_cast<DataAmArg*>(arg);
    return a->impl->handle_data(*a->worker, header, header_length, data, length, param);
  }

  ucs_status_t handle_data(ucp_worker_h on, const void* header, size_t header_length, void* data, size_t length,
                           const ucp_am_recv_param_t* param) {
    TROUPE_HOP(kRecv);
    bool rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    Header h;
    if (!decode_header(header, header_length, &h)) {
      log_drop("a message with a malformed routing header (" + std::to_string(header_length) + " bytes)");
      std::lock_guard lk(mu);
      ++stats.dropped_corrupt;
      return rndv ? UCS_ERR_INVALID_PARAM : UCS_OK;
    }
    auto it = sessions.find(h.session);
    if (it == sessions.end() || (it->second->state != Peer::State::kUp && it->second->state != Peer::State::kWaitReady &&
                                 it->second->state != Peer::State::kDying)) {
      log_drop("a message from a session no handshake established");
      std::lock_guard lk(mu);
      ++stats.dropped_unauthenticated;
      return rndv ? UCS_ERR_REJECTED : UCS_OK;
    }
    Peer* peer = it->second;
    if (!rndv) {
      uint8_t* into = nullptr;
      Bytes buf = Bytes::uninitialized(length, &into);
      if (length > 0) std::memcpy(into, data, length);
      deliver(peer, h.kind, std::string(h.dst), std::string(h.src), std::move(buf));
      return UCS_OK;
    }
    auto* pr = new PendingRecv{this, peer, h.kind, std::string(h.dst), std::string(h.src), Bytes(), nullptr};
    pr->buf = Bytes::uninitialized(length, &pr->into);
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.recv_am = &Impl::on_recv_done;
    p.user_data = pr;
    pending_recvs[pr] = true;
    ucs_status_ptr_t r = ucp_am_recv_data_nbx(on, data, pr->into, length, &p);
    if (r == nullptr) {
      finish_recv(pr, UCS_OK);
    } else if (UCS_PTR_IS_ERR(r)) {
      finish_recv(pr, UCS_PTR_STATUS(r));
    }
    return UCS_OK;  // the receive was started; UCP keeps the descriptor until it ends
  }

  static void on_recv_done(void* request, ucs_status_t status, size_t length, void* user_data) {
    (void)length;
    auto* pr = static_cast<PendingRecv*>(user_data);
    pr->impl->finish_recv(pr, status);
    ucp_request_free(request);
  }

  void finish_recv(PendingRecv* pr, ucs_status_t status) {
    std::unique_ptr<PendingRecv> owned(pr);
    pending_recvs.erase(pr);
    if (status != UCS_OK) {
      log_drop(ucx_error("a rendezvous receive failed", status));
      std::lock_guard lk(mu);
      ++stats.dropped_corrupt;
      return;
    }
    deliver(pr->peer, pr->kind, std::move(pr->dst), std::move(pr->src), std::move(pr->buf));
  }

  void deliver(Peer* peer, MessageKind kind, std::string dst, std::string src, Bytes bytes) {
    auto verified = verify_any(bytes.span());
    if (!verified || *verified != kind) {
      log_drop("message from " + peer->name + " to " + dst + ": " +
               (verified ? std::string("kind differs from its header") : verified.status().to_string()));
      std::lock_guard lk(mu);
      ++stats.dropped_corrupt;
      return;
    }
    delivered.fetch_add(1, std::memory_order_relaxed);  // no lock on the way of every message
    TROUPE_HOP(kVerified);
    if (opt.on_message) opt.on_message(Envelope{peer->name, std::move(dst), std::move(src), kind, std::move(bytes)});
    TROUPE_HOP(kDelivered);
  }

  // ---- listener ---------------------------------------------------------
  static void on_conn_request(ucp_conn_request_h req, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    std::string address = "unknown address";
    ucp_conn_request_attr_t attr{};
    attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
    if (ucp_conn_request_query(req, &attr) == UCS_OK && attr.client_address.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&attr.client_address);
      char host[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
      address = std::string(host) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    Peer* peer = self->new_peer(Peer::State::kAccepting, address);
    ucp_ep_params_t p = self->ep_params(peer);
    p.field_mask |= UCP_EP_PARAM_FIELD_CONN_REQUEST;
    p.conn_request = req;
    ucs_status_t s = ucp_ep_create(self->worker, &p, &peer->boot_ep);
    if (s != UCS_OK) {
      std::fprintf(stderr, "[troupe wire %s] could not accept %s: %s\n", self->opt.name.c_str(), address.c_str(),
                   ucs_status_string(s));
      peer->state = Peer::State::kDown;
      peer->boot_ep = nullptr;
      ucp_listener_reject(self->listener, req);
    }
  }

  // ---- the progress loop --------------------------------------------------
  void check_handshake_timeouts() {
    auto now = std::chrono::steady_clock::now();
    for (auto& p : peers) {
      bool pending = p->state == Peer::State::kAccepting || p->state == Peer::State::kConnecting ||
                     p->state == Peer::State::kWaitReady;
      if (pending && now - p->created > opt.handshake_timeout) {
        if (p->state == Peer::State::kConnecting) {
          peer_failed(p.get(), "handshake timed out");
        } else {
          refuse(p.get(), "handshake timed out");
        }
      }
    }
  }

  // Posts every queued message to UCX, in order. REQUIRES: wmu held. Returns how many were
  // posted and sets *pending when one of them is still in flight (the progress thread must drive it).
  size_t post_outbox(bool* pending) {
    std::deque<Outgoing*>& out = outbox_taken;
    if (!queued_work.load(std::memory_order_acquire)) return 0;
    {
      std::lock_guard lk(mu);
      if (outbox.empty()) return 0;
      out.swap(outbox);
      queued_work.store(!commands.empty(), std::memory_order_relaxed);
    }
    const size_t n = out.size();
    for (Outgoing* o : out) {
      if (o->peer->state != Peer::State::kUp) {
        complete(o, UCS_ERR_NOT_CONNECTED);
      } else if (issue(o, o->peer->data_ep) && pending != nullptr) {
        *pending = true;
      }
    }
    out.clear();  // keeps its memory for the next pass
    return n;
  }

  // REQUIRES: wmu held; the progress thread. Adds how many messages it posted to *posted.
  bool drain(size_t* posted) {
    std::deque<std::function<void()>>& cmds = commands_taken;
    if (queued_work.load(std::memory_order_acquire)) {
      std::lock_guard lk(mu);
      if (!commands.empty()) cmds.swap(commands);
      queued_work.store(!outbox.empty(), std::memory_order_relaxed);
    }
    const bool ran = !cmds.empty();
    for (auto& c : cmds) c();
    cmds.clear();
    const size_t n = post_outbox(nullptr);
    *posted += n;
    return n > 0 || ran;
  }

  // REQUIRES: wmu held. Progresses the data worker, and the control worker on pass 0 and every
  // kControlEvery passes (every pass in TCP-only mode). Returns what UCX says it did.
  static constexpr uint64_t kControlEvery = 256;
  unsigned progress(uint64_t pass) {
    unsigned n = ucp_worker_progress(dworker);
    if (opt.mode == TransportMode::kTcpOnly || pass % kControlEvery == 0) n += ucp_worker_progress(worker);
    return n;
  }
  unsigned progress_both() { return ucp_worker_progress(dworker) + ucp_worker_progress(worker); }

  void loop() {
    thread_id.store(std::this_thread::get_id());
    uint64_t pass = 0;
    auto last_active = std::chrono::steady_clock::now();
    auto last_timeout_check = last_active;
    // The last busy pass posted messages: this side just answered or called (from an actor run, or
    // from on_message itself, as an echo does), and the next message comes from a peer; the loop
    // then spins answer_busy_poll for it. (Until 1 Dec 2026 a pass that also received did not count:
    // an echo answering from on_message spun only idle_busy_poll, and once a round trip took longer
    // than that, both sides slept and woke each other from then on: 18-35 us round trips instead of
    // 1.7.)
    bool answered = false;
    while (!stop.load()) {
      bool busy, in_flight;
      size_t posted = 0;
      auto now = std::chrono::steady_clock::now();
      {
        std::lock_guard wl(wmu);
        busy = progress(pass++) != 0;
        busy |= drain(&posted);
        if (!dying.empty()) bury(!busy);
        if (!to_close.empty() || !close_requests.empty()) reap_closes();
        if (now - last_timeout_check > std::chrono::milliseconds(kIdleWaitMs)) {
          check_handshake_timeouts();
          last_timeout_check = now;
        }
        in_flight = sends_in_flight > 0 || !pending_recvs.empty();
      }
      // Outside the worker lock: what runs here may send. It goes out at once, not after the next
      // pass's ucp_worker_progress (an answer reaches its caller a whole progress call sooner).
      size_t answers = 0;
      if (opt.on_progress && opt.on_progress(in_flight)) {
        busy = true;
        std::lock_guard wl(wmu);
        answers = post_outbox(nullptr);
      }
      if (busy || kicked.exchange(false)) {
        last_active = now;
        answered = answers > 0 || posted > 0;
        continue;
      }
      // After a pass that sent, the spin (answer_busy_poll) has a cost and a gain. The cost:
      // a peer whose progress thread sleeps in epoll is woken on *this* CPU (UCX's shared-memory
      // signal is a Unix socket: a synchronous wake-up) and waits there until this thread stops
      // spinning (traced under load: each such hop took the window + ~3 us). The gain: when both
      // sides spin, as in a run of calls, neither sleeps and no wake-up is paid at all (idle: 6-10
      // us round trips against 17-82 without). A stream of messages gets its window anyway: its
      // passes receive.
      const auto window = in_flight ? opt.busy_poll : answered ? opt.answer_busy_poll : opt.idle_busy_poll;
      if (now - last_active < window) continue;
      // Sleep: announce it, re-check for work posted meanwhile, arm the worker, wait.
      sleeping.store(true);
      bool pending;
      {
        std::lock_guard lk(mu);
        pending = !outbox.empty() || !commands.empty();
      }
      ucs_status_t armed = UCS_ERR_BUSY;
      if (!pending) {
        std::lock_guard wl(wmu);
        armed = ucp_worker_arm(worker);
        if (armed == UCS_OK) armed = ucp_worker_arm(dworker);
      }
      if (armed == UCS_ERR_BUSY) {
        sleeping.store(false);
        continue;
      }
      {
        std::lock_guard lk(mu);
        ++stats.sleeps;
      }
      epoll_event ev[3];
      int n = epoll_wait(epoll_fd, ev, 3, kIdleWaitMs);
      pass = 0;  // the first pass after a sleep progresses the control worker too
      sleeping.store(false);
      for (int i = 0; i < n; ++i) {
        if (ev[i].data.fd == wake_fd) {
          uint64_t v;
          ssize_t r = ::read(wake_fd, &v, sizeof v);
          (void)r;
        }
      }
      last_active = std::chrono::steady_clock::now();
    }
    // Shutting down: fail what is queued, let what UCX already carries finish (bounded), close every
    // endpoint, give the closes a moment.
    std::lock_guard wl(wmu);
    size_t posted = 0;
    drain(&posted);
    bury(true);
    // Force-closing an endpoint under a rendezvous send in flight left UCX (1.13) with operations
    // queued on the shared-memory lane of the receiver's endpoint, and the receiver's
    // ucp_worker_destroy aborted on them. A peer that still progresses completes them in
    // milliseconds; a stalled or dead one costs at most kShutdownFlush.
    const auto flush_deadline = std::chrono::steady_clock::now() + kShutdownFlush;
    while ((sends_in_flight > 0 || !pending_recvs.empty()) && std::chrono::steady_clock::now() < flush_deadline) {
      if (progress_both() == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (!dying.empty()) bury(true);
    }
    for (auto& p : peers) {
      if (p->state != Peer::State::kDown) {
        set_state(p.get(), Peer::State::kDown);
        finish_waiter(p.get(), Status::unavailable("the transport is shutting down"));
      }
      to_close.push_back(p.get());
    }
    reap_closes();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!close_requests.empty() && std::chrono::steady_clock::now() < deadline) {
      progress_both();
      reap_closes();
    }
  }

  void teardown() {
    if (thread.joinable()) {
      stop.store(true);
      uint64_t one = 1;
      ssize_t n = ::write(wake_fd, &one, sizeof one);
      (void)n;
      thread.join();
    }
    if (listener) ucp_listener_destroy(listener);
    if (dworker) ucp_worker_destroy(dworker);
    if (worker) ucp_worker_destroy(worker);
    for (auto& [pr, _] : pending_recvs) delete pr;
    pending_recvs.clear();
    if (context) ucp_cleanup(context);
    listener = nullptr;
    worker = dworker = nullptr;
    context = nullptr;
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
    epoll_fd = wake_fd = -1;
    std::lock_guard lk(mu);
    for (Outgoing* o : outbox) delete o;
    outbox.clear();
  }

  Status init() {
    host_id = read_host_id();
    // A node restarted on its fixed port must bind while the old one's connections sit in TIME_WAIT
    // (UCX's default refuses for a minute). The user's UCX_TCP_CM_REUSEADDR, if set, stands. (Through
    // the environment: it configures UCT's TCP connection manager, which ucp_config_modify cannot.)
    ::setenv("UCX_TCP_CM_REUSEADDR", "y", 0);
    ucp_config_t* config = nullptr;
    ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
    if (s != UCS_OK) return Status::io_error(ucx_error("reading the UCX configuration", s));
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
    params.mt_workers_shared = 0;
    s = ucp_init(&params, config, &context);
    ucp_config_release(config);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_init (is libucx installed and /dev/shm writable?)", s));

    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;  // callers serialise on wmu
    s = ucp_worker_create(context, &wp, &worker);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_create", s));
    s = ucp_worker_create(context, &wp, &dworker);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_create (data)", s));

    ucp_address_t* addr = nullptr;
    size_t addr_len = 0;
    s = ucp_worker_get_address(dworker, &addr, &addr_len);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_get_address", s));
    worker_address.assign(reinterpret_cast<uint8_t*>(addr), reinterpret_cast<uint8_t*>(addr) + addr_len);
    ucp_worker_release_address(dworker, addr);

    for (auto [id, cb] : {std::pair<uint16_t, ucp_am_recv_callback_t>{kAmHandshake, &Impl::on_handshake_am},
                          std::pair<uint16_t, ucp_am_recv_callback_t>{kAmData, &Impl::on_data_am}}) {
      ucp_am_handler_param_t hp{};
      hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
      hp.id = id;
      hp.cb = cb;
      for (int k = 0; k < 2; ++k) {
        hp.arg = id == kAmData ? static_cast<void*>(&data_am_args[k]) : static_cast<void*>(this);
        s = ucp_worker_set_am_recv_handler(k == 0 ? worker : dworker, &hp);
        if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_set_am_recv_handler", s));
      }
    }

    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(opt.listen_port);
    if (inet_pton(AF_INET, opt.listen_host.c_str(), &sin.sin_addr) != 1) {
      return Status::invalid_argument("listen address \"" + opt.listen_host + "\" is not an IPv4 address");
    }
    ucp_listener_params_t lp{};
    lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
    lp.sockaddr.addr = reinterpret_cast<const sockaddr*>(&sin);
    lp.sockaddr.addrlen = sizeof sin;
    lp.conn_handler.cb = &Impl::on_conn_request;
    lp.conn_handler.arg = this;
    s = ucp_listener_create(worker, &lp, &listener);
    if (s != UCS_OK) {
      return Status::unavailable(ucx_error(("listening on " + opt.listen_host + ":" + std::to_string(opt.listen_port) +
                                            " (port in use?)").c_str(), s));
    }
    ucp_listener_attr_t la{};
    la.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
    s = ucp_listener_query(listener, &la);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_listener_query", s));
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&la.sockaddr)->sin_port);

    s = ucp_worker_get_efd(worker, &worker_fd);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_get_efd", s));
    s = ucp_worker_get_efd(dworker, &dworker_fd);
    if (s != UCS_OK) return Status::io_error(ucx_error("ucp_worker_get_efd (data)", s));
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (wake_fd < 0 || epoll_fd < 0) return Status::io_error(std::string("eventfd/epoll: ") + std::strerror(errno));
    for (int fd : {worker_fd, dworker_fd, wake_fd}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return Status::io_error(std::string("epoll_ctl: ") + std::strerror(errno));
      }
    }
    thread = std::thread([this] { loop(); });
    return Status::ok();
  }
};

Transport::Transport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transport::~Transport() = default;

Result<std::unique_ptr<Transport>> Transport::start(TransportOptions options) {
  if (options.name.empty() || options.name.size() > kMaxNameBytes) {
    return Status::invalid_argument("transport: node name must be 1.." + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (options.token.empty()) {
    auto t = token_from_env();
    if (!t) return t.status();
    options.token = *t;
  }
  tune_allocator_for_large_messages(options.prefault_heap_bytes);
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  if (Status s = impl->init(); !s) return s.with_context("starting UCX transport \"" + impl->opt.name + "\"");
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

const std::string& Transport::name() const { return impl_->opt.name; }
uint16_t Transport::port() const { return impl_->port; }

Result<std::string> Transport::connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
    return Status::invalid_argument("peer address \"" + host + "\" is not an IPv4 address");
  }
  if (impl_->on_progress_thread()) return Status::internal("Transport::connect called on the progress thread");
  auto waiter = std::make_shared<ConnectWaiter>();
  std::string address = host + ":" + std::to_string(port);
  Impl* impl = impl_.get();
  impl->post([impl, sin, waiter, address] {
    Peer* peer = impl->new_peer(Peer::State::kConnecting, address);
    peer->waiter = waiter;
    ucp_ep_params_t p = impl->ep_params(peer);
    p.field_mask |= UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR;
    p.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    p.sockaddr.addr = reinterpret_cast<const sockaddr*>(&sin);
    p.sockaddr.addrlen = sizeof sin;
    ucs_status_t s = ucp_ep_create(impl->worker, &p, &peer->boot_ep);
    if (s != UCS_OK) {
      peer->boot_ep = nullptr;
      impl->peer_failed(peer, ucx_error("ucp_ep_create", s));
      return;
    }
    impl->send_handshake(peer, HandshakeStage::Hello, "", false);
  });
  std::unique_lock lk(waiter->m);
  if (!waiter->cv.wait_for(lk, timeout, [&] { return waiter->done; })) {
    return Status::unavailable("connecting to " + address + ": no handshake within " +
                               std::to_string(timeout.count()) + " ms");
  }
  if (!waiter->status) return waiter->status;
  return waiter->name;
}

Status Transport::send(const std::string& peer, std::string_view dst, std::string_view src, MessageKind kind,
                       Bytes payload, std::chrono::milliseconds wait) {
  if (dst.size() > kMaxNameBytes || src.size() > kMaxNameBytes) {
    return Status::invalid_argument("actor names are limited to " + std::to_string(kMaxNameBytes) + " bytes");
  }
  TROUPE_HOP(kSendEnter);
  Impl* impl = impl_.get();
  if (impl->on_progress_thread()) wait = std::chrono::milliseconds(0);
  auto* o = new Outgoing;
  o->impl = impl;
  o->am_id = kAmData;
  {
    std::unique_lock lk(impl->mu);
    auto it = impl->up.find(peer);
    if (it == impl->up.end()) {
      delete o;
      return Status::unavailable("peer \"" + peer + "\" is not connected");
    }
    Peer* p = it->second;
    auto room = [&] {
      return p->state != Peer::State::kUp || impl->stop.load() ||
             p->queued_msgs == 0 ||  // one message of any size always fits
             (p->queued_bytes + payload.size() <= impl->opt.max_queued_bytes &&
              p->queued_msgs < impl->opt.max_queued_messages);
    };
    if (!impl->cv.wait_for(lk, wait, room)) {
      delete o;
      return Status::unavailable("send queue to \"" + peer + "\" is full (" + std::to_string(p->queued_msgs) +
                                 " messages, " + std::to_string(p->queued_bytes) + " bytes)");
    }
    if (p->state != Peer::State::kUp || impl->stop.load()) {
      delete o;
      return Status::unavailable("peer \"" + peer + "\" went down");
    }
    p->queued_bytes += payload.size();
    p->queued_msgs += 1;
    o->peer = p;
    o->set_header(p->my_session, kind, dst, src);
    o->payload = std::move(payload);
    impl->outbox.push_back(o);
    impl->queued_work.store(true, std::memory_order_release);
  }
  TROUPE_HOP(kSendQueued);
  impl->post_or_wake();
  return Status::ok();
}

Status Transport::flush(const std::string& peer, std::chrono::milliseconds timeout) {
  Impl* impl = impl_.get();
  if (impl->on_progress_thread()) return Status::internal("Transport::flush called on the progress thread");
  std::unique_lock lk(impl->mu);
  auto done = [&] {
    for (auto& [name, p] : impl->up) {
      if ((peer.empty() || name == peer) && p->queued_msgs > 0) return false;
    }
    return true;
  };
  if (!impl->cv.wait_for(lk, timeout, done)) {
    return Status::unavailable("flush: messages still queued after " + std::to_string(timeout.count()) + " ms");
  }
  return Status::ok();
}

bool Transport::is_up(const std::string& peer) const {
  std::lock_guard lk(impl_->mu);
  return impl_->up.count(peer) > 0;
}

std::vector<std::string> Transport::peers() const {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> names;
  for (auto& [name, p] : impl_->up) names.push_back(name);
  return names;
}

TransportStats Transport::stats() const {
  std::lock_guard lk(impl_->mu);
  TransportStats s = impl_->stats;
  s.delivered = impl_->delivered.load();
  return s;
}

Result<std::string> Transport::describe(const std::string& peer) {
  if (impl_->on_progress_thread()) return Status::internal("Transport::describe called on the progress thread");
  auto waiter = std::make_shared<ConnectWaiter>();
  Impl* impl = impl_.get();
  impl->post([impl, peer, waiter] {
    std::string text;
    Status st = Status::not_found("peer \"" + peer + "\" is not connected");
    {
      std::lock_guard lk(impl->mu);
      auto it = impl->up.find(peer);
      if (it != impl->up.end()) {
        char* buf = nullptr;
        size_t len = 0;
        FILE* f = open_memstream(&buf, &len);
        if (f != nullptr) {
          ucp_ep_print_info(it->second->data_ep, f);
          std::fclose(f);
          text.assign(buf, len);
          std::free(buf);
          st = Status::ok();
        }
      }
    }
    std::lock_guard lk(waiter->m);
    waiter->done = true;
    waiter->status = st;
    waiter->name = text;
    waiter->cv.notify_all();
  });
  std::unique_lock lk(waiter->m);
  if (!waiter->cv.wait_for(lk, std::chrono::seconds(5), [&] { return waiter->done; })) {
    return Status::unavailable("describe: the progress thread did not answer");
  }
  if (!waiter->status) return waiter->status;
  return waiter->name;
}

}  // namespace troupe::wire
