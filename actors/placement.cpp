// The cluster plan behind actors/placement.hpp.
#include "actors/placement.hpp"

#include <algorithm>
#include <set>
#include <sstream>

namespace troupe::actors {

bool NodePlan::hosts(const std::string& role) const {
  return std::any_of(actors.begin(), actors.end(), [&](const ActorSlot& a) { return a.role == role; });
}

std::vector<const ActorSlot*> NodePlan::of_role(const std::string& role) const {
  std::vector<const ActorSlot*> out;
  for (const auto& a : actors) {
    if (a.role == role) out.push_back(&a);
  }
  return out;
}

const NodePlan* ClusterPlan::find(const std::string& node) const {
  for (const auto& n : nodes) {
    if (n.node == node) return &n;
  }
  return nullptr;
}

int ClusterPlan::gpu_of(const std::string& actor) const {
  for (const auto& n : nodes) {
    for (const auto& a : n.actors) {
      if (a.name == actor) return a.gpu();
    }
  }
  return -1;
}

std::vector<std::string> ClusterPlan::worker_nodes(const std::string& except) const {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (n.node != except && n.hosts("policy_worker")) out.push_back(n.node);
  }
  return out;
}

bool ClusterPlan::same_machine(const std::string& a, const std::string& b) const {
  const NodePlan* x = find(a);
  const NodePlan* y = find(b);
  if (x == nullptr || y == nullptr) return false;
  if (x->host.via == "local" && y->host.via == "local") return true;
  return x->host.via == "ssh" && y->host.via == "ssh" && x->host.address == y->host.address;
}

bool ClusterPlan::on_head_machine(const std::string& node) const { return same_machine(node, head); }

std::vector<std::string> ClusterPlan::shared_weight_nodes() const {
  std::vector<std::string> out;
  if (weight_broadcast == "ucx" || weight_broadcast == "nccl") return out;
  for (const auto& n : worker_nodes(head)) {
    if (on_head_machine(n)) out.push_back(n);
  }
  return out;
}

std::vector<std::string> ClusterPlan::nccl_weight_nodes() const {
  if (weight_broadcast != "nccl") return {};
  return worker_nodes(head);
}

int ClusterPlan::weight_gpu(const std::string& node) const {
  const NodePlan* n = find(node);
  if (n == nullptr) return -1;
  const auto slots = n->of_role(node == head ? "learner" : "policy_worker");
  return slots.empty() ? -1 : slots.front()->gpu();
}

