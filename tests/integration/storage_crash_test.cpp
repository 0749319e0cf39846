// Crash safety of the replay store, with real processes and real files:
//  - a writer process (storage_crash_writer) appends and prints each acknowledged
//    id, and samples as a learner, printing each id it was served; we SIGKILL it by
//    PID mid-stream, twice in a row on the same store, under each durability
//    policy, reopen, and require every acknowledged rollout to be present, verified
//    and byte-identical to what was sent, and every served rollout to be stored and
//    still marked used (so it is not served again);
//  - values damaged through the raw RocksDB API (raw FlatBuffers and compressed
//    frames) and bytes flipped inside an SST file are detected on read, reported
//    with their key, skipped and counted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "storage/replay_store.hpp"
#include "storage/value_codec.hpp"
#include "tests/integration/storage_crash_spec.hpp"
#include "tests/storage/raw_store.hpp"
#include "tests/temp_dir.hpp"

namespace troupe::storage {
namespace {

namespace fs = std::filesystem;

// One fresh directory per test (tests/temp_dir.hpp).
struct TempDir : troupe::testing::TempDir {
  TempDir() : troupe::testing::TempDir("troupe-storage-crash") {}
};

constexpr size_t kUsedBeforeKill = 24;  // three learner batches of 8

struct WriterOutput {
  std::map<uint64_t, uint64_t> acks;  // store id -> rollout_id
  std::set<uint64_t> used;            // store ids `sample` returned
};

// Runs the writer, kills it with SIGKILL once `kill_after` acks have arrived and its
// learner thread has been served a few batches (acks come a whole group at a time, so
// counting acks alone could kill it before the learner ever ran), and
// returns every line it printed, including those still in the pipe.
// Starts storage_crash_writer on `path`, asked for a million rollouts (it is always
// killed first), its stdout on `out_fd`.
pid_t spawn_writer(const std::string& path, const char* durability, int out_fd) {
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    execl(TROUPE_CRASH_WRITER, TROUPE_CRASH_WRITER, path.c_str(), durability, "1000000", nullptr);
    _exit(127);
  }
  return pid;
}

WriterOutput run_and_kill(const std::string& path, const char* durability, size_t kill_after) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);  // dup2 clears close-on-exec on the writer's stdout only
  const pid_t pid = spawn_writer(path, durability, fds[1]);
  close(fds[1]);
  WriterOutput got;
  std::map<uint64_t, uint64_t>& acks = got.acks;
  std::string buffer;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);  // bound, not a speed test
  char chunk[4096];
  for (;;) {
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "writer produced only " << acks.size() << " acks in 60 s";
      kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF: the writer is gone
    buffer.append(chunk, size_t(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      unsigned long long id = 0, rid = 0;
      if (std::sscanf(buffer.c_str(), "ack %llu %llu", &id, &rid) == 2) acks[id] = rid;
      if (std::sscanf(buffer.c_str(), "used %llu", &id) == 1) got.used.insert(id);
      buffer.erase(0, nl + 1);
    }
    if (!killed && acks.size() >= kill_after && got.used.size() >= kUsedBeforeKill) {
      EXPECT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer ended before it was killed";
  return got;
}

void expect_all_acknowledged_intact(const std::string& path, const std::map<uint64_t, uint64_t>& acks,
                                    const std::set<uint64_t>& used) {
  ReplayOptions o;
  o.max_rollouts = 0;
  o.max_bytes = 0;
  auto store = ReplayStore::open(path, o);  // writer mode: runs RocksDB's WAL recovery
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_GE((*store)->counters().count, acks.size());
  for (const auto& [id, rid] : acks) {
    auto r = (*store)->get(id);
    ASSERT_TRUE(r.is_ok()) << "acknowledged rollout " << id << ": " << r.status().to_string();
    const wire::Bytes expected = synthetic_rollout_bytes(crash_spec(rid));
    ASSERT_EQ(r->bytes.size(), expected.size()) << "rollout " << id;
    EXPECT_EQ(std::memcmp(r->bytes.data(), expected.data(), expected.size()), 0) << "rollout " << id;
  }
  for (uint64_t id : used) {
    EXPECT_TRUE((*store)->get(id).is_ok()) << "served rollout " << id << " is not in the store";
    auto u = (*store)->usage(id);
    ASSERT_TRUE(u.is_ok()) << u.status().to_string();
    EXPECT_EQ(u->uses, 1u) << "served rollout " << id << " lost its use mark (or was served twice)";
  }
  auto report = (*store)->verify();
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->corrupt, 0u);
  EXPECT_EQ(report->matched, (*store)->counters().count);
}

void crash_twice(const char* durability) {
  TempDir dir;
  const std::string path = dir.sub("store");
  std::mt19937 rng(std::random_device{}());
  std::map<uint64_t, uint64_t> all;
  std::set<uint64_t> used;
  for (int round = 0; round < 2; ++round) {
    // Kill at a varying point: 150-400 acks in (the writer is asked for a million).
    auto got = run_and_kill(path, durability, 150 + rng() % 250);
    ASSERT_GE(got.acks.size(), 150u);
    EXPECT_FALSE(got.used.empty()) << "the writer's learner thread was served nothing";
    for (auto& [id, rid] : got.acks) EXPECT_TRUE(all.emplace(id, rid).second) << "id " << id << " acknowledged twice";
    for (uint64_t id : got.used) EXPECT_TRUE(used.insert(id).second) << "rollout " << id << " served twice";
    expect_all_acknowledged_intact(path, all, used);
  }
}

TEST(StorageCrash, SigkillGroupCommitLosesNoAcknowledgedRollout) { crash_twice("group_commit"); }
TEST(StorageCrash, SigkillSyncLosesNoAcknowledgedRollout) { crash_twice("sync"); }

// `troupe replay tail`, a separate process, follows a writer process as it appends:
// it opens a secondary instance (no lock), and what it prints keeps growing because
// the writer goes on committing while tail reads.
TEST(StorageLive, TailInAnotherProcessFollowsAWriterProcess) {
  TempDir dir;
  const std::string path = dir.sub("store");
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  const pid_t writer = spawn_writer(path, "group_commit", devnull);
  close(devnull);
  ASSERT_GT(writer, 0);
  // Wait (bounded) until the store exists and holds a first commit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (bool ready = false; !ready && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!fs::exists(path + "/CURRENT")) continue;
    auto probe = ReplayStore::open(path, ReplayOptions{}, OpenMode::kSecondary);
    ready = probe.is_ok() && (*probe)->counters().count > 0;
  }
  constexpr int kLines = 2000;  // more than one group commit, so tail must catch up repeatedly
  const std::string cmd = std::string(TROUPE_BIN) + " replay tail " + path + " --json --last 0 --count " +
                          std::to_string(kLines) + " --poll-ms 20 --for 60 2>&1";
  FILE* tail = popen(cmd.c_str(), "r");
  ASSERT_NE(tail, nullptr);
  std::vector<uint64_t> ids;
  char line[4096];
  std::string other;
  while (fgets(line, sizeof line, tail)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("id")) {
      ids.push_back(j["id"].get<uint64_t>());
    } else {
      other += line;  // not a rollout line: shown if the test fails
    }
  }
  const int tail_status = pclose(tail);
  EXPECT_EQ(kill(writer, 0), 0) << "the writer died while tail ran";
  EXPECT_EQ(kill(writer, SIGKILL), 0);
  int status = 0;
  EXPECT_EQ(waitpid(writer, &status, 0), writer);
  EXPECT_EQ(tail_status, 0) << other;
  ASSERT_EQ(ids.size(), size_t(kLines)) << other;
  // In commit order, none skipped or repeated: ids are consecutive.
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_EQ(ids[i], ids[i - 1] + 1) << "at line " << i;
}

