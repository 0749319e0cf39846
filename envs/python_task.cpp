// The Python bridge (see python_task.hpp): worker processes, their pool, and the Task
// that forwards generate/verify to them.
#include "envs/python_task.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#ifndef TROUPE_ENVS_SOURCE_DIR
#define TROUPE_ENVS_SOURCE_DIR ""
#endif

namespace troupe::envs {
namespace {

constexpr size_t kMaxReplyBytes = 64u << 20;  // a reply larger than this is a broken worker
constexpr size_t kMaxPythonTasks = 32;        // distinct python: names per process (each holds a pool)
constexpr int kInitTimeoutMs = 120000;        // importing a large bootcamp package can take a while

struct BridgeConfig {
  std::string python = "python3";
  std::string worker;
  int workers = 2;
  int timeout_ms = 30000;
  int64_t memory_mb = 4096;
};

int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi) return fallback;
  return x;
}

bool readable(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

Result<BridgeConfig> load_config() {
  BridgeConfig c;
  if (const char* p = std::getenv("TROUPE_PYTHON"); p && *p) c.python = p;
  c.workers = static_cast<int>(env_int("TROUPE_PYTHON_WORKERS", 2, 1, 256));
  c.timeout_ms = static_cast<int>(env_int("TROUPE_PYTHON_TIMEOUT_MS", 30000, 10, 86400000));
  c.memory_mb = env_int("TROUPE_PYTHON_MEMORY_MB", 4096, 64, int64_t{1} << 30);
  std::vector<std::string> candidates;
  if (const char* w = std::getenv("TROUPE_BOOTCAMP_WORKER"); w && *w) {
    if (!readable(w)) return Status::not_found(std::string("TROUPE_BOOTCAMP_WORKER=") + w + " is not a readable file");
    c.worker = w;
    return c;
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    candidates.push_back(dir + "/bootcamp_worker.py");
    candidates.push_back(dir + "/../share/troupe/bootcamp_worker.py");
  }
  candidates.push_back(std::string(TROUPE_ENVS_SOURCE_DIR) + "/python/bootcamp_worker.py");
  for (const auto& path : candidates) {
    if (readable(path)) {
      c.worker = path;
      return c;
    }
  }
  std::string tried;
  for (const auto& path : candidates) tried += "\n  " + path;
  return Status::not_found("the Python bridge's worker script bootcamp_worker.py was not found; set "
                           "TROUPE_BOOTCAMP_WORKER to its path. Looked in:" + tried);
}

// Blocks SIGPIPE in this thread while it lives, and swallows one raised meanwhile: a write
// to a worker that just died must fail with EPIPE, not kill the whole process.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

// One Python process. Not thread-safe: the pool hands it to one caller at a time.
class Worker {
 public:
  ~Worker() { stop(); }

  Status start(const BridgeConfig& c, const std::string& module, const std::string& cls) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return Status::io_error(std::string("pipe: ") + std::strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return Status::io_error(std::string("pipe: ") + std::strerror(errno));
    }
    // Everything the child needs is built before fork: after it only async-signal-safe calls.
    // (No PR_SET_PDEATHSIG: it fires when the forking *thread* ends, and pool callers are
    // short-lived threads. A worker ends on EOF of its stdin when troupe exits, and the
    // pool's destructor kills what is left at a normal exit.)
    std::vector<std::string> args{c.python, "-u", c.worker};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const rlim_t cap = static_cast<rlim_t>(c.memory_mb) << 20;
    const pid_t pid = fork();
    if (pid < 0) {
      for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
      return Status::io_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      const rlimit lim{cap, cap};
      setrlimit(RLIMIT_AS, &lim);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    pid_ = pid;
    to_ = in[1];
    from_ = out[0];
    auto reply = call(Json{{"op", "init"}, {"module", module}, {"class", cls}}, kInitTimeoutMs);
    if (!reply) return reply.status();
    return Status::ok();
  }

  bool alive() const { return pid_ > 0; }

  // One request, one reply within timeout_ms. A reply {"ok": false} is an error with the
  // worker still usable; a timeout, a crash or a garbled stream kills it (alive() false).
  Result<Json> call(const Json& request, int timeout_ms) {
    const std::string body = request.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::string frame(4, '\0');
    const uint32_t len = static_cast<uint32_t>(body.size());
    for (int i = 0; i < 4; ++i) frame[static_cast<size_t>(i)] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
    frame += body;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    {
      SigpipeGuard guard;
      size_t done = 0;
      while (done < frame.size()) {
        const ssize_t w = write(to_, frame.data() + done, frame.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return died("while receiving a request");
        done += static_cast<size_t>(w);
      }
    }
    std::string head, reply;
    auto read_n = [&](std::string& into, size_t n) -> Status {
      while (into.size() < n) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Status::unavailable("timeout");
        pollfd p{from_, POLLIN, 0};
        const int r = poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return Status::unavailable("timeout");
        char buf[65536];
        const ssize_t got = read(from_, buf, std::min(sizeof buf, n - into.size()));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return Status::io_error("eof");
        into.append(buf, static_cast<size_t>(got));
      }
      return Status::ok();
    };
    Status s = read_n(head, 4);
    if (s.is_ok()) {
      const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(head[0])) << 24) |
                         (static_cast<uint32_t>(static_cast<unsigned char>(head[1])) << 16) |
                         (static_cast<uint32_t>(static_cast<unsigned char>(head[2])) << 8) |
                         static_cast<uint32_t>(static_cast<unsigned char>(head[3]));
      if (n > kMaxReplyBytes) {
        stop();
        return Status::internal("the Python worker sent a frame of " + std::to_string(n) + " bytes; it was stopped");
      }
      s = read_n(reply, n);
    }
    if (!s.is_ok()) {
      if (s.code() == Status::Code::kUnavailable) {
        stop();
        return Status::unavailable("the Python worker did not answer within " + std::to_string(timeout_ms) +
                                   " ms (TROUPE_PYTHON_TIMEOUT_MS); it was killed and will be restarted");
      }
      return died("while working on a request");
    }
    Json j = Json::parse(reply, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      stop();
      return Status::internal("the Python worker answered something that is not a JSON object; it was stopped");
    }
    if (!j.value("ok", false)) return Status::invalid_argument("Python raised " + j.value("error", std::string("?")));
    return j;
  }

  void stop() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    to_ = from_ = -1;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  // The worker is gone: reap it and say how it ended.
  Status died(const char* when) {
    int status = 0;
    std::string how = "it exited";
    if (pid_ > 0) {
      kill(pid_, SIGKILL);  // a worker that merely closed its stdout is finished off too
      if (waitpid(pid_, &status, 0) == pid_) {
        if (WIFEXITED(status)) how = "it exited with status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) how = "it was killed by signal " + std::to_string(WTERMSIG(status));
      }
    }
    pid_ = -1;
    stop();
    return Status::unavailable(std::string("the Python worker died ") + when + " (" + how +
                               "; a crash in the class or the memory cap, TROUPE_PYTHON_MEMORY_MB); it will be "
                               "restarted");
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

// At most config.workers live workers; callers wait for a free one.
class WorkerPool {
 public:
  WorkerPool(BridgeConfig c, std::string module, std::string cls)
      : config_(std::move(c)), module_(std::move(module)), cls_(std::move(cls)) {}

  Result<Json> call(const Json& request) {
    std::unique_ptr<Worker> w;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || live_ < config_.workers; });
      if (!idle_.empty()) {
        w = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++live_;
      }
    }
    if (!w) {
      w = std::make_unique<Worker>();
      Status s = w->start(config_, module_, cls_);
      if (!s.is_ok()) {
        release(nullptr);
        return s.with_context("starting a Python worker for " + module_ + "." + cls_ + " (" + config_.python + " " +
                              config_.worker + ")");
      }
    }
    Result<Json> r = w->call(request, config_.timeout_ms);
    release(w->alive() ? std::move(w) : nullptr);
    return r;
  }

 private:
  void release(std::unique_ptr<Worker> w) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (w) {
        idle_.push_back(std::move(w));
      } else {
        --live_;
      }
    }
    cv_.notify_one();
  }

  const BridgeConfig config_;
  const std::string module_, cls_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Worker>> idle_;
  int live_ = 0;  // started and not dead: idle ones plus those in a call
};

