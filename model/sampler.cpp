// Batched sampling with temperature, top-p, stop strings and weight swaps
// (model/sampler.hpp).
#include "model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model/tokenizer.hpp"

namespace troupe::model {

namespace {

// Picks a token from one row of logits and returns it with its behaviour log-prob.
std::pair<int, float> pick(const float* logits, int V, const SamplingParams& p, std::mt19937_64& rng,
                           std::vector<float>& probs, std::vector<int>& order) {
  // No token is masked, so the behaviour log-prob is exactly the model's
  // (at temperature T): what the learner's importance ratios compare against.
  auto allowed = [](int) { return true; };
  const float temp = p.temperature > 0.0f ? p.temperature : 1.0f;
  float maxv = -INFINITY;
  for (int v = 0; v < V; ++v) {
    if (allowed(v)) maxv = std::max(maxv, logits[v] / temp);
  }
  double sum = 0.0;
  probs.resize(V);
  for (int v = 0; v < V; ++v) {
    probs[v] = allowed(v) ? std::exp(logits[v] / temp - maxv) : 0.0f;
    sum += probs[v];
  }
  const double log_z = double(maxv) + std::log(sum);
  int chosen = 0;
  if (p.temperature <= 0.0f) {
    chosen = int(std::max_element(probs.begin(), probs.end()) - probs.begin());
  } else {
    order.resize(V);
    std::iota(order.begin(), order.end(), 0);
    int keep = V;
    double mass = sum;
    if (p.top_p < 1.0f) {
      std::sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
      double acc = 0.0;
      for (keep = 0; keep < V;) {
        acc += probs[order[keep++]];
        if (acc >= p.top_p * sum) break;
      }
      mass = acc;
    }
    double u = std::uniform_real_distribution<double>(0.0, mass)(rng);
    chosen = order[keep - 1];
    for (int i = 0; i < keep; ++i) {
      u -= probs[order[i]];
      if (u <= 0.0 && probs[order[i]] > 0.0f) {
        chosen = order[i];
        break;
      }
    }
  }
  return {chosen, float(double(logits[chosen]) / temp - log_z)};
}

bool ends_with_stop(const std::string& text, const std::vector<std::string>& stops) {
  for (const auto& s : stops) {
    if (!s.empty() && text.size() >= s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

}  // namespace

void Sampler::stage_weights(std::vector<float> params, uint64_t version) {
  std::lock_guard<std::mutex> lock(staged_mu_);
  staged_ = std::make_pair(std::move(params), version);
}

Status Sampler::install_staged() {
  std::optional<std::pair<std::vector<float>, uint64_t>> w;
  {
    std::lock_guard<std::mutex> lock(staged_mu_);
    w.swap(staged_);
  }
  if (!w) return Status::ok();
  return model_.load_parameters(w->first, w->second).with_context("installing staged weights");
}

Result<std::vector<SampleResult>> Sampler::sample(const std::vector<std::vector<int>>& prompts,
                                                  const SamplingParams& params) {
  const ModelConfig& cfg = model_.config();
  if (prompts.empty()) return Status::invalid_argument("sample: no prompts");
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) {
    return Status::invalid_argument("sample: top_p must be in (0, 1], got " + std::to_string(params.top_p));
  }
  if (params.max_new_tokens < 0) return Status::invalid_argument("sample: max_new_tokens < 0");
  const int R = int(prompts.size()), V = cfg.vocab_size;
  int longest = 0;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty() || int(prompts[i].size()) >= cfg.context) {
      return Status::invalid_argument("sample: prompt " + std::to_string(i) + " has " +
                                      std::to_string(prompts[i].size()) + " tokens; it must have 1.." +
                                      std::to_string(cfg.context - 1));
    }
    for (int t : prompts[i]) {
      if (t < 0 || t >= V) return Status::out_of_range("sample: prompt " + std::to_string(i) + " holds token " + std::to_string(t));
    }
    longest = std::max(longest, int(prompts[i].size()));
  }
  TROUPE_RETURN_IF_ERROR(install_staged());
  const int max_len = std::min(cfg.context, longest + params.max_new_tokens);

  std::vector<SampleResult> out(R);
  std::vector<std::vector<int>> seqs = prompts;
  std::vector<bool> done(R, false);
  std::vector<std::mt19937_64> rngs;
  for (int r = 0; r < R; ++r) rngs.emplace_back(params.seed * 0x9E3779B97F4A7C15ull + uint64_t(r) + 1);
  for (int r = 0; r < R; ++r) {
    if (params.max_new_tokens == 0) done[r] = true;
  }
  KvCache cache;
  if (params.use_kv_cache) cache = model_.make_cache(R, max_len);
  std::vector<float> logits(std::size_t(R) * V), probs;
  std::vector<int> feed(R), order;
  int remaining = int(std::count(done.begin(), done.end(), false));
  for (int step = 0; step < max_len && remaining > 0; ++step) {
    if (params.on_step) params.on_step(step);
    TROUPE_RETURN_IF_ERROR(install_staged());
    if (params.use_kv_cache) {
      // Row r feeds its token at position `step`: a prompt token, then its own samples.
      for (int r = 0; r < R; ++r) feed[r] = step < int(seqs[r].size()) ? seqs[r][step] : kPad;
      TROUPE_RETURN_IF_ERROR(model_.decode(cache, feed.data(), logits.data()));
    } else {
      // A full forward over every row's whole current prefix (up to step + 1 tokens).
      std::vector<std::vector<int>> prefix(R);
      for (int r = 0; r < R; ++r) {
        const int n = std::min(int(seqs[r].size()), step + 1);
        prefix[r].assign(seqs[r].begin(), seqs[r].begin() + n);
      }
      auto b = TokenBatch::from_sequences(prefix, cfg.context, V);
      if (!b) return b.status();
      TROUPE_RETURN_IF_ERROR(model_.last_logits(*b, &logits));
    }
    for (int r = 0; r < R; ++r) {
      // A row samples once its whole prompt is in and it has not stopped.
      if (done[r] || step != int(seqs[r].size()) - 1) continue;
      auto [tok, lp] = pick(logits.data() + std::size_t(r) * V, V, params, rngs[r], probs, order);
      SampleResult& s = out[r];
      seqs[r].push_back(tok);
      s.tokens.push_back(tok);
      s.logprobs.push_back(lp);
      s.versions.push_back(model_.version());
      if (tok < 256) s.text.push_back(char(tok));
      bool stop = true;
      if (tok == kEos) {
        s.stop = StopReason::kEos;
      } else if (ends_with_stop(s.text, params.stop)) {
        s.stop = StopReason::kStopString;
      } else if (int(s.tokens.size()) >= params.max_new_tokens) {
        s.stop = StopReason::kMaxTokens;
      } else if (int(seqs[r].size()) >= max_len) {
        s.stop = StopReason::kContext;
      } else {
        stop = false;
      }
      if (stop) {
        done[r] = true;
        --remaining;
      }
    }
  }
  return out;
}

}  // namespace troupe::model
