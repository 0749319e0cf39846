// Supervised examples from env tasks and held-out evaluation (cli/task_examples.hpp).
#include "cli/task_examples.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "envs/registry.hpp"
#include "kernels/cuda_runtime.hpp"
#include "model/tokenizer.hpp"

namespace troupe::cli {

namespace {

Status check_task(const std::string& name) {
  auto t = envs::find_task(name);
  return t.is_ok() ? Status::ok() : t.status();
}

}  // namespace

Result<std::vector<TaskSpec>> task_specs(const configs::ExperimentConfig& config) {
  std::vector<TaskSpec> out;
  for (const auto& t : config.tasks) {
    TROUPE_RETURN_IF_ERROR(check_task(t.name));
    out.push_back({t.name, t.weight, int(t.difficulty.min), int(t.difficulty.max)});
  }
  if (out.empty()) return Status::invalid_argument("the config names no tasks");
  return out;
}

Result<std::vector<TaskSpec>> task_specs(const std::string& names, const std::string& levels) {
  int lo = envs::kMinLevel, hi = envs::kMinLevel;
  if (!levels.empty()) {
    const auto dash = levels.find('-');
    try {
      lo = std::stoi(levels.substr(0, dash));
      hi = dash == std::string::npos ? lo : std::stoi(levels.substr(dash + 1));
    } catch (const std::exception&) {
      return Status::invalid_argument("--difficulty \"" + levels + "\": expected a level like 3 or a range like 1-4");
    }
    if (lo < envs::kMinLevel || hi > envs::kMaxLevel || lo > hi) {
      return Status::out_of_range("--difficulty \"" + levels + "\": levels must lie in " +
                                  std::to_string(envs::kMinLevel) + ".." + std::to_string(envs::kMaxLevel));
    }
  }
  std::vector<TaskSpec> out;
  std::stringstream ss(names);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name.empty()) continue;
    TROUPE_RETURN_IF_ERROR(check_task(name));
    out.push_back({name, 1.0, lo, hi});
  }
  if (out.empty()) return Status::invalid_argument("--tasks names no task");
  return out;
}

ExampleSource::ExampleSource(std::vector<TaskSpec> specs, ResponseForm form, int context, uint64_t seed)
    : specs_(std::move(specs)), form_(form), context_(context), rng_(seed) {
  std::vector<double> w;
  for (const auto& s : specs_) w.push_back(s.weight);
  pick_ = std::discrete_distribution<int>(w.begin(), w.end());
}

Result<Example> ExampleSource::next() {
  // Cases that do not fit are skipped; give up when nothing fits at all.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const TaskSpec& s = specs_[pick_(rng_)];
    const int level = std::uniform_int_distribution<int>(s.min_level, s.max_level)(rng_);
    const uint64_t case_seed = (rng_() >> 1) << 1;  // even: training seeds
    auto c = envs::generate(s.name, case_seed, level);
    if (!c) return c.status();
    const std::string& text = (form_ == ResponseForm::kSolution && !c->solution.empty()) ? c->solution : c->answer;
    Example e{model::encode_prompt(c->prompt), model::encode_bytes(text)};
    e.response.push_back(model::kEos);
    if (int(e.prompt.size() + e.response.size()) <= context_) return e;
    ++skipped_;
  }
  return Status::invalid_argument("no case of the configured tasks fits the model context of " +
                                  std::to_string(context_) + " tokens");
}

Result<std::vector<TaskScore>> evaluate(model::Sampler& sampler, const std::vector<TaskSpec>& specs,
                                        const EvalOptions& options) {
  constexpr int kRowsPerBatch = 64;  // prompts decoded together; bounds the KV cache
  const int context = sampler.model().config().context;
  std::vector<TaskScore> out;
  for (const auto& spec : specs) {
    for (int level = spec.min_level; level <= spec.max_level; ++level) {
      TaskScore score{spec.name, level, 0, options.samples};
      std::vector<envs::Json> identities;
      std::vector<std::vector<int>> prompts;
      for (int i = 0; i < options.n; ++i) {
        const uint64_t case_seed = 2 * (options.seed * uint64_t(options.n) + uint64_t(i)) + 1;  // odd: held out
        auto c = envs::generate(spec.name, case_seed, level);
        if (!c) return c.status();
        auto p = model::encode_prompt(c->prompt);
        if (int(p.size()) >= context) continue;  // cannot answer within the context: not counted
        identities.push_back(c->identity);
        prompts.push_back(std::move(p));
      }
      score.n = int(prompts.size());
      int any_correct = 0;
      long correct = 0;
      std::vector<int> case_hits(prompts.size(), 0);
      for (int k = 0; k < options.samples; ++k) {
        for (std::size_t b = 0; b < prompts.size(); b += kRowsPerBatch) {
          const std::size_t e = std::min(prompts.size(), b + kRowsPerBatch);
          std::vector<std::vector<int>> batch(prompts.begin() + long(b), prompts.begin() + long(e));
          model::SamplingParams sp;
          sp.temperature = options.samples == 1 ? 0.0f : options.temperature;
          sp.max_new_tokens = options.max_new_tokens;
          sp.stop = {"\n"};  // tasks score the first line
          sp.seed = options.seed * 1000003ull + uint64_t(k) * 7919ull + b;
          auto r = sampler.sample(batch, sp);
          if (!r) return r.status();
          for (std::size_t i = 0; i < r->size(); ++i) {
            auto v = envs::verify(spec.name, identities[b + i], (*r)[i].text);
            if (!v) return v.status();
            score.tokens += long((*r)[i].tokens.size());
            if (v->score >= 1.0) {
              ++correct;
              ++case_hits[b + i];
            }
          }
        }
      }
      for (int h : case_hits) any_correct += h > 0 ? 1 : 0;
      if (score.n > 0) {
        score.pass1 = double(correct) / (double(score.n) * options.samples);
        score.passk = double(any_correct) / score.n;
      }
      out.push_back(score);
    }
  }
  return out;
}

std::string format_scores(const std::vector<TaskScore>& scores) {
  const bool k = !scores.empty() && scores[0].samples > 1;  // pass@k only means something for k > 1
  std::string s = fmt::format("{:<22} {:>5} {:>5} {:>8}", "task", "level", "n", "pass@1");
  s += k ? fmt::format(" {:>8}\n", fmt::format("pass@{}", scores[0].samples)) : "\n";
  for (const auto& t : scores) {
    s += fmt::format("{:<22} {:>5} {:>5} {:>7.1f}%", t.task, t.level, t.n, 100 * t.pass1);
    s += k ? fmt::format(" {:>7.1f}%\n", 100 * t.passk) : "\n";
  }
  return s;
}

std::string scores_json(const std::vector<TaskScore>& scores) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& t : scores) {
    j.push_back({{"task", t.task}, {"level", t.level}, {"n", t.n}, {"samples", t.samples}, {"pass@1", t.pass1},
                 {"pass@" + std::to_string(t.samples), t.passk}, {"response_tokens", t.tokens}});
  }
  return j.dump(2);
}

}  // namespace troupe::cli
