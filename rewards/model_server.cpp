// The OpenAI-compatible server (see model_server.hpp).
#include "rewards/model_server.hpp"

#include <civetweb.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include <future>

#include "model/sampler.hpp"
#include "model/tokenizer.hpp"
#include "rewards/http_client.hpp"
#include "rewards/recipes.hpp"
#include "rewards/reward_model.hpp"

namespace troupe::rewards {

using Json = nlohmann::json;

struct ModelServer::Impl {
  ServerOptions options;
  std::string kind;  // policy | verifier | preference
  std::unique_ptr<model::Sampler> sampler;  // policy
  std::unique_ptr<ScoringModel> scorer;     // verifier, preference
  // The model runs here, not on civetweb's connection threads: their stacks are
  // too small for the kernels (a forward pass on one crashed with a stack overflow).
  std::unique_ptr<WorkerPool> model_thread = std::make_unique<WorkerPool>(1);
  // Requests are handled here (default-size stacks), civetweb's threads only wait for them.
  std::unique_ptr<WorkerPool> request_threads;
  std::atomic<uint64_t> next_id{1};
  mg_context* ctx = nullptr;
  int port = 0;
};

namespace {

using Impl = ModelServer::Impl;

// Runs f() on the model thread and waits for its result.
template <typename F>
auto on_model_thread(Impl& impl, F f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto result = task.get_future();
  impl.model_thread->submit([&task] { task(); });
  return result.get();
}

struct HttpError {
  int status;
  std::string message;
};

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    default: return "Internal Server Error";
  }
}

int send_json(mg_connection* conn, int status, const Json& body) {
  const std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  // One write of header and body, formatted here: civetweb's mg_printf needs more stack than its threads have.
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
                    "\r\nConnection: close\r\n\r\n" + text;
  mg_write(conn, out.data(), out.size());
  return status;
}

int send_error(mg_connection* conn, const HttpError& e) {
  return send_json(conn, e.status,
                   Json{{"error", {{"message", e.message}, {"type", e.status == 400 ? "invalid_request_error" : "error"}}}});
}

// The request body as JSON. Errors: too large, unreadable, not a JSON object.
std::optional<Json> read_body(mg_connection* conn, const Impl& impl, HttpError* err) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri->content_length > impl.options.max_body_bytes) {
    *err = {413, "request body over " + std::to_string(impl.options.max_body_bytes) + " bytes"};
    return std::nullopt;
  }
  std::string body;
  // On the heap: civetweb's connection threads have small stacks (a 16 KiB array here overflowed one).
  std::vector<char> buf(16384);
  for (;;) {
    const int n = mg_read(conn, buf.data(), buf.size());
    if (n <= 0) break;
    body.append(buf.data(), size_t(n));
    if (int64_t(body.size()) > impl.options.max_body_bytes) {
      *err = {413, "request body over " + std::to_string(impl.options.max_body_bytes) + " bytes"};
      return std::nullopt;
    }
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *err = {400, "the request body is not a JSON object"};
    return std::nullopt;
  }
  return j;
}

bool is_post(mg_connection* conn) { return std::string(mg_get_request_info(conn)->request_method) == "POST"; }

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Text of a chat message's content: a string, or an array of {"type":"text","text":...} parts.
std::string content_text(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string()) {
        out += part["text"].get<std::string>();
      }
    }
  }
  return out;
}

struct Completion {
  std::string text;
  std::string finish_reason;
  int prompt_tokens = 0, completion_tokens = 0;
};

// One completion of `prompt` by whatever the server holds.
Result<Completion> complete(Impl& impl, const std::string& prompt, const Json& req) {
  Completion c;
  if (impl.kind == "verifier") {
    auto fields = parse_compass_prompt(prompt);
    if (!fields) {
      return Status::invalid_argument("this server holds a verifier: send the compass_verifier prompt "
                                      "(question, standard answer, candidate) or use /v1/score");
    }
    auto p = on_model_thread(
        impl, [&] { return impl.scorer->judge({fields->question}, {fields->reference}, {fields->response}); });
    if (!p) return p.status();
    const auto& probs = (*p)[0];
    const auto best = std::max_element(probs.begin(), probs.end()) - probs.begin();
    c.text = std::string(1, compass_letter(VerifierLabel(best)));
    c.finish_reason = "stop";
    c.prompt_tokens = int(prompt.size());
    c.completion_tokens = 1;
    return c;
  }
  if (impl.kind != "policy") {
    return Status::invalid_argument("this server holds a preference model: use /v1/score");
  }
  model::SamplingParams params;
  params.max_new_tokens = req.value("max_tokens", 64);
  params.temperature = req.value("temperature", 1.0f);
  params.top_p = req.value("top_p", 1.0f);
  params.seed = req.value("seed", uint64_t(impl.next_id.load()));
  if (params.max_new_tokens < 1) return Status::invalid_argument("max_tokens must be >= 1");
  if (req.contains("stop")) {
    if (req["stop"].is_string()) params.stop.push_back(req["stop"].get<std::string>());
    if (req["stop"].is_array()) {
      for (const auto& s : req["stop"]) {
        if (s.is_string()) params.stop.push_back(s.get<std::string>());
      }
    }
  }
  const int context = impl.sampler->model().config().context;
  params.max_new_tokens = std::min(params.max_new_tokens, context - 3);  // 3: BOS, SEP and one prompt byte
  // Keep the prompt's tail when prompt and completion do not fit the context together.
  std::string_view text = prompt;
  const size_t room = size_t(context - params.max_new_tokens - 2);
  if (text.size() > room) text = text.substr(text.size() - room);
  auto tokens = model::encode_prompt(text);
  auto out = on_model_thread(impl, [&] { return impl.sampler->sample({tokens}, params); });
  if (!out) return out.status();
  const auto& r = (*out)[0];
  c.text = r.text;
  c.finish_reason = r.stop == model::StopReason::kEos || r.stop == model::StopReason::kStopString ? "stop" : "length";
  c.prompt_tokens = int(tokens.size());
  c.completion_tokens = int(r.tokens.size());
  return c;
}

