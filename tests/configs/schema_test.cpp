// The experiment schema: what is accepted, what is refused, and where the refusal points.
#include "configs/schema.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace troupe::configs {
namespace {

const char* kMinimal = "tasks:\n  - name: Game24bootcamp\n";

Result<ExperimentConfig> parse(const std::string& text) { return parse_config(text, "t.yaml"); }

std::string error_of(const std::string& text) {
  auto r = parse(text);
  EXPECT_FALSE(r.is_ok()) << "expected a failure for:\n" << text;
  return r.is_ok() ? "" : r.status().message();
}

TEST(ConfigSchema, MinimalConfigFillsDefaults) {
  auto c = parse(kMinimal);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  ASSERT_EQ(c->tasks.size(), 1u);
  EXPECT_EQ(c->tasks[0].name, "Game24bootcamp");
  EXPECT_DOUBLE_EQ(c->tasks[0].weight, 1.0);
  EXPECT_EQ(c->algorithm.objective, "ppo");
  EXPECT_EQ(c->async.max_staleness, 2);
  ASSERT_EQ(c->rewards.default_recipe.sources.size(), 1u);
  EXPECT_EQ(c->rewards.default_recipe.sources[0].kind, "rule");
}

TEST(ConfigSchema, ShippedConfigsAreValid) {
  for (const char* f : {"/configs/local.yaml", "/configs/cluster-example.yaml", "/configs/mor.yaml"}) {
    auto c = load_config(std::string(TROUPE_SOURCE_DIR) + f);
    EXPECT_TRUE(c.is_ok()) << f << ": " << c.status().message();
  }
}

TEST(ConfigSchema, WrongTypeNamesFileLineColumnAndPath) {
  std::string msg = error_of(std::string(kMinimal) + "algorithm:\n  group_size: 8\n  lr: fast\n");
  EXPECT_NE(msg.find("t.yaml:5:7: algorithm.lr: expected a number"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got \"fast\""), std::string::npos) << msg;
}

TEST(ConfigSchema, QuotedNumberIsAWrongType) {
  std::string msg = error_of(std::string(kMinimal) + "async:\n  max_staleness: \"3\"\n");
  EXPECT_NE(msg.find("t.yaml:4:18: async.max_staleness: expected a integer"), std::string::npos) << msg;
}

TEST(ConfigSchema, OutOfRangeSaysTheRange) {
  std::string msg = error_of(std::string(kMinimal) + "algorithm:\n  top_p: 1.5\n");
  EXPECT_NE(msg.find("t.yaml:4:10: algorithm.top_p: expected a number in (0.0, 1.0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(ConfigSchema, UnknownKeySuggestsNearest) {
  std::string msg = error_of(std::string(kMinimal) + "algorithm:\n  learning_rat: 0.1\n  grup_size: 4\n");
  EXPECT_NE(msg.find("t.yaml:4:3: algorithm.learning_rat: unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t.yaml:5:3: algorithm.grup_size: unknown key; did you mean \"group_size\"?"), std::string::npos)
      << msg;
}

TEST(ConfigSchema, MissingRequiredField) {
  std::string msg = error_of("model:\n  d_model: 64\n");
  EXPECT_NE(msg.find("tasks: missing required field"), std::string::npos) << msg;
  msg = error_of("tasks:\n  - weight: 2\n");
  EXPECT_NE(msg.find("t.yaml:2:5: tasks[0].name: missing required field"), std::string::npos) << msg;
}

TEST(ConfigSchema, EnumValuesListed) {
  std::string msg = error_of(std::string(kMinimal) + "algorithm:\n  objective: reinforce\n");
  EXPECT_NE(msg.find("algorithm.objective: expected one of grpo, ppo, oreal, got \"reinforce\""), std::string::npos)
      << msg;
}

TEST(ConfigSchema, AllProblemsReportedInLineOrder) {
  std::string msg = error_of("tasks:\n  - name: a\n    weight: -1\nmodel:\n  n_layers: zero\nbogus: 1\n");
  auto a = msg.find("tasks[0].weight"), b = msg.find("model.n_layers"), c = msg.find("bogus");
  ASSERT_NE(a, std::string::npos) << msg;
  ASSERT_NE(b, std::string::npos) << msg;
  ASSERT_NE(c, std::string::npos) << msg;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(ConfigSchema, CrossFieldChecks) {
  EXPECT_NE(error_of(std::string(kMinimal) + "model: {d_model: 100, n_heads: 3}\n").find("model.n_heads"),
            std::string::npos);
  EXPECT_NE(error_of("tasks:\n  - {name: a, difficulty: {min: 3, max: 2}}\n").find("difficulty.min <="),
            std::string::npos);
  EXPECT_NE(error_of("tasks: [{name: a}, {name: a}]\n").find("appears twice"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "rewards:\n  per_task:\n    Sudoku: {}\n").find("not in the tasks"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "monitoring: {listen: nowhere}\n").find("HOST:PORT"), std::string::npos);
}

TEST(ConfigSchema, RewardModelSources) {
  const std::string head = std::string(kMinimal) + "rewards:\n  default:\n    sources:\n";
  // A model source needs an endpoint; the error points at it.
  EXPECT_NE(error_of(head + "      - {kind: verifier, weight: 1}\n").find("rewards.default.sources[0].endpoint"),
            std::string::npos);
  EXPECT_NE(error_of(head + "      - {kind: preference, endpoint: 'http://h:1', recipe: compass_verifier}\n")
                .find("verifier recipe"),
            std::string::npos);
  EXPECT_NE(error_of(head + "      - {kind: verifier, endpoint: 'http://h:1', recipe: nonsense}\n").find("compass_verifier"),
            std::string::npos);
  EXPECT_NE(error_of(head + "      - {kind: verifier, endpoint: 'http://h:1', concurrency: 0}\n").find("concurrency"),
            std::string::npos);
  auto c = parse(head + "      - {kind: rule}\n      - {kind: verifier, weight: 0, endpoint: 'http://h:1', max_batch: 8, "
                        "retries: 1, backoff_ms: 10, relative: false}\n    fallback: [verifier]\n"
                        "    rule_fails_without_answer: true\n  running_window: 64\n");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_TRUE(c->rewards.default_recipe.rule_fails_without_answer);
  EXPECT_EQ(c->rewards.default_recipe.sources[1].max_batch, 8);
  EXPECT_EQ(c->rewards.default_recipe.sources[1].concurrency, 4);  // the default
  EXPECT_DOUBLE_EQ(c->rewards.running_window, 64);
  auto back = parse(to_yaml(*c));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(*back, *c);
}

TEST(ConfigSchema, PlacementChecks) {
  std::string base = std::string(kMinimal) +
                     "placement:\n  hosts:\n    - {name: h, gpus: [0]}\n    - {name: g, port: 13370}\n  roles:\n"
                     "    - {role: learner, host: h, gpus: [1]}\n    - {role: env, host: nowhere}\n";
  std::string msg = error_of(base);
  EXPECT_NE(msg.find("GPU 1 is not among"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown host \"nowhere\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("port 13370 on 127.0.0.1 is already used"), std::string::npos) << msg;
  EXPECT_NE(msg.find("role \"controller\" is placed on no host"), std::string::npos) << msg;
}

TEST(ConfigSchema, YamlSyntaxErrorHasLocation) {
  std::string msg = error_of("tasks:\n  - name: [unclosed\n");
  EXPECT_NE(msg.find("t.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
}

TEST(ConfigSchema, DuplicateKeyRefused) {
  std::string msg = error_of(std::string(kMinimal) + "async: {max_staleness: 1}\nasync: {max_staleness: 2}\n");
  EXPECT_NE(msg.find("t.yaml:4:1: async: duplicate key"), std::string::npos) << msg;
}

TEST(ConfigSchema, ShowRoundTripsEveryField) {
  auto c = load_config(std::string(TROUPE_SOURCE_DIR) + "/configs/cluster-example.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  std::string text = to_yaml(*c);
  auto again = parse_config(text, "shown.yaml");
  ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << text;
  EXPECT_EQ(*again, *c);
  EXPECT_NE(text.find("importance_cap: 5.0"), std::string::npos) << "defaults must be written out:\n" << text;
}

TEST(ConfigSchema, MissingFileIsClear) {
  auto r = load_config("/nonexistent/x.yaml");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("cannot read config file \"/nonexistent/x.yaml\""), std::string::npos);
}

TEST(ConfigSchema, DescribeListsNestedKeys) {
  std::string d = describe_schema();
  EXPECT_NE(d.find("algorithm.clip"), std::string::npos);
  EXPECT_NE(d.find("tasks[].difficulty.max"), std::string::npos);
  EXPECT_NE(d.find("rewards.per_task.<name>.sources[].kind"), std::string::npos);
}

}  // namespace
}  // namespace troupe::configs
