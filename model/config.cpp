// ModelConfig validation, sizes and JSON (model/config.hpp).
#include "model/config.hpp"

#include <nlohmann/json.hpp>

namespace troupe::model {

Status ModelConfig::validate() const {
  auto bad = [](const std::string& what) { return Status::invalid_argument("model config: " + what); };
  if (vocab_size < 260) return bad("vocab_size " + std::to_string(vocab_size) + " < 260 (256 bytes + 4 specials)");
  if (d_model <= 0 || n_layers <= 0 || n_heads <= 0 || context <= 1) {
    return bad("d_model, n_layers, n_heads must be > 0 and context > 1");
  }
  if (head_outputs < 1 || head_outputs > 4096) {  // 4096: far above any classifier head we train
    return bad("head_outputs " + std::to_string(head_outputs) + " is outside [1, 4096]");
  }
  if (score_readout != "last" && score_readout != "pool") {
    return bad("score_readout \"" + score_readout + "\" is neither \"last\" nor \"pool\"");
  }
  if (feature_vocab < 0 || feature_vocab > 4096) {  // 4096: a table of feature ids, not a vocabulary of words
    return bad("feature_vocab " + std::to_string(feature_vocab) + " is outside [0, 4096]");
  }
  if (d_model % n_heads != 0) {
    return bad("d_model " + std::to_string(d_model) + " is not divisible by n_heads " + std::to_string(n_heads));
  }
  return Status::ok();
}

long ModelConfig::num_parameters() const {
  const long C = d_model;
  const long per_layer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C) + (4 * C * C + C);
  // The score head reads C features per row, or 2C (pooled beside last) plus the pool's query (C).
  const long head = !scalar_head ? 0 : pooled_readout() ? long(head_outputs) * (2 * C + 1) + C : long(head_outputs) * (C + 1);
  return long(vocab_size) * C + long(context) * C + n_layers * per_layer + 2 * C + head + long(feature_vocab) * C;
}

double ModelConfig::flops_per_token(int seq_len) const {
  const double C = d_model;
  const double per_layer = 12.0 * C * C + 13.0 * C;
  const double n = n_layers * per_layer + 2.0 * C + double(vocab_size) * C;  // + final LN + output head
  return 6.0 * n + 12.0 * n_layers * C * seq_len;
}

std::string ModelConfig::to_json() const {
  nlohmann::json j = {{"vocab_size", vocab_size}, {"d_model", d_model},   {"n_layers", n_layers},
                      {"n_heads", n_heads},       {"context", context},   {"scalar_head", scalar_head},
                      {"head_outputs", head_outputs}, {"architecture", "troupe-gpt2"}};
  if (scalar_head) j["score_readout"] = score_readout;
  if (feature_vocab > 0) j["feature_vocab"] = feature_vocab;
  return j.dump(2);
}

Result<ModelConfig> ModelConfig::from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid_argument(origin + ": not a JSON object (expected a model config)");
  }
  ModelConfig c;
  auto get_int = [&](const char* key, int* out) -> Status {
    if (!j.contains(key)) return Status::invalid_argument(origin + ": missing key \"" + key + "\"");
    if (!j[key].is_number_integer()) return Status::invalid_argument(origin + ": key \"" + key + "\" must be an integer");
    *out = j[key].get<int>();
    return Status::ok();
  };
  TROUPE_RETURN_IF_ERROR(get_int("vocab_size", &c.vocab_size));
  TROUPE_RETURN_IF_ERROR(get_int("d_model", &c.d_model));
  TROUPE_RETURN_IF_ERROR(get_int("n_layers", &c.n_layers));
  TROUPE_RETURN_IF_ERROR(get_int("n_heads", &c.n_heads));
  TROUPE_RETURN_IF_ERROR(get_int("context", &c.context));
  if (j.contains("scalar_head")) {
    if (!j["scalar_head"].is_boolean()) return Status::invalid_argument(origin + ": key \"scalar_head\" must be a boolean");
    c.scalar_head = j["scalar_head"].get<bool>();
  }
  if (j.contains("head_outputs")) {  // absent in checkpoints written before K-way heads: K = 1
    TROUPE_RETURN_IF_ERROR(get_int("head_outputs", &c.head_outputs));
  }
  if (j.contains("score_readout")) {  // absent in checkpoints written before pooled readouts: "last"
    if (!j["score_readout"].is_string()) {
      return Status::invalid_argument(origin + ": key \"score_readout\" must be a string (\"last\" or \"pool\")");
    }
    c.score_readout = j["score_readout"].get<std::string>();
  }
  if (j.contains("feature_vocab")) {  // absent in checkpoints written before the feature channel: none
    TROUPE_RETURN_IF_ERROR(get_int("feature_vocab", &c.feature_vocab));
  }
  Status s = c.validate();
  if (!s) return s.with_context(origin);
  return c;
}

}  // namespace troupe::model
