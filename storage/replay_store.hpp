// ReplayStore: every scored rollout, kept durably in RocksDB and served to learners.
//
// Contract. A store is a RocksDB directory whose `meta` column family holds the
// troupe magic and the store schema version; `open` refuses a missing path (unless
// it may create one), a directory that is not RocksDB, a RocksDB that is not a
// troupe store, and a store written by a newer schema, each with a message naming
// the path. Each appended rollout gets an id (1, 2, 3, ... in commit order, never
// reused) and is stored as the `wire::ScoredRollout` FlatBuffer it arrived as
// (LZ4-compressed on the appender's thread when that saves space, value_codec.hpp),
// beside a compact summary (task, versions, rewards) and three secondary indexes
// (by task, by policy version, by prompt group). All keys are big-endian so that
// "oldest", "newest", "one task" and "a version range" are range scans.
//
// Durability. `append` returns, and `append_async` calls back, only once the
// rollout is durable under the chosen policy: kSync fsyncs the WAL on every append;
// kGroupCommit is a two-stage pipeline. A writer thread writes everything queued
// as one WriteBatch (to the WAL and memtables, no fsync) as soon as
// `group_commit_rollouts` are queued or `group_commit_ms` has passed since the
// first of them, and hands the batch to a syncer thread; the syncer fsyncs the
// WAL (one SyncWAL covers every batch written before it started) and only then
// calls the batch's appenders back. So the next batch is written while the
// previous one's fsync runs, and under load a sync covers whatever was written
// meanwhile. Bounds: at most `group_commit_queue` rollouts wait in the queue (a
// caller that finds it full waits: back-pressure), one batch of at most as many is
// being written, and at most four queues' worth are written but not yet synced
// (the writer waits; these hold only their callbacks), so memory stays bounded.
// Written-but-unsynced rollouts are visible to readers of this process and to
// secondaries, but `sample` never serves one: a learner only trains on durable
// rollouts. An append answered with an I/O error may still be in the store.
//
// Reading. Every value read (get, scan, sample, verify) passes the FlatBuffers
// verifier; a value that fails is reported with its key, skipped and counted
// (`corrupt_reads()`), never trusted and never a crash. `stats`-style queries read
// only the summaries, not the values.
//
// Sampling. `sample` serves learners: FIFO, newest-first, or uniform within
// [min_version, newest]; optionally balanced across tasks; optionally in whole
// prompt groups. A rollout is handed out at most `reuse` times. Each hand-out is
// recorded in the WAL before `sample` returns, without an fsync of its own: it
// survives the process being killed (the WAL write has reached the kernel), and it
// becomes durable against an OS crash or power loss with the next group-commit
// sync (within `group_commit_ms` while appends flow) or the next flush. Only an
// OS crash in that window can let a rollout be served once more than `reuse`.
// Uniform sampling draws ids at random and checks them (expected cost in
// proportion to the batch, not the window); when the window is a small, sparse
// part of the stored ids it falls back to one scan of the window.
//
// Retention. After each committed batch the writer deletes the oldest rollouts
// while the store exceeds `max_rollouts` or `max_bytes`, and every rollout whose
// policy version is more than `max_version_age` behind the newest. Deleted values
// are reclaimed by compaction (files with many deletions are compacted
// automatically; `compact()` forces it).
//
// Modes. kWriter owns the directory (RocksDB's LOCK: one writer process);
// kSecondary follows a live writer without locking or slowing it (`catch_up()`
// picks up new writes); kReadOnly sees a fixed snapshot. Read-only modes refuse
// append, sample, retention and checkpoint writes.
//
// Thread-safety. All methods may be called from any thread concurrently. Appends
// are serialised in one commit path; `sample` calls are serialised with each
// other (so two learners never get the same single-use rollout); reads take no
// store-wide lock. The destructor waits for queued appends to commit and calls
// back every one of them; no method may be called during or after destruction.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.hpp"
#include "storage/checkpoint_index.hpp"
#include "storage/rollout_summary.hpp"
#include "wire/messages.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace troupe::storage {

