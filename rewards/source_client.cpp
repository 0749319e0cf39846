// HTTP reward sources (see source_client.hpp).
#include "rewards/source_client.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "rewards/recipes.hpp"

namespace troupe::rewards {
namespace {

using Json = nlohmann::json;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Waits until `n` jobs have called done().
class Countdown {
 public:
  explicit Countdown(size_t n) : n_(n) {}
  void done() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_;
};

}  // namespace

Result<std::unique_ptr<SourceClient>> SourceClient::create(SourceClientConfig c) {
  if (c.endpoint.empty()) return Status::invalid_argument("reward source \"" + c.name + "\": no endpoint");
  if (c.recipe.empty()) c.recipe = "troupe";
  if (c.recipe != "troupe" && c.recipe != "compass_verifier") {
    return Status::invalid_argument("reward source \"" + c.name + "\": recipe \"" + c.recipe +
                                    "\" (expected troupe or compass_verifier)");
  }
  if (c.recipe == "compass_verifier" && c.preference) {
    return Status::invalid_argument("recipe compass_verifier is for verifier sources, not preference");
  }
  if (c.max_batch < 1 || c.concurrency < 1) return Status::invalid_argument("max_batch and concurrency must be >= 1");
  return std::unique_ptr<SourceClient>(new SourceClient(std::move(c)));
}

SourceClient::SourceClient(SourceClientConfig c) : config_(std::move(c)), pool_(config_.concurrency) {
  base_ = config_.endpoint;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.size() >= 3 && base_.compare(base_.size() - 3, 3, "/v1") == 0) base_.resize(base_.size() - 3);
}

std::vector<SourceResult> SourceClient::score(const std::vector<ScoreItem>& items) {
  std::vector<SourceResult> out(items.size());
  if (items.empty()) return out;
  const bool compass = config_.recipe == "compass_verifier";
  const size_t step = compass ? 1 : size_t(config_.max_batch);
  Countdown pending((items.size() + step - 1) / step);
  for (size_t b = 0; b < items.size(); b += step) {
    const size_t e = std::min(items.size(), b + step);
    pool_.submit([this, &items, &out, &pending, b, e, compass] {
      if (compass) {
        score_compass(items[b], &out[b]);
      } else {
        score_batch(items, b, e, &out);
      }
      pending.done();
    });
  }
  pending.wait();
  return out;
}

void SourceClient::score_batch(const std::vector<ScoreItem>& items, size_t begin, size_t end,
                               std::vector<SourceResult>* out) {
  const auto t0 = std::chrono::steady_clock::now();
  Json req{{"model", config_.model}, {"kind", config_.preference ? "preference" : "verifier"}};
  Json list = Json::array();
  for (size_t i = begin; i < end; ++i) {
    list.push_back({{"prompt", items[i].question}, {"reference", items[i].reference}, {"response", items[i].response}});
  }
  // Relative preference: each distinct (question, reference response) is scored once, after the
  // responses (a group's responses share one prompt, so a group of 8 costs 9 items, not 16).
  std::vector<size_t> ref_slot(end - begin);
  size_t refs = 0;
  if (config_.preference && config_.relative) {
    std::map<std::pair<std::string_view, std::string_view>, size_t> seen;
    for (size_t i = begin; i < end; ++i) {
      auto [it, fresh] = seen.try_emplace({items[i].question, items[i].reference}, refs);
      if (fresh) {
        list.push_back({{"prompt", items[i].question}, {"reference", ""}, {"response", items[i].reference}});
        ++refs;
      }
      ref_slot[i - begin] = it->second;
    }
  }
  req["items"] = std::move(list);
  const size_t n = end - begin;
  auto fail = [&](const std::string& why) {
    for (size_t i = begin; i < end; ++i) (*out)[i] = {0.0f, false, why, ms_since(t0)};
  };
  auto body = post_json(base_ + "/v1/score", req.dump(-1, ' ', false, Json::error_handler_t::replace), config_.http);
  if (!body) return fail(body.status().message());
  Json resp = Json::parse(*body, nullptr, false);
  if (resp.is_discarded() || !resp.contains("data") || !resp["data"].is_array() ||
      resp["data"].size() != n + refs) {
    return fail("malformed /v1/score reply: " + body->substr(0, 200));
  }
  const double latency = ms_since(t0);
  for (size_t k = 0; k < n; ++k) {
    const Json& d = resp["data"][k];
    if (!d.is_object() || !d.contains("score") || !d["score"].is_number()) return fail("malformed /v1/score item");
    SourceResult r{d["score"].get<float>(), true, d.value("label", std::string()), latency};
    if (config_.preference && config_.relative) {
      const Json& ref = resp["data"][n + ref_slot[k]];
      if (!ref.is_object() || !ref.contains("score") || !ref["score"].is_number()) return fail("malformed /v1/score item");
      r.score -= ref["score"].get<float>();
    }
    (*out)[begin + k] = std::move(r);
  }
}

void SourceClient::score_compass(const ScoreItem& item, SourceResult* out) {
  const auto t0 = std::chrono::steady_clock::now();
  Json req{{"model", config_.model},
           {"messages", Json::array({{{"role", "user"}, {"content", compass_prompt(item.question, item.reference,
                                                                                   item.response)}}})},
           {"temperature", 0},
           {"max_tokens", 16}};  // 16: room for "\boxed{A}" and a little text; the letter is what counts
  auto body = post_json(base_ + "/v1/chat/completions", req.dump(-1, ' ', false, Json::error_handler_t::replace),
                        config_.http);
  out->latency_ms = ms_since(t0);
  if (!body) {
    out->detail = body.status().message();
    return;
  }
  Json resp = Json::parse(*body, nullptr, false);
  std::string content;
  if (!resp.is_discarded() && resp.contains("choices") && resp["choices"].is_array() && !resp["choices"].empty()) {
    const Json& c = resp["choices"][0];
    if (c.contains("message") && c["message"].contains("content") && c["message"]["content"].is_string()) {
      content = c["message"]["content"].get<std::string>();
    }
  }
  auto label = parse_compass_judgement(content);
  if (!label) {
    out->detail = "no judgement letter in reply: " + content.substr(0, 100);
    return;
  }
  out->ok = true;
  out->score = *label == VerifierLabel::kCorrect ? 1.0f : 0.0f;
  out->detail = label_name(*label);
}

}  // namespace troupe::rewards
