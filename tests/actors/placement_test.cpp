// The cluster plan: names, indices across hosts, who dials whom, and the placements it refuses.
#include "actors/placement.hpp"

#include <gtest/gtest.h>

namespace troupe::actors {
namespace {

configs::ExperimentConfig config(const std::string& roles) {
  std::string text = R"(
tasks:
  - {name: copy, weight: 1.0}
  - {name: reverse, weight: 1.0}
  - {name: addition, weight: 1.0}
placement:
  hosts:
    - {name: a, port: 13370, metrics_port: 9470, gpus: [0, 1]}
    - {name: b, port: 13371, metrics_port: 9471}
    - {name: c, port: 13372, metrics_port: 9472}
  roles:
)" + roles;
  auto c = configs::parse_config(text, "placement_test.yaml");
  EXPECT_TRUE(c) << c.status().message();
  return c ? *c : configs::ExperimentConfig{};
}

const std::string kRunnable = R"(    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a, count: 2, gpus: [0, 1]}
    - {role: reward, host: b}
    - {role: env, host: b, tasks: [reverse]}
    - {role: env, host: c}
    - {role: policy_worker, host: b, count: 2}
    - {role: policy_worker, host: c}
)";

TEST(Placement, NamesAndIndicesCountAcrossHosts) {
  auto plan = make_plan(config(kRunnable));
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->head, "a");
  EXPECT_EQ(plan->policy_workers, 3);
  EXPECT_EQ(plan->learners, 2);
  EXPECT_EQ(plan->rewards, 1);
  EXPECT_EQ(plan->node_of.at("policy/0"), "b");
  EXPECT_EQ(plan->node_of.at("policy/1"), "b");
  EXPECT_EQ(plan->node_of.at("policy/2"), "c");
  EXPECT_EQ(plan->node_of.at("learner/1"), "a");
  // reverse is named for b; the other tasks go to the entry without a task list.
  EXPECT_EQ(plan->node_of.at("env/reverse"), "b");
  EXPECT_EQ(plan->node_of.at("env/copy"), "c");
  EXPECT_EQ(plan->node_of.at("env/addition"), "c");
  EXPECT_EQ(plan->worker_nodes("a"), (std::vector<std::string>{"b", "c"}));
}

// An entry's GPUs are dealt to its learners and policy workers in turn; the plan says which.
TEST(Placement, LearnersAndWorkersTakeTheirEntrysGpusInTurn) {
  auto plan = make_plan(config(R"(    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a, count: 2, gpus: [1, 0]}
    - {role: reward, host: b}
    - {role: env, host: b}
    - {role: policy_worker, host: a, count: 3, gpus: [0, 1]}
    - {role: policy_worker, host: b}
)"));
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->gpu_of("learner/0"), 1);
  EXPECT_EQ(plan->gpu_of("learner/1"), 0);
  EXPECT_EQ(plan->gpu_of("policy/0"), 0);
  EXPECT_EQ(plan->gpu_of("policy/1"), 1);
  EXPECT_EQ(plan->gpu_of("policy/2"), 0);
  EXPECT_EQ(plan->gpu_of("policy/3"), -1);  // b has no GPUs: the CPU (or the first GPU, if model.device finds one)
  EXPECT_EQ(plan->gpu_of("reward/0"), -1);
  const std::string text = describe(*plan, config(kRunnable));
  EXPECT_NE(text.find("learner/0 (gpu 1), learner/1 (gpu 0)"), std::string::npos) << text;
  EXPECT_NE(text.find("policy/2 (gpu 0)"), std::string::npos) << text;
}

TEST(Placement, EachNodeDialsTheOnesListedBeforeIt) {
  auto plan = make_plan(config(kRunnable));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->find("a")->connect_to.empty());
  EXPECT_EQ(plan->find("b")->connect_to, (std::vector<std::string>{"a"}));
  EXPECT_EQ(plan->find("c")->connect_to, (std::vector<std::string>{"a", "b"}));
}

TEST(Placement, RefusesWhatCannotRun) {
  auto refused = [](const std::string& roles, const std::string& why) {
    auto plan = make_plan(config(roles));
    ASSERT_FALSE(plan) << "accepted:\n" << roles;
    EXPECT_NE(plan.status().message().find(why), std::string::npos) << plan.status().message();
  };
  refused(R"(    - {role: controller, host: a}
    - {role: replay, host: b}
    - {role: learner, host: a}
    - {role: reward, host: a}
    - {role: env, host: a}
    - {role: policy_worker, host: a}
)", "share one host");
  refused(R"(    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a}
    - {role: reward, host: a}
    - {role: env, host: a, tasks: [copy]}
    - {role: policy_worker, host: a}
)", "has no env actor");
  refused(R"(    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a}
    - {role: reward, host: a}
    - {role: env, host: a}
    - {role: env, host: b, tasks: [copy]}
    - {role: env, host: c, tasks: [copy]}
    - {role: policy_worker, host: a}
)", "one per task");
  refused(R"(    - {role: controller, host: a, count: 2}
    - {role: replay, host: a}
    - {role: learner, host: a}
    - {role: reward, host: a}
    - {role: env, host: a}
    - {role: policy_worker, host: a}
)", "exactly one controller");
}

