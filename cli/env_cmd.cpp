// `troupe env list|sample|verify|bench`: the bootcamp task library from the shell.
//
// list    every registered task: name, category, knobs, InternBootcamp name.
// sample  JSON lines {task, seed, level, identity, prompt, answer, solution}.
// verify  JSON lines in ({task, identity, response}), one JSON line out per input
//         line, in input order; a malformed line gets {"line": N, "error": ...} and
//         the rest are still scored. Lines are scored in batches on --threads threads.
// bench   see cli/env_bench.cpp.
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "cli/env_bench.hpp"
#include "envs/registry.hpp"

namespace troupe::cli {
namespace {

using envs::Json;

Json knobs_json(const envs::TaskInfo& info) {
  Json k = Json::array();
  for (const auto& knob : info.knobs) {
    k.push_back({{"name", knob.name}, {"min", knob.min}, {"max", knob.max}, {"help", knob.help}});
  }
  return k;
}

void list_tasks(bool as_json) {
  for (const auto& name : envs::task_names()) {
    const envs::TaskInfo& info = (*envs::find_task(name))->info();
    if (as_json) {
      std::cout << Json{{"name", info.name}, {"category", info.category}, {"description", info.description},
                        {"knobs", knobs_json(info)}, {"internbootcamp", info.internbootcamp}}
                       .dump()
                << "\n";
      continue;
    }
    std::string knobs;
    for (const auto& k : info.knobs) {
      knobs += (knobs.empty() ? "" : " ") + k.name + "[" + std::to_string(k.min) + ".." + std::to_string(k.max) + "]";
    }
    std::cout << info.name << "\t" << info.category << "\t" << (knobs.empty() ? "-" : knobs) << "\t"
              << (info.internbootcamp.empty() ? "-" : info.internbootcamp) << "\n";
  }
}

struct SampleArgs {
  std::string task;
  std::vector<std::string> difficulty;
  uint64_t seed = 0;
  int level = 5;
  int n = 1;
};

int sample(const SampleArgs& a) {
  auto task = envs::find_task(a.task);
  if (!task) {
    std::cerr << task.status().message() << "\n";
    return 1;
  }
  envs::Difficulty overrides;
  for (const auto& kv : a.difficulty) {
    const auto eq = kv.find('=');
    long long v = 0;
    size_t used = 0;
    bool ok = eq != std::string::npos;
    if (ok) {
      try {
        v = std::stoll(kv.substr(eq + 1), &used);
      } catch (const std::exception&) {
        ok = false;
      }
      ok = ok && used == kv.size() - eq - 1;
    }
    if (!ok) {
      std::cerr << "--difficulty '" << kv << "': expected KNOB=INTEGER\n";
      return 1;
    }
    overrides[kv.substr(0, eq)] = v;
  }
  for (int i = 0; i < a.n; ++i) {
    const uint64_t seed = a.seed + static_cast<uint64_t>(i);
    auto c = (*task)->generate_with(seed, overrides, a.level);
    if (!c) {
      std::cerr << c.status().message() << "\n";
      return 1;
    }
    std::cout << Json{{"task", a.task}, {"seed", seed}, {"level", a.level}, {"identity", c->identity},
                      {"prompt", c->prompt}, {"answer", c->answer}, {"solution", c->solution}}
                     .dump(-1, ' ', false, Json::error_handler_t::replace)
              << "\n";
  }
  return 0;
}

// Scores one input line; never throws.
Json verify_line(const std::string& line, size_t line_no, const envs::VerifyOptions& defaults) {
  Json in = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto error = [&](const std::string& what) { return Json{{"line", line_no}, {"error", what}}; };
  if (in.is_discarded()) return error("not valid JSON");
  if (!in.is_object()) return error("expected a JSON object");
  if (!in.contains("task") || !in["task"].is_string()) return error("missing string field 'task'");
  if (!in.contains("identity")) return error("missing field 'identity'");
  if (!in.contains("response") || !in["response"].is_string()) return error("missing string field 'response'");
  Json identity = in["identity"];
  if (identity.is_string()) {  // InternBootcamp data files sometimes hold the identity as JSON text
    identity = Json::parse(identity.get<std::string>(), nullptr, false);
    if (identity.is_discarded()) return error("'identity' is a string that is not JSON");
  }
  envs::VerifyOptions opts = defaults;
  if (in.contains("format_score") && in["format_score"].is_number()) opts.format_score = in["format_score"];
  const std::string task = in["task"];
  auto v = envs::verify(task, identity, in["response"].get<std::string>(), opts);
  if (!v) return error(v.status().message());
  return Json{{"line", line_no}, {"task", task}, {"score", v->score}, {"format_ok", v->extracted},
              {"extracted", v->extracted_answer}};
}

int verify_stream(std::istream& in, const envs::VerifyOptions& opts, int threads) {
  constexpr size_t kBatch = 4096;  // lines held at once: bounds memory on huge inputs, amortises thread start
  std::vector<std::string> lines;
  std::vector<Json> out;
  size_t line_no = 0;
  bool any_error = false;
  auto flush = [&] {
    out.assign(lines.size(), Json());
    const size_t first = line_no - lines.size() + 1;
    const size_t nt = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(threads), lines.size()));
    std::vector<std::thread> pool;
    for (size_t t = 0; t < nt; ++t) {
      pool.emplace_back([&, t] {
        for (size_t i = t; i < lines.size(); i += nt) out[i] = verify_line(lines[i], first + i, opts);
      });
    }
    for (auto& th : pool) th.join();
    for (const auto& j : out) {
      any_error = any_error || j.contains("error");
      std::cout << j.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
    }
    lines.clear();
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    lines.push_back(std::move(line));
    if (lines.size() == kBatch) flush();
  }
  flush();
  std::cout.flush();
  return any_error ? 2 : 0;
}

