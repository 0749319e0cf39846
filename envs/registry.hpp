// The task registry: every task registers itself by name from its own file during
// static initialisation (TROUPE_REGISTER_TASK), and is looked up by name.
//
// Registration happens before main() (single-threaded); afterwards the registry is
// read-only, so lookups are safe from any thread. Task objects live for the whole
// program. Task files must be linked as object files (troupe_envs is an OBJECT
// library) or their registrars would be dropped by the linker.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "envs/task.hpp"

namespace troupe::envs {

// The task named `name`. Errors: not_found, with the list of known names.
Result<const Task*> find_task(std::string_view name);

// Every registered name, sorted.
std::vector<std::string> task_names();

// Convenience: find_task(name) then generate_level(seed, level).
Result<Case> generate(std::string_view name, uint64_t seed, int level);

// Convenience: find_task(name) then verify(identity, response, options).
Result<Verdict> verify(std::string_view name, const Json& identity, std::string_view response,
                       const VerifyOptions& options = {});

struct TaskRegistrar {
  TaskRegistrar(std::unique_ptr<Task> task);
};

}  // namespace troupe::envs

#define TROUPE_ENVS_CONCAT2(a, b) a##b
#define TROUPE_ENVS_CONCAT(a, b) TROUPE_ENVS_CONCAT2(a, b)
// Registers one instance of TaskClass (default-constructible) under its info().name.
#define TROUPE_REGISTER_TASK(TaskClass) \
  static ::troupe::envs::TaskRegistrar TROUPE_ENVS_CONCAT(troupe_task_, __LINE__)(std::make_unique<TaskClass>())
