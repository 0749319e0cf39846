// Writes one valid ActorMessage of every body kind into DIR, made by the remote codec's own
// encoders (with valid Prompt / Rollout / ScoredRollout blobs inside): the seed corpus of the
// remote-decode fuzz smoke test, so the fuzzer starts from messages decode accepts.
#include <fstream>
#include <iostream>
#include <string>

#include "actors/remote_codec.hpp"

using namespace troupe;
namespace remote = troupe::actors::remote;

namespace {
void write(const std::string& dir, const char* name, const wire::Bytes& b) {
  std::ofstream(dir + "/" + name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: actors_fuzz_seeds DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  wire::PromptT p;
  p.prompt_id = 3;
  p.task = "addition";
  p.identity_json = "{\"a\": 1}";
  p.text = "1+2=";
  p.group_size = 2;
  const wire::Bytes prompt = wire::pack(p);
  wire::RolloutT r;
  r.prompt_id = 3;
  r.task = "addition";
  r.response_text = "3";
  r.response_tokens = {51};
  r.behaviour_logprobs = {-0.5f};
  const wire::Bytes rollout = wire::pack(r);
  wire::ScoredRolloutT s;
  s.rollout = std::make_unique<wire::RolloutT>(r);
  s.rewards = std::make_unique<wire::RewardBreakdownT>();
  s.rewards->components.push_back(std::make_unique<wire::RewardComponentT>());
  const wire::Bytes scored = wire::pack(s);

  write(dir, "generate", remote::generate_call(1, actors::PromptTicket{3, 0, "addition", 2, 77, 0}));
  write(dir, "verify", remote::verify_call(2, remote::VerifyArgs{"{\"a\": 1}", {"3", "<answer>3</answer>"}}));
  write(dir, "verdicts", remote::verify_reply(2, {actors::RuleVerdict{1.0, true, "3", true}}));
  write(dir, "prompt_note", remote::prompt_note(1, prompt));
  write(dir, "group", remote::rollout_group(prompt, {rollout, rollout}));
  write(dir, "scored", remote::scored_group({scored}));
  write(dir, "done", remote::prompt_done(3, {1, 0}));
  write(dir, "lost", remote::prompt_lost(3));
  write(dir, "batch_call", remote::batch_call(4, remote::BatchArgs{5, 3, 64, 2}));
  write(dir, "batch_reply", remote::batch_reply(4, {scored, scored}));
  write(dir, "version", remote::version_note(9));
  write(dir, "failed", remote::call_failed(4, "no such actor"));
  return 0;
}
