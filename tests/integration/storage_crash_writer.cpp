// storage_crash_writer PATH sync|group_commit COUNT: appends COUNT synthetic
// rollouts (2-32 KB values, rollout_id 1..COUNT, see storage_crash_spec) from
// four threads and prints "ack <id> <rollout_id>" on stdout, flushed, for each
// append the store has acknowledged as durable. A fifth thread samples batches
// of 8 (FIFO, each rollout once) as a learner would and prints "used <id>" for
// each rollout `sample` returned. The SIGKILL test kills it mid-stream and checks
// that every acknowledged id survived and every used id is still marked used.
// Exits 0 when done.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/replay_store.hpp"
#include "tests/integration/storage_crash_spec.hpp"

int main(int argc, char** argv) {
  using namespace troupe::storage;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PATH sync|group_commit COUNT\n", argv[0]);
    return 2;
  }
  ReplayOptions o;
  o.durability = std::string(argv[2]) == "sync" ? Durability::kSync : Durability::kGroupCommit;
  o.max_rollouts = 0;  // keep everything: the test checks every acknowledged id
  o.max_bytes = 0;
  const uint64_t count = std::strtoull(argv[3], nullptr, 10);
  auto store = ReplayStore::open(argv[1], o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  std::mutex out_mu;
  constexpr int kThreads = 4;  // several appenders, so group commit forms real batches
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t rid = 1 + t; rid <= count; rid += kThreads) {
        (*store)->append_async(synthetic_rollout_bytes(crash_spec(rid)), [&out_mu, rid](troupe::Result<uint64_t> r) {
          std::lock_guard lock(out_mu);
          if (!r) {
            std::fprintf(stderr, "append %llu failed: %s\n", (unsigned long long)rid, r.status().to_string().c_str());
            return;
          }
          std::printf("ack %llu %llu\n", (unsigned long long)*r, (unsigned long long)rid);
          std::fflush(stdout);
        });
      }
    });
  }
  std::atomic<bool> appending{true};
  std::thread learner([&] {
    SampleRequest req;
    req.max_rollouts = 8;
    req.learner_version = 1;
    while (appending) {
      auto batch = (*store)->sample(req);
      if (!batch) {
        std::fprintf(stderr, "sample failed: %s\n", batch.status().to_string().c_str());
        return;
      }
      if (batch->rollouts.empty()) {  // caught up with the appenders: do not spin
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      std::lock_guard lock(out_mu);
      for (auto& r : batch->rollouts) std::printf("used %llu\n", (unsigned long long)r.id);
      std::fflush(stdout);
    }
  });
  for (auto& t : threads) t.join();
  appending = false;
  learner.join();
  return 0;
}
