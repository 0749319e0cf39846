// Cluster runs with real processes on 127.0.0.1: `troupe launch` starting three `troupe node`
// processes (the head with controller, replay, learner and reward actor; w1 with a policy worker and
// the env actor, so every prompt is made and verified across a process boundary; w2 with a policy
// worker), all talking over UCX.
//
// Shown: the run trains (the learner steps and held-out pass rate is reported), every group is
// stored exactly once and whole, both remote workers contribute; a policy-worker node SIGKILLed
// mid-run is restarted by the launcher, gets weights before it takes prompts again, and the replay
// store shows no lost or duplicated group; a stopped run resumed with --resume continues its policy
// version and prompt ids; and the node runtime works across network namespaces (hosts with their
// own addresses), where the test has the privilege to make them.
//
// Every wait is bounded; every process started here is killed and reaped by PID.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>
#include <cstdlib>

#include "actors/warm_start.hpp"
#include "configs/schema.hpp"
#include "model/checkpoint.hpp"
#include "storage/replay_store.hpp"
#include "tests/child_process.hpp"
#include "tests/free_port.hpp"
#include "tests/temp_dir.hpp"

namespace troupe {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Child;
using testing::TempDir;
using testing::free_port;

// The copy task (as in pipeline_test): a 2-layer model learns it in seconds from imperfect
// demonstrations, and RL has a clear signal.
constexpr const char* kTask = R"(
run: {name: cluster-test, seed: 5, max_seconds: %SECONDS%, max_steps: %STEPS%}
model: {d_model: 64, n_layers: 2, n_heads: 2, context: 32, init_checkpoint: %WARM%}
warm_start: {max_minutes: 5, max_steps: 250, batch: 64, lr: 3.0e-3, corrupt_fraction: 0.5, eval_every: 50, eval_cases: 64, patience: 3}
tasks:
  - {name: copy, weight: 1.0, difficulty: {min: 1, max: 1}}
curriculum: {enabled: false}
algorithm: {objective: ppo, group_size: 8, prompts_per_step: 16, lr: 1.0e-3, passes: 2, clip: 0.2, max_new_tokens: 8}
async: {max_staleness: 2}
storage: {path: unused, durability: group_commit}
monitoring: {enabled: false}
placement:
  hosts:
    - {name: head, address: %A0%, port: %P0%, metrics_port: %M0%}
    - {name: w1, address: %A1%, port: %P1%, metrics_port: %M1%}
    - {name: w2, address: %A2%, port: %P2%, metrics_port: %M2%}
  roles:
    - {role: controller, host: head}
    - {role: replay, host: head}
    - {role: learner, host: head}
    - {role: reward, host: head}
    - {role: env, host: w1}
    - {role: policy_worker, host: w1}
    - {role: policy_worker, host: w2}
)";

constexpr int kGroup = 8;
constexpr const char* kToken = "cluster-test-secret";

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size())) s.replace(i, from.size(), to);
}

struct Cluster {
  int steps = 1;
  int seconds = 1;
  std::string warm = "\"\"";  // the warm-start checkpoint; "" = none
  std::vector<std::string> addresses = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
  bool free_ports = false;     // real ports for real nodes; fixed ones for configs never run
};

// The test's config text for `c`.
std::string cluster_yaml(const Cluster& c) {
  std::string text = kTask;
  replace_all(text, "%STEPS%", std::to_string(c.steps));
  replace_all(text, "%SECONDS%", std::to_string(c.seconds));
  replace_all(text, "%WARM%", c.warm);
  for (int i = 0; i < 3; ++i) {
    const std::string k = std::to_string(i);
    replace_all(text, "%A" + k + "%", c.addresses[static_cast<size_t>(i)]);
    replace_all(text, "%P" + k + "%", std::to_string(c.free_ports ? free_port() : 14000 + i));
    replace_all(text, "%M" + k + "%", std::to_string(c.free_ports ? free_port() : 14100 + i));
  }
  return text;
}

// What the replay store holds, checked for loss and duplication.
struct StoreView {
  uint64_t count = 0;
  std::map<uint64_t, std::set<int>> groups;  // prompt id -> group indices stored
  std::set<uint64_t> workers;                // worker indices (rollout_id >> 40)
  uint64_t duplicates = 0;
  uint64_t max_version = 0;
};

