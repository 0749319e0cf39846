// Writes one valid message of every kind into DIR: the seed corpus of the fuzz smoke test.
#include <fstream>
#include <iostream>

#include "wire/messages.hpp"

using namespace troupe::wire;

namespace {
void write(const std::string& dir, const char* name, const Bytes& b) {
  std::ofstream(dir + "/" + name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: wire_fuzz_seeds DIR\n";
    return 2;
  }
  std::string dir = argv[1];
  RolloutT r;
  r.task = "Game24bootcamp";
  r.response_tokens = {1, 2, 3};
  r.behaviour_logprobs = {-1.f, -2.f, -3.f};
  write(dir, "rollout", pack(r));
  ScoredRolloutT s;
  s.rollout = std::make_unique<RolloutT>(r);
  s.rewards = std::make_unique<RewardBreakdownT>();
  s.rewards->components.push_back(std::make_unique<RewardComponentT>());
  write(dir, "scored", pack(s));
  PromptT p;
  p.task = "x";
  write(dir, "prompt", pack(p));
  BatchT batch;
  batch.rollouts.push_back(std::make_unique<ScoredRolloutT>(s));
  write(dir, "batch", pack(batch));
  WeightManifestT m;
  m.tensors.push_back(std::make_unique<TensorInfoT>());
  m.tensors.back()->name = "w";
  write(dir, "manifest", pack(m));
  WeightChunkT c;
  c.data = {1, 2, 3, 4};
  write(dir, "chunk", pack(c));
  HeartbeatT h;
  h.node = "n";
  write(dir, "heartbeat", pack(h));
  write(dir, "control", pack(ControlT{}));
  write(dir, "batch_request", pack(BatchRequestT{}));
  ActorMessageT group;
  group.request_id = 7;
  RolloutGroupT g;
  g.prompt = std::make_unique<BlobT>();
  g.prompt->bytes = {1, 2, 3, 4, 5, 6, 7, 8};
  g.rollouts.push_back(std::make_unique<BlobT>());
  g.rollouts.back()->bytes = {9, 10};
  group.body.Set(std::move(g));
  write(dir, "actor_group", pack(group));
  ActorMessageT verify;
  VerifyReplyT v;
  v.verdicts.push_back(std::make_unique<VerdictT>());
  v.verdicts.back()->extracted_answer = "24";
  verify.body.Set(std::move(v));
  write(dir, "actor_verify", pack(verify));
  return 0;
}
