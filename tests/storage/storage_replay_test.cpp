// ReplayStore: open/refuse, append under both durability policies, reads, scans,
// sampling (FIFO, newest, uniform window, task balance, whole groups, reuse),
// retention by count / bytes / version age with compaction, checkpoints, and a
// secondary instance following a writer.
#include "storage/replay_store.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "storage/synthetic_rollouts.hpp"
#include "storage/value_codec.hpp"
#include "tests/storage/raw_store.hpp"
#include "tests/temp_dir.hpp"

namespace troupe::storage {
namespace {

namespace fs = std::filesystem;
using troupe::testing::RawStore;

// One fresh directory per test (tests/temp_dir.hpp).
struct TempDir : troupe::testing::TempDir {
  TempDir() : troupe::testing::TempDir("troupe-storage-test") {}
};

ReplayOptions fast_options() {
  ReplayOptions o;
  o.group_commit_ms = 1;  // keep tests quick; the policy is the same at any window
  return o;
}

std::unique_ptr<ReplayStore> open_or_die(const std::string& path, const ReplayOptions& o,
                                         OpenMode mode = OpenMode::kWriter) {
  auto s = ReplayStore::open(path, o, mode);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s ? std::move(*s) : nullptr;
}

uint64_t append_spec(ReplayStore& store, const SyntheticSpec& spec) {
  auto id = store.append(synthetic_rollout_bytes(spec));
  EXPECT_TRUE(id.is_ok()) << id.status().to_string();
  return id ? *id : 0;
}

SyntheticSpec spec(uint64_t rid, std::string task = "arith", uint64_t version = 0, size_t bytes = 256) {
  SyntheticSpec s;
  s.rollout_id = rid;
  s.prompt_id = rid;
  s.task = std::move(task);
  s.policy_version = version;
  s.response_bytes = bytes;
  return s;
}

// Appends many at once (so one group commit covers many) and waits for them all.
std::vector<uint64_t> append_all(ReplayStore& store, const std::vector<SyntheticSpec>& specs) {
  std::vector<std::promise<Result<uint64_t>>> done(specs.size());
  std::vector<std::future<Result<uint64_t>>> results;
  for (auto& d : done) results.push_back(d.get_future());
  for (size_t i = 0; i < specs.size(); ++i) {
    store.append_async(synthetic_rollout_bytes(specs[i]), [&done, i](Result<uint64_t> r) { done[i].set_value(r); });
  }
  std::vector<uint64_t> ids;
  for (auto& f : results) {
    Result<uint64_t> r = f.get();
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    ids.push_back(r ? *r : 0);
  }
  return ids;
}

TEST(StorageReplay, AppendGetRoundTripAndReopen) {
  TempDir dir;
  const std::string path = dir.sub("store");
  {
    auto store = open_or_die(path, fast_options());
    for (uint64_t i = 1; i <= 10; ++i) EXPECT_EQ(append_spec(*store, spec(100 + i, "arith", i)), i);
    auto r = store->get(3);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    wire::ScoredRolloutT back;
    r->root->UnPackTo(&back);
    EXPECT_TRUE(back == synthetic_rollout(spec(103, "arith", 3)));
    EXPECT_EQ(store->get(11).status().code(), Status::Code::kNotFound);
  }
  auto store = open_or_die(path, fast_options());
  const StoreCounters c = store->counters();
  EXPECT_EQ(c.count, 10u);
  EXPECT_EQ(c.next_id, 11u);
  EXPECT_EQ(c.newest_version, 10u);
  EXPECT_EQ(append_spec(*store, spec(200)), 11u);  // ids continue after a reopen
  EXPECT_EQ(store->tasks(), std::vector<std::string>{"arith"});
  auto s = store->summary(11);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->rollout_id, 200u);
  EXPECT_GT(s->value_bytes, 256u);
}

TEST(StorageReplay, RefusesWhatIsNotAStoreWithAClearMessage) {
  TempDir dir;
  ReplayOptions o = fast_options();
  // Missing path, read-only: nothing is created.
  auto missing = ReplayStore::open(dir.sub("nope"), o, OpenMode::kSecondary);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find(dir.sub("nope")), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.sub("nope")));
  // A plain file.
  std::ofstream(dir.sub("file")) << "hello";
  auto file = ReplayStore::open(dir.sub("file"), o);
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.status().message().find("not a troupe replay store"), std::string::npos);
  // A directory with other things in it.
  fs::create_directories(dir.sub("docs"));
  std::ofstream(dir.sub("docs") + "/README") << "x";
  auto docs = ReplayStore::open(dir.sub("docs"), o);
  ASSERT_FALSE(docs.is_ok());
  EXPECT_NE(docs.status().message().find("no RocksDB CURRENT file"), std::string::npos);
  // A RocksDB database that troupe did not make.
  {
    rocksdb::Options ro;
    ro.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir.sub("plain"), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  for (OpenMode mode : {OpenMode::kWriter, OpenMode::kSecondary, OpenMode::kReadOnly}) {
    auto plain = ReplayStore::open(dir.sub("plain"), o, mode);
    ASSERT_FALSE(plain.is_ok());
    EXPECT_NE(plain.status().message().find("not a troupe replay store"), std::string::npos)
        << plain.status().message();
  }
  // A store written by a newer troupe.
  const std::string newer = dir.sub("newer");
  { open_or_die(newer, o); }
  RawStore(newer).put("meta", "schema", std::to_string(kStoreSchemaVersion + 1));
  auto future = ReplayStore::open(newer, o);
  ASSERT_FALSE(future.is_ok());
  EXPECT_NE(future.status().message().find("newer troupe (store schema " + std::to_string(kStoreSchemaVersion + 1)),
            std::string::npos)
      << future.status().message();
}