StoreView read_store(const std::string& path) {
  StoreView v;
  storage::ReplayOptions ro;
  ro.create_if_missing = false;
  auto store = storage::ReplayStore::open(path, ro);
  EXPECT_TRUE(store) << store.status().message();
  if (!store) return v;
  Status s = (*store)->scan_summaries({}, [&](const storage::RolloutSummary& r) {
    ++v.count;
    if (!v.groups[r.prompt_id].insert(r.group_index).second) ++v.duplicates;
    v.workers.insert(r.rollout_id >> 40);
    v.max_version = std::max(v.max_version, r.policy_version);
    return true;
  });
  EXPECT_TRUE(s) << s.message();
  return v;
}

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One warm start for every test: trained here, in-process, from the same task config.
    warm_dir_ = new TempDir("troupe-cluster-warm");
    auto config = configs::parse_config(cluster_yaml({}), "cluster_test.yaml");
    ASSERT_TRUE(config) << config.status().message();
    auto init = model::Transformer::create(actors::policy_config(*config), 5);
    ASSERT_TRUE(init);
    auto warm = actors::warm_start(*config, std::move(*init), nullptr);
    ASSERT_TRUE(warm) << warm.status().message();
    ASSERT_TRUE(model::save_checkpoint(warm_dir_->path(), warm->policy));
  }
  static void TearDownTestSuite() {
    delete warm_dir_;
    warm_dir_ = nullptr;
  }

  // Writes a config for `steps` learner steps (learning ones: a step on a batch of all-equal groups
  // does not count) or `seconds` of RL, whichever ends first, with the given host addresses.
  std::string write_config(int steps, int seconds = 150,
                           const std::vector<std::string>& addresses = {"127.0.0.1", "127.0.0.1", "127.0.0.1"}) {
    const std::string text = cluster_yaml({steps, seconds, warm_dir_->path(), addresses, /*free_ports=*/true});
    std::string path = dir_.sub("cluster.yaml");
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<Child> launch(const std::string& config, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"launch", config, "--run-dir", run_dir(), "--eval-cases", "64"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto child = std::make_unique<Child>(TROUPE_BIN, args,
                                         std::map<std::string, std::string>{{"TROUPE_CLUSTER_TOKEN", kToken}},
                                         /*merge_stderr=*/true);
    // A test that ends early (a failed ASSERT) leaves no node running: a second Ctrl-C makes the
    // launcher SIGKILL and reap every node.
    child->set_stop_signals({SIGINT, SIGINT});
    return child;
  }

  nlohmann::json summary() {
    std::ifstream in(fs::path(run_dir()) / "summary.json");
    if (!in) return {};
    return nlohmann::json::parse(in, nullptr, false);
  }

  std::string run_dir() const { return dir_.sub("run"); }
  std::string replay() const { return dir_.sub("run/replay"); }

  static TempDir* warm_dir_;
  TempDir dir_{"troupe-cluster-test"};
};

TempDir* ClusterTest::warm_dir_ = nullptr;

// Every group stored whole and once; returns the view for further checks.
StoreView expect_groups_whole_and_unique(const std::string& replay, uint64_t stored) {
  StoreView v = read_store(replay);
  EXPECT_EQ(v.duplicates, 0u) << "a (prompt, index) stored twice";
  EXPECT_EQ(v.count, stored) << "the store holds exactly the rollouts the head acknowledged";
  for (const auto& [prompt, idx] : v.groups) {
    EXPECT_EQ(idx.size(), static_cast<size_t>(kGroup)) << "prompt " << prompt << " has a partial group";
  }
  return v;
}

