// describe: "Describe the river in one sentence using the words: cold, wide." ->
// "The river is cold and wide." An open-ended task: many responses pass, the
// rule verifier checks only the form (envs/open_ended.hpp) and a preference
// model judges quality. Knob: how many words the sentence must use.
#include "envs/open_ended.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

class Describe final : public Task {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"describe", "open_ended", "describe a thing in one sentence using given words",
                                {{"words", 1, 5, "words the sentence must use"}}, ""};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override { return {{"words", level_lerp(level, 1, 4)}}; }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override { return describe_case(rng, int(d.at("words"))); }
  Verdict score(const Json& identity, std::string_view response, const VerifyOptions&) const override {
    return describe_score(identity, response);
  }
};
TROUPE_REGISTER_TASK(Describe);

}  // namespace
}  // namespace troupe::envs