// Overwrites rollout values with bad bytes, through RocksDB itself.
void damage_through_rocksdb(const std::string& path, const std::map<uint64_t, std::string>& bad) {
  troupe::testing::RawStore raw(path);
  for (const auto& [id, value] : bad) raw.put("rollouts", troupe::testing::RawStore::id_key(id), value);
}

TEST(StorageCorruption, BadValuesAreReportedWithTheirKeySkippedAndCounted) {
  TempDir dir;
  const std::string path = dir.sub("store");
  ReplayOptions o;
  o.group_commit_ms = 1;
  {
    auto store = ReplayStore::open(path, o);
    ASSERT_TRUE(store.is_ok());
    for (uint64_t rid = 1; rid <= 20; ++rid) ASSERT_TRUE((*store)->append(synthetic_rollout_bytes(crash_spec(rid))).is_ok());
  }
  const wire::Bytes good = synthetic_rollout_bytes(crash_spec(7));
  std::string truncated(reinterpret_cast<const char*>(good.data()), good.size() / 2);
  std::string flipped(reinterpret_cast<const char*>(good.data()), good.size());
  flipped[4] ^= 0x7f;  // the file identifier: "TSCR" no longer
  std::string offsets(reinterpret_cast<const char*>(good.data()), good.size());
  offsets[0] = char(0xff);  // root offset points past the end
  offsets[1] = char(0xff);
  // A compressed value (how the store keeps most rollouts) whose LZ4 block is cut short.
  const wire::Bytes nineteen = synthetic_rollout_bytes(crash_spec(19));
  const std::string frame = compress_value(nineteen.span());
  ASSERT_FALSE(frame.empty());
  damage_through_rocksdb(path, {{3, "garbage"}, {7, truncated}, {11, flipped}, {15, offsets},
                                {19, frame.substr(0, frame.size() - 100)}});

  auto store = ReplayStore::open(path, o);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto r = (*store)->get(7);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("0000000000000007"), std::string::npos) << r.status().message();

  auto lz4 = (*store)->get(19);
  ASSERT_FALSE(lz4.is_ok());
  EXPECT_EQ(lz4.status().code(), Status::Code::kCorruption);
  EXPECT_NE(lz4.status().message().find("0000000000000013"), std::string::npos) << lz4.status().message();
  EXPECT_NE(lz4.status().message().find("LZ4"), std::string::npos) << lz4.status().message();

  auto report = (*store)->verify();
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->corrupt, 5u);
  EXPECT_EQ(report->matched, 15u);
  std::vector<uint64_t> bad_ids;
  for (auto& c : report->corrupt_examples) {
    bad_ids.push_back(c.id);
    EXPECT_EQ(c.key_hex.size(), 16u);
  }
  EXPECT_EQ(bad_ids, (std::vector<uint64_t>{3, 7, 11, 15, 19}));

  SampleRequest req;
  req.max_rollouts = 100;
  auto batch = (*store)->sample(req);
  ASSERT_TRUE(batch.is_ok());
  EXPECT_EQ(batch->rollouts.size(), 15u);
  EXPECT_EQ(batch->corrupt_skipped, 5u);
  EXPECT_GE((*store)->corrupt_reads(), 12u);  // get x2 + verify + sample
}

