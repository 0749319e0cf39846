// libFuzzer target: verify() of every task of one family with arbitrary responses and
// mutated identities. Built once per family (TROUPE_FUZZ_FAMILY, see family_of():
// internbootcamp, arithmetic, sequence, other). A crash, a sanitizer report, a score outside [0, 1], or a
// verdict that is neither a score nor a Status error is a bug.
//
// Each input picks a task and one of its generated cases, then one of: the identity as
// generated; one value inside it replaced (by a string, an extreme integer, a float,
// null, an empty container, or JSON parsed from the input); the whole identity parsed
// from the input. The response is the rest of the input, or the reference answer with
// input bytes spliced in; the verify options come from the input too.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <limits>

#include "envs/registry.hpp"

#ifndef TROUPE_FUZZ_FAMILY
#error "build with -DTROUPE_FUZZ_FAMILY=\"family\""
#endif

namespace {

using troupe::envs::Case;
using troupe::envs::Json;
using troupe::envs::Task;

struct Entry {
  const Task* task;
  std::vector<Case> cases;
};
std::vector<Entry>* g_entries = nullptr;

// Every task belongs to exactly one family, so the fuzzers together cover them all.
std::string family_of(const troupe::envs::TaskInfo& info) {
  if (!info.internbootcamp.empty()) return "internbootcamp";
  if (info.category == "arithmetic" || info.category == "algebra") return "arithmetic";
  if (info.category == "sequence") return "sequence";
  return "other";
}

// A value the fuzzer chooses, to put in place of part of an identity.
Json fuzz_value(FuzzedDataProvider& fdp) {
  switch (fdp.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return fdp.ConsumeRandomLengthString(64);
    case 1: return fdp.PickValueInArray({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, int64_t{1},
                                         std::numeric_limits<int64_t>::max()});
    case 2: return fdp.ConsumeIntegral<int64_t>();
    case 3: return fdp.ConsumeFloatingPoint<double>();
    case 4: return nullptr;
    case 5: return Json::array();
    case 6: return Json::object();
    default: {
      Json j = Json::parse(fdp.ConsumeRandomLengthString(256), nullptr, /*allow_exceptions=*/false);
      return j.is_discarded() ? Json(true) : j;
    }
  }
}

// Replaces one value somewhere inside `j`, walking down a path the fuzzer chooses.
void mutate(Json& j, FuzzedDataProvider& fdp, int depth = 0) {
  const bool descend = depth < 6 && (j.is_object() || j.is_array()) && !j.empty() && fdp.ConsumeBool();
  if (!descend) {
    j = fuzz_value(fdp);
    return;
  }
  const size_t k = fdp.ConsumeIntegralInRange<size_t>(0, j.size() - 1);
  if (j.is_array()) {
    mutate(j[k], fdp, depth + 1);
  } else {
    auto it = j.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(k));
    mutate(it.value(), fdp, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_entries = new std::vector<Entry>();
  for (const auto& name : troupe::envs::task_names()) {
    const Task* t = *troupe::envs::find_task(name);
    if (family_of(t->info()) != TROUPE_FUZZ_FAMILY) continue;
    Entry e{t, {}};
    for (int level : {1, 5, 10}) {
      for (uint64_t seed : {1, 2}) {
        auto c = t->generate_level(seed, level);
        if (!c) {
          std::fprintf(stderr, "%s cannot generate: %s\n", name.c_str(), c.status().to_string().c_str());
          std::abort();
        }
        e.cases.push_back(*c);
      }
    }
    g_entries->push_back(std::move(e));
  }
  if (g_entries->empty()) {
    std::fprintf(stderr, "no task of family %s is registered\n", TROUPE_FUZZ_FAMILY);
    std::abort();
  }
  std::fprintf(stderr, "fuzzing verify() of %zu tasks of family %s\n", g_entries->size(), TROUPE_FUZZ_FAMILY);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const Entry& e = (*g_entries)[fdp.ConsumeIntegralInRange<size_t>(0, g_entries->size() - 1)];
  const Case& c = e.cases[fdp.ConsumeIntegralInRange<size_t>(0, e.cases.size() - 1)];
  Json identity = c.identity;
  switch (fdp.ConsumeIntegralInRange<int>(0, 3)) {
    case 1: mutate(identity, fdp); break;
    case 2: identity = fuzz_value(fdp); break;
    default: break;
  }
  troupe::envs::VerifyOptions opts;
  opts.short_penalty = fdp.ConsumeBool();
  opts.format_penalty = fdp.ConsumeBool();
  opts.format_score = fdp.ConsumeBool() ? 0.0 : 0.5;
  std::string response;
  if (fdp.ConsumeBool()) {
    response = c.answer;
    const size_t at = fdp.ConsumeIntegralInRange<size_t>(0, response.size());
    response.insert(at, fdp.ConsumeRandomLengthString(128));
  } else {
    response = fdp.ConsumeRemainingBytesAsString();
  }
  auto v = e.task->verify(identity, response, opts);
  if (v.is_ok() && !(v->score >= 0.0 && v->score <= 1.0)) {
    std::fprintf(stderr, "%s scored %f\n", e.task->info().name.c_str(), v->score);
    std::abort();
  }
  return 0;
}
