// `troupe replay` verbs, run in-process on temporary stores: stats, ls (every
// filter), show, export, tail (following a concurrent writer), verify (clean and
// damaged), --help, and the messages for a missing path, a non-store and a store
// of a newer schema.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/command.hpp"
#include "cli/replay_cmd.hpp"
#include "storage/replay_store.hpp"
#include "storage/synthetic_rollouts.hpp"
#include "tests/storage/raw_store.hpp"
#include "tests/temp_dir.hpp"

// cli/replay_cmd.cpp registers itself with the command registry main.cpp defines;
// this test is its own main, so it defines the registry.
std::vector<troupe::cli::CommandEntry>& troupe::cli::command_registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}

namespace troupe::storage {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun replay(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = 0;
  CLI::App app("troupe");
  cli::add_replay_command(app, code, out, err);
  args.insert(args.begin(), {"troupe", "replay"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(int(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    code = app.exit(e, out, err);
  }
  return {code, out.str(), err.str()};
}

// One fresh directory per test (tests/temp_dir.hpp).
struct TempDir : troupe::testing::TempDir {
  TempDir() : troupe::testing::TempDir("troupe-storage-cli") {}
};

SyntheticSpec spec(uint64_t rid) {
  SyntheticSpec s;
  s.rollout_id = rid;
  s.prompt_id = rid / 4;
  s.group_index = int32_t(rid % 4);
  s.task = rid % 2 ? "arith" : "logic";
  s.policy_version = rid / 10;  // versions 0..3 for 1..39
  s.response_bytes = 300;
  s.correct = rid % 3 != 0;
  s.disagree = rid % 7 == 0;
  return s;
}

ReplayOptions options() {
  ReplayOptions o;
  o.group_commit_ms = 1;
  return o;
}

// A store of 39 rollouts: arith = odd ids, logic = even; ids equal rollout ids.
std::unique_ptr<ReplayStore> filled(const std::string& path) {
  auto store = ReplayStore::open(path, options());
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  for (uint64_t rid = 1; rid <= 39; ++rid) EXPECT_TRUE((*store)->append(synthetic_rollout_bytes(spec(rid))).is_ok());
  return std::move(*store);
}

TEST(StorageCli, HelpListsEveryVerb) {
  CliRun r = replay({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* verb : {"stats", "ls", "show", "export", "tail", "verify"}) {
    EXPECT_NE(r.out.find(std::string("  ") + verb), std::string::npos) << verb << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
  // Each verb's own help names its options and teaches with examples of itself.
  for (const char* verb : {"stats", "ls", "show", "export", "tail", "verify"}) {
    CliRun v = replay({verb, "--help"});
    EXPECT_EQ(v.code, 0) << verb;
    EXPECT_NE(v.out.find("--json"), std::string::npos) << verb << "\n" << v.out;
    EXPECT_NE(v.out.find(std::string("troupe replay ") + verb + " runs/"), std::string::npos) << verb << "\n" << v.out;
  }
  EXPECT_NE(replay({"ls", "--help"}).out.find("--source-disagree"), std::string::npos);
  EXPECT_NE(replay({"show", "--help"}).out.find("Staleness at training time"), std::string::npos);
}

TEST(StorageCli, StatsAgainstALiveWriter) {
  TempDir dir;
  auto writer = filled(dir.sub("s"));  // stays open: the verbs must not need the lock
  ASSERT_TRUE(writer->put_checkpoint({3, "runs/ckpt-3", R"({"arith":0.5})", 1}).is_ok());
  CliRun human = replay({"stats", dir.sub("s")});
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_NE(human.out.find("rollouts    39"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("pass rate"), std::string::npos);
  EXPECT_NE(human.out.find("runs/ckpt-3"), std::string::npos);
  CliRun r = replay({"stats", dir.sub("s"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["rollouts"], 39);
  EXPECT_EQ(j["tasks"]["arith"]["rollouts"], 20);
  EXPECT_EQ(j["tasks"]["logic"]["rollouts"], 19);
  // arith: odd ids 1..39; fails where id % 3 == 0 (3, 9, 15, 21, 27, 33, 39): 13 of 20 pass.
  EXPECT_DOUBLE_EQ(j["tasks"]["arith"]["pass_rate"].get<double>(), 13.0 / 20.0);
  EXPECT_EQ(j["versions"]["0"], 9);
  EXPECT_EQ(j["versions"]["3"], 10);
  EXPECT_EQ(j["reward_histograms"]["rule"]["[.9,1]"], 26);  // 39 - 13 multiples of 3
  EXPECT_EQ(j["checkpoints"][0]["version"], 3);
}

TEST(StorageCli, LsFilters) {
  TempDir dir;
  { filled(dir.sub("s")); }
  auto ids = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"ls", dir.sub("s"), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun r = replay(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<uint64_t> out;
    for (auto& row : json::parse(r.out)) out.push_back(row["id"]);
    return out;
  };
  EXPECT_EQ(ids({}).size(), 39u);
  EXPECT_EQ(ids({"--limit", "5"}), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(ids({"--limit", "2", "--newest"}), (std::vector<uint64_t>{39, 38}));
  EXPECT_EQ(ids({"--task", "logic", "--limit", "3"}), (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(ids({"--min-version", "3"}).size(), 10u);
  EXPECT_EQ(ids({"--min-version", "1", "--max-version", "2"}).size(), 20u);
  for (uint64_t id : ids({"--reward-max", "0.5"})) EXPECT_EQ(id % 3, 0u);
  EXPECT_EQ(ids({"--reward-min", "0.5"}).size(), 26u);
  EXPECT_EQ(ids({"--source-disagree"}), (std::vector<uint64_t>{7, 14, 21, 28, 35}));
  CliRun human = replay({"ls", dir.sub("s"), "--task", "arith", "--limit", "2"});
  ASSERT_EQ(human.code, 0);
  EXPECT_NE(human.out.find("arith"), std::string::npos);
  EXPECT_EQ(std::count(human.out.begin(), human.out.end(), '\n'), 3);  // header + 2 rows
}

TEST(StorageCli, ShowReportsRewardsLogprobsAndStaleness) {
  TempDir dir;
  {
    auto store = filled(dir.sub("s"));
    SampleRequest req;
    req.max_rollouts = 1;
    req.learner_version = 5;
    ASSERT_TRUE(store->sample(req).is_ok());  // hands out id 1 (policy version 0) to learner version 5
  }
  CliRun r = replay({"show", dir.sub("s"), "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  const wire::ScoredRolloutT expected = synthetic_rollout(spec(1));
  EXPECT_EQ(j["prompt"], expected.prompt_text);
  EXPECT_EQ(j["response"], expected.rollout->response_text);
  EXPECT_EQ(j["response_tokens"], expected.rollout->response_tokens.size());
  EXPECT_EQ(j["rewards"]["components"].size(), 3u);
  EXPECT_EQ(j["rewards"]["components"][1]["source"], "Verifier");
  // Each component's latency as the reward actor stored it (synthetic: rule 0, verifier 12.5, preference 31.25).
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j["rewards"]["components"][i]["latency_ms"].get<double>(),
              expected.rewards->components[i]->latency_ms) << i;
  }
  EXPECT_EQ(j["rewards"]["components"][2]["latency_ms"].get<double>(), 31.25);
  EXPECT_EQ(j["staleness_at_training"], 5);
  double sum = 0;
  for (float lp : expected.rollout->behaviour_logprobs) sum += lp;
  EXPECT_NEAR(j["behaviour_logprob"]["sum"].get<double>(), sum, 1e-3);  // float accumulation order differs
  CliRun human = replay({"show", dir.sub("s"), "2"});
  ASSERT_EQ(human.code, 0);
  EXPECT_NE(human.out.find("not yet trained on"), std::string::npos);
  EXPECT_NE(human.out.find("Preference"), std::string::npos);
  EXPECT_NE(human.out.find("latency ms"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find(" 12.5 "), std::string::npos) << human.out;  // the verifier source's latency
  CliRun missing = replay({"show", dir.sub("s"), "999"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no rollout with id 999"), std::string::npos);
}

TEST(StorageCli, ExportJsonLines) {
  TempDir dir;
  { filled(dir.sub("s")); }
  CliRun r = replay({"export", dir.sub("s"), "--task", "logic"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j["task"], "logic");
    EXPECT_TRUE(j.contains("response") && j.contains("reward_components") && j.contains("policy_version"));
    ASSERT_EQ(j["reward_components"].size(), 3u);
    EXPECT_EQ(j["reward_components"][1]["latency_ms"].get<double>(), 12.5);
    EXPECT_FALSE(j.contains("response_tokens"));
    ++n;
  }
  EXPECT_EQ(n, 19);
  const std::string file = dir.sub("out.jsonl");
  CliRun f = replay({"export", dir.sub("s"), "--format", "jsonl", "--tokens", "--limit", "3", "--out", file});
  ASSERT_EQ(f.code, 0) << f.err;
  std::ifstream in(file);
  n = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j["response_tokens"].size(), j["behaviour_logprobs"].size());
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_NE(replay({"export", dir.sub("s"), "--format", "csv"}).code, 0);
}

TEST(StorageCli, TailFollowsAConcurrentWriter) {
  TempDir dir;
  auto writer = filled(dir.sub("s"));
  constexpr int kNew = 60;
  std::atomic<bool> failed{false};
  std::thread appender([&] {
    for (uint64_t rid = 100; rid < 100 + kNew; ++rid) {
      if (!writer->append(synthetic_rollout_bytes(spec(rid)))) failed = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a trickle, so tail sees several catch-ups
    }
  });
  // The last 3 stored before the writer started, then the 60 it adds; --for bounds the test.
  CliRun r = replay({"tail", dir.sub("s"), "--json", "--after", "36", "--count", std::to_string(3 + kNew), "--poll-ms",
                  "20", "--for", "60"});
  appender.join();
  ASSERT_FALSE(failed.load());
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<uint64_t> ids;
  while (std::getline(lines, line)) ids.push_back(json::parse(line)["id"]);
  std::string seen;
  for (uint64_t id : ids) seen += std::to_string(id) + " ";
  ASSERT_EQ(ids.size(), size_t(3 + kNew)) << "tail printed ids " << seen << "\n" << r.err;
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], 37 + i);  // 37, 38, 39, then 40..99 in order
}

TEST(StorageCli, VerifyCleanAndDamaged) {
  TempDir dir;
  { filled(dir.sub("s")); }
  CliRun clean = replay({"verify", dir.sub("s")});
  EXPECT_EQ(clean.code, 0) << clean.err;
  EXPECT_NE(clean.out.find("39 verified, 0 corrupt"), std::string::npos) << clean.out;
  troupe::testing::RawStore(dir.sub("s")).put("rollouts", troupe::testing::RawStore::id_key(5), "junk");
  CliRun bad = replay({"verify", dir.sub("s"), "--json"});
  EXPECT_EQ(bad.code, 1);
  json j = json::parse(bad.out);
  EXPECT_EQ(j["corrupt"], 1);
  EXPECT_EQ(j["verified"], 38);
  EXPECT_EQ(j["corrupt_examples"][0]["key"], "0000000000000005");
  // Other verbs skip it, say so, and go on.
  CliRun ls = replay({"ls", dir.sub("s"), "--limit", "0"});
  EXPECT_EQ(ls.code, 0);
  EXPECT_NE(ls.err.find("key 0000000000000005"), std::string::npos) << ls.err;
  EXPECT_EQ(std::count(ls.out.begin(), ls.out.end(), '\n'), 39);  // header + 38
}

TEST(StorageCli, ClearMessagesForWhatIsNotAStore) {
  TempDir dir;
  CliRun missing = replay({"stats", dir.sub("nothing")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  fs::create_directories(dir.sub("other"));
  std::ofstream(dir.sub("other") + "/notes.txt") << "hi";
  CliRun other = replay({"ls", dir.sub("other")});
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("not a troupe replay store"), std::string::npos) << other.err;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.sub("plain"), &db).ok());
    delete db;
  }
  CliRun plain = replay({"verify", dir.sub("plain")});
  EXPECT_EQ(plain.code, 1);
  EXPECT_NE(plain.err.find("RocksDB database but not a troupe replay store"), std::string::npos) << plain.err;
  // A store a newer troupe wrote: every verb refuses it and says which schema it has.
  { filled(dir.sub("newer")); }
  troupe::testing::RawStore(dir.sub("newer")).put("meta", "schema", std::to_string(kStoreSchemaVersion + 1));
  for (const char* verb : {"stats", "ls", "export", "tail", "verify"}) {
    CliRun newer = replay({verb, dir.sub("newer"), "--json"});
    EXPECT_EQ(newer.code, 1) << verb;
    EXPECT_NE(newer.err.find("written by a newer troupe (store schema " + std::to_string(kStoreSchemaVersion + 1)),
              std::string::npos)
        << verb << ": " << newer.err;
    EXPECT_TRUE(newer.out.empty()) << verb << ": " << newer.out;
  }
  CliRun show = replay({"show", dir.sub("newer"), "1"});
  EXPECT_EQ(show.code, 1);
  EXPECT_NE(show.err.find("newer troupe"), std::string::npos) << show.err;
  EXPECT_NE(replay({"show", dir.sub("nothing")}).code, 0);  // ID missing: a usage error from CLI11
}

}  // namespace
}  // namespace troupe::storage