TEST_F(ClusterTest, ThreeNodesTrainAndStoreEveryGroupOnce) {
  auto run = launch(write_config(25));
  const int code = run->reap(240s);
  ASSERT_EQ(code, 0) << run->dump();
  auto s = summary();
  ASSERT_TRUE(s.is_object()) << run->dump();
  EXPECT_GE(s["policy_version"].get<uint64_t>(), 25u);
  EXPECT_GT(s["stored"].get<uint64_t>(), 0u);
  StoreView v = expect_groups_whole_and_unique(replay(), s["stored"].get<uint64_t>());
  EXPECT_EQ(v.workers, (std::set<uint64_t>{0, 1})) << "both remote workers' rollouts are stored";
  EXPECT_GT(v.max_version, 0u) << "workers received new weights and sampled with them";
  EXPECT_GE(run->count_containing("policy workers on w1 take prompts"), 1) << run->dump();
  EXPECT_GE(run->count_containing("policy workers on w2 take prompts"), 1) << run->dump();
  EXPECT_GE(run->count_containing("[w1] "), 1) << "node output is prefixed with the node's name";
}

TEST_F(ClusterTest, KilledWorkerNodeIsRestartedAndNoGroupIsLostOrDuplicated) {
  // A fixed 30 s of RL: w2 is killed a few seconds in and must be back well before the end.
  auto run = launch(write_config(1000000, 30));
  ASSERT_FALSE(run->wait_containing("policy workers on w2 take prompts", 120s).empty()) << run->dump();
  // Let it work for a while (two progress lines), then kill w2 (its pid from "started w2 pid N").
  ASSERT_FALSE(run->wait_containing("rl ", 60s, 1).empty()) << run->dump();
  std::string started = run->wait_containing("started w2 pid ", 1s);
  ASSERT_FALSE(started.empty()) << run->dump();
  const pid_t w2 = static_cast<pid_t>(std::stol(started.substr(started.rfind(' ') + 1)));
  ASSERT_EQ(::kill(w2, SIGKILL), 0);
  EXPECT_FALSE(run->wait_containing("restarting w2", 30s).empty()) << run->dump();
  // Back: weights first, then prompts.
  EXPECT_FALSE(run->wait_containing("policy workers on w2 take prompts", 90s, 1).empty()) << run->dump();
  const int code = run->reap(240s);
  ASSERT_EQ(code, 0) << run->dump();
  auto s = summary();
  ASSERT_TRUE(s.is_object()) << run->dump();
  expect_groups_whole_and_unique(replay(), s["stored"].get<uint64_t>());
  EXPECT_GE(run->count_containing("started w2 pid "), 2) << "w2 was started again";
}

TEST_F(ClusterTest, KilledHeadIsRestartedAndResumesFromItsOwnCheckpoint) {
  // The head is SIGKILLed once it has written a checkpoint: the launcher restarts it, the head finds the
  // checkpoint on its own disk and resumes, and prompt ids issued after that checkpoint (whose groups
  // are already in the store) are not issued again.
  // 200 steps: the kill must land mid-run. Checkpoints come every 10 versions and the kill 1 s after the
  // first; with 40 steps the whole run could end inside that second (it did once weights went through
  // shared memory: 40 steps in ~1.5 s), and then the nodes had already stopped for good and the
  // restarted head waited out max_seconds alone.
  auto run = launch(write_config(200, 200));
  const fs::path run_state = fs::path(run_dir()) / "checkpoint" / "run_state.json";
  for (int i = 0; i < 1800 && !fs::exists(run_state); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(fs::exists(run_state)) << "no checkpoint within 180 s\n" << run->dump();
  std::this_thread::sleep_for(1s);  // groups issued after the checkpoint reach the store
  std::string started = run->wait_containing("started head (head) pid ", 1s);
  ASSERT_FALSE(started.empty()) << run->dump();
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(started.substr(started.rfind(' ') + 1))), SIGKILL), 0);
  EXPECT_FALSE(run->wait_containing("restarting head", 30s).empty()) << run->dump();
  EXPECT_FALSE(run->wait_containing("] resuming from ", 90s).empty()) << run->dump();
  ASSERT_EQ(run->reap(300s), 0) << run->dump();
  auto s = summary();
  ASSERT_TRUE(s.is_object()) << run->dump();
  EXPECT_GE(s["resumed_from_version"].get<uint64_t>(), 1u) << run->dump();
  const StoreView v = read_store(replay());  // both incarnations' groups
  EXPECT_EQ(v.duplicates, 0u) << "a (prompt, index) stored twice";
  // The SIGKILL may cut the killed head's last appends short (rollouts are appended one by one; learners
  // sample whole groups only), so its groups may be partial; every group the resumed head issued (ids from
  // the one it names on resuming) is whole.
  const std::string cont = run->wait_containing("; continuing from ", 1s);
  ASSERT_FALSE(cont.empty()) << "the resumed head did not say which prompt id it continues from\n" << run->dump();
  const uint64_t resumed_from_prompt = std::stoull(cont.substr(cont.rfind(' ') + 1));
  for (const auto& [prompt, idx] : v.groups) {
    if (prompt < resumed_from_prompt) continue;
    EXPECT_EQ(idx.size(), static_cast<size_t>(kGroup)) << "prompt " << prompt << " has a partial group";
  }
  EXPECT_EQ(fs::exists(fs::path(run_dir()) / "previous"), false) << "the restart resumed instead of starting over";
}

