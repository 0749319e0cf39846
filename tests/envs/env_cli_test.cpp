// `troupe env ...` run as a subprocess of build/troupe: list, sample, verify (order,
// errors naming their line), unknown task names.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

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


TEST(EnvCli, PythonTaskSamplesAndVerifiesThroughTheBridge) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 on this machine";
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/troupe_cli_bootcamp.py") << R"PY(
import random
class Doubler:
    def case_generator(self):
        return {"n": random.randint(1, 99)}
    def prompt_func(self, identity):
        return f"Double {identity['n']}."
    @staticmethod
    def extract_output(output):
        return output.split("=")[-1].strip() if "=" in output else None
    @classmethod
    def verify_score(cls, output, identity, format_score=0, short_penalty=True, short_threshold=100,
                     format_penalty=True):
        got = cls.extract_output(output)
        return 1.0 if got == str(2 * identity["n"]) else (format_score if got is not None else 0.0)
)PY";
  // The worker script is found beside the sources, as for an uninstalled build.
  const std::string env = "PYTHONPATH=" + dir + " TROUPE_PYTHON=/usr/bin/python3 ";
  auto run = [&](const std::string& args) {
    FILE* p = popen((env + TROUPE_BIN + " " + args + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = pclose(p);
    return Ran{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  };
  auto s = run("env sample --task python:troupe_cli_bootcamp.Doubler --seed 4 -n 3");
  ASSERT_EQ(s.rc, 0) << s.out;
  auto cases = lines(s.out);
  ASSERT_EQ(cases.size(), 3u) << s.out;
  std::string in;
  for (size_t i = 0; i < cases.size(); ++i) {
    Json c = Json::parse(cases[i]);
    EXPECT_EQ(c["prompt"], "Double " + std::to_string(c["identity"]["n"].get<int>()) + ".");
    const int right = 2 * c["identity"]["n"].get<int>() + (i == 1 ? 1 : 0);  // line 2 is wrong
    in += Json{{"task", "python:troupe_cli_bootcamp.Doubler"}, {"identity", c["identity"]},
               {"response", "x=" + std::to_string(right)}}.dump() + "\n";
  }
  auto v = run("env verify --threads 2 --input " + temp_file("python_in.jsonl", in));
  ASSERT_EQ(v.rc, 0) << v.out;
  auto out = lines(v.out);
  ASSERT_EQ(out.size(), 3u) << v.out;
  EXPECT_EQ(Json::parse(out[0])["score"], 1.0);
  EXPECT_EQ(Json::parse(out[1])["score"], 0.0);
  EXPECT_EQ(Json::parse(out[2])["score"], 1.0);
  auto missing = run("env sample --task python:troupe_cli_bootcamp.NoSuchClass");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.out.find("NoSuchClass"), std::string::npos) << missing.out;
}

}  // namespace