// Weights reach worker nodes on the head's machine through shared memory under auto (and shm); a
// node started over ssh elsewhere takes the UCX chain; shm with such a node is refused; ucx uses none.
TEST(Placement, SharedMemoryWeightsOnlyForNodesOnTheHeadsMachine) {
  auto with = [](const std::string& mode, const std::string& c_host) {
    std::string text = R"(
tasks:
  - {name: copy, weight: 1.0}
placement:
  weight_broadcast: )" + mode + R"(
  hosts:
    - {name: a, port: 13370, metrics_port: 9470}
    - {name: b, port: 13371, metrics_port: 9471}
    - )" + c_host + R"(
  roles:
    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a}
    - {role: reward, host: a}
    - {role: env, host: a}
    - {role: policy_worker, host: b}
    - {role: policy_worker, host: c}
)";
    auto c = configs::parse_config(text, "shm.yaml");
    EXPECT_TRUE(c) << c.status().message();
    return make_plan(c ? *c : configs::ExperimentConfig{});
  };
  const std::string local_c = "{name: c, port: 13372, metrics_port: 9472}";
  const std::string remote_c =
      "{name: c, address: 10.0.0.7, via: ssh, ssh_target: me@10.0.0.7, port: 13372, metrics_port: 9472}";
  auto all_local = with("auto", local_c);
  ASSERT_TRUE(all_local) << all_local.status().message();
  EXPECT_EQ(all_local->shared_weight_nodes(), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(all_local->weight_shm_slots, 3);
  auto mixed = with("auto", remote_c);
  ASSERT_TRUE(mixed) << mixed.status().message();
  EXPECT_TRUE(mixed->on_head_machine("b"));
  EXPECT_FALSE(mixed->on_head_machine("c"));
  EXPECT_EQ(mixed->shared_weight_nodes(), (std::vector<std::string>{"b"}));
  auto chain = with("ucx", local_c);
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->shared_weight_nodes().empty());
  auto forced = with("shm", remote_c);
  ASSERT_FALSE(forced);
  EXPECT_NE(forced.status().message().find("c is not"), std::string::npos) << forced.status().message();
  auto bad = configs::parse_config("tasks:\n  - {name: copy, weight: 1.0}\nplacement:\n  weight_broadcast: rdma\n",
                                   "bad.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("weight_broadcast"), std::string::npos) << bad.status().message();
  auto one_slot = configs::parse_config("tasks:\n  - {name: copy, weight: 1.0}\nplacement:\n  weight_shm_slots: 1\n",
                                        "slots.yaml");
  ASSERT_FALSE(one_slot) << "one slot cannot hold a version while the next is written";
  EXPECT_NE(one_slot.status().message().find("weight_shm_slots"), std::string::npos) << one_slot.status().message();
}

// weight_broadcast: nccl sends every worker node its weights GPU to GPU, from the learner's GPU to
// each node's first policy worker's; it is refused while the learner or a worker node has no GPU.
TEST(Placement, NcclWeightsNeedGpusAtBothEnds) {
  auto with = [](const std::string& learner_gpus, const std::string& c_gpus) {
    std::string text = R"(
tasks:
  - {name: copy, weight: 1.0}
placement:
  weight_broadcast: nccl
  hosts:
    - {name: a, port: 13370, metrics_port: 9470, gpus: [0, 1, 2, 3]}
    - {name: b, port: 13371, metrics_port: 9471, gpus: [0, 1, 2, 3]}
    - {name: c, port: 13372, metrics_port: 9472, gpus: [0, 1, 2, 3]}
  roles:
    - {role: controller, host: a}
    - {role: replay, host: a}
    - {role: learner, host: a)" + learner_gpus + R"(}
    - {role: reward, host: a}
    - {role: env, host: a}
    - {role: policy_worker, host: b, count: 2, gpus: [2, 3]}
    - {role: policy_worker, host: c)" + c_gpus + R"(}
)";
    auto c = configs::parse_config(text, "nccl.yaml");
    EXPECT_TRUE(c) << c.status().message();
    return make_plan(c ? *c : configs::ExperimentConfig{});
  };
  auto plan = with(", gpus: [0]", ", gpus: [1]");
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->nccl_weight_nodes(), (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(plan->shared_weight_nodes().empty()) << "nccl replaces shared memory, even on the head's machine";
  EXPECT_EQ(plan->weight_gpu("a"), 0);
  EXPECT_EQ(plan->weight_gpu("b"), 2);
  EXPECT_EQ(plan->weight_gpu("c"), 1);
  auto cpu_worker = with(", gpus: [0]", "");
  ASSERT_FALSE(cpu_worker);
  EXPECT_NE(cpu_worker.status().message().find("policy workers on c"), std::string::npos) << cpu_worker.status().message();
  auto same_gpu = with(", gpus: [0]", ", gpus: [0]");  // a and c both local: one machine, GPU 0 twice
  ASSERT_FALSE(same_gpu);
  EXPECT_NE(same_gpu.status().message().find("a and c are on one machine"), std::string::npos)
      << same_gpu.status().message();
  auto cpu_learner = with("", ", gpus: [1]");
  ASSERT_FALSE(cpu_learner);
  EXPECT_NE(cpu_learner.status().message().find("learner on a GPU"), std::string::npos) << cpu_learner.status().message();
}

TEST(Placement, AnEmptyPlacementIsTheOneProcessRun) {
  auto c = configs::parse_config("tasks:\n  - {name: copy, weight: 1.0}\n", "one.yaml");
  ASSERT_TRUE(c);
  auto plan = make_plan(*c);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.status().message().find("troupe run"), std::string::npos);
}

}  // namespace
}  // namespace troupe::actors
