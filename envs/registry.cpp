// The registry's storage: a name-sorted map filled before main() and read-only after.
#include "envs/registry.hpp"

#include "envs/python_task.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>

namespace troupe::envs {
namespace {

std::map<std::string, std::unique_ptr<Task>, std::less<>>& tasks() {
  static std::map<std::string, std::unique_ptr<Task>, std::less<>> m;
  return m;
}

}  // namespace

TaskRegistrar::TaskRegistrar(std::unique_ptr<Task> task) {
  std::string name = task->info().name;
  auto [it, inserted] = tasks().emplace(name, std::move(task));
  if (!inserted) {
    // Two files claiming one name is a build defect; fail loudly before main() runs.
    std::fprintf(stderr, "troupe envs: task '%s' registered twice\n", name.c_str());
    std::abort();
  }
}

Result<const Task*> find_task(std::string_view name) {
  auto it = tasks().find(name);
  if (it != tasks().end()) return static_cast<const Task*>(it->second.get());
  if (name.starts_with(kPythonTaskPrefix)) return find_python_task(name);
  std::string known;
  for (const auto& [n, t] : tasks()) known += (known.empty() ? "" : ", ") + n;
  return Status::not_found("no task named '" + std::string(name) + "'; known tasks: " + known +
                           "; or python:MODULE.CLASS for an InternBootcamp-style Python class");
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [n, t] : tasks()) names.push_back(n);
  return names;
}

Result<Case> generate(std::string_view name, uint64_t seed, int level) {
  auto task = find_task(name);
  if (!task) return task.status();
  return (*task)->generate_level(seed, level);
}

Result<Verdict> verify(std::string_view name, const Json& identity, std::string_view response,
                       const VerifyOptions& options) {
  auto task = find_task(name);
  if (!task) return task.status();
  return (*task)->verify(identity, response, options);
}

}  // namespace troupe::envs