class PythonTask final : public Task {
 public:
  PythonTask(std::string name, BridgeConfig c, const std::string& module, const std::string& cls)
      : info_{std::move(name), "python", "InternBootcamp-style class " + module + "." + cls + " run in Python workers",
              {}, cls},
        pool_(std::move(c), module, cls) {}

  const TaskInfo& info() const override { return info_; }
  Difficulty difficulty_for_level(int) const override { return {}; }

  Result<Json> call(const Json& request) const { return pool_.call(request); }

 protected:
  Case generate(Rng& rng, const Difficulty&) const override {
    auto r = pool_.call(Json{{"op", "generate"}, {"seed", rng.next_u64() >> 1}});
    if (!r) throw TaskFailure(r.status().message());
    Case c;
    c.identity = (*r)["identity"];
    c.prompt = (*r).value("prompt", std::string());
    return c;
  }

  Verdict score(const Json& identity, std::string_view response, const VerifyOptions& o) const override {
    auto r = pool_.call(Json{{"op", "verify"}, {"identity", identity}, {"response", std::string(response)},
                             {"format_score", o.format_score}, {"short_penalty", o.short_penalty},
                             {"short_threshold", o.short_threshold}, {"format_penalty", o.format_penalty}});
    if (!r) throw TaskFailure(r.status().message());
    Verdict v;
    v.score = (*r).value("score", 0.0);
    v.extracted = (*r).value("extracted", false);
    v.extracted_answer = (*r).value("extracted_answer", std::string());
    return v;
  }

