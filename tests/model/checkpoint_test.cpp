// Safetensors checkpoints: round trip, bit-identical resumption of training,
// clear failures on truncated or mismatched files, and a reader in plain
// Python (json + struct) that sees the same tensors.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

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