TEST(StorageReplay, ValuesAreStoredCompressedAndReadBackIdentical) {
  TempDir dir;
  const std::string path = dir.sub("s");
  const wire::Bytes sent = synthetic_rollout_bytes(spec(1, "arith", 0, 8192));
  { append_spec(*open_or_die(path, fast_options()), spec(1, "arith", 0, 8192)); }
  {
    RawStore raw(path);
    const std::string stored = raw.get("rollouts", RawStore::id_key(1));
    EXPECT_TRUE(is_compressed_value(stored));
    EXPECT_LT(stored.size(), sent.size() * 7 / 8) << "stored " << stored.size() << " of " << sent.size();
  }
  auto store = open_or_die(path, fast_options(), OpenMode::kReadOnly);
  auto got = store->get(1);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(got->bytes.size(), sent.size());
  EXPECT_EQ(std::memcmp(got->bytes.data(), sent.data(), sent.size()), 0);
  EXPECT_EQ(store->counters().value_bytes, sent.size());  // sizes count the FlatBuffer, not its stored form
}

// A store of schema 1 (raw values only) is read as it is, and a writer stamps it with
// the current schema before it adds compressed values an older troupe could not read.
TEST(StorageReplay, ASchemaOneStoreIsReadAndUpgradedByItsWriter) {
  TempDir dir;
  const std::string path = dir.sub("s");
  const wire::Bytes old_value = synthetic_rollout_bytes(spec(1, "arith", 0, 4096));
  { append_spec(*open_or_die(path, fast_options()), spec(1, "arith", 0, 4096)); }
  {
    RawStore raw(path);  // what schema 1 wrote: the FlatBuffer itself, and "1"
    raw.put("rollouts", RawStore::id_key(1),
            std::string(reinterpret_cast<const char*>(old_value.data()), old_value.size()));
    raw.put("meta", "schema", "1");
  }
  {
    auto reader = open_or_die(path, fast_options(), OpenMode::kSecondary);
    auto got = reader->get(1);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(got->bytes.size(), old_value.size());
  }
  EXPECT_EQ(RawStore(path).get("meta", "schema"), "1");  // readers change nothing
  {
    auto writer = open_or_die(path, fast_options());
    append_spec(*writer, spec(2, "arith", 0, 4096));
    auto report = writer->verify();
    ASSERT_TRUE(report.is_ok());
    EXPECT_EQ(report->matched, 2u);
    EXPECT_EQ(report->corrupt, 0u);
  }
  RawStore raw(path);
  EXPECT_EQ(raw.get("meta", "schema"), std::to_string(kStoreSchemaVersion));
  EXPECT_FALSE(is_compressed_value(raw.get("rollouts", RawStore::id_key(1))));
  EXPECT_TRUE(is_compressed_value(raw.get("rollouts", RawStore::id_key(2))));
}

