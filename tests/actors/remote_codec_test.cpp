// The actor protocol codec: every body survives a round trip, and a message carrying a blob that is
// not the troupe message its body says is refused whole, naming the blob.
#include "actors/remote_codec.hpp"

#include <gtest/gtest.h>

namespace troupe::actors::remote {
namespace {

wire::Bytes prompt(uint64_t id) {
  wire::PromptT p;
  p.prompt_id = id;
  p.task = "copy";
  p.text = "copy:abc=";
  return wire::pack(p);
}

wire::Bytes rollout(uint64_t id, int index) {
  wire::RolloutT r;
  r.rollout_id = id;
  r.prompt_id = 9;
  r.group_index = index;
  r.task = "copy";
  r.response_tokens = {1, 2};
  r.behaviour_logprobs = {-0.5f, -0.25f};
  return wire::pack(r);
}

TEST(RemoteCodec, GenerateCallRoundTrips) {
  PromptTicket t{.prompt_id = 41, .task = 2, .task_name = "addition", .level = 3, .seed = 77, .attempt = 1};
  auto d = decode(generate_call(5, t));
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(d->request_id, 5u);
  EXPECT_EQ(d->in_reply_to, 0u);
  auto* got = std::get_if<PromptTicket>(&d->body);
  ASSERT_NE(got, nullptr) << body_name(d->body);
  EXPECT_EQ(got->prompt_id, 41u);
  EXPECT_EQ(got->task, 2u);
  EXPECT_EQ(got->task_name, "addition");
  EXPECT_EQ(got->level, 3);
  EXPECT_EQ(got->seed, 77u);
  EXPECT_EQ(got->attempt, 1);
}

TEST(RemoteCodec, VerifyCallAndReplyRoundTrip) {
  auto call = decode(verify_call(6, VerifyArgs{"{\"a\":1}", {"x", "", std::string(1000, 'y')}}));
  ASSERT_TRUE(call);
  auto* args = std::get_if<VerifyArgs>(&call->body);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->identity_json, "{\"a\":1}");
  EXPECT_EQ(args->responses, (std::vector<std::string>{"x", "", std::string(1000, 'y')}));

  std::vector<RuleVerdict> vs = {{1.0, true, "24", true}, {0.0, false, "", false}};
  auto reply = decode(verify_reply(6, vs));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->in_reply_to, 6u);
  auto* got = std::get_if<std::vector<RuleVerdict>>(&reply->body);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].score, 1.0);
  EXPECT_TRUE((*got)[0].extracted);
  EXPECT_EQ((*got)[0].extracted_answer, "24");
  EXPECT_FALSE((*got)[1].ok);
}

TEST(RemoteCodec, GroupKeepsEveryMessageByteForByte) {
  const wire::Bytes p = prompt(9);
  const Blobs rs = {rollout(1, 0), rollout(2, 1)};
  auto d = decode(rollout_group(p, rs));
  ASSERT_TRUE(d) << d.status().message();
  auto* g = std::get_if<GroupArgs>(&d->body);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->rollouts.size(), 2u);
  EXPECT_TRUE(std::equal(p.span().begin(), p.span().end(), g->prompt.span().begin(), g->prompt.span().end()));
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_TRUE(std::equal(rs[i].span().begin(), rs[i].span().end(), g->rollouts[i].span().begin(),
                           g->rollouts[i].span().end()));
  }
}

TEST(RemoteCodec, SmallBodiesRoundTrip) {
  auto done = decode(prompt_done(12, {1, 0, 1}));
  ASSERT_TRUE(done);
  EXPECT_EQ(std::get<DoneArgs>(done->body).prompt_id, 12u);
  EXPECT_EQ(std::get<DoneArgs>(done->body).passed, (std::vector<int>{1, 0, 1}));
  auto lost = decode(prompt_lost(13));
  ASSERT_TRUE(lost);
  EXPECT_EQ(std::get<LostArgs>(lost->body).prompt_id, 13u);
  auto version = decode(version_note(99));
  ASSERT_TRUE(version);
  EXPECT_EQ(std::get<VersionArgs>(version->body).version, 99u);
  auto batch = decode(batch_call(3, BatchArgs{7, 5, 128, 8}));
  ASSERT_TRUE(batch);
  const auto& b = std::get<BatchArgs>(batch->body);
  EXPECT_EQ(b.learner_version, 7u);
  EXPECT_EQ(b.min_version, 5u);
  EXPECT_EQ(b.max_rollouts, 128u);
  EXPECT_EQ(b.group_size, 8);
  auto failed = decode(call_failed(3, "no such actor"));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->in_reply_to, 3u);
  EXPECT_EQ(std::get<FailedArgs>(failed->body).error, "no such actor");
}