int handle_completions(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  if (!is_post(conn)) return send_error(conn, {405, "use POST"});
  HttpError err;
  auto req = read_body(conn, impl, &err);
  if (!req) return send_error(conn, err);
  std::vector<std::string> prompts;
  if ((*req)["prompt"].is_string()) {
    prompts.push_back((*req)["prompt"].get<std::string>());
  } else if ((*req)["prompt"].is_array()) {
    for (const auto& p : (*req)["prompt"]) {
      if (!p.is_string()) return send_error(conn, {400, "\"prompt\" must be a string or an array of strings"});
      prompts.push_back(p.get<std::string>());
    }
  }
  if (prompts.empty()) return send_error(conn, {400, "\"prompt\" must be a string or an array of strings"});
  Json choices = Json::array();
  int pt = 0, ct = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto c = complete(impl, prompts[i], *req);
    if (!c) return send_error(conn, {400, c.status().message()});
    choices.push_back({{"index", i}, {"text", c->text}, {"logprobs", nullptr}, {"finish_reason", c->finish_reason}});
    pt += c->prompt_tokens;
    ct += c->completion_tokens;
  }
  return send_json(conn, 200,
                   {{"id", "cmpl-" + std::to_string(impl.next_id++)}, {"object", "text_completion"},
                    {"created", unix_seconds()}, {"model", impl.options.model_name}, {"choices", choices},
                    {"usage", {{"prompt_tokens", pt}, {"completion_tokens", ct}, {"total_tokens", pt + ct}}}});
}

int handle_chat(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  if (!is_post(conn)) return send_error(conn, {405, "use POST"});
  HttpError err;
  auto req = read_body(conn, impl, &err);
  if (!req) return send_error(conn, err);
  if (!(*req)["messages"].is_array() || (*req)["messages"].empty()) {
    return send_error(conn, {400, "\"messages\" must be a non-empty array"});
  }
  std::string prompt;
  bool found = false;
  for (const auto& m : (*req)["messages"]) {
    if (!m.is_object()) return send_error(conn, {400, "each message must be an object with role and content"});
    if (m.value("role", "") == "user" && m.contains("content")) {
      prompt = content_text(m["content"]);
      found = true;
    }
  }
  if (!found) return send_error(conn, {400, "no user message"});
  auto c = complete(impl, prompt, *req);
  if (!c) return send_error(conn, {400, c.status().message()});
  return send_json(conn, 200,
                   {{"id", "chatcmpl-" + std::to_string(impl.next_id++)}, {"object", "chat.completion"},
                    {"created", unix_seconds()}, {"model", impl.options.model_name},
                    {"choices", Json::array({{{"index", 0},
                                              {"message", {{"role", "assistant"}, {"content", c->text}}},
                                              {"finish_reason", c->finish_reason}}})},
                    {"usage", {{"prompt_tokens", c->prompt_tokens}, {"completion_tokens", c->completion_tokens},
                               {"total_tokens", c->prompt_tokens + c->completion_tokens}}}});
}

