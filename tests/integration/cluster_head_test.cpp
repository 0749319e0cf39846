// The head's weight broadcaster (actors/node.cpp) against worker nodes that are bare UCX transports
// with a WeightReceiver each, in one process: a chain whose later hop cannot be reached from the one
// before it (w2 is not connected to w1, as when w1 restarts before w2 dialled it) leaves w2 without
// the version, and only w2's missing acknowledgement tells the head. The head must send w2 the
// current version again by itself: with the learner waiting for fresh rollouts that w2's stale
// weights cannot give, no newer version may ever come to carry it (a cluster run stalled for 200 s
// that way).
//
// Every wait is bounded; everything started here is stopped by its owner's destructor.
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "actors/node.hpp"
#include "actors/weight_board.hpp"
#include "configs/schema.hpp"
#include "tests/free_port.hpp"
#include "wire/weight_broadcast.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
constexpr const char* kToken = "cluster-head-test";
using testing::free_port;

// A worker node reduced to its weight receiver: the transport's callbacks queue, a thread feeds the
// receiver (as a member node's receiver actor does).
class Worker {
 public:
  explicit Worker(const std::string& name) {
    wire::TransportOptions o;
    o.name = name;
    o.token = kToken;
    o.on_message = [this](wire::Envelope&& e) {
      std::lock_guard lk(m_);
      if (e.dst == wire::kWeightsDst) inbox_.push_back(std::move(e));
      cv_.notify_all();
    };
    o.on_peer_event = [this](const wire::PeerEvent& e) {
      std::lock_guard lk(m_);
      if (e.kind == wire::PeerEvent::Kind::kDown) downs_.push_back(e.peer);
      cv_.notify_all();
    };
    auto t = wire::Transport::start(o);
    if (!t) return;
    transport_ = std::move(*t);
    rx_ = std::make_unique<wire::WeightReceiver>(*transport_);
    feeder_ = std::thread([this] { feed(); });
  }
  ~Worker() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
      cv_.notify_all();
    }
    if (feeder_.joinable()) feeder_.join();
  }
  wire::Transport* transport() { return transport_.get(); }
  uint64_t committed() const { return rx_ ? rx_->committed().version : 0; }

 private:
  void feed() {
    std::unique_lock lk(m_);
    while (!stop_) {
      cv_.wait(lk, [&] { return stop_ || !inbox_.empty() || !downs_.empty(); });
      while (!downs_.empty()) {
        std::string d = std::move(downs_.front());
        downs_.pop_front();
        lk.unlock();
        rx_->on_peer_down(d);
        lk.lock();
      }
      if (inbox_.empty()) continue;
      wire::Envelope e = std::move(inbox_.front());
      inbox_.pop_front();
      lk.unlock();
      (void)rx_->on_message(e);
      lk.lock();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<wire::Envelope> inbox_;
  std::deque<std::string> downs_;
  bool stop_ = false;
  std::unique_ptr<wire::Transport> transport_;
  std::unique_ptr<wire::WeightReceiver> rx_;
  std::thread feeder_;
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST(ClusterHead, AWorkerNodeThatMissedAVersionIsSentTheCurrentOneWithoutWaitingForANewerOne) {
  const uint16_t head_port = free_port();
  std::string yaml = R"(
tasks:
  - {name: copy, weight: 1.0}
placement:
  hosts:
    - {name: head, address: 127.0.0.1, port: PORT, metrics_port: 9}
    - {name: w1, address: 127.0.0.1, port: 1, metrics_port: 11}
    - {name: w2, address: 127.0.0.1, port: 2, metrics_port: 12}
  roles:
    - {role: controller, host: head}
    - {role: replay, host: head}
    - {role: learner, host: head}
    - {role: reward, host: head}
    - {role: env, host: head}
    - {role: policy_worker, host: w1}
    - {role: policy_worker, host: w2}
)";
  yaml.replace(yaml.find("PORT"), 4, std::to_string(head_port));
  auto config = configs::parse_config(yaml, "cluster_head_test.yaml");
  ASSERT_TRUE(config) << config.status().message();
  auto plan = make_plan(*config);
  ASSERT_TRUE(plan) << plan.status().message();
  ASSERT_EQ(plan->worker_nodes("head"), (std::vector<std::string>{"w1", "w2"}));

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto net = NodeNet::start(sys, *plan, "head", kToken, nullptr, 64 << 10);
  ASSERT_TRUE(net) << net.status().to_string();
  // w1 and w2 reach the head but not each other: w1 cannot forward what the chain hands it.
  Worker w1("w1"), w2("w2");
  ASSERT_TRUE(w1.transport() && w2.transport());
  ASSERT_TRUE(w1.transport()->connect("127.0.0.1", head_port));
  ASSERT_TRUE(w2.transport()->connect("127.0.0.1", head_port));
  auto& head_transport = (*net)->gateway().transport();
  ASSERT_TRUE(eventually([&] { return head_transport.is_up("w1") && head_transport.is_up("w2"); }, 10s));

  auto board = std::make_shared<WeightBoard>();
  board->publish(7, std::make_shared<const std::vector<float>>(100000, 0.5f));
  auto head = ClusterHead::start(sys, **net, board, nullptr);
  ASSERT_TRUE(head) << head.status().to_string();
  // Broadcast versions are policy versions + 1 (0 means none).
  EXPECT_TRUE(eventually([&] { return w1.committed() == 8; }, 10s)) << "the chain's first hop never got v7";
  // No newer version is published: only the head's own resend can bring v7 to w2.
  EXPECT_TRUE(eventually([&] { return w2.committed() == 8; }, 30s))
      << "w2 missed v7 on the chain and was never sent it again";
  EXPECT_EQ(w1.committed(), 8u);
  head->reset();
  net->reset();
}

}  // namespace
}  // namespace troupe::actors