TEST(StorageReplay, ParsesDurabilityNames) {
  EXPECT_EQ(*parse_durability("sync"), Durability::kSync);
  EXPECT_EQ(*parse_durability("group_commit"), Durability::kGroupCommit);
  auto bad = parse_durability("fsync");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("\"fsync\""), std::string::npos);
}

TEST(StorageReplay, RejectsBadOptionsAndBadBytes) {
  TempDir dir;
  ReplayOptions bad = fast_options();
  bad.group_commit_queue = 2;  // smaller than a batch
  EXPECT_EQ(ReplayStore::open(dir.sub("s"), bad).status().code(), Status::Code::kInvalidArgument);
  auto store = open_or_die(dir.sub("s"), fast_options());
  std::vector<uint8_t> junk(100, 0x5a);
  auto r = store->append(wire::Bytes(junk));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(store->counters().count, 0u);
}

TEST(StorageReplay, ConcurrentAppendsUnderBothPoliciesAreAllDurable) {
  for (Durability d : {Durability::kSync, Durability::kGroupCommit}) {
    TempDir dir;
    const std::string path = dir.sub("s");
    ReplayOptions o = fast_options();
    o.durability = d;
    o.group_commit_rollouts = 8;
    o.group_commit_queue = 16;  // small: appenders meet back-pressure
    std::set<uint64_t> ids;
    std::mutex mu;
    {
      auto store = open_or_die(path, o);
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 50; ++i) {
            store->append_async(synthetic_rollout_bytes(spec(t * 1000 + i)), [&](Result<uint64_t> r) {
              ASSERT_TRUE(r.is_ok()) << r.status().to_string();
              std::lock_guard lock(mu);
              ids.insert(*r);
            });
          }
        });
      }
      for (auto& t : threads) t.join();
    }  // the destructor commits what is queued and calls back
    EXPECT_EQ(ids.size(), 200u);
    EXPECT_EQ(*ids.begin(), 1u);
    EXPECT_EQ(*ids.rbegin(), 200u);
    auto store = open_or_die(path, o, OpenMode::kReadOnly);
    auto report = store->verify();
    ASSERT_TRUE(report.is_ok());
    EXPECT_EQ(report->matched, 200u);
    EXPECT_EQ(report->corrupt, 0u);
  }
}

// A file system whose write-ahead-log syncs wait while the test holds a gate shut:
// it holds open the moment between a group-commit batch's write and its fsync.
class GatedWalSyncs : public rocksdb::FileSystemWrapper {
 public:
  GatedWalSyncs() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "GatedWalSyncs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(name, options, file, dbg);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
      *file = std::make_unique<Wal>(std::move(*file), this);
    }
    return s;
  }
  void shut() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // True once a sync has been waiting at the shut gate (bounded wait).
  bool wait_for_blocked_sync() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return waiting_ > 0; });
  }

 private:
  class Wal : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Wal(std::unique_ptr<rocksdb::FSWritableFile> f, GatedWalSyncs* fs)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      fs_->pass();
      return target()->Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      fs_->pass();
      return target()->Fsync(o, d);
    }

   private:
    GatedWalSyncs* fs_;
  };
  void pass() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --waiting_;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// Group commit writes a batch before it fsyncs it. Until the fsync returns no appender
