// NameDirectory behind actors/names.hpp.
#include "actors/names.hpp"

namespace troupe::actors {

Status NameDirectory::add_local(const std::string& name) {
  if (name.empty() || name.find('*') != std::string::npos) {
    return Status::invalid_argument("actor name \"" + name + "\" must be non-empty and contain no '*'");
  }
  std::lock_guard lk(mu_);
  local_[name] = true;
  return Status::ok();
}

void NameDirectory::remove_local(const std::string& name) {
  std::lock_guard lk(mu_);
  local_.erase(name);
}

Status NameDirectory::add_route(const std::string& pattern, const std::string& node) {
  if (pattern.empty() || node.empty()) return Status::invalid_argument("route pattern and node must be non-empty");
  size_t star = pattern.find('*');
  if (star != std::string::npos && star != pattern.size() - 1) {
    return Status::invalid_argument("route pattern \"" + pattern + "\": '*' may only end a prefix");
  }
  std::lock_guard lk(mu_);
  if (star == std::string::npos) {
    exact_[pattern] = node;
  } else {
    prefix_[pattern.substr(0, star)] = node;
  }
  return Status::ok();
}

Result<Location> NameDirectory::lookup(const std::string& name) const {
  std::lock_guard lk(mu_);
  if (local_.count(name)) return Location{true, {}};
  if (auto it = exact_.find(name); it != exact_.end()) return Location{false, it->second};
  const std::string* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, node] : prefix_) {
    if (name.compare(0, prefix.size(), prefix) == 0 && (best == nullptr || prefix.size() > best_len)) {
      best = &node;
      best_len = prefix.size();
    }
  }
  if (best != nullptr) return Location{false, *best};
  std::string known;
  for (const auto& [n, _] : local_) known += (known.empty() ? "" : ", ") + n;
  for (const auto& [n, node] : exact_) known += (known.empty() ? "" : ", ") + n + "@" + node;
  for (const auto& [p, node] : prefix_) known += (known.empty() ? "" : ", ") + p + "*@" + node;
  return Status::not_found("no actor named \"" + name + "\"; known: " + (known.empty() ? "none" : known));
}

std::vector<std::string> NameDirectory::local_names() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& [n, _] : local_) out.push_back(n);
  return out;
}

}  // namespace troupe::actors
