// Cprimesonintervalbootcamp (Codeforces 237C): the least l such that every window of
// l consecutive integers inside [a, b] holds at least k primes, or -1.
// Identity (upstream's shape): {"a": int, "b": int, "k": int}. The answer is the
// LAST [answer]...[/answer] block, parsed as an integer. Upstream re-sieves [1, b]
// on every call; we sieve [1, 10^6] once (its largest b) and count from that.
// Deviation (DEVIATIONS.md): upstream crashes, and so scores format_score, when
// k = 1 and [a, b] holds exactly one prime; we score the right answer 1.
#include <algorithm>
#include <vector>

#include "envs/internbootcamp_task.hpp"
#include "envs/registry.hpp"

namespace troupe::envs {
namespace {

constexpr int64_t kSieveLimit = 1'000'000;  // upstream's largest b

// The primes up to kSieveLimit in increasing order (78,498 of them), sieved once
// (thread-safe static initialisation): a verify then finds the primes of [a, b] by two
// binary searches and walks only those, instead of testing every integer of [a, b].
const std::vector<int64_t>& primes() {
  static const std::vector<int64_t> list = [] {
    std::vector<bool> composite(kSieveLimit + 1, false);
    std::vector<int64_t> out;
    for (int64_t i = 2; i <= kSieveLimit; ++i) {
      if (composite[static_cast<size_t>(i)]) continue;
      out.push_back(i);
      for (int64_t j = i * i; j <= kSieveLimit; j += i) composite[static_cast<size_t>(j)] = true;
    }
    return out;
  }();
  return list;
}

int64_t solve(int64_t a, int64_t b, int64_t k) {
  if (a < 1 || b > kSieveLimit || a > b || k < 1) throw std::invalid_argument("a, b, k outside 1 <= a <= b <= 10^6");
  const auto& all = primes();
  const auto first = std::lower_bound(all.begin(), all.end(), a), last = std::upper_bound(first, all.end(), b);
  const int64_t* p = all.data() + (first - all.begin());  // the primes of [a, b]: p[0], ..., p[n-1]
  const int64_t n = last - first;
  if (n < k) return -1;
  int64_t l = std::max(p[k - 1] - a + 1, b - p[n - k] + 1);
  for (int64_t i = 0; i + k < n; ++i) l = std::max(l, p[i + k] - p[i]);
  return l;
}

class Cprimesoninterval final : public InternBootcampTask {
 public:
  const TaskInfo& info() const override {
    static const TaskInfo kInfo{"Cprimesonintervalbootcamp", "math",
                                "shortest window length holding k primes everywhere in [a, b]",
                                {{"b_max", 10, kSieveLimit, "largest b (and a)"},
                                 {"k_max", 1, kSieveLimit, "largest k"}},
                                "Cprimesonintervalbootcamp"};
    return kInfo;
  }
  Difficulty difficulty_for_level(int level) const override {
    // Small k keeps most answers positive; level 10 is upstream's default (mostly -1).
    static const int64_t kB[] = {30, 60, 100, 300, 1000, 3000, 10000, 100000, 300000, 1000000};
    static const int64_t kK[] = {2, 3, 4, 6, 10, 20, 50, 200, 1000, 1000000};
    return {{"b_max", kB[level - 1]}, {"k_max", kK[level - 1]}};
  }

 protected:
  Case generate(Rng& rng, const Difficulty& d) const override {
    const int64_t a = rng.uniform(1, d.at("b_max"));
    const int64_t b = rng.uniform(a, d.at("b_max"));
    const int64_t k = rng.uniform(1, d.at("k_max"));
    Case c;
    c.identity = {{"a", a}, {"b", b}, {"k", k}};
    c.prompt = "Consider the integers from " + std::to_string(a) + " to " + std::to_string(b) +
               " inclusive. Find the smallest length l such that every run of l consecutive integers x, x+1, ..., "
               "x+l-1 with " + std::to_string(a) + " <= x <= " + std::to_string(b) + "-l+1 contains at least " +
               std::to_string(k) + " primes. If no l works, the answer is -1.\nPut the final answer inside "
               "[answer][/answer], for example [answer]4[/answer].";
    c.answer = reference_response("[answer]" + std::to_string(solve(a, b, k)) + "[/answer]");
    return c;
  }

  std::optional<std::string> extract(std::string_view response) const override {
    auto block = last_block(response, {"[answer]", "[/answer]"});
    if (!block) return std::nullopt;
    auto v = parse_int(*block);
    if (!v) return std::nullopt;
    return std::to_string(*v);
  }

  double judge(const std::string& extracted, const Json& identity) const override {
    const int64_t got = std::stoll(extracted);
    return got == solve(identity_int(identity.at("a")), identity_int(identity.at("b")),
                        identity_int(identity.at("k")))
               ? 1.0
               : 0.0;
  }
};
TROUPE_REGISTER_TASK(Cprimesoninterval);

}  // namespace
}  // namespace troupe::envs
