// A small HTTP client for OpenAI-compatible servers, on libcurl.
//
// post_json() sends one JSON body and returns the response body. It retries
// what may succeed on a second try -- a connection that failed or timed out,
// HTTP 429 and 5xx -- up to `retries` more times, waiting backoff_ms * 2^attempt
// (with up to +50% jitter, so clients that failed together do not retry
// together); other 4xx answers fail at once with the server's message. Every
// attempt is bounded by timeout_ms. Thread-safe: each call uses its own handle.
//
// WorkerPool runs jobs on a fixed number of threads: it is how a reward source
// keeps at most `concurrency` requests in flight.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.hpp"

namespace troupe::rewards {

struct HttpOptions {
  int64_t timeout_ms = 10000;  // Default: 10 s per attempt
  int retries = 3;             // Default: 3 retries after the first attempt
  int64_t backoff_ms = 100;    // Default: 100 ms before the first retry, doubling
  std::string api_key;         // sent as "Authorization: Bearer ..." when set. Default: none
};

// POSTs `body` (JSON) to `url`. Errors: unavailable (after the retries),
// invalid_argument (a 4xx other than 429), naming the URL and the last failure.
Result<std::string> post_json(const std::string& url, const std::string& body, const HttpOptions& options,
                              int* attempts = nullptr);

// GETs `url` once (no retries). Errors as post_json.
Result<std::string> get_url(const std::string& url, int64_t timeout_ms);

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  void submit(std::function<void()> job);
  int threads() const { return int(threads_.size()); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace troupe::rewards