// hears back and no learner is served the batch; afterwards both happen.
TEST(StorageReplay, GroupCommitAcknowledgesAndServesOnlyAfterTheFsync) {
  TempDir dir;
  auto fs = std::make_shared<GatedWalSyncs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  ReplayOptions o = fast_options();
  o.env = env.get();
  std::atomic<int> acked{0};
  auto store = open_or_die(dir.sub("s"), o);  // creating the store syncs once, gate open
  fs->shut();
  for (uint64_t i = 1; i <= 20; ++i) {
    store->append_async(synthetic_rollout_bytes(spec(i)), [&](Result<uint64_t> r) {
      EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      ++acked;
    });
  }
  ASSERT_TRUE(fs->wait_for_blocked_sync()) << "the syncer never reached the write-ahead log's fsync";
  // Written (a read sees it) but not durable: neither acknowledged nor served.
  EXPECT_TRUE(store->get(1).is_ok());
  EXPECT_EQ(acked.load(), 0);
  SampleRequest req;
  req.max_rollouts = 64;
  for (SampleOrder order : {SampleOrder::kFifo, SampleOrder::kNewest, SampleOrder::kUniform}) {
    req.order = order;
    auto none = store->sample(req);
    ASSERT_TRUE(none.is_ok());
    EXPECT_TRUE(none->rollouts.empty()) << "served " << none->rollouts.size() << " rollouts before their fsync";
  }
  fs->open();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);  // a bound, not a speed test
  while (acked.load() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(acked.load(), 20);
  req.order = SampleOrder::kFifo;
  auto all = store->sample(req);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->rollouts.size(), 20u);
  store.reset();  // before the Env it runs on
}

// Under load, with appenders and a learner racing: every rollout is served once it is
// durable, and exactly once.
TEST(StorageReplay, SampleServesEveryRolloutOnceUnderConcurrentAppends) {
  TempDir dir;
  ReplayOptions o = fast_options();
  o.group_commit_rollouts = 16;
  std::mutex mu;  // declared before the store: its destructor may still call back
  std::set<uint64_t> acked;
  auto store = open_or_die(dir.sub("s"), o);
  std::vector<std::thread> appenders;
  for (int t = 0; t < 3; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        store->append_async(synthetic_rollout_bytes(spec(t * 1000 + i, "arith", 0, 2048)), [&](Result<uint64_t> r) {
          ASSERT_TRUE(r.is_ok()) << r.status().to_string();
          std::lock_guard lock(mu);
          acked.insert(*r);
        });
      }
    });
  }
  SampleRequest req;
  req.max_rollouts = 8;
  size_t served = 0;
  std::set<uint64_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);  // a bound, not a speed test
  while (served < 600 && std::chrono::steady_clock::now() < deadline) {
    auto batch = store->sample(req);
    ASSERT_TRUE(batch.is_ok()) << batch.status().to_string();
    std::lock_guard lock(mu);
    for (auto& r : batch->rollouts) EXPECT_TRUE(seen.insert(r.id).second) << "rollout " << r.id << " served twice";
    served += batch->rollouts.size();
  }
  for (auto& t : appenders) t.join();
  EXPECT_EQ(served, 600u);
  EXPECT_TRUE(store->sample(req)->rollouts.empty());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, acked);
}

TEST(StorageReplay, ScanFilters) {
  TempDir dir;
  auto store = open_or_die(dir.sub("s"), fast_options());
  for (uint64_t i = 1; i <= 30; ++i) {
    SyntheticSpec s = spec(i, i % 3 == 0 ? "logic" : "arith", i / 10);
    s.correct = i % 2 == 0;
    s.disagree = i % 5 == 0;
    append_spec(*store, s);
  }
  auto ids = [&](const ScanFilter& f) {
    std::vector<uint64_t> out;
    ScanReport report;
    EXPECT_TRUE(store->scan(f, [&](const StoredRollout& r) { out.push_back(r.id); return true; }, &report).is_ok());
    EXPECT_EQ(report.corrupt, 0u);
    return out;
  };
  ScanFilter f;
  f.task = "logic";
  EXPECT_EQ(ids(f).size(), 10u);
  f.newest_first = true;
  f.limit = 2;
  EXPECT_EQ(ids(f), (std::vector<uint64_t>{30, 27}));
  ScanFilter v;
  v.min_version = 1;
  v.max_version = 1;
  EXPECT_EQ(ids(v).size(), 10u);  // ids 10..19
  ScanFilter r;
  r.reward_min = 0.5f;
  for (uint64_t id : ids(r)) {
    EXPECT_EQ(id % 2, 0u);
  }
  ScanFilter d;
  d.source_disagree = true;
  EXPECT_EQ(ids(d), (std::vector<uint64_t>{5, 10, 15, 20, 25, 30}));
  ScanFilter after;
  after.after_id = 28;
  EXPECT_EQ(ids(after), (std::vector<uint64_t>{29, 30}));
  uint64_t summaries = 0;
  ASSERT_TRUE(store->scan_summaries(ScanFilter{}, [&](const RolloutSummary&) { return ++summaries, true; }).is_ok());
  EXPECT_EQ(summaries, 30u);
}