TEST(StorageCorruption, BytesFlippedInsideAnSstFileAreDetected) {
  TempDir dir;
  const std::string path = dir.sub("store");
  ReplayOptions o;
  o.group_commit_ms = 1;
  {
    auto store = ReplayStore::open(path, o);
    ASSERT_TRUE(store.is_ok());
    for (uint64_t rid = 1; rid <= 200; ++rid) ASSERT_TRUE((*store)->append(synthetic_rollout_bytes(crash_spec(rid))).is_ok());
    ASSERT_TRUE((*store)->compact().is_ok());  // everything into SST files, the WAL emptied
  }
  // The largest SST file holds the rollout values; damage a stretch in its middle.
  fs::path largest;
  uintmax_t size = 0;
  for (auto& e : fs::directory_iterator(path)) {
    if (e.path().extension() == ".sst" && e.file_size() > size) {
      size = e.file_size();
      largest = e.path();
    }
  }
  ASSERT_GT(size, 100000u);
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(size / 2));
    const std::string junk(512, '\x5a');
    f.write(junk.data(), std::streamsize(junk.size()));
  }
  auto store = ReplayStore::open(path, o, OpenMode::kReadOnly);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto report = (*store)->verify();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_GE(report->corrupt, 1u);
  EXPECT_EQ(report->corrupt + report->matched, 200u);
  ASSERT_FALSE(report->corrupt_examples.empty());
  EXPECT_NE(report->corrupt_examples[0].what.find("key"), std::string::npos) << report->corrupt_examples[0].what;
}

}  // namespace
}  // namespace troupe::storage
