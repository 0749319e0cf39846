// Preference pairs: JSON lines I/O and the open-ended generator (see preference_data.hpp).
#include "rewards/preference_data.hpp"

#include <fstream>
#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

#include "envs/open_ended.hpp"

namespace troupe::rewards {

Result<std::vector<PreferencePair>> read_preference_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::io_error(path + ": cannot open (expected JSON lines of {prompt, chosen, rejected})");
  std::vector<PreferencePair> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    if (j.is_discarded() || !j.is_object()) return Status::invalid_argument(where + "not a JSON object");
    PreferencePair p;
    using Field = std::pair<const char*, std::string*>;
    for (auto [key, field] : std::initializer_list<Field>{{"prompt", &p.prompt}, {"chosen", &p.chosen},
                                                          {"rejected", &p.rejected}}) {
      if (!j.contains(key) || !j[key].is_string()) {
        return Status::invalid_argument(where + "expected a string \"" + key + "\"");
      }
      *field = j[key].get<std::string>();
    }
    out.push_back(std::move(p));
  }
  return out;
}

Status write_preference_jsonl(const std::string& path, const std::vector<PreferencePair>& pairs) {
  std::ofstream out(path);
  if (!out) return Status::io_error(path + ": cannot write");
  for (const auto& p : pairs) {
    out << nlohmann::json{{"prompt", p.prompt}, {"chosen", p.chosen}, {"rejected", p.rejected}}.dump() << "\n";
  }
  return out ? Status::ok() : Status::io_error(path + ": write failed");
}

std::vector<PreferencePair> generate_preference_pairs(int n, uint64_t seed) {
  std::vector<PreferencePair> out;
  envs::Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    envs::Rng case_rng(rng.next_u64());
    envs::Case c = envs::describe_case(case_rng, 1 + i % 4);  // 1..4 required words
    PreferencePair p;
    p.prompt = c.prompt;
    p.chosen = envs::describe_response(c.identity, envs::DescribeStyle::kGood, rng);
    const auto bad = rng.chance(1, 5) ? envs::DescribeStyle::kGeneric
                                      : envs::DescribeStyle(rng.uniform(2, envs::kDescribeStyles - 1));
    p.rejected = envs::describe_response(c.identity, bad, rng);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace troupe::rewards
