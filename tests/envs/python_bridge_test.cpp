// The Python bridge (envs/python_task.hpp) with bootcamp-style classes written here: a
// normal one, one whose verify crashes the process, one that hangs, one that exceeds the
// memory cap. A crash and a hang are clear errors, and the pool keeps working after them.
// Needs /usr/bin/python3 (Debian's; the tests skip, saying why, where there is none).
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "envs/registry.hpp"
#include "tests/temp_dir.hpp"

namespace troupe::envs {
namespace {

constexpr const char* kModule = R"PY(
import os, random, time

class Base:
    @classmethod
    def verify_score(cls, model_output, identity, format_score=0, short_penalty=True,
                     short_threshold=100, format_penalty=True):
        if short_penalty and len(model_output) < short_threshold:
            return 0.0
        if format_penalty and "</think>" not in model_output:
            return 0.0
        got = cls.extract_output(model_output)
        if got is None:
            return 0.0
        return 1.0 if cls._verify_correction(got, identity) else format_score

class Adder(Base):
    def case_generator(self):
        print("a print inside the class must not break the protocol")
        return {"a": random.randint(1, 1000), "b": random.randint(1, 1000)}
    def prompt_func(self, identity):
        return f"What is {identity['a']} + {identity['b']}? Answer in [[ ]]."
    @staticmethod
    def extract_output(output):
        if "[[" not in output or "]]" not in output:
            return None
        return output.rsplit("[[", 1)[1].split("]]", 1)[0]
    @classmethod
    def _verify_correction(cls, solution, identity):
        return int(solution) == identity["a"] + identity["b"]

class Crasher(Adder):
    @classmethod
    def _verify_correction(cls, solution, identity):
        if solution == "crash":
            os.abort()
        return super()._verify_correction(solution, identity)

class Hanger(Adder):
    @classmethod
    def _verify_correction(cls, solution, identity):
        if solution == "hang":
            time.sleep(3600)
        return super()._verify_correction(solution, identity)

class Hog(Adder):
    @classmethod
    def _verify_correction(cls, solution, identity):
        if solution == "hog":
            block = bytearray(1 << 31)  # 2 GiB, over the test's cap
            return len(block) == 0
        return super()._verify_correction(solution, identity)

class Broken:
    def __init__(self):
        raise RuntimeError("this class cannot be made")
)PY";

std::string respond(const std::string& final_text) { return "<think>" + std::string(120, '.') + "</think>" + final_text; }

class PythonBridge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access("/usr/bin/python3", X_OK) != 0) return;
    dir_ = new troupe::testing::TempDir("troupe-python-bridge");
    std::ofstream(dir_->sub("troupe_test_bootcamps.py")) << kModule;
    // Set before the first Python task is made: the bridge reads its configuration then.
    setenv("PYTHONPATH", dir_->path().c_str(), 1);
    setenv("TROUPE_PYTHON", "/usr/bin/python3", 1);
    setenv("TROUPE_BOOTCAMP_WORKER", TROUPE_WORKER_SCRIPT, 1);
    setenv("TROUPE_PYTHON_TIMEOUT_MS", "3000", 1);  // the hang test waits this long
    setenv("TROUPE_PYTHON_MEMORY_MB", "1024", 1);   // Python itself needs well under this
    setenv("TROUPE_PYTHON_WORKERS", "2", 1);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "no /usr/bin/python3 on this machine";
  }
  static const Task& task(const std::string& cls) {
    auto t = find_task("python:troupe_test_bootcamps." + cls);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return **t;
  }
  static inline troupe::testing::TempDir* dir_ = nullptr;
};

