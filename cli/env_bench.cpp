// `troupe env bench [--task T] [--seconds S] [--repeats R] [--cpu C] [--level L] [--threads N]`: verifications/s and
// generations/s per task, printed beside InternBootcamp's Python figures measured on
// this kind of machine (../shared/ANCHORS.md: Debian Python 3.11, one core).
//
// Response kinds, as the anchors define them: "mixed" cycles correct, wrong, malformed
// and edge-case (empty) responses of ordinary length; "correct" is the reference
// response; "correct, 32 KB" pads it with ~32 KB of reasoning inside <think>. Each
// single-thread figure is calls per second of the measuring thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID) over --seconds of it, the median of --repeats such
// measurements, on one pinned CPU; so other work on a shared machine slows the run but
// barely moves the figure (caches are still shared: the bench prints the load average).
// Like for like: the anchors time verify_score(response, identity) with the identity an
// already-parsed dict, so ours are handed the already-parsed nlohmann::json; and each
// InternBootcamp task is measured at the level whose cases have upstream's default size
// (--level forces one level for every task instead).
// Per task the bench prints ours, InternBootcamp's figure (one core, ANCHORS.md) and
// the ratio for each kind, then the median ratio per kind over the InternBootcamp tasks.
// With --threads > 1 a last column gives the 32 KB verify rate of that many threads
// together (wall time). Peak RSS is printed at the end. The anchors come from another
// system's run on this kind of machine, not this process: compare ratios.
#include "cli/env_bench.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>

#include "envs/registry.hpp"