TEST_F(ClusterTest, CtrlCStopsTheRunCleanlyAndLeavesNoProcessBehind) {
  auto run = launch(write_config(1000000, 120));
  ASSERT_FALSE(run->wait_containing("policy workers on w2 take prompts", 120s).empty()) << run->dump();
  ASSERT_FALSE(run->wait_containing("rl ", 60s).empty()) << run->dump();
  std::vector<pid_t> nodes;
  for (const auto& l : run->lines()) {
    if (l.find("[launch] started ") == 0) nodes.push_back(static_cast<pid_t>(std::stol(l.substr(l.rfind(' ') + 1))));
  }
  ASSERT_EQ(nodes.size(), 3u) << run->dump();
  run->kill(SIGINT);
  // The head stops early with a checkpoint, evaluates, and stops the others; the launcher waits for all.
  EXPECT_EQ(run->reap(120s), 0) << run->dump();
  EXPECT_GE(run->count_containing("stopped early by a signal"), 1) << run->dump();
  for (pid_t p : nodes) {
    EXPECT_NE(::kill(p, 0), 0) << "node process " << p << " outlived the launcher";
  }
  EXPECT_TRUE(fs::exists(fs::path(run_dir()) / "checkpoint" / "run_state.json")) << "the stop left a checkpoint";
}

TEST_F(ClusterTest, ResumeContinuesThePolicyVersionAndPromptIds) {
  const std::string config = write_config(12);
  {
    auto first = launch(config);
    ASSERT_EQ(first->reap(240s), 0) << first->dump();
  }
  const uint64_t v1 = summary()["policy_version"].get<uint64_t>();
  const StoreView before = read_store(replay());
  ASSERT_GE(v1, 12u);
  const uint64_t last_prompt = before.groups.rbegin()->first;

  auto second = launch(config, {"--resume"});
  ASSERT_EQ(second->reap(240s), 0) << second->dump();
  auto s = summary();
  EXPECT_EQ(s["resumed_from_version"].get<uint64_t>(), v1) << second->dump();
  EXPECT_GE(s["policy_version"].get<uint64_t>(), v1 + 12) << "the version continues";
  const StoreView after = read_store(replay());
  EXPECT_EQ(after.duplicates, 0u);
  EXPECT_GT(after.count, before.count) << "the resumed run appends to the same store";
  EXPECT_GT(after.groups.rbegin()->first, last_prompt) << "prompt ids continue past the first run's";
}

// The launcher's plan, checks and batch script, without starting a node.
class LaunchPlan : public ::testing::Test {
 protected:
  std::string write(const std::string& roles) {
    std::string text = cluster_yaml({});
    if (!roles.empty()) text = text.substr(0, text.find("  roles:")) + roles;
    std::string path = dir_.sub("plan.yaml");
    std::ofstream(path) << text;
    return path;
  }
  TempDir dir_{"troupe-launch-plan"};
};

TEST_F(LaunchPlan, DryRunPrintsWhereEveryActorRunsAndStartsNothing) {
  Child c(TROUPE_BIN, {"launch", write(""), "--dry-run"}, {}, true);
  EXPECT_EQ(c.reap(30s), 0) << c.dump();
  EXPECT_EQ(c.count_containing("controller, replay, learner/0, reward/0"), 1) << c.dump();
  EXPECT_EQ(c.count_containing("env/copy, policy/0"), 1) << c.dump();
  EXPECT_EQ(c.count_containing("connects to head, w1"), 1) << c.dump();
  EXPECT_EQ(c.count_containing("started"), 0) << "a dry run starts no node";
}