Result<ClusterPlan> make_plan(const configs::ExperimentConfig& config) {
  const auto& p = config.placement;
  if (p.hosts.empty()) {
    return Status::invalid_argument("the config has no placement.hosts: it runs in one process (troupe run)");
  }
  ClusterPlan plan;
  std::map<std::string, size_t> index_of;
  for (const auto& h : p.hosts) {
    index_of[h.name] = plan.nodes.size();
    NodePlan n;
    n.node = h.name;
    n.host = h;
    for (const auto& earlier : plan.nodes) n.connect_to.push_back(earlier.node);
    plan.nodes.push_back(std::move(n));
  }
  std::set<std::string> all_tasks;
  for (const auto& t : config.tasks) all_tasks.insert(t.name);
  std::set<std::string> named_tasks;  // tasks some env entry lists explicitly
  for (const auto& r : p.roles) {
    if (r.role == "env") named_tasks.insert(r.tasks.begin(), r.tasks.end());
  }
  std::map<std::string, int> counts;
  std::set<std::string> learner_hosts;
  std::map<std::string, std::string> env_host;  // task -> host
  for (const auto& r : p.roles) {
    auto it = index_of.find(r.host);
    if (it == index_of.end()) return Status::invalid_argument("placement names an unknown host \"" + r.host + "\"");
    NodePlan& node = plan.nodes[it->second];
    int in_entry = 0;  // the actor's place within this entry: which of its GPUs it takes
    auto add = [&](const std::string& name, const std::string& task = {}) {
      ActorSlot slot{r.role, name, counts[r.role]++, task, r.gpus};
      if ((r.role == "learner" || r.role == "policy_worker") && !r.gpus.empty()) {
        slot.gpus = {r.gpus[static_cast<size_t>(in_entry) % r.gpus.size()]};
      }
      ++in_entry;
      plan.node_of[name] = node.node;
      node.actors.push_back(std::move(slot));
    };
    if (r.role == "controller" || r.role == "replay") {
      if (counts[r.role] > 0 || r.count != 1) {
        return Status::invalid_argument("placement: exactly one " + r.role + " runs in a cluster");
      }
      add(r.role);
      if (r.role == "controller") plan.head = node.node;
    } else if (r.role == "env") {
      // One env actor per task: an entry hosts its `tasks`, or every task no entry names.
      std::vector<std::string> tasks = r.tasks;
      if (tasks.empty()) {
        for (const auto& t : config.tasks) {
          if (!named_tasks.count(t.name)) tasks.push_back(t.name);
        }
      }
      for (const auto& t : tasks) {
        if (!all_tasks.count(t)) return Status::invalid_argument("placement: env task \"" + t + "\" is not in the mixture");
        if (env_host.count(t)) {
          return Status::invalid_argument("placement: task \"" + t + "\" has env actors on both " + env_host[t] +
                                          " and " + node.node + "; one per task");
        }
        env_host[t] = node.node;
        add("env/" + t, t);
      }
    } else if (r.role == "learner") {
      learner_hosts.insert(node.node);
      for (int64_t k = 0; k < r.count; ++k) add("learner/" + std::to_string(counts["learner"]));
    } else if (r.role == "reward") {
      for (int64_t k = 0; k < r.count; ++k) add("reward/" + std::to_string(counts["reward"]));
    } else if (r.role == "policy_worker") {
      for (int64_t k = 0; k < r.count; ++k) add("policy/" + std::to_string(counts["policy_worker"]));
    } else {
      return Status::invalid_argument("placement: unknown role \"" + r.role + "\"");
    }
  }
  for (const auto& t : all_tasks) {
    if (!env_host.count(t)) return Status::invalid_argument("placement: task \"" + t + "\" has no env actor");
  }
  for (const char* role : {"controller", "replay", "learner", "reward", "policy_worker"}) {
    if (counts[role] == 0) return Status::invalid_argument(std::string("placement: no ") + role + " is placed");
  }
  if (learner_hosts.size() != 1) {
    return Status::invalid_argument("placement: learners run on one host (they all-reduce in one process)");
  }
  if (plan.node_of["replay"] != plan.head || *learner_hosts.begin() != plan.head) {
    return Status::invalid_argument("placement: the controller, the replay store and the learners share one host "
                                    "(the head); controller on " + plan.head + ", replay on " +
                                    plan.node_of["replay"] + ", learners on " + *learner_hosts.begin());
  }
  plan.weight_broadcast = p.weight_broadcast;
  plan.weight_shm_slots = static_cast<int>(p.weight_shm_slots);
  if (p.weight_broadcast == "shm") {
    for (const auto& n : plan.worker_nodes(plan.head)) {
      if (!plan.on_head_machine(n)) {
        return Status::invalid_argument("placement.weight_broadcast: shm needs every policy-worker node on the head's "
                                        "machine (" + plan.head + "), and " + n + " is not; use auto or ucx");
      }
    }
  }
  if (p.weight_broadcast == "nccl") {
    if (plan.weight_gpu(plan.head) < 0) {
      return Status::invalid_argument("placement.weight_broadcast: nccl needs the learner on a GPU (give its role "
                                      "gpus): the head " + plan.head + " sends weights from there");
    }
    std::vector<std::string> ranks = {plan.head};
    for (const auto& n : plan.worker_nodes(plan.head)) {
      if (plan.weight_gpu(n) < 0) {
        return Status::invalid_argument("placement.weight_broadcast: nccl needs GPUs for the policy workers on " + n +
                                        " (give their role gpus); use auto or ucx for CPU workers");
      }
      ranks.push_back(n);
    }
    // NCCL refuses two ranks of one communicator on the same GPU ("Duplicate GPU detected").
    for (size_t i = 0; i < ranks.size(); ++i) {
      for (size_t j = i + 1; j < ranks.size(); ++j) {
        if (plan.same_machine(ranks[i], ranks[j]) && plan.weight_gpu(ranks[i]) == plan.weight_gpu(ranks[j])) {
          return Status::invalid_argument("placement.weight_broadcast: nccl: " + ranks[i] + " and " + ranks[j] +
                                          " are on one machine and both take weights on GPU " +
                                          std::to_string(plan.weight_gpu(ranks[i])) +
                                          "; NCCL needs a GPU per rank (give their first policy worker, or the "
                                          "learner, another GPU)");
        }
      }
    }
  }
  plan.policy_workers = counts["policy_worker"];
  plan.rewards = counts["reward"];
  plan.learners = counts["learner"];
  return plan;
}

std::string describe(const ClusterPlan& plan, const configs::ExperimentConfig& config) {
  std::ostringstream out;
  out << "plan: " << plan.nodes.size() << " nodes, head " << plan.head << "; " << plan.policy_workers
      << " policy workers, " << plan.rewards << " reward actors, " << plan.learners << " learners, "
      << config.tasks.size() << " env actors\n";
  for (const auto& n : plan.nodes) {
    out << "  " << n.node << " (" << n.host.address << ":" << n.host.port << ", via " << n.host.via;
    if (n.host.via == "ssh") out << " " << n.host.ssh_target;
    out << ", metrics :" << n.host.metrics_port << ")";
    if (n.node == plan.head) out << " [head]";
    out << "\n    ";
    for (size_t i = 0; i < n.actors.size(); ++i) {
      out << (i ? ", " : "") << n.actors[i].name;
      if ((n.actors[i].role == "learner" || n.actors[i].role == "policy_worker") && n.actors[i].gpu() >= 0) {
        out << " (gpu " << n.actors[i].gpu() << ")";
      }
    }
    if (!n.connect_to.empty()) {
      out << "\n    connects to ";
      for (size_t i = 0; i < n.connect_to.size(); ++i) out << (i ? ", " : "") << n.connect_to[i];
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace troupe::actors
