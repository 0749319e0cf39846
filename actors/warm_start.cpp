// Supervised warm start (see warm_start.hpp).
#include "actors/warm_start.hpp"

#include <chrono>

#include "envs/registry.hpp"
#include "model/optimizer.hpp"
#include "model/tokenizer.hpp"

namespace troupe::actors {
namespace {

// Training seeds of the warm start: their own range, below the RL prompts'
// ((seed << 32) + id) for any run seed >= 1 and far below the evaluation seeds.
constexpr uint64_t kWarmSeedBase = uint64_t{1} << 20;

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// Changes one character of the answer: a digit to another digit, anything else to another letter.
std::string corrupt(std::string answer, uint64_t r) {
  if (answer.empty()) return "0";
  const size_t pos = r % answer.size();
  char& c = answer[pos];
  if (c >= '0' && c <= '9') {
    c = static_cast<char>('0' + (c - '0' + 1 + static_cast<int>((r >> 8) % 9)) % 10);
  } else {
    c = static_cast<char>(c == 'a' ? 'b' : 'a');
  }
  return answer;
}

}  // namespace

model::ModelConfig policy_config(const configs::ExperimentConfig& c) {
  model::ModelConfig m;
  m.d_model = static_cast<int>(c.model.d_model);
  m.n_layers = static_cast<int>(c.model.n_layers);
  m.n_heads = static_cast<int>(c.model.n_heads);
  m.context = static_cast<int>(c.model.context);
  return m;
}

Result<WarmStartResult> warm_start(const configs::ExperimentConfig& config, model::Transformer initial,
                                   const std::function<void(const WarmStartProgress&)>& on_progress) {
  const auto& ws = config.warm_start;
  std::vector<const envs::Task*> tasks;
  std::vector<double> weights;
  double total_weight = 0;
  for (const auto& t : config.tasks) {
    auto task = envs::find_task(t.name);
    if (!task) return task.status().with_context("warm start");
    tasks.push_back(*task);
    weights.push_back(t.weight);
    total_weight += t.weight;
  }
  auto best = model::Transformer::create(initial.config(), 0);
  if (!best) return best.status();
  TROUPE_RETURN_IF_ERROR(best->load_parameters(initial.parameters(), initial.version()));
  model::Transformer policy = std::move(initial);
  model::AdamWConfig ac;
  model::AdamW opt(policy, ac);
  const auto& cfg = policy.config();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const double budget = ws.max_minutes * 60.0;
  EvalOptions eo;
  eo.cases_per_task = static_cast<int>(ws.eval_cases);
  eo.max_new_tokens = static_cast<int>(config.algorithm.max_new_tokens);
  eo.seed_base = kValidationSeedBase;
  WarmStartProgress prog;
  prog.budget_s = budget;
  int64_t since_best = 0;
  bool plateaued = false;
  uint64_t counter = 0;
  std::vector<float> logp, dlogp;
  double tokens_window = 0, window_start = 0;
  while (elapsed() < budget && (ws.max_steps <= 0 || opt.steps() < ws.max_steps)) {
    std::vector<std::vector<int>> prompts, responses;
    for (int64_t i = 0; i < ws.batch; ++i) {
      const uint64_t r = mix(kWarmSeedBase + counter++ + static_cast<uint64_t>(config.run.seed) * 0x9e37ull);
      double u = static_cast<double>(r >> 11) * 0x1.0p-53 * total_weight;
      size_t k = 0;
      while (k + 1 < tasks.size() && u >= weights[k]) u -= weights[k++];
      const auto& entry = config.tasks[k];
      const int levels = static_cast<int>(entry.difficulty.max - entry.difficulty.min + 1);
      const int level = static_cast<int>(entry.difficulty.min) + static_cast<int>((r >> 7) % levels);
      auto c = tasks[k]->generate_level(kWarmSeedBase + counter, level);
      if (!c) return c.status().with_context("warm-start demonstration");
      std::string target = ws.worked_solutions && !c->solution.empty() ? c->solution : c->answer;
      const bool bad = static_cast<double>((r >> 20) & 0xffff) / 65536.0 < ws.corrupt_fraction;
      if (bad) {
        // Corrupt the answer part only, so a worked solution stays a solution with a wrong result.
        const auto mark = target.rfind('#');
        if (mark == std::string::npos) target = corrupt(target, r >> 24);
        else target = target.substr(0, mark + 1) + corrupt(target.substr(mark + 1), r >> 24);
      }
      prompts.push_back(model::encode_prompt(c->prompt));
      auto resp = model::encode_bytes(target);
      resp.push_back(model::kEos);
      responses.push_back(std::move(resp));
    }
    auto batch = model::TokenBatch::from_pairs(prompts, responses, cfg.context, cfg.vocab_size);
    if (!batch) return batch.status().with_context("warm-start batch");
    TROUPE_RETURN_IF_ERROR(policy.forward(*batch, &logp));
    const double loss = model::weighted_nll(*batch, logp, &dlogp);
    policy.zero_grad();
    TROUPE_RETURN_IF_ERROR(policy.backward(dlogp));
    const int64_t step = opt.steps();
    const float lr = ws.warmup_steps > 0 && step < ws.warmup_steps
                         ? static_cast<float>(ws.lr * (step + 1) / ws.warmup_steps)
                         : static_cast<float>(ws.lr);
    auto st = opt.step(policy, lr);
    if (!st) return st.status();
    tokens_window += static_cast<double>(batch->batch) * batch->seq_len;
    prog.step = opt.steps();
    prog.loss = loss;
    prog.elapsed_s = elapsed();
    if (prog.elapsed_s - window_start > 1.0) {
      prog.tokens_per_second = tokens_window / (prog.elapsed_s - window_start);
      tokens_window = 0;
      window_start = prog.elapsed_s;
    }
    if (prog.step % ws.eval_every == 0) {
      auto ev = evaluate(policy, config, eo);
      if (!ev) return ev.status();
      prog.last_eval = mean_pass_rate(*ev);
      if (prog.last_eval > prog.best_eval) {
        prog.best_eval = prog.last_eval;
        since_best = 0;
        TROUPE_RETURN_IF_ERROR(best->load_parameters(policy.parameters(), 0));
      } else if (prog.best_eval > 0 && ++since_best >= ws.patience) {
        // A policy that solves nothing yet has not plateaued: it has not started. Only the
        // time bound ends that phase.
        plateaued = true;
      }
    }
    if (on_progress) on_progress(prog);
    if (plateaued) break;
  }
  if (prog.best_eval < 0) {  // never evaluated: the budget ended first; keep what was trained
    TROUPE_RETURN_IF_ERROR(best->load_parameters(policy.parameters(), 0));
    auto ev = evaluate(*best, config, eo);
    if (ev) prog.best_eval = mean_pass_rate(*ev);
  }
  best->set_version(0);
  return WarmStartResult{std::move(*best), prog.step, elapsed(), prog.best_eval, plateaued};
}

}  // namespace troupe::actors