TEST(StorageReplay, FifoNewestAndReuse) {
  TempDir dir;
  ReplayOptions o = fast_options();
  o.reuse = 2;
  auto store = open_or_die(dir.sub("s"), o);
  for (uint64_t i = 1; i <= 10; ++i) append_spec(*store, spec(i));
  auto take = [&](SampleRequest req) {
    auto r = store->sample(req);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<uint64_t> out;
    for (auto& x : r->rollouts) out.push_back(x.id);
    return out;
  };
  SampleRequest fifo;
  fifo.max_rollouts = 4;
  fifo.learner_version = 7;
  EXPECT_EQ(take(fifo), (std::vector<uint64_t>{1, 2, 3, 4}));
  SampleRequest newest = fifo;
  newest.order = SampleOrder::kNewest;
  EXPECT_EQ(take(newest), (std::vector<uint64_t>{10, 9, 8, 7}));
  EXPECT_EQ(take(fifo), (std::vector<uint64_t>{1, 2, 3, 4}));  // second use of each (reuse = 2)
  EXPECT_EQ(take(fifo), (std::vector<uint64_t>{5, 6, 7, 8}));   // 7, 8 now used twice (newest, fifo)
  EXPECT_EQ(take(fifo), (std::vector<uint64_t>{5, 6, 9, 10}));
  EXPECT_TRUE(take(fifo).empty());  // everything used twice
  auto u = store->usage(3);
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->uses, 2u);
  EXPECT_EQ(u->last_learner_version, 7u);
}

TEST(StorageReplay, UniformWithinTheStalenessWindow) {
  TempDir dir;
  auto store = open_or_die(dir.sub("s"), fast_options());
  for (uint64_t i = 1; i <= 40; ++i) append_spec(*store, spec(i, "arith", i / 10));  // versions 0..4
  SampleRequest req;
  req.order = SampleOrder::kUniform;
  req.min_version = 2;
  req.max_rollouts = 5;
  std::set<uint64_t> seen;
  for (int call = 0; call < 10; ++call) {
    auto r = store->sample(req);
    ASSERT_TRUE(r.is_ok());
    for (auto& x : r->rollouts) {
      EXPECT_GE(x.root->rollout()->policy_version(), 2u);
      EXPECT_TRUE(seen.insert(x.id).second) << "rollout " << x.id << " served twice with reuse = 1";
    }
  }
  EXPECT_EQ(seen.size(), 21u);  // ids 20..40 are versions 2..4; all served, nothing older
  EXPECT_EQ(*seen.begin(), 20u);
}