// The on-disk layout version this build writes and the newest it opens.
//   1: values are raw ScoredRollout FlatBuffers.
//   2: values may also be LZ4-compressed FlatBuffers (storage/value_codec.hpp).
// A writer opening a schema-1 store stamps it 2; readers of either need no change.
inline constexpr uint32_t kStoreSchemaVersion = 2;
// What `meta`/magic holds in every troupe replay store.
inline constexpr const char* kStoreMagic = "troupe.replay";

enum class Durability { kSync, kGroupCommit };
enum class OpenMode { kWriter, kSecondary, kReadOnly };

// "sync" | "group_commit" (StorageConfig::durability) -> Durability; anything else is
// invalid_argument naming the value and the choices.
Result<Durability> parse_durability(std::string_view name);

struct ReplayOptions {
  // Create an empty store when the path does not exist (writer mode only).
  // Default: true
  bool create_if_missing = true;
  // When an append counts as done. Default: kGroupCommit
  Durability durability = Durability::kGroupCommit;
  // Longest wait of a queued rollout before its batch is written. Default: 5
  int64_t group_commit_ms = 5;
  // A batch is written as soon as this many rollouts are queued. Default: 64
  int64_t group_commit_rollouts = 64;
  // Most rollouts queued for the writer; appenders wait when it is full. Default: 1024
  int64_t group_commit_queue = 1024;
  // Retention by count; 0 keeps any number. Default: 1000000
  int64_t max_rollouts = 1000000;
  // Retention by stored value bytes; 0 keeps any size. Default: 4 GiB
  int64_t max_bytes = int64_t{4} << 30;
  // Retention by policy-version age behind the newest; 0 keeps all. Default: 0
  int64_t max_version_age = 0;
  // Times `sample` may hand out one rollout. Default: 1
  int64_t reuse = 1;
  // Seed of the uniform sampler. Default: 1
  uint64_t seed = 1;
  // The RocksDB environment (files, threads, clock); must outlive the store. Tests pass
  // one that delays or fails file operations. Default: nullptr (RocksDB's default Env)
  rocksdb::Env* env = nullptr;
};

// A verified rollout: `root` points into `bytes` and lives as long as it does.
struct StoredRollout {
  uint64_t id = 0;
  wire::Bytes bytes;
  const wire::ScoredRollout* root = nullptr;
};

// A value that failed verification (or RocksDB's own checksum) while reading.
struct CorruptRecord {
  uint64_t id = 0;
  std::string key_hex;  // the rollouts column-family key, hex
  std::string what;
};

// What a scan read. Only the first kMaxCorruptExamples corrupt records are kept.
struct ScanReport {
  static constexpr size_t kMaxCorruptExamples = 100;  // enough to act on; bounded memory
  uint64_t scanned = 0;  // summaries looked at
  uint64_t matched = 0;  // passed the filter and verified
  uint64_t corrupt = 0;
  std::vector<CorruptRecord> corrupt_examples;
  void add_corrupt(CorruptRecord r);
};

// Which rollouts a scan visits. Empty/zero fields do not filter.
struct ScanFilter {
  std::optional<std::string> task;
  uint64_t min_version = 0;
  uint64_t max_version = std::numeric_limits<uint64_t>::max();
  std::optional<float> reward_min;  // on the mixed total
  std::optional<float> reward_max;
  bool source_disagree = false;     // only rollouts whose sources disagree (RolloutSummary::sources_disagree)
  uint64_t after_id = 0;            // only ids greater than this
  uint64_t limit = 0;               // stop after this many matches; 0 = no limit
  bool newest_first = false;
  bool matches(const RolloutSummary& s) const;
};

enum class SampleOrder { kFifo, kNewest, kUniform };

