// run_state.json reading and writing (see run_state.hpp).
#include "actors/run_state.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace troupe::actors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json level_json(const rl::LevelState& l) {
  return {{"ring", l.ring}, {"next", l.next}, {"seen", l.seen}, {"status", static_cast<int>(l.status)}};
}

rl::LevelState level_from(const json& j) {
  rl::LevelState l;
  l.ring = j.at("ring").get<std::vector<uint8_t>>();
  l.next = j.at("next").get<size_t>();
  l.seen = j.at("seen").get<int64_t>();
  const int status = j.at("status").get<int>();
  if (status < 0 || status > static_cast<int>(rl::LevelStatus::kHopeless)) {
    throw std::out_of_range("level status " + std::to_string(status) + " is not 0, 1 or 2");
  }
  l.status = static_cast<rl::LevelStatus>(status);
  return l;
}

}  // namespace

Status save_run_state(const std::string& dir, const RunState& state) {
  json levels = json::array();
  for (const auto& task : state.controller.curriculum.levels) {
    json t = json::array();
    for (const auto& l : task) t.push_back(level_json(l));
    levels.push_back(std::move(t));
  }
  json j = {{"version", state.version},
            {"next_prompt_id", state.controller.next_prompt_id},
            {"curriculum",
             {{"frontier", state.controller.curriculum.frontier},
              {"levels", std::move(levels)},
              {"rng_state", state.controller.curriculum.rng_state}}}};
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path path = fs::path(dir) / kRunStateFile;
  const fs::path tmp = fs::path(dir) / (std::string(kRunStateFile) + ".tmp");
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return Status::io_error("cannot open " + tmp.string() + " for writing");
    f << j.dump(1) << "\n";
    if (!f.flush()) return Status::io_error("writing " + tmp.string() + " failed (disk full?)");
  }
  fs::rename(tmp, path, ec);
  if (ec) return Status::io_error("renaming " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return Status::ok();
}

Result<RunState> load_run_state(const std::string& dir) {
  const fs::path path = fs::path(dir) / kRunStateFile;
  std::ifstream f(path);
  if (!f) return Status::not_found(path.string() + " does not exist: the run has no RL checkpoint to resume");
  try {
    const json j = json::parse(f);
    RunState s;
    s.version = j.at("version").get<uint64_t>();
    s.controller.next_prompt_id = j.at("next_prompt_id").get<uint64_t>();
    const auto& c = j.at("curriculum");
    s.controller.curriculum.frontier = c.at("frontier").get<std::vector<int>>();
    s.controller.curriculum.rng_state = c.at("rng_state").get<uint64_t>();
    for (const auto& task : c.at("levels")) {
      std::vector<rl::LevelState> levels;
      for (const auto& l : task) levels.push_back(level_from(l));
      s.controller.curriculum.levels.push_back(std::move(levels));
    }
    return s;
  } catch (const std::exception& e) {
    return Status::corruption(path.string() + ": " + e.what());
  }
}

}  // namespace troupe::actors
