// Safetensors checkpoints: round trip, bit-identical resumption of training,
// clear failures on truncated or mismatched files, and a reader in plain
// Python (json + struct) that sees the same tensors.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "model/checkpoint.hpp"
#include "model/tokenizer.hpp"

namespace troupe::model {
namespace {

namespace fs = std::filesystem;

ModelConfig small() {
  ModelConfig c;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.context = 16;
  return c;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_ckpt_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }
  fs::path dir_;
};

TokenBatch batch_for(int step) {
  std::vector<std::vector<int>> p, r;
  for (int i = 0; i < 4; ++i) {
    p.push_back(encode_prompt(std::to_string(step * 4 + i)));
    r.push_back(encode_bytes(std::to_string((step * 4 + i) * 7)));
    r.back().push_back(kEos);
  }
  return TokenBatch::from_pairs(p, r, 16, 260).value();
}

void train(Transformer& m, AdamW& opt, int from, int to) {
  std::vector<float> logp, dlogp;
  for (int s = from; s < to; ++s) {
    TokenBatch b = batch_for(s);
    ASSERT_TRUE(m.forward(b, &logp).is_ok());
    weighted_nll(b, logp, &dlogp);
    m.zero_grad();
    ASSERT_TRUE(m.backward(dlogp).is_ok());
    ASSERT_TRUE(opt.step(m, 3e-3f).is_ok());
  }
}

TEST_F(CheckpointTest, SaveLoadContinueIsBitIdentical) {
  auto a = Transformer::create(small(), 31);
  ASSERT_TRUE(a.is_ok());
  AdamW opt_a(*a, AdamWConfig{});
  train(*a, opt_a, 0, 5);
  ASSERT_TRUE(save_checkpoint(dir(), *a, &opt_a).is_ok());
  train(*a, opt_a, 5, 10);

  auto b = load_checkpoint(dir());
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->config(), small());
  EXPECT_EQ(b->version(), 5u);
  AdamW opt_b(*b, AdamWConfig{});
  ASSERT_TRUE(load_optimizer_state(dir(), *b, &opt_b).is_ok());
  EXPECT_EQ(opt_b.steps(), 5);
  train(*b, opt_b, 5, 10);
  ASSERT_EQ(a->parameters().size(), b->parameters().size());
  EXPECT_EQ(std::memcmp(a->parameters().data(), b->parameters().data(), a->parameters().size_bytes()), 0);
  EXPECT_EQ(b->version(), a->version());
}

TEST_F(CheckpointTest, OptimizerStateOfAModelThatGainedATensor) {
  // A checkpoint continued with a feature channel added: the old tensors keep their moments and
  // the new one starts at zero, but only when asked; anything else that differs still fails.
  auto a = Transformer::create(small(), 33);
  ASSERT_TRUE(a.is_ok());
  AdamW opt_a(*a, AdamWConfig{});
  train(*a, opt_a, 0, 3);
  ASSERT_TRUE(save_checkpoint(dir(), *a, &opt_a).is_ok());
  auto f = with_feature_vocab(*a, 4);
  ASSERT_TRUE(f.is_ok());
  AdamW opt_f(*f, AdamWConfig{});
  auto strict = load_optimizer_state(dir(), *f, &opt_f);
  EXPECT_FALSE(strict.is_ok());
  EXPECT_NE(strict.message().find("wfe.exp_avg"), std::string::npos) << strict.message();
  std::fill(opt_f.m().begin(), opt_f.m().end(), 1.0f);
  ASSERT_TRUE(load_optimizer_state(dir(), *f, &opt_f, true).is_ok());
  EXPECT_EQ(opt_f.steps(), 3);
  const ParamTensor& wfe = f->tensors().back();
  for (std::size_t i = 0; i < wfe.offset; ++i) ASSERT_EQ(opt_f.m()[i], opt_a.m()[i]) << i;
  for (std::size_t i = 0; i < wfe.numel; ++i) ASSERT_EQ(opt_f.m()[wfe.offset + i], 0.0f) << i;
  ModelConfig wider = small();
  wider.d_model *= 2;
  auto w = Transformer::create(wider, 1);
  AdamW opt_w(*w, AdamWConfig{});
  EXPECT_FALSE(load_optimizer_state(dir(), *w, &opt_w, true).is_ok());
}

TEST_F(CheckpointTest, TruncatedFileFailsClearly) {
  auto m = Transformer::create(small(), 32);
  ASSERT_TRUE(save_checkpoint(dir(), *m).is_ok());
  const std::string path = dir() + "/model.safetensors";
  fs::resize_file(path, fs::file_size(path) - 100);
  auto r = load_checkpoint(dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("model.safetensors"), std::string::npos);
  fs::resize_file(path, 5);
  r = load_checkpoint(dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

TEST_F(CheckpointTest, MismatchedConfigOrTensorsFailClearly) {
  auto m = Transformer::create(small(), 33);
  ASSERT_TRUE(save_checkpoint(dir(), *m).is_ok());
  // config.json says another width than the weights have.
  ModelConfig wider = small();
  wider.d_model = 32;
  { std::ofstream(dir() + "/config.json") << wider.to_json(); }
  auto r = load_checkpoint(dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"wte\" has shape [260, 16], config.json implies [260, 32]"), std::string::npos)
      << r.status().message();
  // A tensor missing.
  auto file = read_safetensors(dir() + "/model.safetensors");
  ASSERT_TRUE(file.is_ok());
  auto tensors = file->tensors;
  tensors.erase(tensors.begin() + 3);
  ASSERT_TRUE(write_safetensors(dir() + "/model.safetensors", tensors, {}).is_ok());
  { std::ofstream(dir() + "/config.json") << small().to_json(); }
  r = load_checkpoint(dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("is missing"), std::string::npos) << r.status().message();
  // Not a safetensors file at all.
  {
    const std::string bad("\x10\0\0\0\0\0\0\0{not json at all", 24);  // header length 16, then 16 bytes
    std::ofstream(dir() + "/model.safetensors", std::ios::binary) << bad;
  }
  r = load_checkpoint(dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("does not parse"), std::string::npos) << r.status().message();
  // No checkpoint there.
  r = load_checkpoint(dir() + "/nope");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("config.json"), std::string::npos);
}