struct SampleRequest {
  size_t max_rollouts = 64;          // at most this many rollouts come back
  SampleOrder order = SampleOrder::kFifo;
  uint64_t min_version = 0;          // staleness window: only policy_version >= this
  bool balance_tasks = false;        // split the batch evenly across tasks present
  int group_size = 0;                // > 0: only whole prompt groups of this many rollouts
  uint64_t learner_version = 0;      // recorded per rollout, for staleness at training time
};

struct SampleResult {
  std::vector<StoredRollout> rollouts;
  uint64_t corrupt_skipped = 0;
};

// How often a rollout was handed out, and to which learner version last.
struct Usage {
  uint32_t uses = 0;
  uint64_t last_learner_version = 0;
};

// Counters kept in the meta column family, updated atomically with each batch.
struct StoreCounters {
  uint64_t count = 0;             // rollouts stored
  uint64_t value_bytes = 0;       // sum of their value sizes
  uint64_t next_id = 1;           // id the next append gets
  uint64_t newest_version = 0;    // largest policy_version stored so far
  uint64_t deleted = 0;           // rollouts removed by retention, ever
};

struct RetentionReport {
  uint64_t deleted = 0;
  uint64_t freed_value_bytes = 0;
};

class ReplayStore {
 public:
  using AppendCallback = std::function<void(Result<uint64_t>)>;

  // REQUIRES: in kSecondary/kReadOnly mode `options.create_if_missing` is ignored.
  static Result<std::unique_ptr<ReplayStore>> open(const std::string& path, const ReplayOptions& options,
                                                   OpenMode mode = OpenMode::kWriter);
  ~ReplayStore();
  ReplayStore(const ReplayStore&) = delete;
  ReplayStore& operator=(const ReplayStore&) = delete;

  // Verifies `bytes` as a ScoredRollout and stores it; returns its id once durable
  // (from then on `sample` may serve it).
  Result<uint64_t> append(wire::Bytes bytes);
  // As append, but returns once queued; `done` runs (on the syncer thread under
  // group commit, on the caller's under kSync) when durable or failed. Waits while
  // the group-commit queue is full. Invalid bytes are answered at once. `done` must
  // not append to this store (it would wait on the thread that runs it).
  void append_async(wire::Bytes bytes, AppendCallback done);

  Result<StoredRollout> get(uint64_t id) const;
  Result<RolloutSummary> summary(uint64_t id) const;
  Result<Usage> usage(uint64_t id) const;

  // Visits verified rollouts matching `filter` in id order; `visit` returns false to stop.
  // Corrupt values are skipped and recorded in `report`.
  Status scan(const ScanFilter& filter, const std::function<bool(const StoredRollout&)>& visit,
              ScanReport* report) const;
  // Visits summaries only (no value reads): what `stats` and `ls` use on large stores.
  Status scan_summaries(const ScanFilter& filter, const std::function<bool(const RolloutSummary&)>& visit) const;
  // Reads and verifies every value.
  Result<ScanReport> verify() const;

  Result<SampleResult> sample(const SampleRequest& request);

  // Applies the retention limits now (the writer also does so after every batch).
  Result<RetentionReport> enforce_retention();
  // Compacts every column family, reclaiming deleted rollouts' space.
  Status compact();

  // Records a checkpoint (fsynced). A path holds one checkpoint: rows of older
  // versions naming the same path are removed (a run that rewrites one checkpoint
  // directory keeps one row, the version it holds now); a row for the same version
  // is replaced (e.g. with evaluation figures computed after the run).
  Status put_checkpoint(const CheckpointEntry& entry);
  // Every recorded checkpoint, oldest version first.
  Result<std::vector<CheckpointEntry>> checkpoints() const;

  // Secondary mode: picks up what the writer has committed since. No-op otherwise.
  Status catch_up();

