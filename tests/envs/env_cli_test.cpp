// `troupe env ...` run as a subprocess of build/troupe: list, sample, verify (order,
// errors naming their line), unknown task names.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;

struct Ran {
  int rc;
  std::string out;
};

// Runs `troupe <args>` with stdout captured (stderr joined to it when `with_stderr`).
Ran troupe(const std::string& args, bool with_stderr = false) {
  std::string cmd = std::string(TROUPE_BIN) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string temp_file(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(EnvCli, ListShowsEveryTaskAsJson) {
  auto r = troupe("env list --json");
  ASSERT_EQ(r.rc, 0);
  auto ls = lines(r.out);
  EXPECT_GE(ls.size(), 18u);
  bool saw_addition = false;
  for (const auto& l : ls) {
    Json j = Json::parse(l);
    EXPECT_TRUE(j.contains("knobs") && j.contains("category") && j.contains("internbootcamp"));
    if (j["name"] == "addition") {
      saw_addition = true;
      EXPECT_EQ(j["knobs"][0]["name"], "digits");
    }
  }
  EXPECT_TRUE(saw_addition);
}

TEST(EnvCli, SampleThenVerifyScoresReferenceAnswers) {
  auto s = troupe("env sample --task addition --level 3 --seed 5 -n 20");
  ASSERT_EQ(s.rc, 0);
  std::string in;
  auto cases = lines(s.out);
  ASSERT_EQ(cases.size(), 20u);
  for (size_t i = 0; i < cases.size(); ++i) {
    Json c = Json::parse(cases[i]);
    EXPECT_EQ(c["prompt"].get<std::string>().size(), 8u);
    // Odd lines answer wrongly; scores must come back in input order.
    std::string response = i % 2 ? "0" : c["answer"].get<std::string>();
    in += Json{{"task", "addition"}, {"identity", c["identity"]}, {"response", response}}.dump() + "\n";
  }
  auto v = troupe("env verify --threads 3 --input " + temp_file("verify_in.jsonl", in));
  ASSERT_EQ(v.rc, 0);
  auto out = lines(v.out);
  ASSERT_EQ(out.size(), 20u);
  for (size_t i = 0; i < out.size(); ++i) {
    Json j = Json::parse(out[i]);
    EXPECT_EQ(j["line"], i + 1);
    EXPECT_EQ(j["score"], i % 2 ? 0.0 : 1.0) << out[i];
    EXPECT_EQ(j["format_ok"], true);
  }
}

TEST(EnvCli, MalformedLinesGetErrorsNamingTheirLineAndTheRestAreScored) {
  const std::string in =
      "{\"task\":\"addition\",\"identity\":{\"a\":\"1\",\"b\":\"2\"},\"response\":\"3\"}\n"
      "this is not json\n"
      "{\"task\":\"nope\",\"identity\":{},\"response\":\"3\"}\n"
      "{\"task\":\"addition\",\"response\":\"3\"}\n"
      "{\"task\":\"addition\",\"identity\":{\"a\":\"1\",\"b\":\"2\"},\"response\":\"4\",\"format_score\":0.25}\n";
  auto v = troupe("env verify --input " + temp_file("bad_in.jsonl", in));
  EXPECT_EQ(v.rc, 2);
  auto out = lines(v.out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(Json::parse(out[0])["score"], 1.0);
  for (int i : {1, 2, 3}) {
    Json j = Json::parse(out[i]);
    EXPECT_EQ(j["line"], i + 1);
    EXPECT_TRUE(j.contains("error")) << out[i];
  }
  EXPECT_NE(Json::parse(out[2])["error"].get<std::string>().find("known tasks"), std::string::npos);
  EXPECT_EQ(Json::parse(out[4])["score"], 0.25);
}

TEST(EnvCli, UnknownTaskListsKnownNames) {
  auto r = troupe("env sample --task no_such_task", true);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("addition"), std::string::npos);
}

TEST(EnvCli, DifficultyOverridesAreCheckedAndApplied) {
  auto r = troupe("env sample --task addition --difficulty digits=25");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(Json::parse(r.out)["identity"]["a"].get<std::string>().size(), 25u);
  EXPECT_EQ(troupe("env sample --task addition --difficulty digits=99").rc, 1);
  EXPECT_EQ(troupe("env sample --task addition --difficulty digits").rc, 1);
}

}  // namespace
