// A child process for integration tests: started with posix_spawn, its stdout (and, if asked, its
// stderr) collected line by line by a reader thread, waited for with bounds, and killed and reaped by
// PID when the object goes away, pass or fail. Header-only; used by the multi-process tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace troupe::testing {

class Child {
 public:
  // Runs `program` with `args`; `env` entries replace or add to this process's environment.
  Child(const std::string& program, std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
        bool merge_stderr = false) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    if (merge_stderr) posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      if (!env.count(kv.substr(0, kv.find('=')))) env_store.push_back(std::move(kv));
    }
    for (const auto& [k, v] : env) env_store.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& s : env_store) envp.push_back(s.data());
    envp.push_back(nullptr);
    args.insert(args.begin(), program);
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, program.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    fd_ = fds[0];
    reader_ = std::thread([this] { read_lines(); });
  }
  ~Child() {
    // A process that leads others (troupe launch) first gets its own way of stopping them, so none is
    // left behind; SIGKILL follows if it has not ended.
    for (int sig : stop_signals_) {
      kill(sig);
      if (reap(std::chrono::milliseconds(300)) != -1 || reaped_) break;
    }
    if (!stop_signals_.empty()) reap(std::chrono::seconds(10));
    kill();
    reap(std::chrono::seconds(5));
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Signals the destructor sends (in order, 300 ms apart) before SIGKILL, to a child that is still running.
  void set_stop_signals(std::vector<int> signals) { stop_signals_ = std::move(signals); }
  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void kill(int sig = SIGKILL) {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }
  // Waits for the process to end; returns its exit code (-1 on timeout or when a signal ended it).
  int reap(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped_) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
  }
  // The first line starting with `prefix` (after the `skip` earlier ones); empty on timeout or end.
  std::string wait_line(const std::string& prefix, std::chrono::milliseconds timeout = std::chrono::seconds(30),
                        int skip = 0) {
    return wait_for([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout, skip);
  }
  // The first line containing `part` (after the `skip` earlier ones); empty on timeout or end.
  std::string wait_containing(const std::string& part, std::chrono::milliseconds timeout, int skip = 0) {
    return wait_for([&](const std::string& l) { return l.find(part) != std::string::npos; }, timeout, skip);
  }
  std::vector<std::string> lines() {
    std::lock_guard lk(m_);
    return lines_;
  }
  int count_containing(const std::string& part) {
    int n = 0;
    for (const auto& l : lines()) n += l.find(part) != std::string::npos ? 1 : 0;
    return n;
  }
  std::string dump() {
    std::string s;
    for (auto& l : lines()) s += "  | " + l + "\n";
    return s;
  }

 private:
  template <class Pred>
  std::string wait_for(Pred match, std::chrono::milliseconds timeout, int skip) {
    std::unique_lock lk(m_);
    std::string found;
    cv_.wait_for(lk, timeout, [&] {
      int seen = 0;
      for (auto& l : lines_) {
        if (match(l) && seen++ == skip) {
          found = l;
          return true;
        }
      }
      return eof_;
    });
    return found;
  }
  void read_lines() {
    std::string buf;
    char tmp[4096];
    while (true) {
      ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) break;
      buf.append(tmp, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::lock_guard lk(m_);
        lines_.push_back(buf.substr(0, nl));
        buf.erase(0, nl + 1);
        cv_.notify_all();
      }
    }
    std::lock_guard lk(m_);
    eof_ = true;
    cv_.notify_all();
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::vector<int> stop_signals_;
  int status_ = -1;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

}  // namespace troupe::testing