TEST_F(LaunchPlan, ConfigCheckNamesAPlacementThatCannotRun) {
  // Learners away from the controller's host are refused with the reason.
  const std::string roles = R"(  roles:
    - {role: controller, host: head}
    - {role: replay, host: head}
    - {role: learner, host: w1}
    - {role: reward, host: head}
    - {role: env, host: w1}
    - {role: policy_worker, host: w2}
)";
  Child check(TROUPE_BIN, {"config", "check", write(roles)}, {}, true);
  EXPECT_EQ(check.reap(30s), 1) << check.dump();
  EXPECT_EQ(check.count_containing("share one host (the head)"), 1) << check.dump();
  Child launch(TROUPE_BIN, {"launch", write(roles)}, {}, true);
  EXPECT_EQ(launch.reap(30s), 1) << launch.dump();
  EXPECT_EQ(launch.count_containing("started"), 0) << launch.dump();
}

TEST_F(LaunchPlan, EmitSlurmWritesAScriptForEveryNode) {
  const std::string out = dir_.sub("run.sbatch");
  Child c(TROUPE_BIN, {"launch", write(""), "--emit", "slurm", "--out", out}, {}, true);
  ASSERT_EQ(c.reap(30s), 0) << c.dump();
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("#SBATCH --nodes=3"), std::string::npos) << text;
  EXPECT_NE(text.find("TROUPE_NODES='head w1 w2'"), std::string::npos) << text;
  EXPECT_NE(text.find("--host-addresses"), std::string::npos) << text;
  EXPECT_EQ(std::system(("bash -n " + out).c_str()), 0) << "the script is valid bash:\n" << text;
}

// A node started by the Slurm script gets host names (scontrol show hostnames), which become IPv4
// addresses; a name without one is refused, naming the entry.
TEST_F(LaunchPlan, NodeTakesHostNamesAndRefusesOnesWithoutAnAddress) {
  const std::string file = write("");
  const std::map<std::string, std::string> no_token = {{"TROUPE_CLUSTER_TOKEN", ""}};
  Child named(TROUPE_BIN, {"node", file, "--node", "head", "--host-addresses", "localhost,localhost,127.0.0.1"},
              no_token, true);
  EXPECT_EQ(named.reap(30s), 1) << named.dump();
  EXPECT_EQ(named.count_containing("--host-addresses"), 0) << "localhost resolves:\n" << named.dump();
  EXPECT_EQ(named.count_containing("the cluster token is not set"), 1) << "the node went past its addresses:\n"
                                                                          << named.dump();
  Child bad(TROUPE_BIN, {"node", file, "--node", "head", "--host-addresses", "127.0.0.1,no-such-host.invalid,x"},
            no_token, true);
  EXPECT_EQ(bad.reap(30s), 1) << bad.dump();
  EXPECT_EQ(bad.count_containing("entry 2 \"no-such-host.invalid\""), 1) << bad.dump();
}

// A node started over ssh cannot be signalled: the launcher writes "stop" to its stdin instead (and its
// stdin closing stops it too), and it stops as on SIGTERM.
TEST_F(LaunchPlan, StdinControlStopsANode) {
  const std::string file = write("");
  const std::string node = std::string("exec '") + TROUPE_BIN + "' node '" + file + "' --node w1 --stdin-control";
  // "stop" arrives 2 s in, while stdin stays open 5 s more (the shell ends once both sides have).
  Child told("/bin/sh", {"-c", "(sleep 2; echo stop; sleep 5) 2>/dev/null | " + node}, {{"TROUPE_CLUSTER_TOKEN", "t"}},
             true);
  EXPECT_EQ(told.reap(30s), 0) << told.dump();
  EXPECT_EQ(told.count_containing("told to stop by the launcher"), 1) << told.dump();
  EXPECT_EQ(told.count_containing("node w1: stopping"), 1) << told.dump();
  Child closed("/bin/sh", {"-c", "sleep 2 2>/dev/null | " + node}, {{"TROUPE_CLUSTER_TOKEN", "t"}}, true);
  EXPECT_EQ(closed.reap(30s), 0) << closed.dump();
  EXPECT_EQ(closed.count_containing("stdin closed by the launcher"), 1) << closed.dump();
}

