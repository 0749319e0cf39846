// Prometheus file-based service discovery: the targets file a run writes so that
// monitoring/prometheus/prometheus.yml scrapes its nodes.
//
// A targets file is a JSON list of groups, one per node:
//   [{"targets": ["HOST:PORT"], "labels": {"run": RUN, "node": NODE}}]
// It is written whole to a temporary file beside it and renamed into place, so
// Prometheus (which watches the directory) never reads half a file. ScrapeTargets
// removes the file it wrote when destroyed, so a finished run stops being scraped
// instead of raising "node down". Not thread-safe; one owner per file.
#pragma once

#include <string>
#include <vector>

#include "base/status.hpp"

namespace troupe::monitoring {

struct ScrapeTarget {
  std::string address;  // HOST:PORT serving /metrics
  std::string node;     // the node's name (the `node` label)
};

// The file's text (exposed for tests).
std::string scrape_targets_json(const std::string& run, const std::vector<ScrapeTarget>& targets);

// Writes `path` atomically. Errors name the path and the cause.
Status write_scrape_targets(const std::string& path, const std::string& run,
                            const std::vector<ScrapeTarget>& targets);

// Owns one targets file: written by `write`, removed by the destructor.
class ScrapeTargets {
 public:
  ScrapeTargets() = default;
  ~ScrapeTargets();
  ScrapeTargets(const ScrapeTargets&) = delete;
  ScrapeTargets& operator=(const ScrapeTargets&) = delete;

  // Writes DIR/RUN.json (rewriting it on a later call). REQUIRES: `dir` exists.
  Status write(const std::string& dir, const std::string& run, const std::vector<ScrapeTarget>& targets);
  // The file written, or "".
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace troupe::monitoring
