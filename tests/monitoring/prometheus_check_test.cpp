// The real check of issue 8: Debian's Prometheus scrapes a short `troupe run`,
// and every PromQL expression of every dashboard panel and every alert rule is
// evaluated through Prometheus's HTTP API. An expression fails when Prometheus
// answers with an error or with no data.
//
// The test uses the shipped monitoring/prometheus/prometheus.yml and alerts.yml
// (copied into a temporary directory with 1 s scrape and evaluation intervals) and
// the shipped dashboards. troupe itself writes the file_sd targets file
// (monitoring.targets_dir), so the discovery path is the one users get.
//
// Substitutions in dashboard expressions, as Grafana would make them for a 1 s scrape:
//   $run -> the run's name; $__rate_interval -> 10s (Grafana: at least 4 scrapes);
//   $__interval -> 5s; $__range -> 5m.
// Alert rules: a rule's expression is empty while it does not fire, so for each
// clause (the parts joined by a top-level `and`, `or`, `unless`) the operands of its
// top-level comparison are evaluated instead: the left-hand side, and the right-hand
// side unless it is a number. `A > on(run) B` checks A and B; `A == 0` checks A.
// Expressions are retried until they return data or the run ends; an error fails
// at once. Both processes are stopped by PID on every path and the directory removed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/free_port.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using troupe::testing::free_port;

constexpr const char* kRun = "monitor_check";  // run.name in short_run.yaml
// Bounds, generous for a 2-core machine under load: Prometheus answers /-/ready in
// ~1 s; the run lasts ~40 s of RL after a few seconds of warm start and evaluation.
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kCheckTimeout = std::chrono::seconds(200);
constexpr auto kPollPeriod = std::chrono::seconds(2);

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string tail(const std::string& s, size_t n = 3000) { return s.size() <= n ? s : s.substr(s.size() - n); }