void setup(CLI::App& root, int& exit_code) {
  auto* env = root.add_subcommand("env", "Bootcamp tasks: list, sample cases, verify responses, benchmark");
  env->require_subcommand(1);

  auto as_json = std::make_shared<bool>(false);
  auto* list = env->add_subcommand("list", "List every registered task: name, category, difficulty knobs, "
                                           "InternBootcamp class");
  list->add_flag("--json", *as_json, "one JSON object per line instead of a table");
  list->callback([as_json] { list_tasks(*as_json); });

  auto sa = std::make_shared<SampleArgs>();
  auto* samp = env->add_subcommand("sample", "Generate cases as JSON lines {task, seed, level, identity, prompt, "
                                             "answer, solution}");
  samp->add_option("--task", sa->task, "task name (see `troupe env list`)")->required();
  samp->add_option("--difficulty", sa->difficulty, "KNOB=VALUE overriding the level's knob value (repeatable)");
  samp->add_option("--level", sa->level, "difficulty level 1..10 the knobs start from")->check(CLI::Range(1, 10));
  samp->add_option("--seed", sa->seed, "seed of the first case; case i uses seed+i");
  samp->add_option("-n", sa->n, "number of cases")->check(CLI::Range(1, 100000000));
  samp->callback([sa, &exit_code] { exit_code = sample(*sa); });

  auto input = std::make_shared<std::string>("-");
  auto opts = std::make_shared<envs::VerifyOptions>();
  auto threads = std::make_shared<int>(1);
  auto* ver = env->add_subcommand("verify", "Score JSON lines {task, identity, response}; one JSON line out per "
                                            "line in, same order; exit 2 if any line was malformed");
  ver->add_option("--input", *input, "file of JSON lines, or - for stdin");
  ver->add_option("--format-score", opts->format_score,
                  "score for a response whose answer was extracted but is wrong (InternBootcamp's format_score)");
  ver->add_option("--threads", *threads, "scoring threads")->check(CLI::Range(1, 1024));
  ver->callback([input, opts, threads, &exit_code] {
    if (*input == "-") {
      exit_code = verify_stream(std::cin, *opts, *threads);
      return;
    }
    std::ifstream f(*input);
    if (!f) {
      std::cerr << "cannot open --input " << *input << "\n";
      exit_code = 1;
      return;
    }
    exit_code = verify_stream(f, *opts, *threads);
  });

  add_env_bench(*env, exit_code);
}

TROUPE_REGISTER_COMMAND("env", 30, setup);

}  // namespace
}  // namespace troupe::cli
