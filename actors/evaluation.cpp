// Held-out evaluation (see evaluation.hpp).
#include "actors/evaluation.hpp"

#include "actors/controller_state.hpp"
#include "envs/registry.hpp"
#include "model/sampler.hpp"
#include "model/tokenizer.hpp"

namespace troupe::actors {

Result<std::vector<TaskEval>> evaluate(const model::Transformer& policy, const configs::ExperimentConfig& config,
                                       const EvalOptions& options) {
  auto copy = model::Transformer::create(policy.config(), 0);
  if (!copy) return copy.status();
  TROUPE_RETURN_IF_ERROR(copy->load_parameters(policy.parameters(), policy.version()));
  model::Sampler sampler(std::move(*copy));
  std::vector<TaskEval> out;
  for (const auto& t : config.tasks) {
    auto task = envs::find_task(t.name);
    if (!task) return task.status();
    TaskEval ev;
    ev.task = t.name;
    const int levels = static_cast<int>(t.difficulty.max - t.difficulty.min + 1);
    for (int start = 0; start < options.cases_per_task; start += options.batch) {
      const int n = std::min(options.batch, options.cases_per_task - start);
      std::vector<envs::Case> cases;
      std::vector<std::vector<int>> prompts;
      for (int i = start; i < start + n; ++i) {
        const int level = static_cast<int>(t.difficulty.min) + i % levels;
        auto c = (*task)->generate_level((options.seed_base ? options.seed_base : kEvalSeedBase) + static_cast<uint64_t>(i), level);
        if (!c) return c.status().with_context("evaluation case of " + t.name);
        prompts.push_back(model::encode_prompt(c->prompt));
        cases.push_back(std::move(*c));
      }
      model::SamplingParams p;
      p.temperature = options.temperature;
      p.max_new_tokens = options.max_new_tokens;
      p.seed = options.seed + static_cast<uint64_t>(start);
      auto results = sampler.sample(prompts, p);
      if (!results) return results.status().with_context("evaluating " + t.name);
      for (int i = 0; i < n; ++i) {
        auto v = (*task)->verify(cases[i].identity, (*results)[i].text);
        ev.cases += 1;
        ev.passed += (v && v->score >= 1.0) ? 1 : 0;
      }
    }
    out.push_back(ev);
  }
  return out;
}

Result<PassRates> evaluate_greedy_and_sampled(const model::Transformer& policy,
                                              const configs::ExperimentConfig& config, int cases_per_task) {
  EvalOptions eo;
  eo.cases_per_task = cases_per_task;
  eo.max_new_tokens = static_cast<int>(config.algorithm.max_new_tokens);
  PassRates r;
  auto g = evaluate(policy, config, eo);
  if (!g) return g.status();
  r.greedy = std::move(*g);
  eo.temperature = static_cast<float>(config.algorithm.temperature);
  auto s = evaluate(policy, config, eo);
  if (!s) return s.status();
  r.sampled = std::move(*s);
  return r;
}

double mean_pass_rate(const std::vector<TaskEval>& evals) {
  if (evals.empty()) return 0;
  double s = 0;
  for (const auto& e : evals) s += e.pass_rate();
  return s / static_cast<double>(evals.size());
}

}  // namespace troupe::actors