// A safetensors file from a header (JSON text) and a data section, as bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST_F(CheckpointTest, ReaderRejectsGapsOverlapsAndUncoveredBytes) {
  fs::create_directories(dir_);
  const std::string path = dir() + "/t.safetensors";
  auto write = [&](const std::string& header, std::size_t data_bytes) {
    std::ofstream(path, std::ios::binary) << safetensors_bytes(header, std::string(data_bytes, '\0'));
  };
  // Well formed: two 2-float tensors back to back.
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 16);
  auto r = read_safetensors(path);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->tensors.size(), 2u);
  // A gap between them.
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})", 20);
  r = read_safetensors(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"b\" starts at data byte 12, expected 8"), std::string::npos)
      << r.status().message();
  // Overlapping.
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  r = read_safetensors(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("without gaps or overlaps"), std::string::npos) << r.status().message();
  // Bytes after the last tensor that no tensor owns.
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12);
  r = read_safetensors(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("accounts for 8 bytes of data but the file holds 12"), std::string::npos)
      << r.status().message();
  // Another dtype.
  write(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4);
  r = read_safetensors(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("only F32"), std::string::npos) << r.status().message();
}

// The rules of the safetensors format as its reference implementation (the
// `safetensors` Rust crate behind the Python package) enforces them when it
// opens a file -- header length, UTF-8 JSON object, dtype names, shapes,
// offsets tiling the data exactly, string metadata -- plus the 8-byte
// alignment of the data that its writer produces, checked by an independent
// reader in Python (the package itself is not in Debian).
TEST_F(CheckpointTest, FilesFollowTheSafetensorsRules) {
  if (std::system("python3 -c 'import json,struct' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is not installed";
  }
  ModelConfig cfg = small();
  cfg.scalar_head = true;
  cfg.head_outputs = 3;
  auto m = Transformer::create(cfg, 35);
  ASSERT_TRUE(m.is_ok());
  AdamW opt(*m, AdamWConfig{});
  ASSERT_TRUE(save_checkpoint(dir(), *m, &opt).is_ok());
  const std::string script = dir() + "/check.py";
  std::ofstream(script) << R"PY(
import json, struct, sys
DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
          "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
def check(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    assert n <= 100_000_000, "header too large"
    assert 8 + n <= len(b), "header runs past the file"
    assert n % 8 == 0, "data not 8-byte aligned"
    text = b[8:8 + n].decode("utf-8")
    assert text.startswith("{"), "header does not start with {"
    h = json.loads(text)
    assert isinstance(h, dict)
    meta = h.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()), "metadata not str -> str"
    end = 0
    for name, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        assert set(e) == {"dtype", "shape", "data_offsets"}, name
        assert e["dtype"] in DTYPES, name
        assert all(isinstance(d, int) and d >= 0 for d in e["shape"]), name
        s, t = e["data_offsets"]
        assert s == end and t >= s, "offsets of %s do not tile the data" % name
        count = 1
        for d in e["shape"]:
            count *= d
        assert t - s == count * DTYPES[e["dtype"]], "size of %s" % name
        end = t
    assert 8 + n + end == len(b), "data not fully covered"
    return len(h)
print(check(sys.argv[1]), check(sys.argv[2]))
)PY";
  const std::string out = dir() + "/rules.txt";
  const std::string cmd = "python3 " + script + " " + dir() + "/model.safetensors " + dir() +
                          "/optimizer.safetensors > " + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << text;
  EXPECT_EQ(text, std::to_string(m->tensors().size()) + " " + std::to_string(2 * m->tensors().size()) + "\n");
}

TEST_F(CheckpointTest, PlainPythonReadsTheSameTensors) {
  if (std::system("python3 -c 'import json,struct' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is not installed";
  }
  auto m = Transformer::create(small(), 34);
  ASSERT_TRUE(save_checkpoint(dir(), *m).is_ok());
  const ParamTensor* qkv = nullptr;
  for (const auto& p : m->tensors()) {
    if (p.name == "h.1.attn.c_attn.weight") qkv = &p;
  }
  ASSERT_NE(qkv, nullptr);
  double sum = 0.0;
  for (std::size_t i = 0; i < qkv->numel; ++i) sum += m->parameters()[qkv->offset + i];
  const std::string out = dir() + "/py.txt";
  const std::string cmd =
      "python3 -c \"import json,struct;f=open('" + dir() + "/model.safetensors','rb');n=struct.unpack('<Q',f.read(8))[0];"
      "h=json.loads(f.read(n));d=f.read();e=h['h.1.attn.c_attn.weight'];b,c=e['data_offsets'];"
      "v=struct.unpack('<%df'%((c-b)//4),d[b:c]);print(len(h)-1,e['shape'][0],e['shape'][1],repr(sum(v)))\" > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  int count = 0, rows = 0, cols = 0;
  double py_sum = 0.0;
  in >> count >> rows >> cols >> py_sum;
  EXPECT_EQ(count, int(m->tensors().size()));
  EXPECT_EQ(rows, 48);
  EXPECT_EQ(cols, 16);
  EXPECT_NEAR(py_sum, sum, 1e-9);  // same floats summed in double in another order
}

}  // namespace
}  // namespace troupe::model
