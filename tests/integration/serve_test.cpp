// `troupe serve` as a real process on 127.0.0.1 and the reward-side clients
// calling it over HTTP: the troupe scoring recipe (batched), the
// compass_verifier recipe (chat completions, A/B/C), the reward actor's model
// source code (ModelRewards + score_group) on a real group, retries against a
// dead endpoint, clear errors for bad requests, and completions from a policy.
// Every server is started with --port 0 (the OS picks a free port), read back
// from --port-file, and stopped by its PID (SIGTERM, then SIGKILL).
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/model_reward.hpp"
#include "actors/scoring.hpp"
#include "envs/registry.hpp"
#include "model/checkpoint.hpp"
#include "rewards/http_client.hpp"
#include "rewards/reward_model.hpp"
#include "rewards/source_client.hpp"

extern char** environ;

namespace troupe {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("troupe_serve_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A `troupe serve` child process, stopped by PID.
class ServeProcess {
 public:
  explicit ServeProcess(const fs::path& checkpoint) {
    port_file_ = checkpoint.string() + ".port";
    fs::remove(port_file_);
    std::vector<std::string> args = {TROUPE_BIN, "serve", "--checkpoint", checkpoint.string(), "--port", "0",
                                     "--port-file", port_file_, "--threads", "4"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, TROUPE_BIN, nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    // 60 s: a loaded CI machine may take long to start the process; it usually takes milliseconds.
    for (int i = 0; i < 1200 && pid_ > 0 && port_ == 0; ++i) {
      std::ifstream in(port_file_);
      if (in >> port_) break;
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() { stop(); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // SIGTERM and a graceful exit; SIGKILL after 10 s. Returns the exit status (or -1).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string port_file_;
};

model::ModelConfig tiny(bool head, int k) {
  model::ModelConfig c;
  c.d_model = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.context = 128;
  c.scalar_head = head;
  c.head_outputs = k;
  return c;
}

fs::path save_tiny(const std::string& name, bool head, int k, uint64_t seed) {
  fs::path d = temp_dir(name);
  auto m = model::Transformer::create(tiny(head, k), seed);
  EXPECT_TRUE(m.is_ok());
  EXPECT_TRUE(model::save_checkpoint(d.string(), *m).is_ok());
  return d;
}

class VerifierServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(save_tiny("verifier", true, 3, 17));
    server_ = new ServeProcess(*dir_);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(), 0) << "troupe serve exits cleanly on SIGTERM";
    delete server_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override { ASSERT_GT(server_->port(), 0) << "troupe serve did not start"; }
  static rewards::ScoringModel local() { return rewards::ScoringModel(model::load_checkpoint(dir_->string()).value()); }

  static fs::path* dir_;
  static ServeProcess* server_;
};
fs::path* VerifierServer::dir_ = nullptr;
ServeProcess* VerifierServer::server_ = nullptr;

std::vector<rewards::ScoreItem> items() {
  return {{"7+8=", "15", "15"},         {"7+8=", "15", "\\boxed{15}"}, {"7+8=", "15", "16"},
          {"sort 3,1=", "1,3", "3,1"},  {"q", "abc", ""},              {"q", "abc", "so so so so so so so"},
          {"What is 2*21?", "42", "The answer is 42."}};
}

TEST_F(VerifierServer, TroupeRecipeMatchesTheModelScoredLocally) {
  rewards::SourceClientConfig c;
  c.endpoint = server_->url() + "/v1";  // a trailing /v1 is accepted
  c.max_batch = 3;                      // 7 items -> 3 requests
  c.concurrency = 2;
  auto client = rewards::SourceClient::create(c);
  ASSERT_TRUE(client.is_ok()) << client.status().message();
  auto got = (*client)->score(items());
  auto m = local();
  std::vector<std::string> q, r, s;
  for (const auto& it : items()) q.push_back(it.question), r.push_back(it.reference), s.push_back(it.response);
  auto want = m.judge(q, r, s);
  ASSERT_TRUE(want.is_ok());
  ASSERT_EQ(got.size(), want->size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok) << got[i].detail;
    // 1e-5: the same floats, printed and parsed as JSON decimals.
    EXPECT_NEAR(got[i].score, (*want)[i][0], 1e-5) << i;
    EXPECT_GT(got[i].latency_ms, 0.0);
    const auto best = std::max_element((*want)[i].begin(), (*want)[i].end()) - (*want)[i].begin();
    EXPECT_EQ(got[i].detail, rewards::label_name(rewards::VerifierLabel(best)));
  }
}

TEST_F(VerifierServer, CompassRecipeGetsTheVerifiersLetter) {
  rewards::SourceClientConfig c;
  c.endpoint = server_->url();
  c.recipe = "compass_verifier";
  c.concurrency = 3;
  auto client = rewards::SourceClient::create(c);
  ASSERT_TRUE(client.is_ok());
  auto got = (*client)->score(items());
  auto m = local();
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok) << got[i].detail;
    auto p = m.judge({items()[i].question}, {items()[i].reference}, {items()[i].response});
    ASSERT_TRUE(p.is_ok());
    const auto best = rewards::VerifierLabel(std::max_element((*p)[0].begin(), (*p)[0].end()) - (*p)[0].begin());
    EXPECT_EQ(got[i].detail, rewards::label_name(best));
    EXPECT_EQ(got[i].score, best == rewards::VerifierLabel::kCorrect ? 1.0f : 0.0f);
  }
}

// What the reward actor does with a group: rule verdicts from the env task,
// model scores over HTTP from ModelRewards, the mixture in score_group.
TEST_F(VerifierServer, RewardActorCodeScoresAGroupOverHttp) {
  auto task = envs::find_task("addition");
  ASSERT_TRUE(task.is_ok());
  auto c = (*task)->generate_level(42, 3);
  ASSERT_TRUE(c.is_ok());
  wire::PromptT p;
  p.prompt_id = 5;
  p.task = "addition";
  p.difficulty = 3;
  p.seed = 42;
  p.identity_json = c->identity.dump();
  p.text = c->prompt;
  p.group_size = 4;
  const std::vector<std::string> responses = {c->answer, "\\boxed{" + c->answer + "}", "1", ""};
  std::vector<wire::Bytes> rollouts;
  std::vector<actors::RuleVerdict> verdicts;
  for (size_t i = 0; i < responses.size(); ++i) {
    wire::RolloutT r;
    r.rollout_id = 100 + i;
    r.prompt_id = 5;
    r.group_index = int(i);
    r.task = "addition";
    r.response_text = responses[i];
    rollouts.push_back(wire::pack(r));
    auto v = (*task)->verify(c->identity, responses[i]);
    ASSERT_TRUE(v.is_ok());
    verdicts.push_back({v->score, v->extracted, v->extracted_answer, true});
  }
  // Mixed: rule and verifier both weighted, so the verifier scores every response.
  configs::ExperimentConfig cfg;
  cfg.tasks = {configs::TaskEntry{.name = "addition"}};
  configs::RewardSourceConfig rule, verifier;
  verifier.kind = "verifier";
  verifier.weight = 0.5;
  verifier.endpoint = server_->url();
  verifier.max_batch = 2;
  rule.weight = 0.5;
  cfg.rewards.default_recipe.sources = {rule, verifier};
  cfg.rewards.default_recipe.normalise = "none";
  auto models = actors::ModelRewards::create(cfg, nullptr);
  ASSERT_TRUE(models.is_ok()) << models.status().message();
  ASSERT_TRUE(*models != nullptr);
  EXPECT_TRUE((*models)->needs_models("addition"));
  actors::ModelGroup g{wire::pack(p), rollouts, verdicts, {}};
  (*models)->score_now(g);
  ASSERT_EQ(g.model_scores.size(), responses.size());
  for (const auto& s : g.model_scores) {
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].kind, rl::RewardSourceKind::kVerifier);
    EXPECT_TRUE(s[0].ok) << s[0].detail;
    EXPECT_GT(s[0].latency_ms, 0.0f);
  }
  auto recipe = actors::recipe_from_config(cfg.rewards.default_recipe);
  ASSERT_TRUE(recipe.is_ok());
  auto prompt_bytes = wire::pack(p);
  auto scored = actors::score_group(**wire::read<wire::Prompt>(prompt_bytes), rollouts, g.verdicts, g.model_scores,
                                    *recipe, nullptr, 1);
  ASSERT_TRUE(scored.is_ok());
  for (size_t i = 0; i < scored->size(); ++i) {
    auto s = wire::read<wire::ScoredRollout>((*scored)[i]);
    ASSERT_TRUE(s.is_ok());
    bool has_verifier = false;
    for (const auto* comp : *(*s)->rewards()->components()) {
      if (comp->source() != wire::RewardSource::Verifier) continue;
      has_verifier = true;
      EXPECT_TRUE(comp->ok());
      EXPECT_GT(comp->latency_ms(), 0.0f);
      EXPECT_NEAR(comp->raw(), g.model_scores[i][0].raw, 1e-6);
      EXPECT_FALSE(comp->detail()->str().empty());
    }
    EXPECT_TRUE(has_verifier);
  }
  // Fallback only: weight 0 and rule_fails_without_answer -> only the empty response is sent.
  cfg.rewards.default_recipe.sources[1].weight = 0;
  cfg.rewards.default_recipe.sources[0].weight = 1;
  cfg.rewards.default_recipe.fallback = {"verifier"};
  cfg.rewards.default_recipe.rule_fails_without_answer = true;
  auto fallback = actors::ModelRewards::create(cfg, nullptr);
  ASSERT_TRUE(fallback.is_ok());
  actors::ModelGroup h{wire::pack(p), rollouts, verdicts, {}};
  (*fallback)->score_now(h);
  for (size_t i = 0; i < responses.size(); ++i) {
    const bool unextracted = !verdicts[i].extracted;
    EXPECT_EQ(h.model_scores[i].size(), unextracted ? 1u : 0u) << "response " << i << ": " << responses[i];
    EXPECT_EQ(h.verdicts[i].ok, !unextracted);
  }
  EXPECT_FALSE(verdicts[3].extracted) << "the empty response has no answer to extract";
}

