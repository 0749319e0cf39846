// One live progress line for long commands (run, sft, train): on a terminal it is
// rewritten in place; otherwise (a log file, a pipe, CI) each update is a line of its
// own, at most one per `log_every_s` seconds, so logs stay readable. One thread.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace troupe::cli {

class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out, double log_every_s = 10.0)
      : out_(out), tty_(isatty(fileno(out)) != 0), log_every_s_(log_every_s) {}

  void update(const std::string& text) {
    if (tty_) {
      std::fprintf(out_, "\r\033[K%s", text.c_str());
      open_ = true;
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (printed_ && std::chrono::duration<double>(now - last_).count() < log_every_s_) return;
      printed_ = true;
      last_ = now;
      std::fprintf(out_, "%s\n", text.c_str());
    }
    std::fflush(out_);
  }

  // Ends the line on a terminal, so what follows starts on a fresh one.
  void end() {
    if (open_) std::fprintf(out_, "\n");
    open_ = false;
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  bool tty_;
  double log_every_s_;
  bool open_ = false, printed_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace troupe::cli
