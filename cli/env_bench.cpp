// `troupe env bench [--task T] [--seconds S] [--threads N]`: verifications/s and
// generations/s per task, printed beside InternBootcamp's Python figures measured on
// this kind of machine (../shared/ANCHORS.md: Debian Python 3.11, one core).
//
// Response kinds, as the anchors define them: "mixed" cycles correct, wrong, malformed
// and edge-case (empty) responses of ordinary length; "correct" is the reference
// response; "correct, 32 KB" pads it with ~32 KB of reasoning inside <think>. Each
// single-thread figure is calls per second of the measuring thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID) over --seconds of it, so other work on a shared machine
// slows the run but barely moves the figure (caches are still shared: say the load).
// Per task the bench prints ours, InternBootcamp's figure (one core, ANCHORS.md) and
// the ratio for each kind, then the median ratio per kind over the InternBootcamp tasks.
// With --threads > 1 a last column gives the 32 KB verify rate of that many threads
// together (wall time). Peak RSS is printed at the end. The anchors come from another
// system's run on this kind of machine, not this process: compare ratios.
#include "cli/env_bench.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include "envs/registry.hpp"

namespace troupe::cli {
namespace {

struct Anchor {
  double mixed, correct, correct_32k, gen;
};

// InternBootcamp's Python figures from ANCHORS.md (responses or cases per second, one core).
const std::map<std::string, Anchor>& anchors() {
  static const std::map<std::string, Anchor> kAnchors{
      {"Game24bootcamp", {142826, 88934, 24635, 3696}},
      {"KorPuzzle24Pointsbootcamp", {216366, 126186, 31978, 79}},
      {"BbehMultistepArithmeticbootcamp", {1047196, 910432, 40581, 3117}},
      {"Cryptomathbootcamp", {387608, 266815, 36486, 2766}},
      {"KorPuzzleMathPathbootcamp", {591243, 310885, 36996, 150411}},
      {"Cprimesonintervalbootcamp", {358, 208, 203, 709296}},
      {"Carithmeticprogressionbootcamp", {944907, 714000, 39305, 191535}},
      {"Sudokubootcamp", {104986, 48093, 23243, 232}},
      {"Kakurobootcamp", {88350, 61874, 24346, 234856}},
      {"Nonogramsbootcamp", {132766, 69983, 26549, 82476}},
      {"Futoshikibootcamp", {54375, 33738, 18434, 67185}},
      {"Calcudokubootcamp", {146622, 75443, 26862, 974}},
      {"Skyscrapersbootcamp", {117668, 57996, 24237, 82423}},
      {"Binairobootcamp", {395347, 279010, 36841, 560}},
      {"Kakurasubootcamp", {42615, 25652, 16179, 79158}},
      {"Aquariumbootcamp", {434390, 235455, 35928, 166825}},
      {"Minesweeperbootcamp", {43209, 27452, 16734, 149036}},
      {"Tentsbootcamp", {40499, 23063, 14798, 486}},
      {"Thermometersbootcamp", {166038, 87571, 28269, 59998}},
      {"Starbattlebootcamp", {201955, 112876, 30832, 11275}},
      {"Hitoribootcamp", {19271, 9978, 8076, 1867}},
      {"Killersudokubootcamp", {73036, 39560, 19543, 2760}},
      {"KorCipherCustomInverseShiftSubstitutionCipherbootcamp", {1226473, 1030779, 40588, 308336}},
      {"BbehDyckLanguagesbootcamp", {1054417, 854496, 40252, 42841}},
      {"Mazebootcamp", {24440, 16834, 11882, 3607}},
      {"Arrowmazebootcamp", {196093, 122788, 32140, 23830}},
      {"Bbehbooleanexpressionsbootcamp", {996475, 874661, 40300, 34528}},
      {"Bbehshuffobjectbootcamp", {1035527, 873393, 40233, 71908}},
      {"Bbehobjectcountingbootcamp", {761071, 647559, 39696, 9257}},
      {"KorPuzzleLogicPuzzlebootcamp", {378574, 240874, 35777, 176022}},
      {"KorOperationUnicode25a0bootcamp", {27, 1247, 1397, 185}},
  };
  return kAnchors;
}

constexpr int kCases = 64;          // distinct cases per task: enough to defeat caching effects
constexpr int kBenchLevel = 5;      // a middle difficulty
constexpr size_t kPadBytes = 32 * 1024;  // ANCHORS.md's "correct, 32 KB"

std::string padded(const std::string& answer) {
  std::string filler;
  while (filler.size() < kPadBytes) filler += "Let me check this step once more against the rules and the numbers. ";
  constexpr std::string_view kThink = "<think>";
  if (answer.starts_with(kThink)) return std::string(kThink) + filler + answer.substr(kThink.size());
  return answer + "\n" + filler;  // our own tasks read the first line only
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Calls fn(i) for i = 0, 1, ... until `seconds` of `clock` pass; returns calls per second.
template <class Fn>
double rate(double seconds, Fn&& fn, double (*clock)() = thread_cpu_seconds) {
  const double start = clock();
  long calls = 0;
  double elapsed = 0;
  do {
    for (int k = 0; k < 64; ++k) fn(calls++);  // read the clock every 64 calls: its cost stays negligible
    elapsed = clock() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

struct Row {
  std::string task;
  double mixed, correct, correct_32k, gen, threads_32k;
};

Row bench_task(const envs::Task& task, double seconds, int threads) {
  std::vector<envs::Case> cases;
  for (int i = 0; i < kCases; ++i) cases.push_back(*task.generate_level(1000 + static_cast<uint64_t>(i), kBenchLevel));
  std::vector<std::string> big;
  for (const auto& c : cases) big.push_back(padded(c.answer));
  // Mixed: correct, wrong (another case's answer), malformed (long text without an answer block), empty.
  const std::string malformed = "<think>" + std::string(150, 'x') + "</think> I could not decide.";
  std::vector<std::pair<const envs::Case*, std::string>> mixed;
  for (int i = 0; i < kCases; ++i) {
    const auto& c = cases[static_cast<size_t>(i)];
    mixed.push_back({&c, c.answer});
    mixed.push_back({&c, cases[static_cast<size_t>((i + 1) % kCases)].answer});
    mixed.push_back({&c, malformed});
    mixed.push_back({&c, ""});
  }
  volatile double sink = 0;  // keeps the verifications from being optimised away
  Row r;
  r.task = task.info().name;
  r.mixed = rate(seconds, [&](long i) {
    const auto& [c, resp] = mixed[static_cast<size_t>(i) % mixed.size()];
    sink = sink + task.verify(c->identity, resp)->score;
  });
  r.correct = rate(seconds, [&](long i) {
    const auto& c = cases[static_cast<size_t>(i) % cases.size()];
    sink = sink + task.verify(c.identity, c.answer)->score;
  });
  r.correct_32k = rate(seconds, [&](long i) {
    const size_t k = static_cast<size_t>(i) % cases.size();
    sink = sink + task.verify(cases[k].identity, big[k])->score;
  });
  r.gen = rate(seconds, [&](long i) { sink = sink + task.generate_level(static_cast<uint64_t>(i), kBenchLevel)->answer.size(); });
  r.threads_32k = 0;
  if (threads > 1) {
    std::vector<double> per(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        double local = 0;
        per[static_cast<size_t>(t)] = rate(seconds, [&](long i) {
          const size_t k = static_cast<size_t>(i + t) % cases.size();
          local += task.verify(cases[k].identity, big[k])->score;
        }, wall_seconds);
        sink = sink + local;
      });
    }
    for (auto& th : pool) th.join();
    for (double p : per) r.threads_32k += p;
  }
  return r;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : "%.1f", v);
  return buf;
}

// 1234 -> "1.23k", 12345678 -> "12.3M": three significant digits keep the table narrow.
std::string fmt_si(double v) {
  const char* unit = "";
  if (v >= 1e6) {
    v /= 1e6;
    unit = "M";
  } else if (v >= 1e3) {
    v /= 1e3;
    unit = "k";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f%s" : (v >= 10 ? "%.1f%s" : "%.2f%s"), v, unit);
  return buf;
}

int run_bench(const std::string& only, double seconds, int threads) {
  std::vector<std::string> names;
  if (!only.empty()) {
    auto t = envs::find_task(only);
    if (!t) {
      std::fprintf(stderr, "%s\n", t.status().message().c_str());
      return 1;
    }
    names.push_back(only);
  } else {
    names = envs::task_names();
  }
  std::printf("troupe env bench: level %d, %d cases per task, %.2f s of thread CPU time per figure%s\n",
              kBenchLevel, kCases, seconds, threads > 1 ? (", plus " + std::to_string(threads) + " threads (wall)").c_str() : "");
  std::printf("anchor: InternBootcamp, Python 3.11, one core (ANCHORS.md); x = ours / anchor; calls per second\n\n");
  std::printf("%-44s %28s %28s %28s %22s", "task", "verify mixed (anchor, x)", "verify correct (anchor, x)",
              "verify 32 KB (anchor, x)", "generate (anchor, x)");
  if (threads > 1) std::printf(" %12s", ("32KB x" + std::to_string(threads)).c_str());
  std::printf("\n");
  // "12.3M (1.05M, 11.7x)": ours, the anchor, the ratio; just ours for tasks without an anchor.
  auto cell = [](double ours, const double* anchor) {
    std::string s = fmt_si(ours);
    if (anchor != nullptr) s += " (" + fmt_si(*anchor) + ", " + fmt(ours / *anchor) + "x)";
    return s;
  };
  std::vector<double> ratios_32k, ratios_correct, ratios_mixed, ratios_all;
  for (const auto& name : names) {
    const envs::Task& task = **envs::find_task(name);
    Row r = bench_task(task, seconds, threads);
    auto it = anchors().find(name);
    const Anchor* a = it == anchors().end() ? nullptr : &it->second;
    std::string shown = name.size() > 44 ? name.substr(0, 41) + "..." : name;
    std::printf("%-44s %28s %28s %28s %22s", shown.c_str(), cell(r.mixed, a ? &a->mixed : nullptr).c_str(),
                cell(r.correct, a ? &a->correct : nullptr).c_str(),
                cell(r.correct_32k, a ? &a->correct_32k : nullptr).c_str(), cell(r.gen, a ? &a->gen : nullptr).c_str());
    if (threads > 1) std::printf(" %12s", fmt_si(r.threads_32k).c_str());
    std::printf("\n");
    std::fflush(stdout);
    if (a == nullptr) continue;
    ratios_mixed.push_back(r.mixed / a->mixed);
    ratios_correct.push_back(r.correct / a->correct);
    ratios_32k.push_back(r.correct_32k / a->correct_32k);
    for (double x : {r.mixed / a->mixed, r.correct / a->correct, r.correct_32k / a->correct_32k}) ratios_all.push_back(x);
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  if (!ratios_32k.empty()) {
    std::printf("\nmedian ratio over %zu InternBootcamp tasks: mixed %sx, correct %sx, correct 32 KB %sx; "
                "over all three kinds (%zu figures) %sx\n",
                ratios_32k.size(), fmt(median(ratios_mixed)).c_str(), fmt(median(ratios_correct)).c_str(),
                fmt(median(ratios_32k)).c_str(), ratios_all.size(), fmt(median(ratios_all)).c_str());
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS: %.1f MiB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);  // ru_maxrss is in KiB on Linux
  return 0;
}

}  // namespace

void add_env_bench(CLI::App& env, int& exit_code) {
  auto task = std::make_shared<std::string>();
  auto seconds = std::make_shared<double>(0.2);
  auto threads = std::make_shared<int>(1);
  auto* bench = env.add_subcommand("bench", "Verifications/s and generations/s per task on one thread (of its CPU "
                                            "time), beside InternBootcamp's Python figures and the ratio, with peak RSS");
  bench->add_option("--task", *task, "benchmark only this task");
  bench->add_option("--seconds", *seconds, "measuring time per figure")->check(CLI::Range(0.01, 60.0));
  bench->add_option("--threads", *threads, "also measure 32 KB verification on this many threads together")
      ->check(CLI::Range(1, 256));
  bench->callback([task, seconds, threads, &exit_code] { exit_code = run_bench(*task, *seconds, *threads); });
}

}  // namespace troupe::cli