TEST_F(VerifierServer, BadRequestsGetClearErrors) {
  rewards::HttpOptions o;
  o.retries = 0;
  auto r = rewards::post_json(server_->url() + "/v1/score", "{}", o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("items"), std::string::npos) << r.status().message();
  r = rewards::post_json(server_->url() + "/v1/score", "not json", o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("JSON"), std::string::npos);
  r = rewards::post_json(server_->url() + "/v1/completions", R"({"prompt": "hello"})", o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("verifier"), std::string::npos) << r.status().message();
  r = rewards::post_json(server_->url() + "/v1/score", R"({"kind": "preference", "items": [{"response": "x"}]})", o);
  ASSERT_FALSE(r.is_ok());
  auto models = rewards::get_url(server_->url() + "/v1/models", 5000);
  ASSERT_TRUE(models.is_ok());
  EXPECT_EQ(Json::parse(*models)["data"][0]["object"], "model");
  auto health = rewards::get_url(server_->url() + "/health", 5000);
  ASSERT_TRUE(health.is_ok());
  EXPECT_EQ(Json::parse(*health)["kind"], "verifier");
}

// POLAR-style relative preference: each score is the response's minus its reference response's,
// and a reference shared by several items of a request (a group's prompt) is scored once.
TEST(ServeClient, RelativePreferenceSubtractsEachItemsOwnReference) {
  fs::path dir = save_tiny("preference", true, 1, 23);
  ServeProcess server(dir);
  ASSERT_GT(server.port(), 0) << "troupe serve did not start";
  rewards::SourceClientConfig c;
  c.endpoint = server.url();
  c.name = "preference";
  c.preference = true;
  c.relative = true;
  c.max_batch = 4;  // 6 items -> 2 requests; the first holds two references, the second one
  auto client = rewards::SourceClient::create(c);
  ASSERT_TRUE(client.is_ok()) << client.status().message();
  const std::vector<rewards::ScoreItem> items = {
      {"describe a cat", "A cat is a small furry animal.", "A cat purrs."},
      {"describe a cat", "A cat is a small furry animal.", "cat cat cat"},
      {"describe a dog", "A dog barks and wags its tail.", "Dogs are loyal."},
      {"describe a cat", "A cat is a small furry animal.", ""},
      {"describe a dog", "A dog barks and wags its tail.", "It barks."},
      {"describe a dog", "A dog barks and wags its tail.", "A dog barks and wags its tail."}};
  auto got = (*client)->score(items);
  auto m = rewards::ScoringModel(model::load_checkpoint(dir.string()).value());
  std::vector<std::string> prompts, responses, references;
  for (const auto& it : items) {
    prompts.push_back(it.question);
    responses.push_back(it.response);
    references.push_back(it.reference);
  }
  auto abs = m.preference(prompts, responses);
  auto ref = m.preference(prompts, references);
  ASSERT_TRUE(abs.is_ok() && ref.is_ok());
  ASSERT_EQ(got.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(got[i].ok) << got[i].detail;
    EXPECT_NEAR(got[i].score, (*abs)[i] - (*ref)[i], 1e-5) << i;
  }
  EXPECT_NEAR(got[5].score, 0.0f, 1e-5) << "the reference itself scores level with the reference";
  EXPECT_EQ(server.stop(), 0);
  fs::remove_all(dir);
}