int handle_score(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  if (!is_post(conn)) return send_error(conn, {405, "use POST"});
  HttpError err;
  auto req = read_body(conn, impl, &err);
  if (!req) return send_error(conn, err);
  if (impl.kind == "policy") return send_error(conn, {400, "this server holds a policy, not a reward model"});
  if (req->contains("kind") && (*req)["kind"] != impl.kind) {
    return send_error(conn, {400, "this server holds a " + impl.kind + " model, the request asks for " +
                                      (*req)["kind"].dump()});
  }
  const Json& items = (*req)["items"];
  if (!items.is_array() || items.empty()) return send_error(conn, {400, "\"items\" must be a non-empty array"});
  if (int(items.size()) > impl.options.max_items) {
    return send_error(conn, {413, "more than " + std::to_string(impl.options.max_items) + " items"});
  }
  std::vector<std::string> prompts, refs, responses;
  for (const auto& it : items) {
    if (!it.is_object() || !it.contains("response") || !it["response"].is_string()) {
      return send_error(conn, {400, "each item needs a string \"response\" (and \"prompt\", \"reference\")"});
    }
    auto str = [&](const char* k) { return it.contains(k) && it[k].is_string() ? it[k].get<std::string>() : ""; };
    prompts.push_back(it.contains("prompt") ? str("prompt") : str("question"));
    refs.push_back(str("reference"));
    responses.push_back(str("response"));
  }
  Json out = Json::array();
  if (impl.kind == "verifier") {
    auto p = on_model_thread(impl, [&] { return impl.scorer->judge(prompts, refs, responses); });
    if (!p) return send_error(conn, {400, p.status().message()});
    for (size_t i = 0; i < p->size(); ++i) {
      const auto& pr = (*p)[i];
      const auto best = std::max_element(pr.begin(), pr.end()) - pr.begin();
      out.push_back({{"index", i}, {"object", "score"}, {"score", pr[0]},
                     {"label", label_name(VerifierLabel(best))}, {"probs", {pr[0], pr[1], pr[2]}}});
    }
  } else {
    auto s = on_model_thread(impl, [&] { return impl.scorer->preference(prompts, responses); });
    if (!s) return send_error(conn, {400, s.status().message()});
    for (size_t i = 0; i < s->size(); ++i) out.push_back({{"index", i}, {"object", "score"}, {"score", (*s)[i]}});
  }
  return send_json(conn, 200, {{"object", "list"}, {"model", impl.options.model_name}, {"data", out}});
}

int handle_health(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  return send_json(conn, 200, {{"status", "ok"}, {"kind", impl.kind}, {"model", impl.options.model_name}});
}

int handle_models(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  return send_json(conn, 200,
                   {{"object", "list"},
                    {"data", Json::array({{{"id", impl.options.model_name}, {"object", "model"},
                                           {"created", unix_seconds()}, {"owned_by", "troupe"}}})}});
}

// Runs handler H on a request thread while civetweb's connection thread waits.
template <int (*H)(mg_connection*, void*)>
int on_request_thread(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Impl*>(data);
  std::packaged_task<int()> task([conn, data] { return H(conn, data); });
  auto result = task.get_future();
  impl.request_threads->submit([&task] { task(); });
  return result.get();
}

int handle_other(mg_connection* conn, void*) {
  return send_error(conn, {404, std::string("no such endpoint: ") + mg_get_request_info(conn)->local_uri});
}

}  // namespace

ModelServer::ModelServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ModelServer::~ModelServer() {
  if (impl_ && impl_->ctx) mg_stop(impl_->ctx);
}

int ModelServer::port() const { return impl_->port; }
const char* ModelServer::kind() const { return impl_->kind.c_str(); }

Result<std::unique_ptr<ModelServer>> ModelServer::start(model::Transformer model, const ServerOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!model.config().scalar_head) {
    impl->kind = "policy";
    impl->sampler = std::make_unique<model::Sampler>(std::move(model));
  } else {
    impl->kind = model.config().head_outputs == 3 ? "verifier" : "preference";
    if (model.config().head_outputs != 3 && model.config().head_outputs != 1) {
      return Status::invalid_argument("a score head of " + std::to_string(model.config().head_outputs) +
                                      " outputs is neither a verifier (3) nor a preference model (1)");
    }
    impl->scorer = std::make_unique<ScoringModel>(std::move(model));
  }
  const std::string ports = options.host + ":" + std::to_string(options.port);
  const std::string threads = std::to_string(std::max(1, options.threads));
  const char* opts[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                        "request_timeout_ms", "60000", nullptr};  // 60 s: a long batch on a busy CPU
  impl->request_threads = std::make_unique<WorkerPool>(std::max(1, options.threads));
  mg_callbacks callbacks{};
  impl->ctx = mg_start(&callbacks, nullptr, opts);
  if (!impl->ctx) return Status::unavailable("cannot listen on " + ports + " (in use, or not a local address?)");
  mg_set_request_handler(impl->ctx, "/health", on_request_thread<handle_health>, impl.get());
  mg_set_request_handler(impl->ctx, "/v1/models", on_request_thread<handle_models>, impl.get());
  mg_set_request_handler(impl->ctx, "/v1/completions", on_request_thread<handle_completions>, impl.get());
  mg_set_request_handler(impl->ctx, "/v1/chat/completions", on_request_thread<handle_chat>, impl.get());
  mg_set_request_handler(impl->ctx, "/v1/score", on_request_thread<handle_score>, impl.get());
  mg_set_request_handler(impl->ctx, "/", handle_other, impl.get());
  mg_server_port bound[4];
  const int n = mg_get_server_ports(impl->ctx, 4, bound);
  impl->port = n > 0 ? bound[0].port : options.port;
  return std::unique_ptr<ModelServer>(new ModelServer(std::move(impl)));
}

}  // namespace troupe::rewards
