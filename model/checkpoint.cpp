// Safetensors checkpoints (model/checkpoint.hpp).
#include "model/checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace troupe::model {

namespace fs = std::filesystem;

namespace {

// Largest header we accept: a model with thousands of tensors needs well under 1 MiB.
// (The safetensors package accepts up to 100 MB.)
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Status write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::io_error("cannot open " + tmp + " for writing");
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) return Status::io_error("writing " + tmp + " failed (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::io_error("renaming " + tmp + " to " + path + ": " + ec.message());
  return Status::ok();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::not_found("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<NamedTensor> model_tensors(const Transformer& m, std::span<const float> buffer, const char* suffix) {
  std::vector<NamedTensor> out;
  for (const ParamTensor& t : m.tensors()) {
    out.push_back({t.name + suffix, t.shape,
                   std::vector<float>(buffer.begin() + long(t.offset), buffer.begin() + long(t.offset + t.numel))});
  }
  return out;
}

// Copies every tensor of `m` (with `suffix`) from `file` into `dst` (laid out as m's parameters).
// missing_ok: a tensor of m that the file lacks is zero-filled instead of an error.
Status fill_from(const SafetensorsFile& file, const Transformer& m, const char* suffix, const std::string& path,
                 float* dst, bool missing_ok = false) {
  if (file.tensors.size() != m.tensors().size()) {
    for (const NamedTensor& t : file.tensors) {
      bool known = false;
      for (const ParamTensor& p : m.tensors()) known = known || p.name + suffix == t.name;
      if (!known) return Status::invalid_argument(path + ": unexpected tensor \"" + t.name + "\" (not in this model config)");
    }
  }
  for (const ParamTensor& p : m.tensors()) {
    const NamedTensor* t = file.find(p.name + suffix);
    if (t == nullptr && missing_ok) {
      std::fill_n(dst + p.offset, p.numel, 0.0f);
      continue;
    }
    if (t == nullptr) return Status::invalid_argument(path + ": tensor \"" + p.name + suffix + "\" is missing");
    if (t->shape != p.shape) {
      return Status::invalid_argument(path + ": tensor \"" + t->name + "\" has shape " + shape_str(t->shape) +
                                      ", config.json implies " + shape_str(p.shape));
    }
    std::copy(t->data.begin(), t->data.end(), dst + p.offset);
  }
  return Status::ok();
}

}  // namespace

const NamedTensor* SafetensorsFile::find(const std::string& name) const {
  for (const NamedTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');  // the format recommends 8-byte aligned data
  std::string bytes(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xff);
  bytes += h;
  bytes.reserve(bytes.size() + offset);
  for (const NamedTensor& t : tensors) {
    bytes.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  }
  return write_file_atomically(path, bytes);
}

Result<SafetensorsFile> read_safetensors(const std::string& path) {
  auto raw = read_file(path);
  if (!raw) return raw.status();
  const std::string& b = *raw;
  if (b.size() < 8) {
    return Status::corruption(path + ": truncated (" + std::to_string(b.size()) + " bytes, less than the 8-byte header length)");
  }
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(b[i])) << (8 * i);
  if (n > kMaxHeaderBytes || 8 + n > b.size()) {
    return Status::corruption(path + ": header length " + std::to_string(n) + " exceeds the file (" +
                              std::to_string(b.size()) + " bytes): truncated or not a safetensors file");
  }
  nlohmann::json header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + long(n), nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::corruption(path + ": the JSON header does not parse");
  }
  const uint64_t data_size = b.size() - 8 - n;
  const char* data = b.data() + 8 + n;
  SafetensorsFile file;
  std::vector<std::pair<uint64_t, NamedTensor>> by_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return Status::corruption(path + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) return Status::corruption(path + ": __metadata__ value \"" + m.key() + "\" is not a string");
        file.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& e = *it;
    const std::string where = path + ": tensor \"" + it.key() + "\"";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["shape"].is_array() || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2) {
      return Status::corruption(where + ": entry needs dtype, shape and data_offsets [begin, end]");
    }
    if (e["dtype"] != "F32") {
      return Status::invalid_argument(where + ": dtype " + e["dtype"].dump() + " (only F32 is supported)");
    }
    NamedTensor t;
    t.name = it.key();
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return Status::corruption(where + ": bad shape");
      t.shape.push_back(d.get<int64_t>());
      numel *= uint64_t(t.shape.back());
    }
    if (!e["data_offsets"][0].is_number_unsigned() || !e["data_offsets"][1].is_number_unsigned()) {
      return Status::corruption(where + ": data_offsets must be non-negative integers");
    }
    const uint64_t begin = e["data_offsets"][0].get<uint64_t>(), end = e["data_offsets"][1].get<uint64_t>();
    if (end < begin || end - begin != numel * sizeof(float)) {
      return Status::corruption(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                "] do not hold " + std::to_string(numel) + " floats of shape " + shape_str(t.shape));
    }
    if (end > data_size) {
      return Status::corruption(where + " ends at byte " + std::to_string(end) + " but the file has " +
                                std::to_string(data_size) + " bytes of data: truncated");
    }
    t.data.resize(numel);
    if (numel > 0) std::memcpy(t.data.data(), data + begin, numel * sizeof(float));
    by_offset.emplace_back(begin, std::move(t));
  }
  // As the format (and the safetensors package) requires: in offset order the
  // tensors tile the data section exactly, from byte 0, without gaps or overlaps.
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& c) { return a.first < c.first; });
  uint64_t expected = 0;
  for (auto& [off, t] : by_offset) {
    if (off != expected) {
      return Status::corruption(path + ": tensor \"" + t.name + "\" starts at data byte " + std::to_string(off) +
                                ", expected " + std::to_string(expected) +
                                " (tensors must tile the data section without gaps or overlaps)");
    }
    expected += t.data.size() * sizeof(float);
    file.tensors.push_back(std::move(t));
  }
  if (expected != data_size) {
    return Status::corruption(path + ": the header accounts for " + std::to_string(expected) +
                              " bytes of data but the file holds " + std::to_string(data_size));
  }
  return file;
}