TEST(RemoteCodec, ABlobOfTheWrongKindRefusesTheWholeMessage) {
  // Also when the transport verified the ActorMessage itself: what it carries is verified here.
  for (Trust trust : {Trust::kVerify, Trust::kTransportVerified}) {
    // A Prompt where the second rollout should be: the group is refused, naming that rollout.
    auto d = decode(rollout_group(prompt(9), {rollout(1, 0), prompt(10)}), trust);
    ASSERT_FALSE(d);
    EXPECT_NE(d.status().message().find("RolloutGroup rollout 1"), std::string::npos) << d.status().message();
    // Garbage bytes as the prompt.
    auto g = decode(rollout_group(wire::Bytes(std::vector<uint8_t>(40, 0xab)), {}), trust);
    ASSERT_FALSE(g);
    EXPECT_NE(g.status().message().find("RolloutGroup prompt"), std::string::npos) << g.status().message();
  }
}

TEST(RemoteCodec, EncodedBytesStayWhatTheyWereWhenTheNextMessageIsEncoded) {
  // The encoders share one builder per thread: each message's bytes must be its own.
  PromptTicket t{.prompt_id = 5, .task = 1, .task_name = "dyck", .level = 2, .seed = 9, .attempt = 0};
  wire::Bytes call = generate_call(11, t);
  const std::vector<uint8_t> before(call.data(), call.data() + call.size());
  wire::Bytes note = prompt_note(12, prompt(13));
  wire::Bytes big = rollout_group(prompt(14), {rollout(1, 0), rollout(2, 1), rollout(3, 2)});
  EXPECT_EQ(std::vector<uint8_t>(call.data(), call.data() + call.size()), before);
  auto d = decode(call);
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(d->request_id, 11u);
  EXPECT_EQ(std::get<PromptTicket>(d->body).task_name, "dyck");
  auto n = decode(note);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(n->in_reply_to, 12u);
  EXPECT_TRUE(decode(big));
}

TEST(RemoteCodec, ABodyTypeWithoutItsBodyIsRefused) {
  // FlatBuffers' verifier lets a union through whose type is set but whose table is absent; a peer
  // could send one, so decode must refuse it instead of reading the missing table.
  for (auto type : {wire::ActorBody::GenerateCall, wire::ActorBody::VerifyReply, wire::ActorBody::PromptLost,
                    wire::ActorBody::BatchCall, wire::ActorBody::CallFailed}) {
    flatbuffers::FlatBufferBuilder fbb;
    auto msg = wire::CreateActorMessage(fbb, wire::kSchemaVersion, 1, 0, type, 0);
    const wire::Bytes bytes = wire::finish(fbb, msg);
    ASSERT_TRUE(wire::verify_any(bytes.span()));  // the transport lets it through
    for (Trust trust : {Trust::kVerify, Trust::kTransportVerified}) {
      auto d = decode(bytes, trust);
      ASSERT_FALSE(d) << wire::EnumNameActorBody(type);
      EXPECT_NE(d.status().message().find("carries no body"), std::string::npos) << d.status().message();
    }
  }
}

TEST(RemoteCodec, NotAnActorMessageIsRefused) {
  EXPECT_FALSE(decode(prompt(1)));
  EXPECT_FALSE(decode(wire::Bytes(std::vector<uint8_t>{1, 2, 3})));
}

}  // namespace
}  // namespace troupe::actors::remote
