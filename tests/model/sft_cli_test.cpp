// `troupe sft` and `troupe eval` run as subprocesses of build/troupe: a few
// steps of supervised training leave a checkpoint (model, optimiser, config,
// history) that eval scores on held-out cases as a table and as JSON; bad
// arguments fail with a message naming them.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/temp_dir.hpp"

namespace {

using Json = nlohmann::json;

struct Ran {
  int rc;
  std::string out;
};

// Runs `troupe <args>` with stdout and stderr captured together.
Ran troupe(const std::string& args) {
  const std::string cmd = std::string(TROUPE_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kConfig = std::string(TROUPE_SOURCE_DIR) + "/configs/sft_addition.yaml";

TEST(SftCli, TrainsACheckpointThatEvalScores) {
  troupe::testing::TempDir dir("troupe-sft-cli");
  const std::string out = dir.path() + "/ckpt";
  Ran sft = troupe("sft --config " + kConfig + " --out " + out +
                   " --steps 3 --eval-n 4 --threads 1 --device cpu --max-minutes 5");
  ASSERT_EQ(sft.rc, 0) << sft.out;
  EXPECT_NE(sft.out.find("on cpu"), std::string::npos) << sft.out;
  EXPECT_NE(sft.out.find("held-out (final)"), std::string::npos) << sft.out;
  EXPECT_NE(sft.out.find("sft: 3 steps"), std::string::npos) << sft.out;
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors", "sft_history.json"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  }
  std::ifstream hf(out + "/sft_history.json");
  const Json history = Json::parse(hf, nullptr, false);
  ASSERT_TRUE(history.is_array() && !history.empty()) << out;
  EXPECT_EQ(history.back()["step"], 3);
  EXPECT_GT(history.back()["tokens"].get<long>(), 3 * 128 * 8);  // 3 batches of 128 sequences of >= 8 tokens
  EXPECT_EQ(history.back()["scores"][0]["task"], "addition");

  Ran ev = troupe("eval --checkpoint " + out + " --config " + kConfig + " -n 4 --json --device cpu");
  ASSERT_EQ(ev.rc, 0) << ev.out;
  const Json scores = Json::parse(ev.out, nullptr, false);
  ASSERT_TRUE(scores.is_array()) << ev.out;
  ASSERT_EQ(scores.size(), 1u) << ev.out;
  EXPECT_EQ(scores[0]["task"], "addition");
  EXPECT_EQ(scores[0]["level"], 3);
  EXPECT_EQ(scores[0]["n"], 4);
  const double pass1 = scores[0]["pass@1"].get<double>();
  EXPECT_GE(pass1, 0.0);
  EXPECT_LE(pass1, 1.0);

  Ran table = troupe("eval --checkpoint " + out + " --tasks addition,gcd --difficulty 1-2 -n 3 --samples 2");
  ASSERT_EQ(table.rc, 0) << table.out;
  EXPECT_NE(table.out.find("pass@2"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("gcd"), std::string::npos) << table.out;
}

TEST(SftCli, BadArgumentsFailNamingThem) {
  troupe::testing::TempDir dir("troupe-sft-cli-bad");
  Ran r = troupe("sft --config " + kConfig + " --out " + dir.path() + " --steps 1 --device gpu");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("--device: \"gpu\": expected auto, cuda or cpu"), std::string::npos) << r.out;
  r = troupe("sft --config " + kConfig + " --out " + dir.path() + " --steps 1 --form essay");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("--form"), std::string::npos) << r.out;
  r = troupe("eval --checkpoint " + dir.path() + "/none --tasks addition");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("config.json"), std::string::npos) << r.out;
  r = troupe("eval --checkpoint " + dir.path() + " --tasks addition --config " + kConfig);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("exactly one of --config"), std::string::npos) << r.out;
  r = troupe("eval --checkpoint " + dir.path() + " --tasks no_such_task");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no_such_task"), std::string::npos) << r.out;
}

}  // namespace