TEST(ServeClient, RetriesWithBackoffThenFailsOnADeadEndpoint) {
  // A port that was just free: start a server, note its port, stop it.
  fs::path dir = save_tiny("dead", true, 3, 1);
  int port = 0;
  {
    ServeProcess s(dir);
    port = s.port();
    ASSERT_GT(port, 0);
    s.stop();
  }
  rewards::HttpOptions o;
  o.timeout_ms = 500;
  o.retries = 2;
  o.backoff_ms = 20;
  int attempts = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rewards::post_json("http://127.0.0.1:" + std::to_string(port) + "/v1/score", "{}", o, &attempts);
  const double waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(attempts, 3);
  EXPECT_NE(r.status().message().find("3 attempt"), std::string::npos) << r.status().message();
  EXPECT_GE(waited, 20.0 + 40.0) << "two backoffs of 20 and 40 ms at least";
  rewards::SourceClientConfig c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(port);
  c.http = o;
  auto client = rewards::SourceClient::create(c);
  ASSERT_TRUE(client.is_ok());
  auto got = (*client)->score({{"q", "1", "1"}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].ok) << "a dead source leaves the decision to the recipe's fallback";
  fs::remove_all(dir);
}

TEST(ServeClient, PolicyCheckpointAnswersCompletions) {
  fs::path dir = save_tiny("policy", false, 1, 3);
  ServeProcess s(dir);
  ASSERT_GT(s.port(), 0);
  rewards::HttpOptions o;
  auto r = rewards::post_json(s.url() + "/v1/completions",
                              R"({"prompt": "7+8=", "max_tokens": 5, "temperature": 0, "seed": 1})", o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  Json j = Json::parse(*r);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["choices"][0]["text"].is_string());
  EXPECT_LE(j["usage"]["completion_tokens"].get<int>(), 5);
  r = rewards::post_json(s.url() + "/v1/chat/completions",
                         R"({"messages": [{"role": "user", "content": "7+8="}], "max_tokens": 4, "temperature": 0})", o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  j = Json::parse(*r);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  // Greedy decoding is deterministic: the same prompt gives the same text.
  auto again = rewards::post_json(s.url() + "/v1/chat/completions",
                                  R"({"messages": [{"role": "user", "content": "7+8="}], "max_tokens": 4, "temperature": 0})", o);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(Json::parse(*again)["choices"][0]["message"]["content"], j["choices"][0]["message"]["content"]);
  auto score = rewards::post_json(s.url() + "/v1/score", R"({"items": [{"response": "x"}]})", o);
  EXPECT_FALSE(score.is_ok()) << "a policy is not a reward model";
  EXPECT_EQ(s.stop(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace troupe