  StoreCounters counters() const;
  // The largest prompt id of any stored rollout (0 for an empty store): a run resumed from a checkpoint
  // older than the store's newest groups issues prompt ids above it, so no group key repeats.
  Result<uint64_t> largest_prompt_id() const;
  std::vector<std::string> tasks() const;
  uint64_t corrupt_reads() const { return corrupt_reads_.load(); }
  // Bytes of every file under the store directory.
  uint64_t disk_bytes() const;
  const std::string& path() const { return path_; }
  const ReplayOptions& options() const { return options_; }
  OpenMode mode() const { return mode_; }
  // Retention limits the writer last recorded (what `stats` reports for a store
  // opened read-only); empty when none were recorded.
  std::string recorded_retention() const;

 private:
  struct Prepared;
  struct Pending;
  enum Cf : int { kRollouts = 0, kSummaries, kByTask, kByVersion, kByGroup, kUses, kCheckpoints, kMeta, kNumCf };

  ReplayStore(std::string path, ReplayOptions options, OpenMode mode);
  Status open_db(bool create);
  Status load_meta();
  // REQUIRES: write_mu_ held (or no other thread yet).
  Status load_tasks_locked();
  Status require_writer(const char* what) const;
  Result<Prepared> prepare(wire::Bytes bytes) const;
  // Writes `batch` (one WriteBatch); fsyncs the WAL first when `sync`.
  // REQUIRES: write_mu_ held.
  std::vector<Result<uint64_t>> commit_locked(std::vector<Prepared>& batch, bool sync);
  Result<RetentionReport> retention_locked();
  Status delete_ids_locked(const std::vector<RolloutSummary>& victims, RetentionReport* report);
  void writer_loop();
  void syncer_loop();
  Result<StoredRollout> read_value(uint64_t id) const;
  // Ids [begin, end) that can hold rollouts of policy_version >= min_version, end capped
  // at `end`; empty when none can. Takes no lock (sample calls it under sample_mu_).
  struct IdRange {
    uint64_t begin = 0, end = 0;
  };
  IdRange window_ids(uint64_t min_version, uint64_t end) const;
  void note_corrupt() const { corrupt_reads_.fetch_add(1); }
  std::string counters_value(const StoreCounters& c) const;

  const std::string path_;
  const ReplayOptions options_;
  const OpenMode mode_;
  std::string secondary_dir_;  // scratch directory of a secondary instance
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;     // indexed by Cf
  std::vector<rocksdb::ColumnFamilyHandle*> extra_cf_;  // foreign column families we must open too

  mutable std::mutex write_mu_;   // serialises commits and retention
  StoreCounters counters_;        // guarded by write_mu_
  std::unique_ptr<rocksdb::WriteBatch> batch_;  // guarded by write_mu_: reused by every commit
  std::set<std::string> tasks_;   // guarded by write_mu_; one entry per task name
  std::mutex sample_mu_;          // serialises sample() with itself and with retention
  std::mutex checkpoint_mu_;      // serialises put_checkpoint with itself
  uint64_t fifo_floor_ = 1;       // guarded by sample_mu_: ids below are spent
  uint64_t sample_calls_ = 0;     // guarded by sample_mu_

  // Group commit: a bounded queue drained by one writer thread.
  std::mutex queue_mu_;
  std::condition_variable queue_not_empty_;
  std::condition_variable queue_not_full_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_;

  // Group commit, second stage: batches written but not yet fsynced, for the syncer.
  struct Written {
    std::vector<AppendCallback> done;
    std::vector<Result<uint64_t>> results;
    uint64_t next_id = 0;  // counters_.next_id after this batch
  };
  std::mutex sync_mu_;
  std::condition_variable sync_wanted_;  // the writer handed over a batch, or finished
  std::condition_variable sync_room_;    // the syncer made some written rollouts durable
  std::vector<Written> unsynced_;        // guarded by sync_mu_
  size_t unsynced_rollouts_ = 0;         // guarded by sync_mu_: written, not yet synced and called back
  bool writer_done_ = false;             // guarded by sync_mu_
  std::thread syncer_;
  // Ids below this are durable: `sample` serves only these.
  std::atomic<uint64_t> durable_next_id_{1};

  mutable std::atomic<uint64_t> corrupt_reads_{0};
};

}  // namespace troupe::storage
