// Checkpoints: a directory holding
//   config.json            ModelConfig (model/config.hpp), plus "policy_version"
//   model.safetensors      every weight, float32, little-endian
//   optimizer.safetensors  (optional) AdamW moments "<name>.exp_avg", "<name>.exp_avg_sq";
//                          metadata "step" = optimiser steps taken
// in the safetensors format: an 8-byte little-endian header length n, a JSON
// header {name: {"dtype":"F32","shape":[...],"data_offsets":[begin,end]},
// "__metadata__": {string: string}} padded with spaces so that n is a multiple
// of 8 (the data starts 8-byte aligned), then the data, where the tensors in
// offset order tile the data section exactly from byte 0 (no gaps, overlaps or
// trailing bytes: the rules the safetensors package enforces on open; the
// reader enforces them too). Readable by the `safetensors` Python package,
// PyTorch, or plain json+struct+numpy:
//   python3 -c "import json,struct,numpy as np;f=open('DIR/model.safetensors','rb');n=struct.unpack('<Q',f.read(8))[0];h=json.loads(f.read(n));print({k:v['shape'] for k,v in h.items() if k!='__metadata__'})"
//
// Tensor names (GPT-2 / Hugging Face layout, weights stored (out, in)):
//   wte (vocab, d)                     token embedding, tied with the output head
//   wpe (context, d)                   learned positions
//   h.{l}.ln_1.weight, h.{l}.ln_1.bias (d)
//   h.{l}.attn.c_attn.weight (3d, d), h.{l}.attn.c_attn.bias (3d)   q, k, v stacked
//   h.{l}.attn.c_proj.weight (d, d),  h.{l}.attn.c_proj.bias (d)
//   h.{l}.ln_2.weight, h.{l}.ln_2.bias (d)
//   h.{l}.mlp.c_fc.weight (4d, d),    h.{l}.mlp.c_fc.bias (4d)
//   h.{l}.mlp.c_proj.weight (d, 4d),  h.{l}.mlp.c_proj.bias (d)
//   ln_f.weight, ln_f.bias (d)
//   score_head.weight (d), score_head.bias (1)   only with scalar_head, head_outputs K = 1
//   score_head.weight (K, d), score_head.bias (K)  with scalar_head and K > 1 (e.g. the 3-way verifier)
//   score_head.weight (K, 2d), score_head.bias (K), score_pool.query (d)   with score_readout "pool"
//   wfe (F, d)   last, only with feature_vocab F > 0 (the per-token feature channel)
// Metadata of model.safetensors: "format": "pt", "policy_version".
//
// Loading checks every byte count and shape: a truncated file, a header that
// does not parse, a tensor missing, extra, or of another shape than config.json
// implies, each fails with a message naming the file and the tensor.
// Saving writes to temporary files and renames them into place. Functions are
// thread-safe as long as two threads do not write the same directory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model/optimizer.hpp"
#include "model/transformer.hpp"

namespace troupe::model {

// Writes config.json and model.safetensors, plus optimizer.safetensors when
// `optimizer` is given. Creates `dir` if needed.
[[nodiscard]] Status save_checkpoint(const std::string& dir, const Transformer& model,
                                     const AdamW* optimizer = nullptr);

// Reads config.json and model.safetensors (weights and policy version).
Result<Transformer> load_checkpoint(const std::string& dir);

// Restores AdamW moments and step count from optimizer.safetensors.
// Errors: file absent or not matching the model.
// With new_tensors_ok, tensors of `model` that the file lacks (a model that gained one since,
// e.g. with_feature_vocab) start with zero moments; the others must still match.
[[nodiscard]] Status load_optimizer_state(const std::string& dir, const Transformer& model, AdamW* optimizer,
                                          bool new_tensors_ok = false);

// ---- the safetensors format itself ----------------------------------------

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in file (offset) order
  std::map<std::string, std::string> metadata;
  const NamedTensor* find(const std::string& name) const;
};

[[nodiscard]] Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                                       const std::map<std::string, std::string>& metadata);
// Errors: io_error (cannot open), corruption (truncated, bad header, bad offsets),
// invalid_argument (a dtype other than F32).
Result<SafetensorsFile> read_safetensors(const std::string& path);

}  // namespace troupe::model
