// The Python bridge: a task named "python:MODULE.CLASS" runs an InternBootcamp-style
// class (case_generator, prompt_func, verify_score, optionally extract_output) in a
// bounded pool of Python worker processes.
//
// Each worker is `python3 bootcamp_worker.py` (envs/python/), fed over its stdin and
// stdout with length-prefixed JSON frames (4-byte big-endian length, then UTF-8 JSON;
// the protocol is described in the script). Every call has a time limit; a worker that
// exceeds it is killed (SIGKILL) and the call fails with a clear error, as does a call
// whose worker dies (a crash, the memory cap); the next call starts a fresh worker, so
// the pool recovers by itself. A Python exception in the class is an error for that call
// only: the worker stays. Memory is capped per worker with setrlimit(RLIMIT_AS).
//
// Configuration, from the environment (read once, when a Python task is first made):
//   TROUPE_PYTHON             interpreter. Default: python3 (found on PATH)
//   TROUPE_BOOTCAMP_WORKER    path of bootcamp_worker.py. Default: the first that exists
//                             of <dir of the troupe binary>/bootcamp_worker.py,
//                             <dir>/../share/troupe/bootcamp_worker.py, and the source
//                             tree's envs/python/bootcamp_worker.py (compiled in)
//   TROUPE_PYTHON_WORKERS     processes per Python task. Default: 2
//   TROUPE_PYTHON_TIMEOUT_MS  limit of one generate/verify call. Default: 30000
//   TROUPE_PYTHON_MEMORY_MB   address-space cap of each worker. Default: 4096
// The module is imported by the worker, so PYTHONPATH decides where it is found.
//
// Thread safety: a Python task may be called from any number of threads; a call waits
// for a free worker when all are busy (the pool never grows past its bound). Python
// tasks are made once per name and live for the whole program, like registered ones.
#pragma once

#include <string_view>

#include "base/status.hpp"
#include "envs/task.hpp"

namespace troupe::envs {

inline constexpr std::string_view kPythonTaskPrefix = "python:";

// The task for "python:MODULE.CLASS", made (and its class imported by one worker) on
// first use. Errors: a name that is not python:MODULE.CLASS, no interpreter or worker
// script, a module or class that cannot be imported, too many distinct Python tasks.
Result<const Task*> find_python_task(std::string_view name);

}  // namespace troupe::envs
