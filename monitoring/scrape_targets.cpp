// Prometheus file_sd targets files (see scrape_targets.hpp).
#include "monitoring/scrape_targets.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace troupe::monitoring {

namespace fs = std::filesystem;

std::string scrape_targets_json(const std::string& run, const std::vector<ScrapeTarget>& targets) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& t : targets) {
    groups.push_back({{"targets", {t.address}}, {"labels", {{"run", run}, {"node", t.node}}}});
  }
  return groups.dump(2) + "\n";
}

Status write_scrape_targets(const std::string& path, const std::string& run,
                            const std::vector<ScrapeTarget>& targets) {
  // The temporary name is unique per process and starts with a dot: Prometheus reads
  // only files matching targets/*.json, so it never sees it.
  const fs::path final_path(path);
  const fs::path tmp = final_path.parent_path() / ("." + final_path.filename().string() + "." +
                                                   std::to_string(::getpid()) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      return Status::io_error("cannot write Prometheus targets \"" + tmp.string() + "\": " + std::strerror(errno));
    }
    out << scrape_targets_json(run, targets);
    out.flush();
    if (!out) return Status::io_error("writing Prometheus targets \"" + tmp.string() + "\" failed");
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::io_error("cannot rename Prometheus targets into \"" + path + "\": " + ec.message());
  }
  return Status::ok();
}

ScrapeTargets::~ScrapeTargets() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove(path_, ec);  // best effort: a leftover file only raises "node down"
}

Status ScrapeTargets::write(const std::string& dir, const std::string& run, const std::vector<ScrapeTarget>& targets) {
  const std::string path = (fs::path(dir) / (run + ".json")).string();
  TROUPE_RETURN_IF_ERROR(write_scrape_targets(path, run, targets));
  path_ = path;
  return Status::ok();
}

}  // namespace troupe::monitoring