// Three hosts on a private test subnet: each node in its own network namespace with its own address,
// joined by veth pairs on a bridge. Made and removed by the test; skipped without the privilege.
class NetnsHosts {
 public:
  NetnsHosts() {
    const int k = 20 + ::getpid() % 200;  // the subnet 10.213.k.0/24, distinct per test process
    tag_ = "trp" + std::to_string(::getpid() % 100000);
    bridge_ = tag_ + "br";
    if (!sh("ip netns add " + ns(0))) {
      reason_ = "cannot create network namespaces here (needs CAP_SYS_ADMIN and iproute2)";
      return;
    }
    made_ = 1;
    ok_ = sh("ip link add " + bridge_ + " type bridge") && sh("ip link set " + bridge_ + " up");
    for (int i = 0; i < 3 && ok_; ++i) {
      if (i > 0) ok_ = sh("ip netns add " + ns(i));
      made_ = i + 1;
      const std::string a = tag_ + "a" + std::to_string(i), b = tag_ + "b" + std::to_string(i);
      addresses_.push_back("10.213." + std::to_string(k) + "." + std::to_string(i + 1));
      ok_ = ok_ && sh("ip link add " + a + " type veth peer name " + b) && sh("ip link set " + b + " netns " + ns(i)) &&
            sh("ip link set " + a + " master " + bridge_) && sh("ip link set " + a + " up") &&
            sh("ip -n " + ns(i) + " addr add " + addresses_.back() + "/24 dev " + b) &&
            sh("ip -n " + ns(i) + " link set " + b + " up") && sh("ip -n " + ns(i) + " link set lo up");
    }
    if (!ok_) reason_ = "could not set up the veth/bridge test network";
  }
  ~NetnsHosts() {
    for (int i = 0; i < made_; ++i) sh("ip netns del " + ns(i));  // removes the veth ends inside
    sh("ip link del " + bridge_);
  }
  bool ok() const { return ok_; }
  const std::string& reason() const { return reason_; }
  std::string ns(int i) const { return tag_ + "n" + std::to_string(i); }
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  static bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }
  std::string tag_, bridge_, reason_;
  std::vector<std::string> addresses_;
  int made_ = 0;
  bool ok_ = false;
};

TEST_F(ClusterTest, NodesInNetworkNamespacesTrainOverTheirOwnAddresses) {
  NetnsHosts hosts;
  if (!hosts.ok()) GTEST_SKIP() << hosts.reason();
  const std::string config = write_config(15, 150, hosts.addresses());
  const std::map<std::string, std::string> env = {{"TROUPE_CLUSTER_TOKEN", kToken}};
  // No launcher here: each node starts inside its namespace, as on three machines.
  std::vector<std::unique_ptr<Child>> nodes;
  const char* names[] = {"head", "w1", "w2"};
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<Child>(
        "/usr/sbin/ip",
        std::vector<std::string>{"netns", "exec", hosts.ns(i), TROUPE_BIN, "node", config, "--node", names[i],
                                 "--run-dir", run_dir(), "--eval-cases", "32"},
        env, /*merge_stderr=*/true));
  }
  EXPECT_EQ(nodes[0]->reap(240s), 0) << nodes[0]->dump();
  EXPECT_EQ(nodes[1]->reap(30s), 0) << nodes[1]->dump();
  EXPECT_EQ(nodes[2]->reap(30s), 0) << nodes[2]->dump();
  auto s = summary();
  ASSERT_TRUE(s.is_object()) << nodes[0]->dump();
  EXPECT_GE(s["policy_version"].get<uint64_t>(), 15u);
  StoreView v = expect_groups_whole_and_unique(replay(), s["stored"].get<uint64_t>());
  EXPECT_EQ(v.workers, (std::set<uint64_t>{0, 1}));
  EXPECT_GE(nodes[1]->count_containing("connected to head at " + hosts.addresses()[0]), 1) << nodes[1]->dump();
}

}  // namespace
}  // namespace troupe
