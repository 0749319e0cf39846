// bench_replay: replay-store append throughput under each durability policy at
// realistic rollout sizes (2, 8, 32 KB values), printed beside RocksDB's own
// `db_bench fillrandom` at the same value size, run by this program in the same
// invocation (sync policy beside `fillrandom --sync=1`); then sample latency
// p50/p99 per sampling order, and peak RSS of this process and of db_bench.
//
//   bench_replay [--quick] [--dir DIR] [--million STORE] [--sizes KB,...] [--policies P,...]
//                [--repeats N] [--no-sample]
//     --quick          a tenth of the rollouts (a smoke run)
//     --dir DIR        scratch directory (default: a new one under /tmp, removed after)
//     --million STORE  also build (if absent) a store of 1,000,000 ~1 KB rollouts at STORE
//                      and time a full summary scan, the work of `troupe replay stats`
//     --sizes 2,8,32   rollout value sizes in KB (default 2,8,32)
//     --policies group_commit,sync   durability policies to measure (default both)
//     --repeats N      runs of ours and of each anchor, alternating; medians reported (default 3)
//     --no-sample      skip the sample-latency table
//     --retention CAP  also append 10 x CAP 8 KB rollouts to a store capped at CAP and print
//                      its disk use as it goes (reclaimed by RocksDB's own compactions)
//
// Appends use four producer threads calling append_async (the replay actor's
// pattern: many rollouts in flight, acknowledged by callback). Values are
// pre-encoded (256 distinct rollouts cycled), as db_bench pre-generates its values.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/replay_store.hpp"
#include "storage/synthetic_rollouts.hpp"

