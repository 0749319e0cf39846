// `troupe train verifier` as a subprocess: --dump writes the examples the model
// would see (train, in-family held-out, other families) as JSON lines, with the
// dress drawn alike for right and wrong answers; a few steps of training write a
// checkpoint and a report with figures per unseen family and per form. Sizes are
// tiny: the test checks the plumbing, reward_training_test checks the learning.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/child_process.hpp"
#include "tests/temp_dir.hpp"

namespace {

using Json = nlohmann::json;
using troupe::testing::Child;

// Runs build/troupe with `args`; returns its exit status (-1 past 120 s) and leaves its output in *out.
int troupe_run(std::vector<std::string> args, std::string* out) {
  Child c(TROUPE_BIN, std::move(args), {}, /*merge_stderr=*/true);
  const int rc = c.reap(std::chrono::seconds(120));
  *out = c.dump();
  return rc;
}

TEST(VerifierCli, DumpWritesEverySplitWithTheDressDrawnAlike) {
  troupe::testing::TempDir dir("troupe-verifier-cli");
  const std::string file = dir.path() + "/examples.jsonl";
  std::string out;
  ASSERT_EQ(troupe_run({"train", "verifier", "--out", dir.path() + "/v", "--dump", file, "--cases", "30",
                        "--eval-cases", "5", "--generic-cases", "40"},
                       &out),
            0)
      << out;
  std::ifstream in(file);
  std::map<std::string, int> splits;
  std::set<std::string> train_families, other_families;
  std::map<std::string, std::map<std::string, int>> wrapped;  // label -> wrapper -> answers
  std::map<std::string, int> labelled;
  for (std::string line; std::getline(in, line);) {
    const Json e = Json::parse(line, nullptr, false);
    ASSERT_TRUE(e.is_object()) << line;
    const std::string split = e["split"];
    ++splits[split];
    if (split == "train" && e["task"] != "generic") train_families.insert(e["family"].get<std::string>());
    if (split == "other_families") other_families.insert(e["family"].get<std::string>());
    EXPECT_NE(e["text"].get<std::string>().find("\nR:" + e["reference"].get<std::string>()), std::string::npos);
    const std::string label = e["label"];
    if (label != "invalid") {
      ++labelled[label];
      const std::string c = e["candidate"];
      for (const char* w : {"\\boxed{", "\\text{", "$", " ", "["}) wrapped[label][w] += c.rfind(w, 0) == 0;
    }
  }
  EXPECT_GT(splits["train"], 0);
  EXPECT_GT(splits["in_family_heldout"], 0);
  EXPECT_GT(splits["other_families"], 0);
  EXPECT_EQ(train_families, (std::set<std::string>{"arithmetic", "sequence"}));
  for (const auto& f : train_families) EXPECT_FALSE(other_families.count(f)) << f << " is both trained and held out";
  // Each wrapper dresses right and wrong answers alike (within sampling noise): it does not tell the label.
  ASSERT_GT(labelled["correct"], 500);
  ASSERT_GT(labelled["incorrect"], 500);
  for (const char* w : {"\\boxed{", "\\text{", "$", " ", "["}) {
    const double right = double(wrapped["correct"][w]) / labelled["correct"];
    const double wrong = double(wrapped["incorrect"][w]) / labelled["incorrect"];
    EXPECT_NEAR(right, wrong, 0.05) << "answers starting with " << w;
  }
  EXPECT_GT(double(wrapped["correct"]["\\boxed{"]) / labelled["correct"], 0.1);
}

TEST(VerifierCli, AFewStepsWriteACheckpointAndAPerFamilyReport) {
  troupe::testing::TempDir dir("troupe-verifier-cli");
  const std::string ckpt = dir.path() + "/v";
  std::string out;
  ASSERT_EQ(troupe_run({"train", "verifier", "--out", ckpt, "--steps", "3", "--cases", "10", "--eval-cases", "3",
                        "--generic-cases", "10", "--bare-fraction", "0.5", "--d-model", "32", "--layers", "1",
                        "--heldout-families", "reasoning,cipher"},
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("family reasoning"), std::string::npos) << out;
  EXPECT_NE(out.find("family cipher"), std::string::npos) << out;
  for (const char* f : {"config.json", "model.safetensors", "verifier_report.json"}) {
    EXPECT_TRUE(std::filesystem::exists(ckpt + "/" + f)) << f;
  }
  std::ifstream rf(ckpt + "/verifier_report.json");
  const Json report = Json::parse(rf, nullptr, false);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["steps"], 3);
  EXPECT_EQ(report["by_family"].size(), 2u);
  EXPECT_TRUE(report["by_family"]["reasoning"].contains("equivalence_accuracy"));
  EXPECT_TRUE(report["by_form"].contains("invalid/truncated")) << report["by_form"].dump();
  // The verifier's default readout is the pool; continuing with another one carries the weights over.
  auto readout = [](const std::string& path) {
    std::ifstream cf(path + "/config.json");
    return Json::parse(cf, nullptr, false).value("score_readout", std::string("?"));
  };
  EXPECT_EQ(readout(ckpt), "pool");
  ASSERT_EQ(troupe_run({"train", "verifier", "--out", ckpt + "2", "--init", ckpt, "--readout", "last", "--steps", "1",
                        "--cases", "10", "--eval-cases", "3", "--generic-cases", "10", "--heldout-families", "cipher"},
                       &out),
            0)
      << out;
  EXPECT_EQ(readout(ckpt + "2"), "last");
  EXPECT_NE(out.find("continuing with the readout \"last\""), std::string::npos) << out;
}

TEST(VerifierCli, UnknownFamilyIsAnError) {
  troupe::testing::TempDir dir("troupe-verifier-cli");
  std::string out;
  EXPECT_NE(troupe_run({"train", "verifier", "--out", dir.path() + "/v", "--train-families", "nosuchfamily",
                        "--steps", "1"},
                       &out),
            0);
  EXPECT_NE(out.find("nosuchfamily"), std::string::npos) << out;
}

}  // namespace
