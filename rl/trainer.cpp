// One learner step (see trainer.hpp).
#include "rl/trainer.hpp"

#include <algorithm>
#include <map>

#include "rl/filters.hpp"

namespace troupe::rl {
namespace {

struct Group {
  std::vector<size_t> members;  // indices into the samples
  std::vector<float> advantages;
};

// Response-token log-probs of each row of `b`, in order: the model writes the
// log-prob of token t+1 at position t, and loss_weight marks the response's.
std::vector<std::vector<float>> response_logps(const model::TokenBatch& b, const std::vector<float>& logp) {
  std::vector<std::vector<float>> out(static_cast<size_t>(b.batch));
  for (int r = 0; r < b.batch; ++r) {
    for (int t = 0; t < b.seq_len; ++t) {
      const size_t i = static_cast<size_t>(r) * b.seq_len + t;
      if (b.loss_weight[i] > 0) out[r].push_back(logp[i]);
    }
  }
  return out;
}

}  // namespace

PolicyTrainer::PolicyTrainer(model::Transformer policy, TrainerOptions options,
                             std::optional<model::Transformer> reference)
    : policy_(std::move(policy)),
      options_(std::move(options)),
      reference_(std::move(reference)),
      opt_(policy_, options_.adamw) {}

Result<TrainStats> PolicyTrainer::step(const std::vector<TrainSample>& samples) {
  TrainStats st;
  st.samples = static_cast<int64_t>(samples.size());
  Status valid = Status::ok();
  if (options_.loss.kl_coef > 0 && !reference_) {
    valid = Status::invalid_argument("kl_coef > 0 needs a reference policy");
  }
  for (size_t i = 0; i < samples.size() && valid; ++i) {
    const auto& s = samples[i];
    if (s.behaviour_logprobs.size() != s.response_tokens.size()) {
      valid = Status::invalid_argument("sample of prompt " + std::to_string(s.prompt_id) + " has " +
                                       std::to_string(s.behaviour_logprobs.size()) + " behaviour log-probs for " +
                                       std::to_string(s.response_tokens.size()) + " tokens");
    }
  }
  if (options_.collective) {
    // Replicas agree before any other collective: if one batch is malformed, every
    // replica skips the step (none is left waiting for a peer that gave up).
    std::vector<float> bad = {valid ? 0.0f : 1.0f};
    TROUPE_RETURN_IF_ERROR(options_.collective->all_reduce_sum(bad));
    if (valid && bad[0] > 0) return Status::invalid_argument("a peer learner's share of the batch was malformed");
  }
  if (!valid) return valid;
  // ---- filter and group ----
  std::map<uint64_t, Group> groups;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    st.mean_reward += s.reward;
    st.staleness_mean += static_cast<double>(version_ - std::min(version_, s.policy_version));
    groups[s.prompt_id];  // every prompt counts as a group, even if all its members are dropped
    if (options_.drop_looping && is_looping(std::span<const int>(s.response_tokens))) {
      ++st.dropped_looping;
      continue;
    }
    if (options_.drop_truncated && s.truncated) {
      ++st.dropped_truncated;
      continue;
    }
    if (s.response_tokens.empty()) continue;
    groups[s.prompt_id].members.push_back(i);
  }
  if (!samples.empty()) {
    st.mean_reward /= static_cast<double>(samples.size());
    st.staleness_mean /= static_cast<double>(samples.size());
  }
  st.groups = static_cast<int64_t>(groups.size());
  AdvantageOptions adv = options_.advantage;
  if (options_.objective == Objective::kGrpo) adv.scale_by_std = true;
  std::vector<const Group*> kept;
  for (auto& [id, g] : groups) {
    if (g.members.empty()) continue;
    std::vector<float> rewards;
    for (size_t m : g.members) rewards.push_back(samples[m].reward);
    if (adv.kind == AdvantageKind::kLeaveOneOut && rewards.size() < 2) continue;
    auto a = group_advantages(rewards, adv);
    if (options_.drop_equal_groups && !a.informative) continue;
    g.advantages = std::move(a.advantages);
    kept.push_back(&g);
  }
  st.groups_used = static_cast<int64_t>(kept.size());

