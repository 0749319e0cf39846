// Controller bookkeeping (see controller_state.hpp).
#include "actors/controller_state.hpp"

namespace troupe::actors {
namespace {

std::vector<rl::CurriculumTask> curriculum_tasks(const configs::ExperimentConfig& c) {
  std::vector<rl::CurriculumTask> out;
  for (const auto& t : c.tasks) {
    out.push_back({t.name, t.weight, static_cast<int>(t.difficulty.min), static_cast<int>(t.difficulty.max)});
  }
  return out;
}

rl::CurriculumOptions curriculum_options(const configs::CurriculumConfig& c) {
  return {.enabled = c.enabled,
          .window = static_cast<int>(c.window),
          .raise_above = c.raise_above,
          .drop_above = c.drop_above,
          .drop_below = c.drop_below};
}

}  // namespace

ControllerState::ControllerState(const configs::ExperimentConfig& config)
    : curriculum_(curriculum_options(config.curriculum), curriculum_tasks(config),
                  static_cast<uint64_t>(config.run.seed)),
      seed_base_(static_cast<uint64_t>(config.run.seed) << 32),
      prompts_per_step_(static_cast<uint64_t>(config.algorithm.prompts_per_step)),
      max_staleness_(static_cast<uint64_t>(config.async.max_staleness)),
      max_in_flight_(static_cast<size_t>(config.limits.prompt_queue)) {
  for (const auto& t : config.tasks) task_names_.push_back(t.name);
}

uint64_t ControllerState::admission_limit() const {
  return (learner_version_ + 1 + max_staleness_) * prompts_per_step_;
}

std::optional<PromptTicket> ControllerState::next_prompt() {
  if (issued_ >= admission_limit() || in_flight_.size() >= max_in_flight_) return std::nullopt;
  auto pick = curriculum_.next();
  PromptTicket t;
  t.prompt_id = next_id_++;
  t.task = pick.task;
  t.task_name = task_names_[pick.task];
  t.level = pick.level;
  t.seed = seed_base_ + t.prompt_id;  // distinct per prompt, reproducible per run seed
  ++issued_;
  in_flight_.emplace(t.prompt_id, t);
  return t;
}

std::optional<PromptTicket> ControllerState::prompt_done(uint64_t prompt_id, const std::vector<bool>& passed) {
  auto it = in_flight_.find(prompt_id);
  if (it == in_flight_.end()) return std::nullopt;  // a late answer for a prompt already given up on
  for (bool p : passed) curriculum_.record(it->second.task, it->second.level, p);
  PromptTicket done = std::move(it->second);
  in_flight_.erase(it);
  ++completed_;
  return done;
}

std::string ControllerState::restore(uint64_t version, const ControllerSnapshot& s) {
  if (!in_flight_.empty() || issued_ != 0) return "a controller can only be restored before it issues a prompt";
  std::string err = curriculum_.restore(s.curriculum);
  if (!err.empty()) return err;
  learner_version_ = version;
  next_id_ = std::max<uint64_t>(s.next_prompt_id, 1);
  issued_ = version * prompts_per_step_;
  return "";
}

std::optional<PromptTicket> ControllerState::prompt_lost(uint64_t prompt_id) {
  auto it = in_flight_.find(prompt_id);
  if (it == in_flight_.end()) return std::nullopt;
  if (it->second.attempt >= 1) {
    in_flight_.erase(it);
    ++dropped_;
    // A dropped prompt never yields a group: it gives its admission slot back, or the learner
    // would wait for a step's last groups for ever (at once in the synchronous mode).
    --issued_;
    return std::nullopt;
  }
  it->second.attempt += 1;
  return it->second;
}

}  // namespace troupe::actors
