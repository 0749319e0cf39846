// `troupe serve`: a troupe checkpoint behind an OpenAI-compatible HTTP API, on civetweb.
//
// Endpoints (JSON in, JSON out; errors are {"error": {"message", "type"}} with 400/404/405/413):
//   GET  /health                 {"status": "ok", "kind": "policy" | "verifier" | "preference"}
//   GET  /v1/models              the one model, named --name (default: the checkpoint's folder name)
//   POST /v1/completions         {"prompt": str | [str], "max_tokens", "temperature", "top_p", "stop", "seed"}
//   POST /v1/chat/completions    {"messages": [{"role", "content"}], ...}: the last user message is the prompt
//   POST /v1/score               {"kind"?, "items": [{"prompt", "reference", "response"}]} ->
//                                {"data": [{"index", "score", "label"?, "probs"?}]}
// A policy checkpoint samples completions (byte-level: the prompt is encoded as
// the policy sees prompts). A verifier checkpoint (3-way head) answers /v1/score
// with P(correct) and its label, and answers a completion or chat request that
// carries the CompassVerifier prompt (rewards/recipes.hpp) with the letter
// A, B or C -- so it stands in for CompassVerifier. A preference checkpoint
// (scalar head) answers /v1/score with its scalar.
// Requests run on civetweb's worker threads; the model is used by one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.hpp"
#include "model/transformer.hpp"

namespace troupe::rewards {

struct ServerOptions {
  std::string host = "127.0.0.1";  // Default: loopback only
  int port = 8000;                 // Default: 8000; 0 picks a free port
  int threads = 4;                 // Default: 4 connection threads
  std::string model_name = "troupe";
  int64_t max_body_bytes = int64_t{8} << 20;  // Default: 8 MiB per request
  int max_items = 4096;            // Default: 4096 items per /v1/score request
};

class ModelServer {
 public:
  // Starts serving. Errors: the address cannot be bound (named).
  static Result<std::unique_ptr<ModelServer>> start(model::Transformer model, const ServerOptions& options);
  ~ModelServer();  // stops the server, finishing requests in flight
  int port() const;
  const char* kind() const;

  struct Impl;

 private:
  explicit ModelServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::rewards