  // ---- micro-batches of whole groups, and whole-batch normalisers ----
  std::vector<std::vector<const Group*>> micro;
  size_t rows = 0;
  for (const Group* g : kept) {
    if (micro.empty() || rows + g->members.size() > static_cast<size_t>(options_.micro_batch)) {
      micro.emplace_back();
      rows = 0;
    }
    micro.back().push_back(g);
    rows += g->members.size();
  }
  int64_t tokens = 0, seqs = 0, pos_tokens = 0, pos_seqs = 0;
  const float thr = options_.oreal.positive_threshold;
  for (const Group* g : kept) {
    for (size_t m : g->members) {
      const auto len = static_cast<int64_t>(samples[m].response_tokens.size());
      tokens += len;
      ++seqs;
      if (samples[m].reward >= thr) pos_tokens += len, ++pos_seqs;
    }
  }
  st.samples_used = seqs;
  st.tokens = tokens;
  int64_t kept_groups = static_cast<int64_t>(kept.size());
  if (options_.collective) {
    // Whole-batch normalisers over every replica's share (small integers: exact in float).
    std::vector<float> counts = {static_cast<float>(tokens), static_cast<float>(seqs), static_cast<float>(pos_tokens),
                                 static_cast<float>(pos_seqs), static_cast<float>(kept_groups)};
    TROUPE_RETURN_IF_ERROR(options_.collective->all_reduce_sum(counts));
    tokens = static_cast<int64_t>(counts[0]);
    seqs = static_cast<int64_t>(counts[1]);
    pos_tokens = static_cast<int64_t>(counts[2]);
    pos_seqs = static_cast<int64_t>(counts[3]);
    kept_groups = static_cast<int64_t>(counts[4]);
  }
  if (kept_groups == 0) {
    // The batch is consumed all the same: the version counts consumed batches, so
    // admission (controller) and staleness move on even when nothing was learned.
    ++version_;
    policy_.set_version(version_);
    return st;
  }
  const bool token_mean = options_.loss.norm == TokenNorm::kTokenMean;
  PolicyLossOptions loss_opts = options_.loss;
  loss_opts.norm_total = token_mean ? tokens : seqs;
  OrealOptions oreal_opts = options_.oreal;
  oreal_opts.base = loss_opts;
  oreal_opts.positive_norm_total = token_mean ? pos_tokens : pos_seqs;
  oreal_opts.negative_norm_total = token_mean ? tokens - pos_tokens : seqs - pos_seqs;