namespace {

namespace fs = std::filesystem;
using namespace troupe::storage;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Rate {
  double ops_per_s = 0;
  double mb_per_s = 0;
  bool ok = false;
};

std::vector<troupe::wire::Bytes> make_values(size_t value_bytes, size_t distinct) {
  std::vector<troupe::wire::Bytes> out;
  for (size_t i = 0; i < distinct; ++i) {
    SyntheticSpec s;
    s.rollout_id = i + 1;
    s.prompt_id = i / 8;  // groups of 8, group_index 0..7
    s.group_index = int32_t(i % 8);
    s.task = (i / 8) % 3 == 0 ? "arith" : (i / 8) % 3 == 1 ? "logic" : "maze";  // a group shares its task
    s.policy_version = i / 64;
    s.response_bytes = value_bytes * 10 / 31;  // the encoded value is ~3.1x the response text (measured below)
    s.correct = i % 2 == 0;
    out.push_back(synthetic_rollout_bytes(s));
  }
  return out;
}

Rate run_appends(const std::string& path, Durability d, const std::vector<troupe::wire::Bytes>& values, size_t n,
                 int threads) {
  ReplayOptions o;
  o.durability = d;
  o.max_rollouts = 0;  // measure appends, not retention
  o.max_bytes = 0;
  auto store = ReplayStore::open(path, o);
  if (!store) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), store.status().to_string().c_str());
    return {};
  }
  std::atomic<size_t> done{0}, failed{0}, bytes{0};
  std::mutex mu;
  std::condition_variable all_done;
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      for (size_t i = t; i < n; i += threads) {
        const troupe::wire::Bytes& v = values[i % values.size()];
        (*store)->append_async(v, [&, size = v.size()](troupe::Result<uint64_t> r) {
          if (!r) ++failed;
          bytes += size;
          if (++done == n) {
            std::lock_guard lock(mu);
            all_done.notify_all();
          }
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  {
    std::unique_lock lock(mu);
    all_done.wait(lock, [&] { return done.load() == n; });
  }
  const double secs = seconds_since(t0);
  if (failed) std::fprintf(stderr, "%zu appends failed\n", failed.load());
  return {double(n) / secs, double(bytes.load()) / secs / 1e6, failed == 0};
}

bool have_time() { return std::system("test -x /usr/bin/time") == 0; }

// Runs `cmd` in a child process under /usr/bin/time, hands each output line to
// `line`, and raises *peak_kb to the child's own peak RSS (a child forked from this
// process would inherit our high-water mark in getrusage(RUSAGE_CHILDREN)).
template <class OnLine>
void run_child(const std::string& cmd, long* peak_kb, OnLine line) {
  const std::string full = std::string(have_time() ? "/usr/bin/time -f 'maxrss_kb %M' " : "") + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return;
  char buf[1024];
  while (fgets(buf, sizeof buf, p)) {
    const std::string l = buf;
    if (l.rfind("maxrss_kb ", 0) == 0) {
      *peak_kb = std::max(*peak_kb, std::atol(l.c_str() + 10));
    } else {
      line(l);
    }
  }
  pclose(p);
}

// Runs db_bench fillrandom and parses "fillrandom : X micros/op Y ops/sec; Z MB/s".
// `batch` puts per WriteBatch (--batch_size); with `sync`, one fsync per batch.
Rate run_db_bench(const std::string& dir, size_t value_size, size_t n, bool sync, size_t batch, long* peak_kb) {
  Rate r;
  run_child("db_bench --benchmarks=fillrandom --db=" + dir + " --num=" + std::to_string(n) +
                " --value_size=" + std::to_string(value_size) + " --compression_type=lz4 --threads=1" +
                (sync ? " --sync=1" : "") + " --batch_size=" + std::to_string(batch),
            peak_kb, [&](const std::string& l) {
              // "fillrandom : 36.3 micros/op 27540 ops/sec 0.184 seconds 5000 operations; 54.4 MB/s"
              if (l.rfind("fillrandom", 0) != 0) return;
              const size_t ops = l.find(" ops/sec"), mb = l.find(" MB/s");
              if (ops == std::string::npos) return;
              r.ops_per_s = std::atof(l.c_str() + l.rfind(' ', ops - 1) + 1);
              if (mb != std::string::npos) r.mb_per_s = std::atof(l.c_str() + l.rfind(' ', mb - 1) + 1);
              r.ok = r.ops_per_s > 0;
            });
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

// Runs one append measurement in a fresh process (this program again, with --one-run),
// so its peak RSS is its own: in one long-lived process freed heap stays resident
// and each later run would inherit the high-water mark of the runs before it.
Rate run_appends_in_child(const std::string& path, Durability d, size_t kb, size_t n, long* peak_kb) {
  Rate r;
  run_child("/proc/" + std::to_string(getpid()) + "/exe --one-run " + path + " " +
                (d == Durability::kSync ? "sync " : "group_commit ") + std::to_string(kb) + " " + std::to_string(n),
            peak_kb, [&](const std::string& l) {
              double ops = 0, mb = 0;
              if (std::sscanf(l.c_str(), "one-run %lf %lf", &ops, &mb) == 2) r = {ops, mb, ops > 0};
            });
  return r;
}

// --one-run PATH POLICY KB N: what run_appends_in_child starts.
int one_run(const std::string& path, const std::string& policy, size_t kb, size_t n) {
  const auto values = make_values(kb << 10, 256);
  const Rate r = run_appends(path, policy == "sync" ? Durability::kSync : Durability::kGroupCommit, values, n, 4);
  std::error_code ec;
  fs::remove_all(path, ec);
  std::printf("one-run %.1f %.3f\n", r.ops_per_s, r.mb_per_s);
  return r.ok ? 0 : 1;
}

// Median by ops/s of several runs (odd counts give a real run's figures).
Rate median(std::vector<Rate> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end(), [](const Rate& a, const Rate& b) { return a.ops_per_s < b.ops_per_s; });
  return v[v.size() / 2];
}

bool have_db_bench() { return std::system("command -v db_bench >/dev/null 2>&1") == 0; }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

void sample_latency(const std::string& path, const std::vector<troupe::wire::Bytes>& values, size_t n) {
  ReplayOptions o;
  o.max_rollouts = 0;
  o.max_bytes = 0;
  o.reuse = 1000000;  // never run out while timing
  {
    auto store = ReplayStore::open(path, o);
    if (!store) return;
    // Fill with groups of 8 whose ids line up (prompt_id = rollout slot / 8).
    for (size_t i = 0; i < n; ++i) {
      (*store)->append_async(values[i % values.size()], [](troupe::Result<uint64_t>) {});
    }
  }
  auto store = ReplayStore::open(path, o);
  if (!store) return;
  std::printf("\nsample latency, store of %zu rollouts, batch 64 (each call timed; %s):\n", n,
              "uniform draws random ids in the window, FIFO starts at its floor");
  std::printf("  %-28s %10s %10s %8s\n", "order", "p50 ms", "p99 ms", "calls");
  struct Case {
    const char* name;
    SampleRequest req;
  };
  std::vector<Case> cases;
  SampleRequest fifo;
  cases.push_back({"fifo", fifo});
  SampleRequest newest;
  newest.order = SampleOrder::kNewest;
  cases.push_back({"newest", newest});
  SampleRequest uniform;
  uniform.order = SampleOrder::kUniform;
  uniform.min_version = values.size() / 64 / 2;  // the newer half of the versions
  cases.push_back({"uniform, min_version", uniform});
  SampleRequest balanced;
  balanced.balance_tasks = true;
  cases.push_back({"fifo, balanced over 3 tasks", balanced});
  SampleRequest groups;
  groups.group_size = 8;
  cases.push_back({"fifo, whole groups of 8", groups});
  for (auto& c : cases) {
    std::vector<double> ms;
    const int calls = c.req.order == SampleOrder::kUniform ? 30 : 200;
    for (int i = 0; i < calls; ++i) {
      const auto t0 = Clock::now();
      auto r = (*store)->sample(c.req);
      ms.push_back(seconds_since(t0) * 1e3);
      if (!r || r->rollouts.empty()) {
        std::fprintf(stderr, "sample %s: %s\n", c.name, r ? "empty" : r.status().to_string().c_str());
        break;
      }
    }
    std::printf("  %-28s %10.3f %10.3f %8zu\n", c.name, percentile(ms, 0.5), percentile(ms, 0.99), ms.size());
  }
}

// Retention under a steady stream: a store capped at `cap` rollouts receives ten times
// as many 8 KB rollouts; disk use is printed as it goes and at the end, with no
// explicit compaction (deleted rollouts must be reclaimed by RocksDB's own compactions,
// which the store's deletion-triggered collector schedules).
void retention(const std::string& path, size_t cap) {
  ReplayOptions o;
  o.max_rollouts = int64_t(cap);
  o.max_bytes = 0;
  const auto values = make_values(8192, 256);
  auto store = ReplayStore::open(path, o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return;
  }
  uint64_t one = 0;
  for (auto& v : values) one += v.size();
  one /= values.size();
  std::printf("\nretention: max_rollouts %zu, %zu rollouts of %llu bytes appended (values kept: %.0f MiB)\n", cap,
              10 * cap, (unsigned long long)one, double(cap * one) / (1 << 20));
  std::printf("  %10s %10s %12s\n", "appended", "stored", "disk MiB");
  std::atomic<size_t> done{0};
  for (size_t i = 0; i < 10 * cap; ++i) {
    (*store)->append_async(values[i % values.size()], [&](troupe::Result<uint64_t>) { ++done; });
    if ((i + 1) % cap == 0) {
      while (done.load() < i + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::printf("  %10zu %10llu %12.1f\n", i + 1, (unsigned long long)(*store)->counters().count,
                  double((*store)->disk_bytes()) / (1 << 20));
      std::fflush(stdout);
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));  // let background compactions finish
  std::printf("  5 s later: %.1f MiB on disk (the write-ahead log is capped at 128 MiB)\n",
              double((*store)->disk_bytes()) / (1 << 20));
}

void million(const std::string& path) {
  if (!fs::exists(path)) {
    std::printf("\nbuilding %s: 1,000,000 rollouts of ~1 KB...\n", path.c_str());
    const auto values = make_values(1024, 1024);
    const auto t0 = Clock::now();
    const Rate r = run_appends(path, Durability::kGroupCommit, values, 1000000, 4);
    std::printf("  built in %.1f s (%.0f appends/s)\n", seconds_since(t0), r.ops_per_s);
  }
  auto store = ReplayStore::open(path, ReplayOptions{}, OpenMode::kSecondary);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return;
  }
  const auto t0 = Clock::now();
  uint64_t n = 0;
  double reward = 0;
  auto st = (*store)->scan_summaries(ScanFilter{}, [&](const RolloutSummary& s) {
    ++n;
    reward += s.total;
    return true;
  });
  std::printf("\nsummary scan of %llu rollouts (the work of `troupe replay stats`): %.2f s%s\n",
              (unsigned long long)n, seconds_since(t0), st ? "" : " (failed)");
}

// Splits "2,8,32" into numbers; false on anything else.
bool parse_list(const std::string& text, std::vector<size_t>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    const unsigned long long v = std::strtoull(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v == 0) return false;
    out->push_back(size_t(v));
    pos = comma + 1;
  }
  return !out->empty();
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--quick] [--dir DIR] [--million STORE] [--sizes KB,...] [--policies group_commit,sync]\n"
               "          [--repeats N] [--no-sample] [--retention CAP]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, sample = true;
  std::string dir, million_path;
  size_t retention_cap = 0;
  std::vector<size_t> sizes_kb{2, 8, 32};
  std::vector<Durability> policies{Durability::kGroupCommit, Durability::kSync};
  int repeats = 3;
  if (argc == 6 && std::string(argv[1]) == "--one-run") {
    return one_run(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtoull(argv[5], nullptr, 10));
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--quick") {
      quick = true;
    } else if (a == "--no-sample") {
      sample = false;
    } else if (a == "--dir" && has_value) {
      dir = argv[++i];
    } else if (a == "--million" && has_value) {
      million_path = argv[++i];
    } else if (a == "--retention" && has_value) {
      retention_cap = std::strtoull(argv[++i], nullptr, 10);
      if (retention_cap == 0) return usage(argv[0]);
    } else if (a == "--sizes" && has_value) {
      if (!parse_list(argv[++i], &sizes_kb)) return usage(argv[0]);
    } else if (a == "--repeats" && has_value) {
      repeats = std::atoi(argv[++i]);
      if (repeats < 1) return usage(argv[0]);
    } else if (a == "--policies" && has_value) {
      policies.clear();
      const std::string list = std::string(",") + argv[++i] + ",";
      if (list.find(",group_commit,") != std::string::npos) policies.push_back(Durability::kGroupCommit);
      if (list.find(",sync,") != std::string::npos) policies.push_back(Durability::kSync);
      if (policies.empty()) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  const bool own_dir = dir.empty();
  if (own_dir) {
    std::string tmpl = (fs::temp_directory_path() / "bench-replay-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
  }
  const bool db_bench = have_db_bench();
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("bench_replay: %u hardware threads, load average %.1f; appends from 4 threads; anchors: db_bench "
              "fillrandom (1 thread, lz4, WAL on) at the same value size, run in between ours; median of %d "
              "alternating runs\n",
              std::thread::hardware_concurrency(), load[0], repeats);
  if (!db_bench) std::printf("db_bench is not installed (Debian rocksdb-tools): no anchor figures\n");
  std::printf("\n%-5s %-12s %8s %10s %7s %8s | %10s %6s | %10s %6s | %8s\n", "value", "policy", "rollouts",
              "appends/s", "MB/s", "peak RSS", "fillrandom", "ratio", "same sync", "ratio", "db RSS");
  const size_t scale = quick ? 10 : 1;
  int run = 0;
  for (const size_t kb : sizes_kb) {
    // ~320 MB per group-commit run (a few seconds: past the first memtable flushes);
    // sync runs fsync each append, so a few hundred suffice.
    const size_t n_group = std::max<size_t>(100, (size_t{320} << 20) / (kb << 10));
    const size_t n_sync = 200;
    const auto values = make_values(kb << 10, 256);  // here only to size db_bench's values alike
    size_t mean = 0;
    for (auto& v : values) mean += v.size();
    mean /= values.size();
    for (Durability d : policies) {
      const bool sync = d == Durability::kSync;
      const size_t n = (sync ? n_sync : n_group) / scale;
      // The machine may be shared: alternate ours and the anchors and report medians.
      std::vector<Rate> ours, plain, same;
      long our_peak_kb = 0, db_peak_kb = 0;
      for (int rep = 0; rep < repeats; ++rep) {
        const std::string path = dir + "/store-" + std::to_string(run++);
        ours.push_back(run_appends_in_child(path, d, kb, n, &our_peak_kb));
        if (!db_bench) continue;
        // The target's anchor: fillrandom as RocksDB's benchmark runs it by default (WAL written, not
        // synced); beside the sync policy, fillrandom --sync=1 (an fsync per write) is both anchors.
        plain.push_back(run_db_bench(dir + "/db_bench", mean, n, sync, 1, &db_peak_kb));
        // The same durability as group commit: one fsync per batch of group_commit_rollouts (64).
        if (!sync) same.push_back(run_db_bench(dir + "/db_bench", mean, n, true, 64, &db_peak_kb));
      }
      if (sync) same = plain;
      const Rate o = median(ours), a = median(plain), b = median(same);
      std::printf("%-5s %-12s %8zu %10.0f %7.1f %7.0fM | ", (std::to_string(mean / 1024) + "K").c_str(),
                  sync ? "sync" : "group_commit", n, o.ops_per_s, o.mb_per_s, our_peak_kb / 1024.0);
      auto anchor = [&](const Rate& r) {
        if (r.ok) {
          std::printf("%10.0f %5.2fx | ", r.ops_per_s, o.ops_per_s / r.ops_per_s);
        } else {
          std::printf("%10s %6s | ", "-", "-");
        }
      };
      anchor(a);
      anchor(b);
      std::printf("%7.0fM\n", db_peak_kb / 1024.0);
      std::fflush(stdout);
    }
  }
  std::printf("(fillrandom: db_bench's default durability, WAL written but never fsynced -- the issue's target, "
              "group commit >= 0.80x;\n same sync: fillrandom --sync=1 with --batch_size=64 beside group_commit (one "
              "fsync per 64 writes), --batch_size=1 beside sync;\n ours fsyncs before every acknowledgement. MB/s "
              "counts values. peak RSS: largest of our runs, each in its own process, as db_bench's)\n");

  if (sample) sample_latency(dir + "/sample-store", make_values(8192, 1024), quick ? 2000 : 20000);

  if (!million_path.empty()) million(million_path);
  if (retention_cap > 0) retention(dir + "/retention-store", retention_cap);

  if (own_dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