// Uniform draws pick every rollout in the window alike, including one of a window
// version stored before older-version rollouts (a slow worker), and none outside it.
TEST(StorageReplay, UniformDrawsEveryRolloutInTheWindowAlike) {
  TempDir dir;
  ReplayOptions o = fast_options();
  o.reuse = 1000000;  // draws with replacement across calls, so counts can be compared
  auto store = open_or_die(dir.sub("s"), o);
  append_spec(*store, spec(1, "arith", 3));  // id 1: version 3, ahead of ids 2..99 (version 0)
  std::vector<SyntheticSpec> specs;
  for (uint64_t i = 2; i <= 400; ++i) specs.push_back(spec(i, "arith", i / 100));  // versions 0..4
  append_all(*store, specs);
  std::map<uint64_t, int> draws;
  SampleRequest req;
  req.order = SampleOrder::kUniform;
  req.min_version = 2;
  req.max_rollouts = 50;
  for (int call = 0; call < 400; ++call) {
    auto r = store->sample(req);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->rollouts.size(), 50u);
    for (auto& x : r->rollouts) {
      ASSERT_GE(x.root->rollout()->policy_version(), 2u) << "rollout " << x.id << " is outside the window";
      ++draws[x.id];
    }
  }
  // Eligible: id 1 and ids 200..400, 202 rollouts; 20,000 draws, ~99 each (sd ~10).
  ASSERT_EQ(draws.size(), 202u);
  EXPECT_EQ(draws.begin()->first, 1u);
  for (auto& [id, n] : draws) {
    EXPECT_GE(n, 50) << "rollout " << id << " drawn too rarely";
    EXPECT_LE(n, 160) << "rollout " << id << " drawn too often";
  }
}

// A rare task among many rollouts: random draws mostly miss it, so the sampler must
// fall back to scanning its index and still serve every one of its rollouts.
TEST(StorageReplay, UniformFindsASparseWindow) {
  TempDir dir;
  auto store = open_or_die(dir.sub("s"), fast_options());
  std::vector<SyntheticSpec> specs;
  for (uint64_t i = 1; i <= 600; ++i) specs.push_back(spec(i, i % 200 == 0 ? "rare" : "common"));
  const std::vector<uint64_t> ids = append_all(*store, specs);
  const std::set<uint64_t> rare{ids[199], ids[399], ids[599]};
  SampleRequest req;
  req.order = SampleOrder::kUniform;
  req.balance_tasks = true;
  req.max_rollouts = 6;
  auto r = store->sample(req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rollouts.size(), 6u);
  std::set<uint64_t> got_rare;
  for (auto& x : r->rollouts) {
    if (x.root->rollout()->task()->str() == "rare") got_rare.insert(x.id);
  }
  EXPECT_EQ(got_rare, rare);  // 3 each: all three rare ones, then three common
}

TEST(StorageReplay, BalancesAcrossTasks) {
  TempDir dir;
  auto store = open_or_die(dir.sub("s"), fast_options());
  for (uint64_t i = 1; i <= 90; ++i) append_spec(*store, spec(i, "big"));
  for (uint64_t i = 91; i <= 100; ++i) append_spec(*store, spec(i, "small"));
  for (SampleOrder order : {SampleOrder::kFifo, SampleOrder::kUniform}) {
    SampleRequest req;
    req.balance_tasks = true;
    req.max_rollouts = 10;
    req.order = order;
    auto r = store->sample(req);
    ASSERT_TRUE(r.is_ok());
    std::map<std::string, int> per_task;
    for (auto& x : r->rollouts) ++per_task[x.root->rollout()->task()->str()];
    EXPECT_EQ(per_task["big"], 5);
    EXPECT_EQ(per_task["small"], 5);
  }
  // "small" has none left: the batch is filled from "big".
  SampleRequest req;
  req.balance_tasks = true;
  req.max_rollouts = 10;
  auto r = store->sample(req);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->rollouts.size(), 10u);
}

