// Bbehshuffobjectbootcamp: people start with one object each and swap in pairs; who
// holds what at the end?
// Identity (upstream's shape): {"people": [str], "context_type": str, "object_pool": [str],
// "initial_assignments": {person: object}, "swaps": [[a, b]], "question_person": str,
// "correct_answer": str}. The answer is the LAST <answer>...</answer> block, compared
// with correct_answer after trimming, case-insensitively (ASCII case folding; upstream's
// Python lower() also folds non-ASCII letters).
#include <cctype>
#include <map>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

const std::vector<std::string> kNames{"Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude", "Helga", "Izzi",
                                      "Jamie", "Karl", "Lola"};
struct Context {
  const char* name;
  const char* verb;  // what a swap is called
  std::vector<std::string> pool;
};
const std::vector<Context> kContexts{
    {"game of catch", "swap balls", {"red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "black", "white"}},
    {"gift exchange", "swap gifts", {"red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "black", "white"}},
    {"soccer match", "trade positions", {"goalkeeper", "defender", "midfielder", "forward", "striker", "left wing",
                                         "right wing", "center back", "sweeper", "libero"}},
    {"book exchange", "trade books", {"Catch-22", "1984", "Ulysses", "The Hobbit", "Moby Dick", "Dune", "Emma",
                                      "Frankenstein", "Dracula", "Beloved"}},
    {"square dance", "trade partners", {"partner A", "partner B", "partner C", "partner D", "partner E", "partner F",
                                        "partner G", "partner H", "partner I", "partner J"}}};

// a.strip().lower() == b.strip().lower() for the ASCII names these puzzles use, without
// building either lowered copy.
bool same_name(std::string_view a, std::string_view b) {
  a = trim(a);
  b = trim(b);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

class BbehShuffObject final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Bbehshuffobjectbootcamp", "reasoning", "track objects through a sequence of swaps",
                                {{"n", 2, 10, "people (and objects)"}, {"swaps", 1, 60, "swaps performed"}},
                                "Bbehshuffobjectbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    return {{"n", std::min<int64_t>(10, 2 + level / 2)}, {"swaps", level_lerp(level, 2, 20)}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const Context& ctx = rng.pick(kContexts);
    std::vector<std::string> people = kNames, objects = ctx.pool;
    rng.shuffle(people);
    rng.shuffle(objects);
    const size_t n = static_cast<size_t>(d.at("n"));
    people.resize(n);
    std::map<std::string, std::string> holds;
    Json initial = Json::object();
    for (size_t i = 0; i < n; ++i) {
      holds[people[i]] = objects[i];
      initial[people[i]] = objects[i];
    }
    Json swaps = Json::array();
    std::string story;
    for (int64_t s = 0; s < d.at("swaps"); ++s) {
      const size_t a = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(n) - 1));
      size_t b = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(n) - 2));
      if (b >= a) ++b;
      swaps.push_back({people[a], people[b]});
      std::swap(holds[people[a]], holds[people[b]]);
      story += " Then " + people[a] + " and " + people[b] + " " + ctx.verb + ".";
    }
    const std::string who = rng.pick(people);
    Case c;
    c.identity = {{"people", people}, {"context_type", ctx.name}, {"object_pool", ctx.pool},
                  {"initial_assignments", initial}, {"swaps", swaps}, {"question_person", who},
                  {"correct_answer", holds[who]}};
    std::string start;
    for (size_t i = 0; i < n; ++i) start += (i ? ", " : "") + people[i] + " has " + objects[i];
    c.prompt = std::string("During a ") + ctx.name + ": at the start " + start + "." + story + "\nAt the end, what does " +
               who + " have? Put it inside <answer></answer>.";
    c.answer = reference_response("<answer>" + holds[who] + "</answer>");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"<answer>", "</answer>"});
    if (!block) return std::nullopt;
    return std::string(trim(*block));
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    return same_name(extracted, identity_fields<1>(identity, {"correct_answer"})[0]->get_ref<const std::string&>()) ? 1.0 : 0.0;
  }
};
TROUPE_REGISTER_TASK(BbehShuffObject);

}  // namespace
}  // namespace troupe::envs