Status save_checkpoint(const std::string& dir, const Transformer& model, const AdamW* optimizer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error("creating checkpoint directory " + dir + ": " + ec.message());
  nlohmann::json cfg = nlohmann::json::parse(model.config().to_json());
  cfg["policy_version"] = model.version();
  TROUPE_RETURN_IF_ERROR(write_file_atomically(dir + "/config.json", cfg.dump(2) + "\n"));
  TROUPE_RETURN_IF_ERROR(write_safetensors(dir + "/model.safetensors", model_tensors(model, model.parameters(), ""),
                                           {{"format", "pt"}, {"policy_version", std::to_string(model.version())}}));
  if (optimizer != nullptr) {
    auto tensors = model_tensors(model, optimizer->m(), ".exp_avg");
    auto second = model_tensors(model, optimizer->v(), ".exp_avg_sq");
    for (auto& t : second) tensors.push_back(std::move(t));
    TROUPE_RETURN_IF_ERROR(write_safetensors(dir + "/optimizer.safetensors", tensors,
                                             {{"format", "pt"}, {"step", std::to_string(optimizer->steps())}}));
  }
  return Status::ok();
}

Result<Transformer> load_checkpoint(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  auto text = read_file(cfg_path);
  if (!text) return text.status().with_context("loading checkpoint " + dir);
  auto cfg = ModelConfig::from_json(*text, cfg_path);
  if (!cfg) return cfg.status();
  auto m = Transformer::create(*cfg, 0);
  if (!m) return m.status();
  const std::string path = dir + "/model.safetensors";
  auto file = read_safetensors(path);
  if (!file) return file.status();
  std::vector<float> params(m->parameters().size());
  TROUPE_RETURN_IF_ERROR(fill_from(*file, *m, "", path, params.data()));
  uint64_t version = 0;
  if (auto it = file->metadata.find("policy_version"); it != file->metadata.end()) {
    try {
      version = std::stoull(it->second);
    } catch (const std::exception&) {
      return Status::corruption(path + ": metadata policy_version \"" + it->second + "\" is not a number");
    }
  }
  TROUPE_RETURN_IF_ERROR(m->load_parameters(params, version));
  return m;
}

Status load_optimizer_state(const std::string& dir, const Transformer& model, AdamW* optimizer, bool new_tensors_ok) {
  const std::string path = dir + "/optimizer.safetensors";
  auto file = read_safetensors(path);
  if (!file) return file.status();
  // fill_from compares tensor counts with one suffix; moments come in two, so check each half.
  SafetensorsFile first, second;
  for (auto& t : file->tensors) {
    const bool sq = t.name.size() > 11 && t.name.compare(t.name.size() - 11, 11, ".exp_avg_sq") == 0;
    (sq ? second : first).tensors.push_back(t);
  }
  TROUPE_RETURN_IF_ERROR(fill_from(first, model, ".exp_avg", path, optimizer->m().data(), new_tensors_ok));
  TROUPE_RETURN_IF_ERROR(fill_from(second, model, ".exp_avg_sq", path, optimizer->v().data(), new_tensors_ok));
  auto it = file->metadata.find("step");
  if (it == file->metadata.end()) return Status::corruption(path + ": metadata has no \"step\"");
  try {
    optimizer->set_steps(std::stoll(it->second));
  } catch (const std::exception&) {
    return Status::corruption(path + ": metadata step \"" + it->second + "\" is not a number");
  }
  return Status::ok();
}

}  // namespace troupe::model