TEST_F(PythonBridge, GeneratesDeterministicallyAndScoresLikeVerifyScore) {
  const Task& t = task("Adder");
  auto a = t.generate_level(7, 5), b = t.generate_level(7, 5), c = t.generate_level(8, 5);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok() && c.is_ok());
  EXPECT_EQ(a->identity, b->identity);
  EXPECT_EQ(a->prompt, b->prompt);
  EXPECT_NE(a->identity, c->identity);
  EXPECT_NE(a->prompt.find("What is"), std::string::npos);
  const int64_t sum = a->identity["a"].get<int64_t>() + a->identity["b"].get<int64_t>();
  auto right = t.verify(a->identity, respond("[[" + std::to_string(sum) + "]]"));
  ASSERT_TRUE(right.is_ok()) << right.status().to_string();
  EXPECT_EQ(right->score, 1.0);
  EXPECT_TRUE(right->extracted);
  VerifyOptions o;
  o.format_score = 0.25;
  auto wrong = t.verify(a->identity, respond("[[" + std::to_string(sum + 1) + "]]"), o);
  ASSERT_TRUE(wrong.is_ok());
  EXPECT_DOUBLE_EQ(wrong->score, 0.25);
  auto none = t.verify(a->identity, respond("no brackets"), o);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->score, 0.0);
  EXPECT_FALSE(none->extracted);
  auto shortr = t.verify(a->identity, "</think>[[" + std::to_string(sum) + "]]");
  ASSERT_TRUE(shortr.is_ok());
  EXPECT_EQ(shortr->score, 0.0);  // the short-response gate, passed through as an option
}

TEST_F(PythonBridge, ACrashIsAnErrorAndThePoolRecovers) {
  const Task& t = task("Crasher");
  const Json id = {{"a", 1}, {"b", 2}};
  auto crashed = t.verify(id, respond("[[crash]]"));
  ASSERT_FALSE(crashed.is_ok());
  EXPECT_NE(crashed.status().message().find("died"), std::string::npos) << crashed.status().to_string();
  EXPECT_NE(crashed.status().message().find("signal 6"), std::string::npos) << crashed.status().to_string();
  for (int i = 0; i < 3; ++i) {  // more calls than workers: every one gets a working process
    auto ok = t.verify(id, respond("[[3]]"));
    ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
    EXPECT_EQ(ok->score, 1.0);
  }
}

TEST_F(PythonBridge, AHangTimesOutAndThePoolRecovers) {
  const Task& t = task("Hanger");
  const Json id = {{"a", 1}, {"b", 2}};
  auto hung = t.verify(id, respond("[[hang]]"));
  ASSERT_FALSE(hung.is_ok());
  EXPECT_NE(hung.status().message().find("did not answer within 3000 ms"), std::string::npos)
      << hung.status().to_string();
  auto ok = t.verify(id, respond("[[3]]"));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->score, 1.0);
}

TEST_F(PythonBridge, TheMemoryCapStopsAHog) {
  const Task& t = task("Hog");
  const Json id = {{"a", 1}, {"b", 2}};
  auto hog = t.verify(id, respond("[[hog]]"));
  ASSERT_FALSE(hog.is_ok());
  EXPECT_NE(hog.status().message().find("MemoryError"), std::string::npos) << hog.status().to_string();
  auto ok = t.verify(id, respond("[[3]]"));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
}

TEST_F(PythonBridge, ManyThreadsShareTheBoundedPool) {
  const Task& t = task("Adder");
  const Json id = {{"a", 20}, {"b", 22}};
  std::vector<int> right(6, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 6; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 10; ++i) {
        auto v = t.verify(id, respond("[[42]]"));
        right[static_cast<size_t>(k)] += v.is_ok() && v->score == 1.0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 6; ++k) EXPECT_EQ(right[static_cast<size_t>(k)], 10) << "thread " << k;
}

TEST_F(PythonBridge, BadNamesAreClearErrors) {
  auto missing = find_task("python:troupe_no_such_module.Thing");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("No module named 'troupe_no_such_module'"), std::string::npos)
      << missing.status().to_string();
  auto broken = find_task("python:troupe_test_bootcamps.Broken");
  ASSERT_FALSE(broken.is_ok());
  EXPECT_NE(broken.status().message().find("this class cannot be made"), std::string::npos);
  auto malformed = find_task("python:not a module");
  ASSERT_FALSE(malformed.is_ok());
  EXPECT_NE(malformed.status().message().find("python:MODULE.CLASS"), std::string::npos);
  // Other unknown names still list the registered tasks.
  auto unknown = find_task("no_such_task");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("Game24bootcamp"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("python:MODULE.CLASS"), std::string::npos);
}

}  // namespace
}  // namespace troupe::envs
