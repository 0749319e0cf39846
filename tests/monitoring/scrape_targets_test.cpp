// Prometheus file_sd targets files: the exact JSON Prometheus reads, atomic
// replacement, removal by the owner, and a clear error for a missing directory.
#include "monitoring/scrape_targets.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace troupe::monitoring {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Dir {
  fs::path path = fs::temp_directory_path() / ("troupe-targets-" + std::to_string(::getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
};

TEST(ScrapeTargets, JsonIsFileSdFormat) {
  auto j = nlohmann::json::parse(scrape_targets_json("r1", {{"127.0.0.1:9464", "node0"}, {"10.0.0.2:9464", "node1"}}));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["targets"], nlohmann::json::array({"127.0.0.1:9464"}));
  EXPECT_EQ(j[0]["labels"]["run"], "r1");
  EXPECT_EQ(j[0]["labels"]["node"], "node0");
  EXPECT_EQ(j[1]["targets"][0], "10.0.0.2:9464");
  EXPECT_EQ(j[1]["labels"]["node"], "node1");
}

TEST(ScrapeTargets, WritesRewritesAndRemovesItsFile) {
  Dir d;
  {
    ScrapeTargets t;
    ASSERT_TRUE(t.write(d.path.string(), "myrun", {{"127.0.0.1:1", "a"}}).is_ok());
    EXPECT_EQ(t.path(), (d.path / "myrun.json").string());
    EXPECT_EQ(nlohmann::json::parse(slurp(t.path()))[0]["targets"][0], "127.0.0.1:1");
    ASSERT_TRUE(t.write(d.path.string(), "myrun", {{"127.0.0.1:2", "a"}}).is_ok());
    EXPECT_EQ(nlohmann::json::parse(slurp(t.path()))[0]["targets"][0], "127.0.0.1:2");
    // Nothing but the file itself is left in the directory (no temporary files).
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(d.path)) ++files;
    EXPECT_EQ(files, 1u);
  }
  EXPECT_FALSE(fs::exists(d.path / "myrun.json"));
}

TEST(ScrapeTargets, MissingDirectoryIsAClearError) {
  Status s = write_scrape_targets("/nonexistent-troupe-dir/x.json", "r", {{"127.0.0.1:1", "a"}});
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("/nonexistent-troupe-dir"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace troupe::monitoring
