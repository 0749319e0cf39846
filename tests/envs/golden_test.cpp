// Golden files for generators: tests/envs/golden/generators.jsonl holds, for every
// task, the cases of a few (seed, level) pairs. A generator change that alters
// them fails here; when the change is intended, regenerate the file with
//   TROUPE_UPDATE_GOLDEN=1 build/tests/envs/envs_golden_test
// and commit it (the diff shows exactly which cases moved).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

const std::string kGoldenPath = std::string(TROUPE_SOURCE_DIR) + "/tests/envs/golden/generators.jsonl";
constexpr uint64_t kGoldenSeeds[] = {1, 2};
constexpr int kGoldenLevels[] = {1, 5, 10};

std::string key(const std::string& task, uint64_t seed, int level) {
  return task + "/" + std::to_string(seed) + "/" + std::to_string(level);
}

std::map<std::string, Json> current() {
  std::map<std::string, Json> out;
  for (const auto& name : task_names()) {
    for (uint64_t seed : kGoldenSeeds) {
      for (int level : kGoldenLevels) {
        auto c = generate(name, seed, level);
        EXPECT_TRUE(c.is_ok()) << c.status().to_string();
        if (!c.is_ok()) continue;
        out[key(name, seed, level)] = Json{{"task", name}, {"seed", seed}, {"level", level}, {"identity", c->identity},
                                           {"prompt", c->prompt}, {"answer", c->answer}, {"solution", c->solution}};
      }
    }
  }
  return out;
}

TEST(Golden, GeneratorsMatchCheckedInCases) {
  auto now = current();
  if (const char* u = std::getenv("TROUPE_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream f(kGoldenPath, std::ios::trunc);
    for (const auto& [k, j] : now) f << j.dump() << "\n";
    GTEST_SKIP() << "rewrote " << kGoldenPath << " with " << now.size() << " cases";
  }
  std::ifstream f(kGoldenPath);
  ASSERT_TRUE(f) << "missing " << kGoldenPath << "; create it with TROUPE_UPDATE_GOLDEN=1";
  std::map<std::string, Json> golden;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    Json j = Json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << kGoldenPath << ":" << n << ": not JSON";
    golden[key(j.at("task"), j.at("seed"), j.at("level"))] = j;
  }
  for (const auto& [k, j] : now) {
    auto it = golden.find(k);
    if (it == golden.end()) {
      ADD_FAILURE() << k << " has no golden case; regenerate with TROUPE_UPDATE_GOLDEN=1 (see the file's header)";
      continue;
    }
    EXPECT_EQ(it->second.dump(), j.dump()) << k << " changed";
  }
  for (const auto& [k, j] : golden) EXPECT_TRUE(now.count(k)) << k << " is golden but its task is no longer registered";
}

}  // namespace
}  // namespace troupe::envs
