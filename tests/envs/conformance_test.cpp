// The conformance test: every registered task, no opt-out, is checked for
// determinism, a reference that scores 1, hostile responses that score 0 without a
// crash, thread safety of verify, and generation at every level. A task is
// registered by linking its file, so a new task is covered the moment it exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr uint64_t kSeeds[] = {1, 2, 3};

std::string fingerprint(const Case& c) {
  return c.identity.dump() + "\x1f" + c.prompt + "\x1f" + c.answer + "\x1f" + c.solution;
}

// Identities travel as JSON text between actors and files: verify what a round trip gives.
Json round_trip(const Json& j) { return Json::parse(j.dump()); }

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  const Task& task() {
    auto t = find_task(GetParam());
    EXPECT_TRUE(t.is_ok());
    return **t;
  }
  Case make(uint64_t seed, int level) {
    auto c = task().generate_level(seed, level);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? *c : Case{};
  }
  double score(const Json& id, std::string_view response) {
    auto v = task().verify(id, response);
    EXPECT_TRUE(v.is_ok()) << v.status().to_string();
    if (!v.is_ok()) return -1;
    EXPECT_GE(v->score, 0.0);
    EXPECT_LE(v->score, 1.0);
    return v->score;
  }
};

TEST_P(Conformance, InfoIsComplete) {
  const TaskInfo& info = task().info();
  EXPECT_EQ(info.name, GetParam());
  EXPECT_FALSE(info.category.empty());
  EXPECT_FALSE(info.description.empty());
  for (int level = kMinLevel; level <= kMaxLevel; ++level) {
    Difficulty d = task().difficulty_for_level(level);
    EXPECT_EQ(d.size(), info.knobs.size()) << "level " << level << " must set every knob";
    for (const auto& k : info.knobs) {
      ASSERT_TRUE(d.count(k.name)) << k.name;
      EXPECT_GE(d[k.name], k.min);
      EXPECT_LE(d[k.name], k.max);
    }
  }
}

TEST_P(Conformance, EveryLevelGeneratesDeterministically) {
  for (int level = kMinLevel; level <= kMaxLevel; ++level) {
    for (uint64_t seed : kSeeds) {
      Case a = make(seed, level), b = make(seed, level);
      EXPECT_EQ(fingerprint(a), fingerprint(b)) << "level " << level << " seed " << seed;
      EXPECT_FALSE(a.prompt.empty());
      EXPECT_FALSE(a.answer.empty());
      EXPECT_EQ(round_trip(a.identity), a.identity) << "identity must survive a JSON round trip";
    }
  }
}

TEST_P(Conformance, OtherSeedsDiffer) {
  // At the top level the case space is large for every task: eight seeds give eight cases.
  std::set<std::string> seen;
  for (uint64_t seed = 100; seed < 108; ++seed) seen.insert(fingerprint(make(seed, kMaxLevel)));
  EXPECT_EQ(seen.size(), 8u);
  // At the bottom level at least the seeds are not ignored.
  std::set<std::string> low;
  for (uint64_t seed = 100; seed < 108; ++seed) low.insert(fingerprint(make(seed, kMinLevel)));
  EXPECT_GE(low.size(), 2u);
}

TEST_P(Conformance, ReferenceAnswerScoresOne) {
  for (int level = kMinLevel; level <= kMaxLevel; ++level) {
    for (uint64_t seed : kSeeds) {
      Case c = make(seed, level);
      EXPECT_EQ(score(round_trip(c.identity), c.answer), 1.0) << "level " << level << " seed " << seed << "\n"
                                                               << c.identity.dump() << "\n" << c.answer;
      if (!c.solution.empty()) {
        EXPECT_EQ(score(round_trip(c.identity), c.solution), 1.0) << "worked solution: " << c.solution;
      }
    }
  }
}

std::vector<std::string> hostile_responses(const Case& c) {
  const std::string mib(1 << 20, 'a');
  std::string repeated_open, digits_mib(1 << 20, '9'), nested;
  while (repeated_open.size() < (1u << 20)) repeated_open += "[[\\boxed{```(<answer>";
  for (int i = 0; i < 2000; ++i) nested += "<think>[[{(";
  return {
      "",
      " ",
      "\n\n\n",
      "I don't know",
      "the answer is banana",
      c.answer.substr(0, c.answer.size() / 2),  // truncated
      mib,
      "</think>" + mib,
      repeated_open,
      "</think>" + repeated_open,
      digits_mib,
      "</think>\n[[" + digits_mib + "]]",
      nested,
      "</think>" + nested + "]]]]]]}}}}))))",
      "</think>[[[[[[[[ ]]]]]]]]]] \\boxed{{{{{ }}}} ```python\n``` [[]]",
      std::string("\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc", 13) + "</think>\xff[[\xfe]]",
      std::string("</think>\0[[\0]]\0", 16),
      "</think>" + std::string(200, ' ') + "[[-99999999999999999999999999999999999999]] \\boxed{1e400}",
  };
}

TEST_P(Conformance, HostileResponsesScoreZeroWithoutCrash) {
  for (int level : {kMinLevel, 5, kMaxLevel}) {
    Case c = make(1, level);
    const Json id = round_trip(c.identity);
    int i = 0;
    for (const auto& r : hostile_responses(c)) {
      EXPECT_EQ(score(id, r), 0.0) << "hostile response #" << i << " (" << r.substr(0, 60) << ") at level " << level;
      ++i;
    }
  }
}

TEST_P(Conformance, VerifyIsThreadSafe) {
  std::vector<Case> cases;
  for (int level = kMinLevel; level <= kMaxLevel; ++level) cases.push_back(make(7, level));
  std::vector<std::string> wrong{"", "garbage", "</think>[[0]]"};
  constexpr int kThreads = 8;      // more threads than this machine's cores, so they interleave
  constexpr int kRepeats = 20;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < kRepeats; ++rep) {
        for (const auto& c : cases) {
          auto ok = task().verify(c.identity, c.answer);
          failures[t] += !ok.is_ok() || ok->score != 1.0;
          for (const auto& w : wrong) {
            auto bad = task().verify(c.identity, w);
            failures[t] += !bad.is_ok() || bad->score != 0.0;
          }
          auto again = task().generate_level(7, 5);
          failures[t] += !again.is_ok();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST_P(Conformance, MalformedIdentityIsAnErrorNotACrash) {
  // The last one holds invalid UTF-8, which nlohmann's dump() refuses: the error path must not.
  for (const Json& id : {Json(), Json::array(), Json(42), Json::object(), Json{{"x", "y"}},
                         Json{{"x", std::string("\xf0\x28")}, {"puzzle", std::string("\xff")}}}) {
    auto v = task().verify(id, make(1, 3).answer);
    if (v.is_ok()) {
      EXPECT_EQ(v->score, 0.0) << "a score of 1 against identity " << id.dump();
    }
  }
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::replace_if(n.begin(), n.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(AllTasks, Conformance, ::testing::ValuesIn(task_names()), name_of);

TEST(ConformanceCoverage, RegistryHoldsOurTasks) {
  // Guards against a linker dropping task files (the registry would silently shrink).
  EXPECT_GE(task_names().size(), 18u);
}

}  // namespace
}  // namespace troupe::envs