TEST(StorageReplay, WholeGroupsOnly) {
  TempDir dir;
  auto store = open_or_die(dir.sub("s"), fast_options());
  uint64_t rid = 1;
  // Prompt 1: complete group of 4 (arriving interleaved with prompt 2); prompt 2: only 3 of 4.
  for (int g = 0; g < 4; ++g) {
    SyntheticSpec a = spec(rid++);
    a.prompt_id = 1;
    a.group_index = g;
    append_spec(*store, a);
    if (g < 3) {
      SyntheticSpec b = spec(rid++);
      b.prompt_id = 2;
      b.group_index = g;
      append_spec(*store, b);
    }
  }
  SampleRequest req;
  req.group_size = 4;
  req.max_rollouts = 8;
  auto r = store->sample(req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rollouts.size(), 4u);
  std::set<int> indexes;
  for (auto& x : r->rollouts) {
    EXPECT_EQ(x.root->rollout()->prompt_id(), 1u);
    indexes.insert(x.root->rollout()->group_index());
  }
  EXPECT_EQ(indexes, (std::set<int>{0, 1, 2, 3}));
  // The last member of prompt 2 lands: its group becomes available.
  SyntheticSpec last = spec(rid++);
  last.prompt_id = 2;
  last.group_index = 3;
  append_spec(*store, last);
  req.order = SampleOrder::kUniform;  // uniform draws also serve only whole groups
  r = store->sample(req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rollouts.size(), 4u);
  for (auto& x : r->rollouts) EXPECT_EQ(x.root->rollout()->prompt_id(), 2u);
}

TEST(StorageReplay, RetentionByCountBytesAndVersionAgeReclaimedByCompaction) {
  TempDir dir;
  {
    ReplayOptions o = fast_options();
    o.max_rollouts = 50;
    auto store = open_or_die(dir.sub("count"), o);
    std::vector<SyntheticSpec> specs;
    for (uint64_t i = 1; i <= 80; ++i) specs.push_back(spec(i));
    append_all(*store, specs);
    EXPECT_EQ(store->counters().count, 50u);
    EXPECT_EQ(store->counters().deleted, 30u);
    EXPECT_EQ(store->get(30).status().code(), Status::Code::kNotFound);
    EXPECT_TRUE(store->get(31).is_ok());
  }
  {
    ReplayOptions o = fast_options();
    o.max_bytes = 128 << 10;  // 128 KiB: about twenty ~6 KiB values
    auto store = open_or_die(dir.sub("bytes"), o);
    std::vector<SyntheticSpec> specs;
    for (uint64_t i = 1; i <= 100; ++i) specs.push_back(spec(i, "arith", 0, 2048));
    append_all(*store, specs);
    EXPECT_LE(store->counters().value_bytes, uint64_t(o.max_bytes));
    EXPECT_GT(store->counters().count, 10u);
    EXPECT_LT(store->counters().count, 100u);
  }
  {
    ReplayOptions o = fast_options();
    o.max_version_age = 2;
    auto store = open_or_die(dir.sub("age"), o);
    std::vector<SyntheticSpec> specs;
    for (uint64_t i = 1; i <= 60; ++i) specs.push_back(spec(i, "arith", i / 10));  // versions 0..6
    append_all(*store, specs);
    uint64_t oldest = UINT64_MAX;
    ASSERT_TRUE(store->scan_summaries(ScanFilter{}, [&](const RolloutSummary& s) {
      oldest = std::min(oldest, s.policy_version);
      return true;
    }).is_ok());
    EXPECT_EQ(oldest, 4u);  // newest 6, age 2
  }
  {
    // Space comes back: fill, shrink the limit on reopen, compact.
    const std::string path = dir.sub("reclaim");
    {
      ReplayOptions o = fast_options();
      o.max_rollouts = 0;
      auto store = open_or_die(path, o);
      std::vector<SyntheticSpec> specs;
      for (uint64_t i = 1; i <= 400; ++i) specs.push_back(spec(i, "arith", 0, 8192));
      append_all(*store, specs);
      ASSERT_TRUE(store->compact().is_ok());
    }
    ReplayOptions o = fast_options();
    o.max_rollouts = 20;
    auto store = open_or_die(path, o);
    const uint64_t before = store->disk_bytes();
    auto rep = store->enforce_retention();
    ASSERT_TRUE(rep.is_ok());
    EXPECT_EQ(rep->deleted, 380u);
    ASSERT_TRUE(store->compact().is_ok());
    const uint64_t after = store->disk_bytes();
    EXPECT_LT(after, before / 2) << "before " << before << " after " << after;
    auto report = store->verify();
    ASSERT_TRUE(report.is_ok());
    EXPECT_EQ(report->matched, 20u);
  }
}

