// Pass-rate-driven curriculum (see curriculum.hpp).
#include "rl/curriculum.hpp"

#include <cassert>

namespace troupe::rl {

double LevelState::pass_rate() const {
  if (ring.empty()) return 0;
  int64_t passed = 0;
  for (auto v : ring) passed += v;
  return static_cast<double>(passed) / static_cast<double>(ring.size());
}

Curriculum::Curriculum(CurriculumOptions options, std::vector<CurriculumTask> tasks, uint64_t seed)
    : options_(options), tasks_(std::move(tasks)), rng_state_(seed) {
  for (const auto& t : tasks_) {
    assert(t.min_level <= t.max_level);
    frontier_.push_back(t.min_level);
    levels_.emplace_back(static_cast<size_t>(t.max_level - t.min_level + 1));
  }
}

uint64_t Curriculum::next_random() {
  // splitmix64: the same sequence on every machine and standard library.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const LevelState& Curriculum::level(size_t task, int level) const {
  return levels_[task][static_cast<size_t>(level - tasks_[task].min_level)];
}

bool Curriculum::sampleable(size_t t) const {
  if (!options_.enabled) return true;
  for (int l = tasks_[t].min_level; l <= frontier_[t]; ++l) {
    if (level(t, l).status == LevelStatus::kActive) return true;
  }
  return false;
}

Curriculum::Pick Curriculum::next() {
  double total = 0;
  for (size_t t = 0; t < tasks_.size(); ++t) total += sampleable(t) ? tasks_[t].weight : 0;
  exhausted_ = total <= 0;
  double u = uniform() * (exhausted_ ? 0 : total);
  size_t task = tasks_.size() - 1;
  if (exhausted_) {
    task = static_cast<size_t>(next_random() % tasks_.size());
    return {task, frontier_[task]};
  }
  for (size_t t = 0; t < tasks_.size(); ++t) {
    if (!sampleable(t)) continue;
    task = t;
    if (u < tasks_[t].weight) break;
    u -= tasks_[t].weight;
  }
  const auto& spec = tasks_[task];
  if (!options_.enabled) {
    return {task, spec.min_level + static_cast<int>(next_random() % (spec.max_level - spec.min_level + 1))};
  }
  std::vector<int> active;
  for (int l = spec.min_level; l <= frontier_[task]; ++l) {
    if (level(task, l).status == LevelStatus::kActive) active.push_back(l);
  }
  return {task, active[next_random() % active.size()]};
}

void Curriculum::record(size_t task, int lvl, bool passed) {
  auto& spec = tasks_[task];
  if (lvl < spec.min_level || lvl > spec.max_level) return;
  auto& st = levels_[task][static_cast<size_t>(lvl - spec.min_level)];
  const size_t window = static_cast<size_t>(options_.window);
  if (st.ring.size() < window) {
    st.ring.push_back(passed ? 1 : 0);
  } else {
    st.ring[st.next] = passed ? 1 : 0;
  }
  st.next = (st.next + 1) % window;
  ++st.seen;
  if (!options_.enabled || !st.full(options_.window)) return;
  const double rate = st.pass_rate();
  if (rate > options_.drop_above) {
    st.status = LevelStatus::kMastered;
  } else if (rate < options_.drop_below) {
    st.status = LevelStatus::kHopeless;
  } else {
    st.status = LevelStatus::kActive;
  }
  if (lvl == frontier_[task] && rate > options_.raise_above && frontier_[task] < spec.max_level) {
    ++frontier_[task];
  }
}

std::string Curriculum::restore(const CurriculumSnapshot& s) {
  if (s.frontier.size() != tasks_.size() || s.levels.size() != tasks_.size()) {
    return "the snapshot has " + std::to_string(s.frontier.size()) + " tasks, the curriculum " +
           std::to_string(tasks_.size());
  }
  for (size_t t = 0; t < tasks_.size(); ++t) {
    const auto& spec = tasks_[t];
    if (s.levels[t].size() != levels_[t].size()) {
      return "task " + spec.name + ": the snapshot has " + std::to_string(s.levels[t].size()) + " levels, expected " +
             std::to_string(levels_[t].size());
    }
    if (s.frontier[t] < spec.min_level || s.frontier[t] > spec.max_level) {
      return "task " + spec.name + ": frontier " + std::to_string(s.frontier[t]) + " outside [" +
             std::to_string(spec.min_level) + ", " + std::to_string(spec.max_level) + "]";
    }
    for (const auto& lv : s.levels[t]) {
      const size_t window = static_cast<size_t>(options_.window);
      if (lv.ring.size() > window || (lv.next >= window && window > 0)) {
        return "task " + spec.name + ": a level's verdict window does not fit window " + std::to_string(window);
      }
    }
  }
  frontier_ = s.frontier;
  levels_ = s.levels;
  rng_state_ = s.rng_state;
  return "";
}

}  // namespace troupe::rl
