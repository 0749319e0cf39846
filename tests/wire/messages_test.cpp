// Every wire message: a round trip through bytes, and rejection of damaged bytes.
#include "wire/messages.hpp"

#include <gtest/gtest.h>

#include <random>

namespace troupe::wire {
namespace {

RolloutT sample_rollout() {
  RolloutT r;
  r.rollout_id = 42;
  r.prompt_id = 7;
  r.group_index = 3;
  r.task = "Game24bootcamp";
  r.difficulty = 2;
  r.policy_version = 9;
  r.worker = "policy/1";
  r.prompt_tokens = {1, 2, 3};
  r.response_tokens = {40, 41, 42, 43};
  r.behaviour_logprobs = {-0.1f, -2.5f, -0.01f, -7.0f};
  r.response_text = "(1+2)*8";
  r.finish = FinishReason::Length;
  r.created_unix_ms = 1700000000000ull;
  return r;
}

ScoredRolloutT sample_scored() {
  ScoredRolloutT s;
  s.rollout = std::make_unique<RolloutT>(sample_rollout());
  s.prompt_text = "Make 24 from 1 2 3 8";
  s.identity_json = R"({"puzzle":"1 2 3 8","target":24})";
  s.answer_found = true;
  s.extracted_answer = "(1+2)*8";
  s.rewards = std::make_unique<RewardBreakdownT>();
  auto c = std::make_unique<RewardComponentT>();
  c->source = RewardSource::Verifier;
  c->raw = 0.75f;
  c->normalised = 0.5f;
  c->weight = 0.2f;
  c->detail = "A";
  s.rewards->components.push_back(std::move(c));
  s.rewards->total = 0.9f;
  s.scored_unix_ms = 5;
  return s;
}

template <class NativeT>
void expect_round_trip(const NativeT& obj) {
  using T = typename NativeT::TableType;
  Bytes b = pack(obj);
  auto r = read<T>(b);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  NativeT back;
  (*r)->UnPackTo(&back);
  EXPECT_TRUE(back == obj) << kind_name(MessageTraits<T>::kind);
  EXPECT_EQ(*identify(b.span()), MessageTraits<T>::kind);
  EXPECT_EQ(*verify_any(b.span()), MessageTraits<T>::kind);
}

TEST(WireMessages, EveryTableRoundTrips) {
  PromptT p;
  p.prompt_id = 1;
  p.task = "Sudokubootcamp";
  p.difficulty = 3;
  p.seed = 99;
  p.identity_json = "{}";
  p.text = "solve";
  p.tokens = {5, 6};
  p.group_size = 8;
  expect_round_trip(p);
  expect_round_trip(sample_rollout());
  expect_round_trip(sample_scored());

  BatchRequestT q;
  q.request_id = 3;
  q.learner = "learner/0";
  q.max_rollouts = 512;
  q.learner_version = 10;
  q.min_version = 8;
  q.order = SampleOrder::Uniform;
  q.balance_tasks = true;
  expect_round_trip(q);

  BatchT batch;
  batch.request_id = 3;
  batch.rollouts.push_back(std::make_unique<ScoredRolloutT>(sample_scored()));
  batch.rollouts.push_back(std::make_unique<ScoredRolloutT>(sample_scored()));
  expect_round_trip(batch);

  WeightManifestT m;
  m.version = 4;
  auto t = std::make_unique<TensorInfoT>();
  t->name = "blocks.0.attn.qkv.weight";
  t->dtype = "f32";
  t->shape = {384, 128};
  t->offset = 0;
  t->bytes = 384 * 128 * 4;
  m.tensors.push_back(std::move(t));
  m.total_bytes = 384 * 128 * 4;
  m.chunk_bytes = 65536;
  m.num_chunks = 3;
  m.checksum = 0xdeadbeef;
  expect_round_trip(m);

  WeightChunkT c;
  c.version = 4;
  c.index = 2;
  c.offset = 131072;
  c.checksum = 17;
  c.data.assign(1000, 0xab);
  expect_round_trip(c);

  HeartbeatT h;
  h.node = "gpu1";
  h.pid = 1234;
  h.sequence = 77;
  h.policy_version = 4;
  h.rss_bytes = 1 << 30;
  expect_round_trip(h);

  ControlT k;
  k.command = ControlCommand::Checkpoint;
  k.target = "learner/0";
  k.args_json = "{\"path\":\"x\"}";
  expect_round_trip(k);
}

TEST(WireMessages, WrongIdentifierRejected) {
  Bytes b = pack(sample_rollout());
  auto r = read<Prompt>(b);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("not a Prompt message"), std::string::npos) << r.status().message();
}

TEST(WireMessages, TruncatedBuffersRejected) {
  ScoredRolloutT original = sample_scored();
  Bytes b = pack(original);
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> cut(b.data(), b.data() + n);
    auto r = read<ScoredRollout>(std::span<const uint8_t>(cut));
    if (r.is_ok()) {
      // Only trailing alignment padding may go unnoticed; then nothing read may differ.
      EXPECT_GE(n + 8, b.size()) << "a prefix of " << n << " bytes was accepted";
      ScoredRolloutT back;
      (*r)->UnPackTo(&back);
      EXPECT_TRUE(back == original) << "a prefix of " << n << " bytes read differently";
    }
  }
}

TEST(WireMessages, CorruptedOffsetsRejected) {
  Bytes b = pack(sample_scored());
  std::vector<uint8_t> bad(b.data(), b.data() + b.size());
  // The root offset (first 4 bytes) pointing far past the end.
  bad[0] = 0xff;
  bad[1] = 0xff;
  bad[2] = 0xff;
  bad[3] = 0x7f;
  EXPECT_FALSE(read<ScoredRollout>(std::span<const uint8_t>(bad)).is_ok());
}

TEST(WireMessages, RandomBitFlipsNeverCrashAndAreMostlyCaught) {
  Bytes b = pack(sample_scored());
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bad(b.data(), b.data() + b.size());
    bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    auto r = read<ScoredRollout>(std::span<const uint8_t>(bad));
    if (r.is_ok()) {
      ++accepted;  // a flip inside a scalar or string payload is indistinguishable from data
      EXPECT_NE((*r)->rollout(), nullptr);
    }
  }
  EXPECT_LT(accepted, 2000);
}

TEST(WireMessages, NewerSchemaVersionRejected) {
  RolloutT r = sample_rollout();
  r.schema_version = kSchemaVersion + 1;
  auto res = read<Rollout>(pack(r));
  ASSERT_FALSE(res.is_ok());
  EXPECT_NE(res.status().message().find("schema version"), std::string::npos);
}

TEST(WireMessages, ShortOrUnknownBytes) {
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_FALSE(verify_any(std::span<const uint8_t>(tiny)).is_ok());
  std::vector<uint8_t> unknown(64, 0);
  unknown[4] = 'Z';
  auto r = verify_any(std::span<const uint8_t>(unknown));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("unknown file identifier"), std::string::npos);
}

TEST(WireMessages, BytesShareOneBuffer) {
  Bytes a = pack(sample_rollout());
  Bytes b = a;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.use_count(), 2);
}

}  // namespace
}  // namespace troupe::wire