  const auto& cfg = policy_.config();
  // Proximal log-probs: the first pass's, per micro-batch and row.
  std::vector<std::vector<std::vector<float>>> prox(micro.size());
  std::vector<float> logp, ref_logp;
  const float lr = options_.warmup_steps > 0 && opt_.steps() < options_.warmup_steps
                       ? options_.lr * static_cast<float>(opt_.steps() + 1) / static_cast<float>(options_.warmup_steps)
                       : options_.lr;
  double weight_sum = 0;
  for (int pass = 0; pass < options_.passes; ++pass) {
    policy_.zero_grad();
    double pass_loss = 0;
    for (size_t mb = 0; mb < micro.size(); ++mb) {
      std::vector<std::vector<int>> prompts, responses;
      std::vector<float> advantages, rewards;
      std::vector<int32_t> group_of;
      for (size_t gi = 0; gi < micro[mb].size(); ++gi) {
        const Group* g = micro[mb][gi];
        for (size_t k = 0; k < g->members.size(); ++k) {
          const auto& s = samples[g->members[k]];
          prompts.push_back(s.prompt_tokens);
          responses.push_back(s.response_tokens);
          advantages.push_back(g->advantages[k]);
          rewards.push_back(s.reward);
          group_of.push_back(static_cast<int32_t>(gi));
        }
      }
      auto batch = model::TokenBatch::from_pairs(prompts, responses, cfg.context, cfg.vocab_size);
      if (!batch) return batch.status().with_context("building a learner micro-batch");
      if (reference_ && pass == 0 && options_.loss.kl_coef > 0) {
        TROUPE_RETURN_IF_ERROR(reference_->forward(*batch, &ref_logp));
      }
      TROUPE_RETURN_IF_ERROR(policy_.forward(*batch, &logp));
      auto cur = response_logps(*batch, logp);
      if (pass == 0) prox[mb] = cur;
      std::vector<float> flat_cur, flat_prox, flat_behav, flat_ref;
      std::vector<int32_t> offsets = {0};
      std::vector<float> ref_rows_flat;
      auto ref_rows = (reference_ && options_.loss.kl_coef > 0) ? response_logps(*batch, ref_logp)
                                                               : std::vector<std::vector<float>>{};
      size_t row = 0;
      for (const Group* g : micro[mb]) {
        for (size_t m : g->members) {
          const auto& s = samples[m];
          if (cur[row].size() != s.response_tokens.size()) {
            return Status::internal("response log-prob count differs from its token count");
          }
          flat_cur.insert(flat_cur.end(), cur[row].begin(), cur[row].end());
          flat_prox.insert(flat_prox.end(), prox[mb][row].begin(), prox[mb][row].end());
          flat_behav.insert(flat_behav.end(), s.behaviour_logprobs.begin(), s.behaviour_logprobs.end());
          if (!ref_rows.empty()) flat_ref.insert(flat_ref.end(), ref_rows[row].begin(), ref_rows[row].end());
          offsets.push_back(static_cast<int32_t>(flat_cur.size()));
          ++row;
        }
      }
      TokenBatch tb{.seq_offsets = offsets, .logp = flat_cur, .logp_prox = flat_prox, .logp_behav = flat_behav,
                    .logp_ref = flat_ref};
      PolicyLossResult res = options_.objective == Objective::kOreal
                                 ? oreal_loss(tb, rewards, group_of, oreal_opts)
                                 : ppo_clip_loss(tb, advantages, loss_opts);
      pass_loss += res.loss;
      if (pass == 0) {
        const double w = static_cast<double>(res.stats.tokens);
        weight_sum += w;
        st.kl += res.stats.kl;
        st.entropy += res.stats.entropy;
        st.importance_mean += res.stats.importance_mean * w;
        st.truncated_fraction += res.stats.truncated_fraction * w;
      }
      if (pass == options_.passes - 1) st.clip_fraction += res.stats.clip_fraction * res.stats.tokens;
      // Scatter d loss / d logp back to the model's (B,T) layout.
      std::vector<float> dlogp(logp.size(), 0.0f);
      size_t k = 0;
      for (int r = 0; r < batch->batch; ++r) {
        for (int t = 0; t < batch->seq_len; ++t) {
          const size_t i = static_cast<size_t>(r) * batch->seq_len + t;
          if (batch->loss_weight[i] > 0) dlogp[i] = res.grad_logp[k++];
        }
      }
      TROUPE_RETURN_IF_ERROR(policy_.backward(dlogp));
    }
    if (options_.collective) {
      // Every replica's gradient of the globally normalised loss: their sum is the
      // whole batch's gradient (a replica with no informative group adds zeros).
      TROUPE_RETURN_IF_ERROR(options_.collective->all_reduce_sum(policy_.gradients()));
    }
    auto step = opt_.step(policy_, lr);
    if (!step) return step.status().with_context("learner optimiser step");
    st.grad_norm = step->grad_norm;
    st.lr = lr;
    if (pass == 0) st.loss = pass_loss;
  }
  if (weight_sum > 0) {
    st.importance_mean /= weight_sum;
    st.truncated_fraction /= weight_sum;
    st.clip_fraction /= weight_sum;
  }
  st.stepped = true;
  ++version_;
  policy_.set_version(version_);
  return st;
}

}  // namespace troupe::rl