// A temporary directory removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "troupe-promcheck-XXXXXX").string();
    if (mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// A child process with stdout and stderr in a log file; stopped by PID when
// destroyed (SIGTERM, then SIGKILL after 5 s), whatever path the test takes.
class Child {
 public:
  Child(std::vector<std::string> argv, const fs::path& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      std::fprintf(stderr, "cannot execute %s: %s\n", args[0], std::strerror(errno));
      _exit(127);
    }
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  // The exit status once the process has ended, without waiting.
  std::optional<int> exited() {
    if (pid_ <= 0) return status_;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return status_;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline && !exited()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::string log() const { return read_file(log_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  fs::path log_;
};

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};

// HTTP/1.0 GET over a plain socket: the server answers without chunking and closes.
HttpReply http_get(int port, const std::string& target) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};  // a hung server fails the check instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return reply;
  }
  const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/", 0) != 0 || head_end == std::string::npos) return reply;
  reply.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  reply.body = raw.substr(head_end + 4);
  return reply;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Answer {
  std::string error;  // non-empty: Prometheus rejected the expression (or did not answer)
  size_t results = 0;
};

Answer instant_query(int port, const std::string& expr) {
  Answer a;
  HttpReply r = http_get(port, "/api/v1/query?query=" + url_encode(expr));
  if (r.status == 0) return {"no answer from Prometheus", 0};
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return {"unreadable answer (HTTP " + std::to_string(r.status) + "): " + tail(r.body, 300), 0};
  if (j.value("status", "") != "success") {
    return {j.value("errorType", "error") + ": " + j.value("error", r.body), 0};
  }
  const auto& data = j["data"];
  const std::string type = data.value("resultType", "");
  if (type == "vector" || type == "matrix") {
    a.results = data["result"].size();
  } else {
    a.results = 1;  // a scalar or string always has a value
  }
  return a;
}

// ---- the expressions to check ----

struct Check {
  std::string where;  // "dashboard overview.json / panel \"Rollouts / s\" / A"
  std::string expr;
  bool passed = false;
  std::string last;   // why it has not passed yet
};

std::string substitute_grafana(std::string e) {
  e = replace_all(e, "$__rate_interval", "10s");
  e = replace_all(e, "$__interval", "5s");
  e = replace_all(e, "$__range", "5m");
  e = replace_all(e, "${run}", kRun);
  e = replace_all(e, "$run", kRun);
  return e;
}

void collect_panels(const json& panels, const std::string& file, std::vector<Check>& out) {
  for (const auto& p : panels) {
    if (p.contains("panels")) collect_panels(p["panels"], file, out);  // rows
    if (!p.contains("targets")) continue;
    for (const auto& t : p["targets"]) {
      if (!t.contains("expr")) continue;
      out.push_back({"dashboard " + file + " / panel \"" + p.value("title", "?") + "\" / " + t.value("refId", "?"),
                     substitute_grafana(t["expr"].get<std::string>())});
    }
  }
}

// Skips spaces and, when `s` continues with `word` followed by optional spaces
// and a parenthesised list, that too. Returns whether `word` was there.
bool skip_word_with_list(const std::string& s, size_t& i, const std::string& word, bool list_required) {
  size_t j = i;
  while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
  if (s.compare(j, word.size(), word) != 0) return false;
  j += word.size();
  if (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) return false;
  size_t k = j;
  while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
  if (k < s.size() && s[k] == '(') {
    size_t close = s.find(')', k);
    if (close == std::string::npos) return false;
    j = close + 1;
  } else if (list_required) {
    return false;
  }
  i = j;
  return true;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n");
  size_t e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool is_number(const std::string& s) {
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

// Splits `expr` at top level (outside (), {}, [] and quotes) into clauses joined by
// and/or/unless, and each clause at its comparison into the operands to evaluate.
std::vector<std::string> alert_operands(const std::string& expr) {
  std::vector<std::string> clauses;
  {
    int depth = 0;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i < expr.size(); ++i) {
      const char c = expr[i];
      if (quote) {
        if (c == '\\') ++i;
        else if (c == quote) quote = 0;
        continue;
      }
      if (c == '"' || c == '\'' || c == '`') quote = c;
      else if (c == '(' || c == '{' || c == '[') ++depth;
      else if (c == ')' || c == '}' || c == ']') --depth;
      else if (depth == 0 && std::isspace(static_cast<unsigned char>(c))) {
        for (const char* kw : {"and", "or", "unless"}) {
          const size_t j = i + 1;
          const size_t n = std::strlen(kw);
          const bool word = expr.compare(j, n, kw) == 0 && j + n < expr.size() &&
                            (std::isspace(static_cast<unsigned char>(expr[j + n])) || expr[j + n] == '(');
          if (word) {
            clauses.push_back(expr.substr(start, i - start));
            size_t k = j + n;
            skip_word_with_list(expr, k, "on", true) || skip_word_with_list(expr, k, "ignoring", true);
            start = k;
            i = k - 1;
            break;
          }
        }
      }
    }
    clauses.push_back(expr.substr(start));
  }
  std::vector<std::string> out;
  for (const auto& clause : clauses) {
    int depth = 0;
    char quote = 0;
    size_t op_at = std::string::npos, op_len = 0;
    for (size_t i = 0; i < clause.size() && op_at == std::string::npos; ++i) {
      const char c = clause[i];
      if (quote) {
        if (c == '\\') ++i;
        else if (c == quote) quote = 0;
        continue;
      }
      if (c == '"' || c == '\'' || c == '`') quote = c;
      else if (c == '(' || c == '{' || c == '[') ++depth;
      else if (c == ')' || c == '}' || c == ']') --depth;
      else if (depth == 0) {
        const std::string two = clause.substr(i, 2);
        if (two == "==" || two == "!=" || two == ">=" || two == "<=") op_at = i, op_len = 2;
        else if (c == '>' || c == '<') op_at = i, op_len = 1;
      }
    }
    if (op_at == std::string::npos) {
      out.push_back(trim(clause));
      continue;
    }
    out.push_back(trim(clause.substr(0, op_at)));
    size_t k = op_at + op_len;
    skip_word_with_list(clause, k, "bool", false);
    skip_word_with_list(clause, k, "on", true) || skip_word_with_list(clause, k, "ignoring", true);
    skip_word_with_list(clause, k, "group_left", false) || skip_word_with_list(clause, k, "group_right", false);
    const std::string rhs = trim(clause.substr(k));
    if (!is_number(rhs)) out.push_back(rhs);
  }
  return out;
}

TEST(AlertOperands, SplitsClausesAndComparisons) {
  using V = std::vector<std::string>;
  EXPECT_EQ(alert_operands("up{job=\"troupe\"} == 0"), V{"up{job=\"troupe\"}"});
  EXPECT_EQ(alert_operands("a{x=~\"y>z\"} / b > 0.05"), V{"a{x=~\"y>z\"} / b"});
  EXPECT_EQ(alert_operands("max by (run) (a) > on (run) max by (run) (b)"),
            (V{"max by (run) (a)", "max by (run) (b)"}));
  EXPECT_EQ(alert_operands("sum by (run) (x) == 0\nand on (run)\nsum by (run) (y) > 0"),
            (V{"sum by (run) (x)", "sum by (run) (y)"}));
  EXPECT_EQ(alert_operands("rate(x[5m])"), V{"rate(x[5m])"});
  EXPECT_EQ(alert_operands("a > bool 3"), V{"a"});
}

std::vector<Check> collect_checks(const fs::path& source) {
  std::vector<Check> checks;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(source / "monitoring/grafana/dashboards")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    json d = json::parse(read_file(f), nullptr, false);
    if (d.is_discarded()) {
      checks.push_back({"dashboard " + f.filename().string(), "(file is not valid JSON)", false, "unreadable"});
      continue;
    }
    collect_panels(d["panels"], f.filename().string(), checks);
  }
  YAML::Node rules = YAML::LoadFile((source / "monitoring/prometheus/alerts.yml").string());
  for (const auto& g : rules["groups"]) {
    for (const auto& r : g["rules"]) {
      const std::string name = r["alert"] ? r["alert"].as<std::string>() : r["record"].as<std::string>();
      for (const auto& operand : alert_operands(r["expr"].as<std::string>())) {
        checks.push_back({"alert rule " + name, operand});
      }
    }
  }
  return checks;
}

// ---- the check ----

TEST(PrometheusCheck, EveryDashboardAndAlertExpressionHasData) {
  const fs::path source = TROUPE_SOURCE_DIR;
  TempDir tmp;
  ASSERT_FALSE(tmp.path.empty()) << "cannot create a temporary directory";
  const fs::path prom_dir = tmp.path / "prometheus";
  const fs::path targets = prom_dir / "targets";
  const fs::path run_dir = tmp.path / "run";
  fs::create_directories(targets);
  fs::create_directories(run_dir);

  // The shipped Prometheus config, scraping and evaluating every second.
  std::string prom_yml = read_file(source / "monitoring/prometheus/prometheus.yml");
  ASSERT_NE(prom_yml.find("scrape_interval: 15s"), std::string::npos);
  ASSERT_NE(prom_yml.find("evaluation_interval: 15s"), std::string::npos);
  prom_yml = replace_all(prom_yml, "scrape_interval: 15s", "scrape_interval: 1s");
  prom_yml = replace_all(prom_yml, "evaluation_interval: 15s", "evaluation_interval: 1s");
  write_file(prom_dir / "prometheus.yml", prom_yml);
  fs::copy_file(source / "monitoring/prometheus/alerts.yml", prom_dir / "alerts.yml");

  std::string run_yml = read_file(source / "tests/monitoring/short_run.yaml");
  run_yml = replace_all(run_yml, "@RUN_DIR@", run_dir.string());
  run_yml = replace_all(run_yml, "@TARGETS_DIR@", targets.string());
  write_file(tmp.path / "run.yaml", run_yml);

  std::vector<Check> checks = collect_checks(source);
  ASSERT_GT(checks.size(), 50u) << "fewer expressions than the dashboards and rules hold: parsing went wrong";

  const int prom_port = free_port();
  ASSERT_GT(prom_port, 0);
  Child prometheus({"prometheus", "--config.file=" + (prom_dir / "prometheus.yml").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                    "--storage.tsdb.path=" + (tmp.path / "tsdb").string(), "--log.level=warn"},
                   tmp.path / "prometheus.log");
  ASSERT_TRUE(prometheus.started());
  const auto ready_deadline = Clock::now() + kReadyTimeout;
  while (http_get(prom_port, "/-/ready").status != 200) {
    ASSERT_FALSE(prometheus.exited()) << "prometheus exited (is it installed? scripts/install-deps.sh):\n"
                                      << tail(prometheus.log());
    ASSERT_LT(Clock::now(), ready_deadline) << "prometheus not ready:\n" << tail(prometheus.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  Child troupe({TROUPE_BINARY, "run", (tmp.path / "run.yaml").string(), "--eval-cases", "5"},
               tmp.path / "troupe.log");
  ASSERT_TRUE(troupe.started());

  // Every variable query too: the `run` variable must list this run.
  {
    bool listed = false;
    const auto deadline = Clock::now() + kCheckTimeout;
    while (!listed && Clock::now() < deadline && !troupe.exited()) {
      HttpReply r = http_get(prom_port, "/api/v1/label/run/values?match[]=" + url_encode("troupe_rollouts_total"));
      json j = json::parse(r.body, nullptr, false);
      if (!j.is_discarded() && j.contains("data")) {
        for (const auto& v : j["data"]) listed = listed || v == kRun;
      }
      if (!listed) std::this_thread::sleep_for(kPollPeriod);
    }
    ASSERT_TRUE(listed) << "label_values(troupe_rollouts_total, run) never listed " << kRun << "\ntroupe log:\n"
                        << tail(troupe.log()) << "\nprometheus log:\n" << tail(prometheus.log());
  }

  const auto deadline = Clock::now() + kCheckTimeout;
  size_t pending = checks.size();
  while (pending > 0 && Clock::now() < deadline) {
    const bool ended = troupe.exited().has_value();  // one last round after the run ends
    for (auto& c : checks) {
      if (c.passed || c.last.rfind("error", 0) == 0) continue;  // an error is final
      Answer a = instant_query(prom_port, c.expr);
      if (!a.error.empty()) {
        c.last = "error: " + a.error;
        --pending;
      } else if (a.results == 0) {
        c.last = "no data";
      } else {
        c.passed = true;
        c.last.clear();
        --pending;
      }
    }
    if (ended) break;
    if (pending > 0) std::this_thread::sleep_for(kPollPeriod);
  }

  // The alert rules loaded and evaluated without error in Prometheus itself.
  {
    HttpReply r = http_get(prom_port, "/api/v1/rules");
    json j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    size_t rules = 0;
    for (const auto& g : j["data"]["groups"]) {
      for (const auto& rule : g["rules"]) {
        ++rules;
        EXPECT_EQ(rule.value("health", ""), "ok")
            << "alert rule " << rule.value("name", "?") << ": " << rule.value("lastError", "");
      }
    }
    EXPECT_EQ(rules, 6u) << "alerts.yml should hold the six rules of issue 8";
  }

  size_t failed = 0;
  for (const auto& c : checks) {
    if (c.passed) continue;
    ++failed;
    ADD_FAILURE() << c.where << ": " << (c.last.empty() ? "not evaluated" : c.last) << "\n  " << c.expr;
  }
  if (failed > 0) {
    std::cerr << "troupe log:\n" << tail(troupe.log()) << "\nprometheus log:\n" << tail(prometheus.log()) << "\n";
  }
  std::cout << checks.size() - failed << " of " << checks.size() << " expressions returned data\n";
  // A run that ended early must have ended well.
  if (auto rc = troupe.exited()) {
    EXPECT_EQ(*rc, 0) << tail(troupe.log());
  }
}

}  // namespace