namespace troupe::cli {
namespace {

struct Anchor {
  double mixed, correct, correct_32k, gen;
  // The difficulty level whose cases are the size InternBootcamp's default generator makes
  // (each task's difficulty_for_level names it), which is what the anchor verified: a 9x9
  // grid against upstream's 3x3 Kakuro, or 11x11 against its 6x6 Maze, is not the same
  // kind of response. Tasks whose answer does not grow with the level use kBenchLevel.
  int level;
};

// InternBootcamp's Python figures from ANCHORS.md (responses or cases per second, one core),
// and the level of ours that matches upstream's default case size.
const std::map<std::string, Anchor>& anchors() {
  static const std::map<std::string, Anchor> kAnchors{
      {"Game24bootcamp", {142826, 88934, 24635, 3696, 5}},
      {"KorPuzzle24Pointsbootcamp", {216366, 126186, 31978, 79, 5}},
      {"BbehMultistepArithmeticbootcamp", {1047196, 910432, 40581, 3117, 5}},
      {"Cryptomathbootcamp", {387608, 266815, 36486, 2766, 8}},
      {"KorPuzzleMathPathbootcamp", {591243, 310885, 36996, 150411, 6}},
      {"Cprimesonintervalbootcamp", {358, 208, 203, 709296, 10}},
      {"Carithmeticprogressionbootcamp", {944907, 714000, 39305, 191535, 5}},
      {"Sudokubootcamp", {104986, 48093, 23243, 232, 5}},
      {"Kakurobootcamp", {88350, 61874, 24346, 234856, 1}},
      {"Nonogramsbootcamp", {132766, 69983, 26549, 82476, 4}},
      {"Futoshikibootcamp", {54375, 33738, 18434, 67185, 5}},
      {"Calcudokubootcamp", {146622, 75443, 26862, 974, 6}},
      {"Skyscrapersbootcamp", {117668, 57996, 24237, 82423, 4}},
      {"Binairobootcamp", {395347, 279010, 36841, 560, 4}},
      {"Kakurasubootcamp", {42615, 25652, 16179, 79158, 5}},
      {"Aquariumbootcamp", {434390, 235455, 35928, 166825, 4}},
      {"Minesweeperbootcamp", {43209, 27452, 16734, 149036, 6}},
      {"Tentsbootcamp", {40499, 23063, 14798, 486, 4}},
      {"Thermometersbootcamp", {166038, 87571, 28269, 59998, 5}},
      {"Starbattlebootcamp", {201955, 112876, 30832, 11275, 2}},
      {"Hitoribootcamp", {19271, 9978, 8076, 1867, 4}},
      {"Killersudokubootcamp", {73036, 39560, 19543, 2760, 6}},
      {"KorCipherCustomInverseShiftSubstitutionCipherbootcamp", {1226473, 1030779, 40588, 308336, 6}},
      {"BbehDyckLanguagesbootcamp", {1054417, 854496, 40252, 42841, 5}},
      {"Mazebootcamp", {24440, 16834, 11882, 3607, 2}},
      {"Arrowmazebootcamp", {196093, 122788, 32140, 23830, 5}},
      {"Bbehbooleanexpressionsbootcamp", {996475, 874661, 40300, 34528, 5}},
      {"Bbehshuffobjectbootcamp", {1035527, 873393, 40233, 71908, 5}},
      {"Bbehobjectcountingbootcamp", {761071, 647559, 39696, 9257, 5}},
      {"KorPuzzleLogicPuzzlebootcamp", {378574, 240874, 35777, 176022, 5}},
      {"KorOperationUnicode25a0bootcamp", {27, 1247, 1397, 185, 6}},
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
double rate_once(double seconds, Fn& fn, double (*clock)()) {
  const double start = clock();
  long calls = 0;
  double elapsed = 0;
  do {
    for (int k = 0; k < 64; ++k) fn(calls++);  // read the clock every 64 calls: its cost stays negligible
    elapsed = clock() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The median of `repeats` rate_once figures: one slice that another process's burst
// (or a cache flushed by a context switch) slowed does not move it.
template <class Fn>
double rate(double seconds, int repeats, Fn&& fn, double (*clock)() = thread_cpu_seconds) {
  std::vector<double> figures;
  for (int k = 0; k < repeats; ++k) figures.push_back(rate_once(seconds, fn, clock));
  return median_of(std::move(figures));
}

struct Row {
  std::string task;
  double mixed, correct, correct_32k, gen, threads_32k;
};

Row bench_task(const envs::Task& task, int level, double seconds, int repeats, int threads, const cpu_set_t* all_cpus) {
  std::vector<envs::Case> cases;
  for (int i = 0; i < kCases; ++i) cases.push_back(*task.generate_level(1000 + static_cast<uint64_t>(i), level));
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
  r.mixed = rate(seconds, repeats, [&](long i) {
    const auto& [c, resp] = mixed[static_cast<size_t>(i) % mixed.size()];
    sink = sink + task.verify(c->identity, resp)->score;
  });
  r.correct = rate(seconds, repeats, [&](long i) {
    const auto& c = cases[static_cast<size_t>(i) % cases.size()];
    sink = sink + task.verify(c.identity, c.answer)->score;
  });
  r.correct_32k = rate(seconds, repeats, [&](long i) {
    const size_t k = static_cast<size_t>(i) % cases.size();
    sink = sink + task.verify(cases[k].identity, big[k])->score;
  });
  r.gen = rate(seconds, repeats, [&](long i) { sink = sink + task.generate_level(static_cast<uint64_t>(i), level)->answer.size(); });
  r.threads_32k = 0;
  if (threads > 1) {
    std::vector<double> per(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        double local = 0;
        if (all_cpus != nullptr) sched_setaffinity(0, sizeof(cpu_set_t), all_cpus);  // not the pinned CPU
        per[static_cast<size_t>(t)] = rate(seconds, 1, [&](long i) {
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

// Pins the calling thread to one CPU (-1: the one it runs on now), so the single-thread
// figures never migrate between cores mid-measurement; returns that CPU, or -1 when the
// kernel refused. `all` receives the mask it had, for the multi-thread column.
int pin_to_one_cpu(int cpu, cpu_set_t* all) {
  CPU_ZERO(all);
  if (sched_getaffinity(0, sizeof(cpu_set_t), all) != 0) return -1;
  if (cpu < 0) cpu = sched_getcpu();
  if (cpu < 0) return -1;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof(cpu_set_t), &one) == 0 ? cpu : -1;
}

std::string load_text() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f, %.2f, %.2f", load[0], load[1], load[2]);
  return buf;
}

int run_bench(const std::string& only, double seconds, int repeats, int cpu, int force_level, int threads) {
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
  cpu_set_t all_cpus;
  const int pinned = pin_to_one_cpu(cpu, &all_cpus);
  std::printf("troupe env bench: %d cases per task; each figure the median of %d x %.2f s of thread CPU time, "
              "on CPU %s%s\n",
              kCases, repeats, seconds, pinned >= 0 ? std::to_string(pinned).c_str() : "(not pinned)",
              threads > 1 ? (", plus " + std::to_string(threads) + " threads (wall)").c_str() : "");
  std::printf("load average at start: %s\n", load_text().c_str());
  std::printf("anchor: InternBootcamp, Python 3.11, one core (ANCHORS.md); x = ours / anchor; calls per second.\n"
              "Like for like: verify_score there is handed an identity dict, already parsed; here verify() is\n"
              "handed the parsed identity (nlohmann::json), so neither figure includes JSON parsing of it. Each\n"
              "InternBootcamp task runs at the level (lvl) whose cases have upstream's default size; ours at level %d.\n\n",
              force_level > 0 ? force_level : kBenchLevel);
  if (force_level > 0) std::printf("--level %d: every task at that level, whatever upstream's default size\n\n", force_level);
  std::printf("%-44s %3s %28s %28s %28s %22s", "task", "lvl", "verify mixed (anchor, x)", "verify correct (anchor, x)",
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
    auto it = anchors().find(name);
    const Anchor* a = it == anchors().end() ? nullptr : &it->second;
    const int level = force_level > 0 ? force_level : (a != nullptr ? a->level : kBenchLevel);
    Row r = bench_task(task, level, seconds, repeats, threads, pinned >= 0 ? &all_cpus : nullptr);
    std::string shown = name.size() > 44 ? name.substr(0, 41) + "..." : name;
    std::printf("%-44s %3d %28s %28s %28s %22s", shown.c_str(), level, cell(r.mixed, a ? &a->mixed : nullptr).c_str(),
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
  const auto& median = median_of;
  if (!ratios_32k.empty()) {
    std::printf("\nmedian ratio over %zu InternBootcamp tasks: mixed %sx, correct %sx, correct 32 KB %sx; "
                "over all three kinds (%zu figures) %sx\n",
                ratios_32k.size(), fmt(median(ratios_mixed)).c_str(), fmt(median(ratios_correct)).c_str(),
                fmt(median(ratios_32k)).c_str(), ratios_all.size(), fmt(median(ratios_all)).c_str());
  }
  std::printf("load average at end: %s\n", load_text().c_str());
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
  auto repeats = std::make_shared<int>(3);
  auto cpu = std::make_shared<int>(-1);
  auto level = std::make_shared<int>(0);
  auto* bench = env.add_subcommand("bench", "Verifications/s and generations/s per task on one thread (of its CPU "
                                            "time), beside InternBootcamp's Python figures and the ratio, with peak RSS");
  bench->add_option("--task", *task, "benchmark only this task");
  bench->add_option("--seconds", *seconds, "measuring time per figure")->check(CLI::Range(0.01, 60.0));
  bench->add_option("--repeats", *repeats, "each figure is the median of this many measurements")
      ->check(CLI::Range(1, 99));
  bench->add_option("--cpu", *cpu, "pin the single-thread figures to this CPU (default: the one the bench starts on)")
      ->check(CLI::Range(-1, 4095));
  bench->add_option("--level", *level, "measure every task at this difficulty level (default: upstream's size)")
      ->check(CLI::Range(1, 10));
  bench->add_option("--threads", *threads, "also measure 32 KB verification on this many threads together")
      ->check(CLI::Range(1, 256));
  bench->callback([task, seconds, repeats, cpu, level, threads, &exit_code] {
    exit_code = run_bench(*task, *seconds, *repeats, *cpu, *level, *threads);
  });
}

}  // namespace troupe::cli