 private:
  TaskInfo info_;
  mutable WorkerPool pool_;
};

bool is_identifier_path(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = '.';
  for (char ch : s) {
    const bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (ch >= '0' && ch <= '9');
    if (!word && ch != '.') return false;
    if (ch == '.' && prev == '.') return false;
    if (prev == '.' && ch >= '0' && ch <= '9') return false;  // a Python name does not start with a digit
    prev = ch;
  }
  return true;
}

}  // namespace

Result<const Task*> find_python_task(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<PythonTask>, std::less<>> tasks;
  std::lock_guard<std::mutex> lock(mu);  // also serialises first imports: one per name
  if (auto it = tasks.find(name); it != tasks.end()) return static_cast<const Task*>(it->second.get());
  const std::string_view path = name.starts_with(kPythonTaskPrefix) ? name.substr(kPythonTaskPrefix.size()) : "";
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || !is_identifier_path(path)) {
    return Status::invalid_argument("'" + std::string(name) + "' is not a Python task name: expected "
                                    "python:MODULE.CLASS, e.g. python:internbootcamp.Game24bootcamp");
  }
  if (tasks.size() >= kMaxPythonTasks) {
    return Status::out_of_range("at most " + std::to_string(kMaxPythonTasks) + " distinct Python tasks per process");
  }
  auto config = load_config();
  if (!config) return config.status();
  auto task = std::make_unique<PythonTask>(std::string(name), *config, std::string(path.substr(0, dot)),
                                           std::string(path.substr(dot + 1)));
  // Import the class once now, so a wrong name fails here with Python's own message.
  auto probe = task->call(Json{{"op", "ping"}});
  if (!probe) {
    return Status::not_found("Python task " + std::string(name) + ": " + probe.status().message());
  }
  const Task* out = task.get();
  tasks.emplace(std::string(name), std::move(task));
  return out;
}

}  // namespace troupe::envs
