// What a metric update costs on the hot path, beside what it sits next to.
//
// Measures, in one process and one run: a prometheus-cpp counter increment, gauge
// set, histogram observe (troupe's 19 latency buckets) and a labelled child lookup
// (Family::Add, what code pays when it does not keep the child), single-threaded and
// with two threads on the same child; the anchor is a relaxed std::atomic fetch_add
// measured the same way. Then it times one rollout of the default model
// (configs/local.yaml: d_model 128, 4 layers, 16 new tokens, 64 rows per batch) with
// the sampler, counts the metric updates the pipeline makes per rollout, and prints
// the overhead as a share of a rollout. Peak RSS at the end.
//
//   build/bench/metrics_bench [--quick]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "model/sampler.hpp"
#include "model/tokenizer.hpp"
#include "model/transformer.hpp"
#include "monitoring/metrics.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using troupe::monitoring::Metrics;

// Keeps the optimiser from removing a loop whose result is unused.
template <class T>
void keep(T&& v) {
  asm volatile("" : : "g"(&v) : "memory");
}

// ns per call of `op`, the best of `reps` runs of `n` calls (the minimum is the
// least disturbed by the other work on a shared machine).
template <class F>
double ns_per_op(long n, int reps, F&& op) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) op(i);
    best = std::min(best, std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(n));
  }
  return best;
}

// The same with two threads calling `op` at once (contention on one child).
template <class F>
double ns_per_op_2threads(long n, int reps, F&& op) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    std::atomic<int> ready{0};
    auto body = [&] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      for (long i = 0; i < n; ++i) op(i);
    };
    auto t0 = Clock::now();
    std::thread other(body);
    body();
    other.join();
    best = std::min(best, std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(n));
  }
  return best;  // wall time per call per thread: the slowdown each caller sees
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const long n = quick ? 2'000'000 : 20'000'000;
  const int reps = quick ? 3 : 5;

  Metrics m("bench");
  auto& counter = m.rollouts.Add({{"task", "addition"}});
  auto& gauge = m.mailbox_depth.Add({{"actor", "policy/0"}});
  auto& hist = m.replay_append_seconds.Add({}, Metrics::latency_buckets());
  std::atomic<uint64_t> anchor{0};

  struct Row {
    const char* what;
    double one, two;
  };
  std::vector<Row> rows;
  rows.push_back({"std::atomic<uint64_t>::fetch_add (relaxed) [anchor]",
                  ns_per_op(n, reps, [&](long) { anchor.fetch_add(1, std::memory_order_relaxed); }),
                  ns_per_op_2threads(n, reps, [&](long) { anchor.fetch_add(1, std::memory_order_relaxed); })});
  rows.push_back({"Counter::Increment", ns_per_op(n, reps, [&](long) { counter.Increment(); }),
                  ns_per_op_2threads(n, reps, [&](long) { counter.Increment(); })});
  rows.push_back({"Gauge::Set", ns_per_op(n, reps, [&](long i) { gauge.Set(static_cast<double>(i)); }),
                  ns_per_op_2threads(n, reps, [&](long i) { gauge.Set(static_cast<double>(i)); })});
  // Values spread over the buckets, as real latencies are.
  std::vector<double> values(1024);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 1e-5 * static_cast<double>(1 + (i * 7919) % 1000000);
  rows.push_back({"Histogram::Observe (19 buckets)", ns_per_op(n, reps, [&](long i) { hist.Observe(values[i & 1023]); }),
                  ns_per_op_2threads(n, reps, [&](long i) { hist.Observe(values[i & 1023]); })});
  const long n_add = n / 20;  // a map lookup under a lock: slower, fewer calls suffice
  rows.push_back({"Family::Add({task}) lookup + Increment",
                  ns_per_op(n_add, reps, [&](long) { m.rollouts.Add({{"task", "addition"}}).Increment(); }),
                  ns_per_op_2threads(n_add, reps, [&](long) { m.rollouts.Add({{"task", "addition"}}).Increment(); })});
  keep(anchor);

  const double a1 = rows[0].one, a2 = rows[0].two;
  std::printf("metric update cost (ns per call; best of %d runs of %ld calls)\n", reps, n);
  std::printf("%-46s %10s %8s %14s %8s\n", "operation", "1 thread", "x anchor", "2 threads/same", "x anchor");
  for (const auto& r : rows) {
    std::printf("%-46s %10.2f %8.1f %14.2f %8.1f\n", r.what, r.one, r.one / a1, r.two, r.two / a2);
  }

  // ---- one rollout of the default model, the cost the updates sit beside ----
  troupe::model::ModelConfig mc;  // d_model 128, 4 layers, 4 heads, context 128 = configs/local.yaml
  auto policy = troupe::model::Transformer::create(mc, 1);
  if (!policy) {
    std::fprintf(stderr, "%s\n", policy.status().message().c_str());
    return 1;
  }
  troupe::model::Sampler sampler(std::move(*policy));
  troupe::model::SamplingParams sp;
  sp.max_new_tokens = 16;  // configs/local.yaml algorithm.max_new_tokens
  const int rows_per_batch = 64;  // PipelineOptions::worker_rows
  std::vector<std::vector<int>> prompts(rows_per_batch, troupe::model::encode_prompt("What is 123 + 456?"));
  const int batches = quick ? 2 : 5;
  double best_batch = 1e300;
  long tokens = 0;
  for (int b = 0; b < batches; ++b) {
    sp.seed = static_cast<uint64_t>(b);
    auto t0 = Clock::now();
    auto out = sampler.sample(prompts, sp);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!out) {
      std::fprintf(stderr, "%s\n", out.status().message().c_str());
      return 1;
    }
    best_batch = std::min(best_batch, s);
    tokens = 0;
    for (const auto& r : *out) tokens += static_cast<long>(r.tokens.size());
  }
  const double rollout_ns = best_batch * 1e9 / rows_per_batch;

  // Updates per rollout in the one-process pipeline (groups of 8, actors/*.cpp):
  //   histogram observes: verify latency, rule reward, total reward, replay append, staleness = 5
  //   increments: the replay's stored gauge = 1, and per group: rollouts, tokens, messages and
  //     bytes sent (policy worker) and received (replay) = 6
  //   gauge sets per group: mailbox depth in env (x2), reward, replay, policy worker (x2) = 6
  //   Family::Add lookups per group: rollouts, tokens, reward rule, reward total, pass rate = 5
  // Per-batch and per-step updates (learner gauges, sample latency) are left out: they are
  // shared by hundreds of rollouts.
  const double group = 8;
  const double per_rollout_ns = 5 * rows[3].one + (1 + 6 / group) * rows[1].one + (6 / group) * rows[2].one +
                                (5 / group) * rows[4].one;
  std::printf("\none rollout of the default model (sampling only, %d rows x %d new tokens, %ld tokens sampled): "
              "%.0f us\n",
              rows_per_batch, sp.max_new_tokens, tokens, rollout_ns / 1e3);
  std::printf("metric updates per rollout in the pipeline: %.0f ns = %.4f%% of one rollout's sampling time\n",
              per_rollout_ns, 100.0 * per_rollout_ns / rollout_ns);

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("\npeak RSS: %.1f MiB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}