TEST(StorageReplay, LargestPromptIdIsTheNewestGroupsNotTheLastAppended) {
  TempDir dir;
  const std::string path = dir.sub("s");
  {
    auto store = open_or_die(path, fast_options());
    auto none = store->largest_prompt_id();
    ASSERT_TRUE(none.is_ok());
    EXPECT_EQ(*none, 0u) << "an empty store";
    // Groups finish out of order: prompt 300 (past 255, so a byte-order slip would show) before 7.
    for (uint64_t prompt : {5u, 300u, 7u}) {
      SyntheticSpec s = spec(prompt);
      s.prompt_id = prompt;
      append_spec(*store, s);
    }
    auto largest = store->largest_prompt_id();
    ASSERT_TRUE(largest.is_ok());
    EXPECT_EQ(*largest, 300u);
  }
  auto reopened = open_or_die(path, fast_options(), OpenMode::kReadOnly);
  auto largest = reopened->largest_prompt_id();
  ASSERT_TRUE(largest.is_ok());
  EXPECT_EQ(*largest, 300u) << "read from the index after a restart";
}

TEST(StorageReplay, CheckpointIndex) {
  TempDir dir;
  const std::string path = dir.sub("s");
  {
    auto store = open_or_die(path, fast_options());
    ASSERT_TRUE(store->put_checkpoint({20, "runs/x/ckpt-20", R"({"arith":{"pass@1":0.5}})", 2}).is_ok());
    ASSERT_TRUE(store->put_checkpoint({10, "runs/x/ckpt-10", R"({"arith":{"pass@1":0.3}})", 1}).is_ok());
  }
  {
    // One directory rewritten at each checkpoint keeps one row: the version it holds now,
    // replaced once more when its evaluation figures arrive.
    auto store = open_or_die(path, fast_options());
    ASSERT_TRUE(store->put_checkpoint({30, "runs/x/checkpoint", R"({"training":{"loss":1.5}})", 3}).is_ok());
    ASSERT_TRUE(store->put_checkpoint({40, "runs/x/checkpoint", R"({"training":{"loss":1.2}})", 4}).is_ok());
    ASSERT_TRUE(store->put_checkpoint({40, "runs/x/checkpoint", R"({"held_out":{"arith":0.7}})", 5}).is_ok());
  }
  auto store = open_or_die(path, fast_options(), OpenMode::kReadOnly);
  auto c = store->checkpoints();
  ASSERT_TRUE(c.is_ok());
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].version, 10u);
  EXPECT_EQ((*c)[1], (CheckpointEntry{20, "runs/x/ckpt-20", R"({"arith":{"pass@1":0.5}})", 2}));
  EXPECT_EQ((*c)[2], (CheckpointEntry{40, "runs/x/checkpoint", R"({"held_out":{"arith":0.7}})", 5}));
  EXPECT_FALSE(store->put_checkpoint({30, "p", "{}", 3}).is_ok());  // read-only
  EXPECT_FALSE(store->append(synthetic_rollout_bytes(spec(1))).is_ok());
  EXPECT_FALSE(store->sample(SampleRequest{}).is_ok());
}

TEST(StorageReplay, SecondaryFollowsAWriterWithoutLockingIt) {
  TempDir dir;
  const std::string path = dir.sub("s");
  auto writer = open_or_die(path, fast_options());
  for (uint64_t i = 1; i <= 5; ++i) append_spec(*writer, spec(i));
  auto follower = open_or_die(path, fast_options(), OpenMode::kSecondary);
  EXPECT_EQ(follower->counters().count, 5u);
  // A second writer is refused while the first holds the store.
  auto second = ReplayStore::open(path, fast_options());
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable) << second.status().to_string();
  for (uint64_t i = 6; i <= 9; ++i) append_spec(*writer, spec(i, "new_task"));
  ASSERT_TRUE(follower->catch_up().is_ok());
  EXPECT_EQ(follower->counters().count, 9u);
  EXPECT_EQ(follower->tasks().size(), 2u);
  EXPECT_TRUE(follower->get(9).is_ok());
}

}  // namespace
}  // namespace troupe::storage
