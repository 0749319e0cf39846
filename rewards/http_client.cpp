// libcurl POST with retries and the worker pool (see http_client.hpp).
#include "rewards/http_client.hpp"

#include <curl/curl.h>

#include <chrono>
#include <random>

namespace troupe::rewards {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

Attempt perform(const std::string& url, const std::string* body, int64_t timeout_ms, const std::string& api_key) {
  global_init();
  Attempt a;
  CURL* h = curl_easy_init();
  if (!h) {
    a.code = CURLE_FAILED_INIT;
    return a;
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!api_key.empty()) {
    auth = "Authorization: Bearer " + api_key;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body->size()));
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, long(timeout_ms));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are multi-threaded
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  a.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return a;
}

std::string describe(const Attempt& a) {
  if (a.code != CURLE_OK) return curl_easy_strerror(a.code);
  return "HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 300);
}

}  // namespace

Result<std::string> post_json(const std::string& url, const std::string& body, const HttpOptions& o, int* attempts) {
  thread_local std::mt19937_64 jitter_rng(std::random_device{}());
  Attempt a;
  for (int attempt = 0; attempt <= o.retries; ++attempt) {
    if (attempts) *attempts = attempt + 1;
    if (attempt > 0) {
      const int64_t base = o.backoff_ms << std::min(attempt - 1, 16);  // 16: caps the shift, not the wait
      const int64_t wait = base + std::uniform_int_distribution<int64_t>(0, base / 2)(jitter_rng);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
    a = perform(url, &body, o.timeout_ms, o.api_key);
    if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) return std::move(a.body);
    const bool retryable = a.code != CURLE_OK || a.status == 429 || a.status >= 500;
    if (!retryable) return Status::invalid_argument("POST " + url + ": " + describe(a));
  }
  return Status::unavailable("POST " + url + " failed after " + std::to_string(o.retries + 1) +
                             " attempt(s): " + describe(a));
}

Result<std::string> get_url(const std::string& url, int64_t timeout_ms) {
  Attempt a = perform(url, nullptr, timeout_ms, "");
  if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) return std::move(a.body);
  return Status::unavailable("GET " + url + ": " + describe(a));
}

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
          if (jobs_.empty()) return;  // stopping and drained
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

}  // namespace troupe::rewards
