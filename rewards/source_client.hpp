// A reward source behind an HTTP endpoint: the client the reward actor uses to
// ask a verifier or preference model for scores.
//
// Recipes (`recipe` in the reward source config):
//   troupe            (default) POST {endpoint}/v1/score -- troupe serve's scoring
//                     endpoint -- with up to max_batch items per request. A
//                     verifier's score is P(correct); a preference model's is its
//                     scalar, minus the reference response's scalar when
//                     `relative` (POLAR-style scoring against a reference).
//   compass_verifier  POST {endpoint}/v1/chat/completions, one request per item,
//                     with the CompassVerifier prompt (rewards/recipes.hpp): A ->
//                     1, B -> 0, C -> 0 (detail "invalid"); a reply without a
//                     judgement letter counts as a failure. Works with vLLM,
//                     SGLang and LMDeploy serving CompassVerifier, and with
//                     `troupe serve` serving a troupe verifier.
// At most `concurrency` requests are in flight per client; each has a timeout
// and is retried with backoff (rewards/http_client.hpp). A failed item comes
// back with ok = false, so the task recipe's fallback decides. score() blocks
// its caller and may be called from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "rewards/http_client.hpp"

namespace troupe::rewards {

struct SourceClientConfig {
  std::string name = "verifier";  // metrics label: verifier | preference
  bool preference = false;        // a preference model (scalar) rather than a verifier
  std::string endpoint;           // base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted)
  std::string recipe = "troupe";  // troupe | compass_verifier
  std::string model;              // the "model" field of requests. Default: empty (servers with one model)
  HttpOptions http;
  int max_batch = 32;             // Default: 32 items per /v1/score request
  int concurrency = 4;            // Default: 4 requests in flight
  bool relative = false;          // preference: subtract the reference response's score
};

struct ScoreItem {
  std::string question;   // the prompt
  std::string reference;  // the reference answer (verifier) or reference response (relative preference)
  std::string response;
};

struct SourceResult {
  float score = 0;
  bool ok = false;
  std::string detail;       // "correct" / "incorrect" / "invalid", or the error
  double latency_ms = 0;    // of the request that carried this item
};

class SourceClient {
 public:
  // Errors: an unknown recipe, a recipe that does not fit the kind, an empty endpoint.
  static Result<std::unique_ptr<SourceClient>> create(SourceClientConfig config);
  const SourceClientConfig& config() const { return config_; }
  std::vector<SourceResult> score(const std::vector<ScoreItem>& items);

 private:
  explicit SourceClient(SourceClientConfig config);
  void score_batch(const std::vector<ScoreItem>& items, size_t begin, size_t end, std::vector<SourceResult>* out);
  void score_compass(const ScoreItem& item, SourceResult* out);

  SourceClientConfig config_;
  std::string base_;  // endpoint without a trailing / or /v1
  WorkerPool pool_;
};

}  // namespace troupe::rewards
