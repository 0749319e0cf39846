// The bootcamp task interface: what a task is, what it generates, how it scores.
//
// A Task turns (seed, difficulty) into a Case -- an identity (JSON: everything
// needed to score a response, in InternBootcamp's shape where the task mirrors one),
// a prompt, a reference answer, and for our own tasks a worked solution -- and
// scores a response against an identity, giving a Verdict.
//
// Contract every task keeps (checked for every registered task by
// tests/envs/conformance_test.cpp): the same seed and difficulty give a
// byte-identical Case on every machine; the reference answer scores 1; any
// response, however long, malformed or hostile, scores in [0, 1] without crashing.
// Tasks hold no mutable state: every method is const and safe to call from many
// threads at once. The public entry points (generate_level, generate_with,
// verify) never throw; the protected hooks may throw (e.g. a malformed identity
// makes nlohmann::json throw) and the entry points turn that into a Status.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"
#include "envs/rng.hpp"

namespace troupe::envs {

using Json = nlohmann::json;

// One difficulty knob: a named integer with an allowed range.
struct Knob {
  std::string name;
  int64_t min = 0;
  int64_t max = 0;
  std::string help;
};

// Knob values by name. A Difficulty passed to generate() has every knob of the task set.
using Difficulty = std::map<std::string, int64_t>;

// The lowest and highest integer difficulty level; every task maps each level to knob values.
inline constexpr int kMinLevel = 1;
inline constexpr int kMaxLevel = 10;

// Level 1..10 mapped linearly onto [lo, hi] (rounded down), for knob tables.
inline int64_t level_lerp(int level, int64_t lo, int64_t hi) {
  return lo + (hi - lo) * (level - kMinLevel) / (kMaxLevel - kMinLevel);
}

struct TaskInfo {
  std::string name;            // registry name (InternBootcamp's class name for mirrored tasks)
  std::string category;        // e.g. "arithmetic", "sequence", "puzzle", "logic"
  std::string description;     // one line
  std::vector<Knob> knobs;
  std::string internbootcamp;  // InternBootcamp class name, empty for our own tasks
};

struct Case {
  Json identity;         // what verify() needs; JSON-round-trip safe
  std::string prompt;
  std::string answer;    // a reference response that scores 1
  std::string solution;  // worked solution ending in the answer; empty when the task has none
};

struct Verdict {
  double score = 0.0;         // in [0, 1]
  bool extracted = false;     // an answer could be found in the response (InternBootcamp's "format ok")
  std::string extracted_answer;
};

// InternBootcamp's verify_score options; our own tasks ignore all but format_score.
struct VerifyOptions {
  double format_score = 0.0;       // score when an answer was extracted but is wrong. Default: 0
  bool short_penalty = true;       // responses shorter than short_threshold code points score 0. Default: true
  size_t short_threshold = 100;    // Default: 100 (InternBootcamp's)
  bool format_penalty = true;      // responses without "</think>" score 0. Default: true
};

// Thrown by a task's hooks when the task itself failed (not the identity or the
// response): a Python worker that timed out or died. verify() and generate_*() turn it
// into Status::unavailable carrying its message.
class TaskFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An integer field of an identity. nlohmann's get<int64_t>() converts any number with a
// cast, which is undefined behaviour for a float beyond int64 (the verify fuzzer fed
// one); this accepts integers, and floats only when integral and within range, and
// throws std::invalid_argument otherwise (verify() reports that as an unreadable identity).
inline int64_t identity_int(const Json& v) {
  // The stored integer read in place (get<>() goes through a switch over every number type):
  // grid judges read an identity integer per cell.
  if (const auto* i = v.get_ptr<const Json::number_integer_t*>()) return *i;
  if (const auto* u = v.get_ptr<const Json::number_unsigned_t*>()) {  // what the parser makes of n >= 0
    if (*u > static_cast<uint64_t>(INT64_MAX)) throw std::invalid_argument("integer out of range");
    return static_cast<int64_t>(*u);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= -9.2e18 && d <= 9.2e18 && d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  throw std::invalid_argument("expected an integer, got " + std::string(v.type_name()));
}

// A list of integers of an identity, each read as identity_int() does.
inline std::vector<int64_t> identity_ints(const Json& v) {
  if (!v.is_array()) throw std::invalid_argument("expected a list of integers");
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const auto& x : v) out.push_back(identity_int(x));
  return out;
}

// The members `keys` of a JSON object, found in one pass over its members with keys compared
// byte by byte: grid judges read a few fields of many small objects (Futoshiki's inequalities,
// Thermometers' paths), where at() per field walks the member tree with a memcmp call per
// step. Throws std::invalid_argument when obj is not an object or a key is missing, as at()
// throws then (verify() treats both as an unreadable identity, a judge as a wrong answer).
template <size_t N>
std::array<const Json*, N> identity_fields(const Json& obj, const std::array<std::string_view, N>& keys) {
  const auto* members = obj.get_ptr<const Json::object_t*>();
  if (members == nullptr) throw std::invalid_argument("expected an object");
  std::array<const Json*, N> out{};
  size_t found = 0;
  for (const auto& [key, value] : *members) {
    for (size_t k = 0; k < N; ++k) {
      if (out[k] != nullptr || key.size() != keys[k].size()) continue;
      // A byte loop, not std::equal: that is a memcmp call, dearer than these few-byte keys.
      size_t i = 0;
      while (i < key.size() && key[i] == keys[k][i]) ++i;
      if (i == key.size()) {
        out[k] = &value;
        ++found;
        break;
      }
    }
    if (found == N) return out;  // the members after the last one wanted are not walked
  }
  for (size_t k = 0; k < N; ++k) {
    if (out[k] == nullptr) throw std::invalid_argument("missing field " + std::string(keys[k]));
  }
  return out;
}

class Task {
 public:
  virtual ~Task() = default;

  virtual const TaskInfo& info() const = 0;

  // The knob values for an integer level in [kMinLevel, kMaxLevel]; smooth and monotone.
  virtual Difficulty difficulty_for_level(int level) const = 0;

  // Generates the case for `seed` at `level`. Errors: level out of range.
  Result<Case> generate_level(uint64_t seed, int level) const;

  // Generates with explicit knobs: `overrides` replace the values of `base_level`.
  // Errors: an unknown knob name or a value outside the knob's range.
  Result<Case> generate_with(uint64_t seed, const Difficulty& overrides, int base_level = 5) const;

  // Scores `response` against `identity`. Errors: an identity this task cannot read.
  Result<Verdict> verify(const Json& identity, std::string_view response,
                         const VerifyOptions& options = {}) const;

 protected:
  // REQUIRES: d has every knob of info().knobs, each within its range.
  virtual Case generate(Rng& rng, const Difficulty& d) const = 0;
  // May throw on a malformed identity; must not throw for any response.
  virtual Verdict score(const Json& identity, std::string_view response,
                        const VerifyOptions& options) const = 0;
};

}  // namespace troupe::envs
