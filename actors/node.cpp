// The node runtime behind actors/node.hpp.
#include "actors/node.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "actors/env_actor.hpp"
#include "actors/messages.hpp"
#include "actors/policy_worker.hpp"
#include "actors/reward_actor.hpp"
#include "actors/run_status.hpp"
#include "actors/shutdown.hpp"
#include "actors/warm_start.hpp"
#include "actors/weight_board.hpp"
#include "model/transformer.hpp"
#include "monitoring/metrics.hpp"
#include "wire/shared_weights.hpp"
#include "wire/weight_broadcast.hpp"

namespace troupe::actors {

using namespace troupe::atoms;

namespace {

uint64_t unix_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

uint64_t rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

// The weights travel as one f32 tensor: the policy's parameters in their checkpoint layout. The
// broadcast numbers versions from 1 (0 means "none" there) while the warm start is policy version 0,
// so a broadcast carries policy version + 1.
inline uint64_t broadcast_version(uint64_t policy_version) { return policy_version + 1; }
inline uint64_t policy_version_of(uint64_t broadcast) { return broadcast - 1; }

std::vector<wire::TensorInfoT> parameter_manifest(size_t floats) {
  wire::TensorInfoT t;
  t.name = "parameters";
  t.dtype = "f32";
  t.shape = {static_cast<int64_t>(floats)};
  t.offset = 0;
  t.bytes = floats * sizeof(float);
  return {t};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NodeNet

Result<std::unique_ptr<NodeNet>> NodeNet::start(caf::actor_system& system, const ClusterPlan& plan,
                                                const std::string& node, const std::string& token,
                                                monitoring::Metrics* metrics, int64_t weight_chunk_bytes) {
  const NodePlan* me = plan.find(node);
  if (me == nullptr) {
    std::string known;
    for (const auto& n : plan.nodes) known += (known.empty() ? "" : ", ") + n.node;
    return Status::invalid_argument("node \"" + node + "\" is not in the placement; hosts: " + known);
  }
  std::unique_ptr<NodeNet> net(new NodeNet());
  net->plan_ = plan;
  net->node_ = node;
  net->weight_chunk_bytes_ = static_cast<size_t>(weight_chunk_bytes);
  wire::TransportOptions o;
  o.name = node;
  o.listen_host = me->host.address;
  o.listen_port = static_cast<uint16_t>(me->host.port);
  o.token = token;
  auto gw = Gateway::start(system, o);
  if (!gw) return gw.status().with_context("node " + node + " listening on " + me->host.address + ":" +
                                           std::to_string(me->host.port));
  net->gateway_ = std::move(*gw);
  auto remote = RemoteActors::create(system, *net->gateway_, metrics);
  if (!remote) return remote.status();
  net->remote_ = std::move(*remote);
  for (const auto& [name, where] : plan.node_of) {
    if (where != node) TROUPE_RETURN_IF_ERROR(net->remote_->add_route(name, where));
  }
  for (const auto& n : plan.nodes) {
    if (n.node == node) continue;
    TROUPE_RETURN_IF_ERROR(net->remote_->add_route(node_control_name(n.node), n.node));
    TROUPE_RETURN_IF_ERROR(net->remote_->accept_peer(n.node));
  }
  if (plan.head != node) TROUPE_RETURN_IF_ERROR(net->remote_->add_route(kClusterName, plan.head));
  net->dialer_ = std::thread([raw = net.get()] { raw->dial_loop(); });
  return net;
}

NodeNet::~NodeNet() {
  stop_ = true;
  if (dialer_.joinable()) dialer_.join();
  remote_.reset();
  gateway_.reset();
}

void NodeNet::dial_loop() {
  const NodePlan* me = plan_.find(node_);
  std::map<std::string, int> failures;
  while (!stop_) {
    for (const auto& peer : me->connect_to) {
      if (stop_) break;
      if (gateway_->transport().is_up(peer)) continue;
      const NodePlan* p = plan_.find(peer);
      auto got = gateway_->connect(p->host.address, static_cast<uint16_t>(p->host.port));
      if (got && *got == peer) {
        spdlog::info("node {}: connected to {} at {}:{}", node_, peer, p->host.address, p->host.port);
        failures[peer] = 0;
      } else if (got) {
        spdlog::error("node {}: {}:{} answers as \"{}\", the placement says {}", node_, p->host.address,
                      p->host.port, *got, peer);
      } else if (failures[peer]++ % 20 == 0) {
        spdlog::info("node {}: waiting for {} at {}:{} ({})", node_, peer, p->host.address, p->host.port,
                     got.status().message());
      }
    }
    for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status NodeNet::send(const std::string& dst, wire::MessageKind kind, wire::Bytes payload) {
  auto raw = gateway_->resolve(dst);
  if (!raw) return raw.status();
  caf::anon_send(*raw, WireMessage{dst, node_, kind, std::move(payload), {}});
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Member node

namespace {

// Receives weight broadcasts for this node and publishes each committed version to the board.
struct ReceiverState {
  std::shared_ptr<wire::DeviceWeightLink> link;  // placement.weight_broadcast: nccl; else null
  std::unique_ptr<wire::WeightReceiver> rx;
  std::shared_ptr<WeightBoard> board;
};

caf::behavior receiver_behavior(caf::stateful_actor<ReceiverState>* self, wire::Transport* transport,
                                std::shared_ptr<WeightBoard> board, std::shared_ptr<wire::DeviceWeightLink> link) {
  self->state.rx = std::make_unique<wire::WeightReceiver>(*transport);
  self->state.link = std::move(link);
  if (self->state.link) self->state.rx->set_device_link(self->state.link.get());
  self->state.board = std::move(board);
  return {
      [self](const WireMessage& m) {
        auto& st = self->state;
        wire::Envelope e{m.peer, m.dst, m.src, m.kind, m.payload};
        auto committed = st.rx->on_message(e);
        if (!committed) {
          spdlog::warn("weights from {}: {}", m.peer, committed.status().message());
          return;
        }
        if (!*committed) return;
        auto w = st.rx->committed();
        auto params = std::make_shared<std::vector<float>>(w.data->size() / sizeof(float));
        std::memcpy(params->data(), w.data->data(), params->size() * sizeof(float));
        st.board->publish(policy_version_of(w.version), std::move(params));
      },
      [self](peer_atom, const std::string& peer, bool up) {
        if (!up) self->state.rx->on_peer_down(peer);
      },
  };
}

// Answers the head's Control messages to this node.
caf::behavior control_behavior(caf::event_based_actor*, std::shared_ptr<std::atomic<bool>> stop) {
  return {
      [stop](const WireMessage& m) {
        auto c = wire::read<wire::Control>(m.payload);
        if (c && (*c)->command() == wire::ControlCommand::Stop) *stop = true;
      },
  };
}

}  // namespace

int run_member_node(const configs::ExperimentConfig& config, const ClusterPlan& plan, const std::string& node,
                    monitoring::Metrics* metrics, const MemberOptions& options) {
  const NodePlan* me = plan.find(node);
  if (me == nullptr || node == plan.head) {
    spdlog::error("node {}: not a member node of this placement (the head is {})", node, plan.head);
    return 1;
  }
  const char* secret = std::getenv(config.placement.token_env.c_str());
  if (secret == nullptr || *secret == '\0') {
    spdlog::error("node {}: the cluster token is not set: export {}=<the run's shared secret>", node,
                  config.placement.token_env);
    return 1;
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.console", caf::atom("none"));
  int code = 0;
  {
    caf::actor_system sys{cfg};
    auto started = NodeNet::start(sys, plan, node, secret, metrics, config.limits.weight_chunk_bytes);
    if (!started) {
      spdlog::error("node {}: {}", node, started.status().message());
      return 1;
    }
    NodeNet& net = **started;
    RemoteActors& remote = net.remote();
    Gateway& gateway = net.gateway();
    auto board = std::make_shared<WeightBoard>();
    auto stop_requested = std::make_shared<std::atomic<bool>>(false);
    std::vector<caf::actor> hosted;
    auto fail = [&](const Status& st) {
      spdlog::error("node {}: {}", node, st.message());
      code = 1;
    };

    // placement.weight_broadcast: nccl: weights arrive in this GPU's memory (the first worker's).
    std::shared_ptr<wire::DeviceWeightLink> link;
    const auto nccl_nodes = plan.nccl_weight_nodes();
    if (std::find(nccl_nodes.begin(), nccl_nodes.end(), node) != nccl_nodes.end()) {
      auto opened = wire::open_nccl_weight_link(plan.weight_gpu(node));
      if (!opened) {
        spdlog::error("node {}: placement.weight_broadcast: nccl: {}", node, opened.status().message());
        return 1;
      }
      link = std::move(*opened);
    }
    caf::actor receiver = sys.spawn<caf::detached>(receiver_behavior, &gateway.transport(), board, link);
    hosted.push_back(receiver);
    gateway.subscribe(receiver);
    Status s = gateway.register_local(wire::kWeightsDst, receiver);
    caf::actor control = sys.spawn(control_behavior, stop_requested);
    hosted.push_back(control);
    if (s) s = gateway.register_local(node_control_name(node), control);

    // Env actors first: local reward actors verify through them.
    std::map<std::string, caf::actor> envs;
    const int group_size = static_cast<int>(config.algorithm.group_size);
    for (const auto* slot : me->of_role("env")) {
      if (!s) break;
      caf::actor env = spawn_env_actor(sys, slot->task, group_size, metrics);
      hosted.push_back(env);
      s = remote.expose(slot->name, env);
    }
    for (const auto& t : config.tasks) {
      if (!s) break;
      auto env = remote.resolve("env/" + t.name);
      if (!env) s = env.status();
      if (env) envs[t.name] = *env;
    }
    std::map<int, caf::actor> rewards;  // hosted here, by index
    if (s && me->hosts("reward")) {
      auto replay = remote.resolve("replay");
      auto controller = remote.resolve("controller");
      if (!replay) s = replay.status();
      if (s && !controller) s = controller.status();
      for (const auto* slot : me->of_role("reward")) {
        if (!s) break;
        caf::actor r = spawn_reward_actor(sys, config, envs, *replay, metrics);
        hosted.push_back(r);
        caf::anon_send(r, done_atom_v, *controller);
        rewards[slot->index] = r;
        s = remote.expose(slot->name, r);
      }
    }
    if (!s) fail(s);

    const auto workers = me->of_role("policy_worker");
    bool ready = workers.empty();  // a node without workers holds no weights and is ready at once
    bool head_seen = false;
    uint64_t sequence = 0;
    auto next_beat = std::chrono::steady_clock::now();
    auto status = std::make_shared<RunStatus>();
    spdlog::info("node {}: hosting {} actors; head {}", node, me->actors.size(), plan.head);
    while (code == 0 && !*stop_requested && !(options.stop && options.stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const bool head_up = gateway.transport().is_up(plan.head);
      if (head_up) head_seen = true;
      if (head_seen && !head_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a Stop sent just before may be queued
        if (*stop_requested) break;
        spdlog::warn("node {}: the head {} went away; stopping (the launcher restarts this node)", node, plan.head);
        code = kHeadLost;
        break;
      }
      if (!ready && board->latest().params) {
        // The first weights arrived: only now can workers generate (never from a stale or empty policy).
        auto snap = board->latest();
        auto policy = model::Transformer::create(policy_config(config), 0);
        Status ps = policy ? policy->load_parameters(*snap.params, snap.version) : policy.status();
        for (const auto* slot : workers) {
          if (!ps) break;
          const int k = reward_for_worker(slot->index, plan.rewards);
          auto reward = remote.resolve("reward/" + std::to_string(k));
          if (!reward) {
            ps = reward.status();
            break;
          }
          PolicyWorkerSetup setup;
          setup.name = slot->name;
          setup.index = slot->index;
          setup.reward = *reward;
          setup.board = board;
          setup.status = status;
          setup.metrics = metrics;
          setup.cpu_threads = 1;
          setup.gpu = slot->gpu();
          caf::actor w = spawn_policy_worker(sys, config, *policy, std::move(setup));
          hosted.push_back(w);
          ps = remote.expose(slot->name, w);
        }
        if (!ps) {
          fail(ps);
          break;
        }
        ready = true;
        spdlog::info("node {}: {} policy workers ready with weights v{}", node, workers.size(), snap.version);
        next_beat = std::chrono::steady_clock::now();  // tell the head at once
      }
      if (head_up && std::chrono::steady_clock::now() >= next_beat) {
        wire::HeartbeatT h;
        h.node = node;
        h.pid = static_cast<int32_t>(getpid());
        h.sequence = ++sequence;
        h.unix_ms = unix_ms();
        h.policy_version = board->version();
        h.weights_ready = ready && !workers.empty();
        h.actors = static_cast<uint32_t>(hosted.size());
        h.rss_bytes = rss_bytes();
        net.send(kClusterName, wire::MessageKind::kHeartbeat, wire::pack(h)).ignore();
        next_beat = std::chrono::steady_clock::now() + options.heartbeat_every;
      }
    }
    spdlog::info("node {}: stopping", node);
    // Every hosted actor (the weight receiver too) is gone before the connections they use close.
    stop_and_wait(sys, hosted, std::chrono::seconds(30), "member node");
    (*started).reset();
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// The head's cluster duties

namespace {

struct MemberInfo {
  bool ready = false;
  bool ever_ready = false;  // ready again after that: the node was restarted
  std::chrono::steady_clock::time_point last_beat{};
  std::vector<uint64_t> workers;  // policy worker indices hosted there
};

struct SupervisorState {
  caf::actor controller;
  std::map<std::string, MemberInfo> members;
  std::chrono::milliseconds grace{5000};
  monitoring::Metrics* metrics = nullptr;
};

void set_ready(caf::stateful_actor<SupervisorState>* self, const std::string& node, bool ready, const char* why) {
  auto& st = self->state;
  auto it = st.members.find(node);
  if (it == st.members.end() || it->second.ready == ready) return;
  it->second.ready = ready;
  if (ready && it->second.ever_ready && st.metrics) {
    st.metrics->actor_restarts.Add({{"role", "policy_worker"}}).Increment(static_cast<double>(it->second.workers.size()));
  }
  if (ready) it->second.ever_ready = true;
  if (!it->second.workers.empty()) {
    spdlog::info("cluster: {} policy workers on {} {} ({})", it->second.workers.size(), node,
                 ready ? "take prompts" : "are gone; their prompts are re-issued", why);
  }
  if (!st.controller) return;  // told when it exists (done_atom)
  for (uint64_t w : it->second.workers) self->send(st.controller, worker_atom_v, w, ready);
}

caf::behavior supervisor_behavior(caf::stateful_actor<SupervisorState>* self, const ClusterPlan* plan,
                                  std::string head, caf::actor controller, std::chrono::milliseconds grace,
                                  monitoring::Metrics* metrics) {
  auto& st = self->state;
  st.controller = std::move(controller);
  st.grace = grace;
  st.metrics = metrics;
  for (const auto& n : plan->nodes) {
    if (n.node == head) continue;
    MemberInfo info;
    for (const auto* w : n.of_role("policy_worker")) info.workers.push_back(static_cast<uint64_t>(w->index));
    st.members[n.node] = std::move(info);
  }
  self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
  return {
      [self](const WireMessage& m) {
        auto h = wire::read<wire::Heartbeat>(m.payload);
        if (!h) return;
        auto it = self->state.members.find(m.peer);  // the transport's authenticated name, not the payload's
        if (it == self->state.members.end()) return;
        it->second.last_beat = std::chrono::steady_clock::now();
        if ((*h)->weights_ready()) set_ready(self, m.peer, true, "its workers hold weights");
      },
      [self](peer_atom, const std::string& node, bool up) {
        if (!up) set_ready(self, node, false, "connection lost");
      },
      [self](done_atom, caf::actor c) {
        // The controller exists now: tell it which workers are already ready.
        auto& s = self->state;
        s.controller = std::move(c);
        for (auto& [node, info] : s.members) {
          if (!info.ready) continue;
          for (uint64_t w : info.workers) self->send(s.controller, worker_atom_v, w, true);
        }
      },
      [self](tick_atom) {
        const auto now = std::chrono::steady_clock::now();
        for (auto& [node, info] : self->state.members) {
          if (info.ready && now - info.last_beat > self->state.grace) set_ready(self, node, false, "heartbeats stopped");
        }
        self->delayed_send(self, std::chrono::seconds(1), tick_atom_v);
      },
  };
}

struct BroadcasterState {
  std::shared_ptr<WeightBoard> board;
  wire::Transport* transport = nullptr;
  std::vector<std::string> worker_nodes;    // in plan order
  std::map<std::string, uint64_t> sent;     // node -> 1 + the version it holds (0: none; needs the current one)
  // node -> the broadcast version last sent to it and when, until the node acknowledges it (or a newer
  // one). A send succeeds once the chain's first hop took the version; a later hop may still miss it (it
  // was not connected to the node before it, or it died and came back), and nothing but its ack says so.
  std::map<std::string, std::pair<uint64_t, std::chrono::steady_clock::time_point>> unacked;
  std::map<std::string, uint64_t> acked;    // node -> the newest broadcast version it committed
  wire::BroadcastOptions options;
  std::set<std::string> shared_nodes;                 // take weights through shared memory
  std::unique_ptr<wire::SharedWeightPublisher> publisher;  // set when shared_nodes is not empty
  std::set<std::string> nccl_nodes;                   // take weights GPU to GPU
  std::shared_ptr<wire::DeviceWeightLink> link;       // set when nccl_nodes is not empty
  std::unique_ptr<wire::DeviceWeightPublisher> device_publisher;
  monitoring::Metrics* metrics = nullptr;
  uint64_t acks = 0;
  uint64_t failures = 0;
  uint64_t resends = 0;
};

// How long a node may take to acknowledge a version before it is sent the current one again. Versions
// reach a connected node in milliseconds (a 100M-parameter set in about a second); a node that
// missed one is otherwise left behind until the next version, and with the learner waiting for fresh
// rollouts that node's stale ones cannot give, there may be no next version.
constexpr auto kAckTimeout = std::chrono::seconds(5);

// Nodes that did not acknowledge what they were sent in time need the current version again.
void resend_unacknowledged(caf::stateful_actor<BroadcasterState>* self) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = st.unacked.begin(); it != st.unacked.end();) {
    if (now - it->second.second < kAckTimeout) {
      ++it;
      continue;
    }
    if (st.resends++ % 20 == 0) {
      spdlog::warn("cluster: {} did not confirm weights v{} within {} s; sending it the current version ({} resends)",
                   it->first, policy_version_of(it->second.first),
                   std::chrono::duration_cast<std::chrono::seconds>(kAckTimeout).count(), st.resends);
    }
    st.sent[it->first] = 0;
    it = st.unacked.erase(it);
  }
}

enum class Backend { kShm, kNccl, kUcx };

// Pushes the board's newest version to every connected worker node that lacks it: by NCCL when the
// placement says so, through shared memory to the nodes on this machine (one write for all of them),
// down one chain to the others.
void push(caf::stateful_actor<BroadcasterState>* self) {
  auto& st = self->state;
  const uint64_t v = st.board->version();
  std::vector<std::string> chain, shared, nccl;
  bool nccl_behind = false;  // some NCCL node lacks the version: all of them take part (below)
  for (const auto& n : st.worker_nodes) {
    if (!st.transport->is_up(n)) continue;
    const bool behind = st.sent[n] < v + 1;
    if (st.nccl_nodes.count(n)) {
      nccl.push_back(n);
      nccl_behind |= behind;
    } else if (behind) {
      (st.shared_nodes.count(n) ? shared : chain).push_back(n);
    }
  }
  // An NCCL broadcast goes to the communicator's whole membership, or a subset would need a new
  // communicator (about a second to set up) and another when the rest return; nodes that hold the
  // version already take part and acknowledge it again.
  if (!nccl_behind) nccl.clear();
  if (chain.empty() && shared.empty() && nccl.empty()) return;
  auto snap = st.board->latest();
  if (!snap.params) return;
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(snap.params->data()),
                                 snap.params->size() * sizeof(float));
  auto send = [&](const std::vector<std::string>& to, Backend via) {
    if (to.empty()) return;
    const char* backend = via == Backend::kShm ? "shm" : via == Backend::kNccl ? "nccl" : "ucx";
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t bv = broadcast_version(snap.version);
    const auto manifest = parameter_manifest(snap.params->size());
    Status s = via == Backend::kShm    ? st.publisher->publish(to, bv, manifest, bytes)
               : via == Backend::kNccl ? st.device_publisher->publish(to, bv, manifest, bytes)
                                       : wire::broadcast_weights(*st.transport, to, bv, manifest, bytes, st.options);
    if (!s) {
      if (st.failures++ % 50 == 0) {
        spdlog::warn("cluster: weights v{} to {} node(s) by {}: {} ({} failures)", snap.version, to.size(), backend,
                     s.message(), st.failures);
      }
      return;  // tried again next tick; nodes that did take it answer the repeat with an ack
    }
    for (const auto& n : to) {
      st.sent[n] = snap.version + 1;
      st.unacked[n] = {bv, t0};
    }
    if (st.metrics) {
      st.metrics->weight_sync_seconds.Add({{"backend", backend}}, monitoring::Metrics::latency_buckets())
          .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      st.metrics->weight_sync_bytes.Add({{"backend", backend}}).Increment(static_cast<double>(bytes.size()));
    }
  };
  send(nccl, Backend::kNccl);
  send(shared, Backend::kShm);
  send(chain, Backend::kUcx);
}

caf::behavior broadcaster_behavior(caf::stateful_actor<BroadcasterState>* self, std::shared_ptr<WeightBoard> board,
                                   wire::Transport* transport, std::vector<std::string> worker_nodes,
                                   std::vector<std::string> shared_nodes, int shm_slots, size_t chunk_bytes,
                                   std::vector<std::string> nccl_nodes, std::shared_ptr<wire::DeviceWeightLink> link,
                                   monitoring::Metrics* metrics) {
  auto& st = self->state;
  st.board = std::move(board);
  st.transport = transport;
  st.worker_nodes = std::move(worker_nodes);
  st.options.chunk_bytes = chunk_bytes;
  st.shared_nodes.insert(shared_nodes.begin(), shared_nodes.end());
  if (!st.shared_nodes.empty()) {
    wire::SharedPublishOptions so;
    so.slots = shm_slots;
    // A node that holds every slot (it stopped reading) is dropped when it goes down; until then the
    // other nodes wait at most this long per tick.
    so.slot_wait = std::chrono::milliseconds(2000);
    st.publisher = std::make_unique<wire::SharedWeightPublisher>(*transport, so);
    spdlog::info("cluster: weights reach {} through shared memory{}", fmt::join(shared_nodes, ", "),
                 st.shared_nodes.size() < st.worker_nodes.size() ? ", the other worker nodes by the UCX chain" : "");
  }
  st.nccl_nodes.insert(nccl_nodes.begin(), nccl_nodes.end());
  st.link = std::move(link);
  if (!st.nccl_nodes.empty() && st.link) {
    st.device_publisher = std::make_unique<wire::DeviceWeightPublisher>(*transport, *st.link);
    spdlog::info("cluster: weights reach {} by NCCL from GPU {}", fmt::join(nccl_nodes, ", "), st.link->device());
  }
  st.metrics = metrics;
  self->send(self, tick_atom_v);
  return {
      [self](tick_atom) {
        resend_unacknowledged(self);
        push(self);
        // New versions come every learner step (a second or so); 20 ms keeps the delay small.
        self->delayed_send(self, std::chrono::milliseconds(20), tick_atom_v);
      },
      [self](peer_atom, const std::string& node, bool up) {
        self->state.sent[node] = 0;  // (re)connected or gone: it needs the current version
        self->state.unacked.erase(node);
        if (!up && self->state.publisher) self->state.publisher->on_peer_down(node);  // it holds no slot now
        if (!up && self->state.device_publisher) self->state.device_publisher->on_peer_down(node);
      },
      [self](const WireMessage& m) {  // "weights/ack": a node committed a version
        auto& s = self->state;
        ++s.acks;
        auto h = wire::read<wire::Heartbeat>(m.payload);
        if (!h) return;
        uint64_t& a = s.acked[m.peer];  // the transport's authenticated name, not the payload's
        a = std::max(a, (*h)->policy_version());
        if (s.device_publisher) s.device_publisher->on_ack(m.peer, (*h)->policy_version());
        auto it = s.unacked.find(m.peer);
        if (it != s.unacked.end() && it->second.first <= a) s.unacked.erase(it);
      },
  };
}

}  // namespace

Result<std::unique_ptr<ClusterHead>> ClusterHead::start(caf::actor_system& system, NodeNet& net,
                                                        std::shared_ptr<WeightBoard> board,
                                                        monitoring::Metrics* metrics,
                                                        std::chrono::milliseconds heartbeat_grace) {
  const ClusterPlan& plan = net.plan();
  std::shared_ptr<wire::DeviceWeightLink> link;
  if (!plan.nccl_weight_nodes().empty()) {
    auto opened = wire::open_nccl_weight_link(plan.weight_gpu(net.node()));
    if (!opened) return opened.status().with_context("placement.weight_broadcast: nccl");
    link = std::move(*opened);
  }
  std::unique_ptr<ClusterHead> head(new ClusterHead(system));
  head->net_ = &net;
  head->supervisor_ = system.spawn(supervisor_behavior, &net.plan(), net.node(), caf::actor{}, heartbeat_grace, metrics);
  net.gateway().subscribe(head->supervisor_);
  TROUPE_RETURN_IF_ERROR(net.gateway().register_local(kClusterName, head->supervisor_));
  head->broadcaster_ = system.spawn<caf::detached>(broadcaster_behavior, std::move(board), &net.gateway().transport(),
                                                   plan.worker_nodes(net.node()), plan.shared_weight_nodes(),
                                                   plan.weight_shm_slots, net.weight_chunk_bytes(),
                                                   plan.nccl_weight_nodes(), std::move(link), metrics);
  net.gateway().subscribe(head->broadcaster_);
  TROUPE_RETURN_IF_ERROR(net.gateway().register_local("weights/ack", head->broadcaster_));
  return head;
}

ClusterHead::~ClusterHead() {
  net_->gateway().unregister_local(kClusterName);
  net_->gateway().unregister_local("weights/ack");
  // The broadcaster may be in the middle of sending a version through the transport, which the caller
  // destroys next: it must have stopped first.
  stop_and_wait(system_, {supervisor_, broadcaster_}, std::chrono::seconds(60), "cluster head");
}

void ClusterHead::set_controller(const caf::actor& controller) {
  caf::anon_send(supervisor_, done_atom_v, controller);
}

void ClusterHead::stop_members() {
  for (const auto& n : net_->plan().nodes) {
    if (n.node == net_->node()) continue;
    wire::ControlT c;
    c.command = wire::ControlCommand::Stop;
    c.target = n.node;
    net_->send(node_control_name(n.node), wire::MessageKind::kControl, wire::pack(c)).ignore();
  }
  auto& transport = net_->gateway().transport();
  transport.flush({}, std::chrono::milliseconds(3000)).ignore();
  // Members close their connections once they have stopped; give them a moment, so none mistakes the
  // head closing its own for the head going away.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!transport.peers().empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool NodeNet::await_peers(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<std::string> missing;
    for (const auto& n : plan_.nodes) {
      if (n.node != node_ && !gateway_->transport().is_up(n.node)) missing.push_back(n.node);
    }
    if (missing.empty()) return true;
    if (std::chrono::steady_clock::now() >= until) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      spdlog::warn("node {}: starting without {} (not connected after {} s)", node_, list,
                   std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace troupe::actors
