// ReplayStore on RocksDB (contract in replay_store.hpp).
//
// Column families and keys (ids and versions are big-endian u64, so byte order is
// numeric order):
//   rollouts     id                      -> ScoredRollout FlatBuffer
//   summaries    id                      -> RolloutSummary::encode()
//   by_task      task '\0' id            -> ""
//   by_version   policy_version id       -> ""
//   by_group     prompt_id id            -> ""
//   uses         id                      -> u32 uses | u64 last learner version (LE)
//   checkpoints  policy_version          -> CheckpointEntry::encode()
//   meta         "magic" "schema" "counters" "retention"
// One WriteBatch carries a rollout, its summary, its index rows and the new
// counters, so they are committed (and lost) together.
#include "storage/replay_store.hpp"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>
#include <unordered_set>

#include "storage/value_codec.hpp"

namespace troupe::storage {
namespace {

namespace fs = std::filesystem;

// Order matches ReplayStore::Cf.
const char* const kCfNames[] = {"rollouts", "summaries", "by_task", "by_version",
                                "by_group", "uses",      "checkpoints", "meta"};
constexpr const char* kMagicKey = "magic";
constexpr const char* kSchemaKey = "schema";
constexpr const char* kCountersKey = "counters";
constexpr const char* kRetentionKey = "retention";
// Retention deletes in chunks so one pass never holds an unbounded victim list.
constexpr size_t kRetentionChunk = 4096;
// A table file whose sliding window of 128 entries holds 64 deletions is marked
// for compaction, so retention's tombstones and the values behind them go soon.
constexpr size_t kDeletionWindow = 128;
constexpr size_t kDeletionTrigger = 64;
// Uniform sampling draws at most this many random ids per wanted unit (plus a few)
// before it scans the window instead: enough when the window is >= ~1/4 of the
// stored ids, the usual case for a staleness window.
constexpr uint64_t kUniformDrawsPerUnit = 8;
constexpr uint64_t kUniformDrawsExtra = 64;
// Narrowing the uniform draw range seeks once per policy version in the window; past
// this many versions the range starts at the oldest stored id.
constexpr int kMaxWindowVersions = 256;
// Group commit lets this many queues' worth of rollouts be written and not yet synced.
constexpr size_t kUnsyncedQueues = 4;
// The group-commit write buffer is kept for the next batch up to this size.
constexpr size_t kBatchKeep = size_t{64} << 20;

std::string be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t read_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string task_key(const std::string& task, uint64_t id) { return task + '\0' + be64(id); }
std::string pair_key(uint64_t a, uint64_t b) { return be64(a) + be64(b); }

// RocksDB's status, translated, with what we were doing.
Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::ok();
  const std::string msg = what + ": rocksdb: " + s.ToString();
  if (s.IsNotFound()) return Status::not_found(msg);
  if (s.IsCorruption()) return Status::corruption(msg);
  if (s.IsInvalidArgument()) return Status::invalid_argument(msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Status::unavailable(msg + " (another process has the store open for writing; read it with "
                                     "`troupe replay`, which opens a secondary instance)");
  }
  return Status::io_error(msg);
}

template <class T>
void put_le(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

template <class T>
T get_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string encode_usage(const Usage& u) {
  std::string out;
  put_le(&out, u.uses);
  put_le(&out, u.last_learner_version);
  return out;
}

bool decode_usage(std::string_view v, Usage* u) {
  if (v.size() != sizeof(uint32_t) + sizeof(uint64_t)) return false;
  u->uses = get_le<uint32_t>(v.data());
  u->last_learner_version = get_le<uint64_t>(v.data() + sizeof(uint32_t));
  return true;
}

bool decode_counters(std::string_view v, StoreCounters* c) {
  if (v.size() != 5 * sizeof(uint64_t)) return false;
  const char* p = v.data();
  c->count = get_le<uint64_t>(p);
  c->value_bytes = get_le<uint64_t>(p + 8);
  c->next_id = get_le<uint64_t>(p + 16);
  c->newest_version = get_le<uint64_t>(p + 24);
  c->deleted = get_le<uint64_t>(p + 32);
  return true;
}

Status check_options(const ReplayOptions& o) {
  auto bad = [](const std::string& what) { return Status::invalid_argument("replay store options: " + what); };
  if (o.group_commit_ms < 0) return bad("group_commit_ms must be >= 0, got " + std::to_string(o.group_commit_ms));
  if (o.group_commit_rollouts < 1) {
    return bad("group_commit_rollouts must be >= 1, got " + std::to_string(o.group_commit_rollouts));
  }
  if (o.group_commit_queue < o.group_commit_rollouts) {
    return bad("group_commit_queue (" + std::to_string(o.group_commit_queue) +
               ") must be >= group_commit_rollouts (" + std::to_string(o.group_commit_rollouts) + ")");
  }
  if (o.max_rollouts < 0 || o.max_bytes < 0 || o.max_version_age < 0) {
    return bad("max_rollouts, max_bytes and max_version_age must be >= 0 (0 = no limit)");
  }
  if (o.reuse < 1) return bad("reuse must be >= 1, got " + std::to_string(o.reuse));
  return Status::ok();
}

}  // namespace

Result<Durability> parse_durability(std::string_view name) {
  if (name == "sync") return Durability::kSync;
  if (name == "group_commit") return Durability::kGroupCommit;
  return Status::invalid_argument("storage durability \"" + std::string(name) + "\": expected sync or group_commit");
}

void ScanReport::add_corrupt(CorruptRecord r) {
  ++corrupt;
  if (corrupt_examples.size() < kMaxCorruptExamples) corrupt_examples.push_back(std::move(r));
}

bool ScanFilter::matches(const RolloutSummary& s) const {
  if (task && s.task != *task) return false;
  if (s.policy_version < min_version || s.policy_version > max_version) return false;
  if (reward_min && s.total < *reward_min) return false;
  if (reward_max && s.total > *reward_max) return false;
  if (source_disagree && !s.sources_disagree()) return false;
  return s.id > after_id;
}

struct ReplayStore::Prepared {
  wire::Bytes bytes;   // the FlatBuffer, when it is stored as it is
  std::string packed;  // else its compressed form (value_codec)
  RolloutSummary summary;
  std::string summary_value;
  rocksdb::Slice value() const {
    return packed.empty() ? rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size())
                          : rocksdb::Slice(packed);
  }
};

struct ReplayStore::Pending {
  Prepared prepared;
  AppendCallback done;
  std::chrono::steady_clock::time_point queued_at;
};

ReplayStore::ReplayStore(std::string path, ReplayOptions options, OpenMode mode)
    : path_(std::move(path)), options_(options), mode_(mode) {}

Result<std::unique_ptr<ReplayStore>> ReplayStore::open(const std::string& path, const ReplayOptions& options,
                                                       OpenMode mode) {
  TROUPE_RETURN_IF_ERROR(check_options(options));
  std::error_code ec;
  bool create = false;
  const bool may_create = mode == OpenMode::kWriter && options.create_if_missing;
  if (!fs::exists(path, ec)) {
    if (!may_create) return Status::not_found("no troupe replay store at " + path + ": the path does not exist");
    create = true;
  } else if (!fs::is_directory(path, ec)) {
    return Status::invalid_argument(path + " is not a troupe replay store: it is a file, not a directory");
  } else if (!fs::exists(fs::path(path) / "CURRENT", ec)) {
    if (!(may_create && fs::is_empty(path, ec))) {
      return Status::invalid_argument(path + " is not a troupe replay store: the directory has no RocksDB "
                                             "CURRENT file");
    }
    create = true;
  }
  std::unique_ptr<ReplayStore> store(new ReplayStore(path, options, mode));
  TROUPE_RETURN_IF_ERROR(store->open_db(create));
  TROUPE_RETURN_IF_ERROR(store->load_meta());
  store->durable_next_id_ = store->counters().next_id;  // what recovery found is what the disk holds
  if (mode == OpenMode::kWriter && options.durability == Durability::kGroupCommit) {
    store->syncer_ = std::thread([s = store.get()] { s->syncer_loop(); });
    store->writer_ = std::thread([s = store.get()] { s->writer_loop(); });
  }
  return store;
}

Status ReplayStore::open_db(bool create) {
  rocksdb::DBOptions dbo;
  if (options_.env) dbo.env = options_.env;
  dbo.create_if_missing = create;
  dbo.create_missing_column_families = mode_ == OpenMode::kWriter;
  dbo.max_background_jobs = 2;  // the machines we target have 2-16 cores shared with the rest of troupe
  dbo.keep_log_file_num = 4;    // RocksDB's own LOG files: enough to debug, bounded on disk
  if (mode_ == OpenMode::kSecondary) dbo.max_open_files = -1;  // required by secondary instances
  // The meta column family takes a small write with every batch and would never fill its
  // memtable, so RocksDB would keep every WAL file alive (1.8 GB of WAL per million 1 KB
  // rollouts, all replayed by each secondary that opens). Capping the WAL forces the
  // column families that pin old WAL files to flush; capping memtables bounds memory.
  dbo.max_total_wal_size = uint64_t{128} << 20;
  dbo.db_write_buffer_size = size_t{256} << 20;

  std::vector<std::string> existing;
  if (!create) {
    auto s = rocksdb::DB::ListColumnFamilies(dbo, path_, &existing);
    if (!s.ok()) return from_rocks(s, "opening replay store " + path_ + " (listing column families)");
    if (std::find(existing.begin(), existing.end(), "meta") == existing.end()) {
      return Status::invalid_argument(path_ + " is a RocksDB database but not a troupe replay store (it has no "
                                              "'meta' column family)");
    }
  }

  rocksdb::ColumnFamilyOptions rollout_opts;
  // Values arrive compressed by the appenders (value_codec): compressing the table
  // blocks again would cost the flush thread CPU and gain nothing.
  rollout_opts.compression = rocksdb::kNoCompression;
  rollout_opts.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(kDeletionWindow, kDeletionTrigger));
  rocksdb::ColumnFamilyOptions small_opts;
  small_opts.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(kDeletionWindow, kDeletionTrigger));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  cfds.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (int i = 0; i < kNumCf; ++i) {
    if (mode_ != OpenMode::kWriter && std::find(existing.begin(), existing.end(), kCfNames[i]) == existing.end()) {
      return Status::corruption("replay store " + path_ + " lacks its '" + kCfNames[i] + "' column family");
    }
    cfds.emplace_back(kCfNames[i], i == kRollouts ? rollout_opts : small_opts);
  }
  for (const auto& name : existing) {  // RocksDB requires opening every column family a database has
    bool ours = name == rocksdb::kDefaultColumnFamilyName;
    for (const char* n : kCfNames) ours = ours || name == n;
    if (!ours) cfds.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  switch (mode_) {
    case OpenMode::kWriter:
      s = rocksdb::DB::Open(dbo, path_, cfds, &handles, &raw);
      break;
    case OpenMode::kReadOnly:
      s = rocksdb::DB::OpenForReadOnly(dbo, path_, cfds, &handles, &raw);
      break;
    case OpenMode::kSecondary: {
      std::string tmpl = (fs::temp_directory_path() / "troupe-replay-secondary-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) return Status::io_error("creating a scratch directory for a secondary instance");
      secondary_dir_ = tmpl;
      s = rocksdb::DB::OpenAsSecondary(dbo, path_, secondary_dir_, cfds, &handles, &raw);
      break;
    }
  }
  if (!s.ok()) return from_rocks(s, "opening replay store " + path_);
  db_.reset(raw);
  // handles[0] is the default column family, which we do not use but must close.
  extra_cf_.push_back(handles[0]);
  cf_.assign(handles.begin() + 1, handles.begin() + 1 + kNumCf);
  extra_cf_.insert(extra_cf_.end(), handles.begin() + 1 + kNumCf, handles.end());
  return Status::ok();
}

Status ReplayStore::load_meta() {
  std::string magic;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kMagicKey, &magic);
  // A secondary opened while its primary flushes can read a MANIFEST that does not yet list
  // the flushed table after the WAL holding the same keys was already deleted, and so see no
  // magic for a moment. Catching up again reads the newer MANIFEST; only a store that still
  // lacks the magic after a few catch-ups (~1 s) is declared foreign.
  for (int attempt = 0; s.IsNotFound() && mode_ == OpenMode::kSecondary && attempt < 20; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!db_->TryCatchUpWithPrimary().ok()) continue;
    s = db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kMagicKey, &magic);
  }
  if (s.IsNotFound() && mode_ == OpenMode::kWriter) {
    // A new store: stamp it before anything else is written.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kRollouts]));
    it->SeekToFirst();
    if (it->Valid()) {
      return Status::invalid_argument(path_ + " holds rollouts but no troupe magic: not a troupe replay store");
    }
    it.reset();
    rocksdb::WriteBatch wb;
    wb.Put(cf_[kMeta], kMagicKey, kStoreMagic);
    wb.Put(cf_[kMeta], kSchemaKey, std::to_string(kStoreSchemaVersion));
    wb.Put(cf_[kMeta], kCountersKey, counters_value(StoreCounters{}));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    TROUPE_RETURN_IF_ERROR(from_rocks(db_->Write(wo, &wb), "creating replay store " + path_));
    magic = kStoreMagic;
  } else if (!s.ok() && !s.IsNotFound()) {
    return from_rocks(s, "reading the metadata of replay store " + path_);
  }
  if (magic != kStoreMagic) {
    return Status::invalid_argument(path_ + " is a RocksDB database but not a troupe replay store (its meta "
                                            "column family has no troupe magic)");
  }
  std::string schema;
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kSchemaKey, &schema),
                                    "reading the schema version of replay store " + path_));
  char* end = nullptr;
  const unsigned long version = std::strtoul(schema.c_str(), &end, 10);
  if (schema.empty() || *end != '\0') {
    return Status::corruption("replay store " + path_ + ": schema version \"" + schema + "\" is not a number");
  }
  if (version > kStoreSchemaVersion) {
    return Status::invalid_argument("replay store " + path_ + " was written by a newer troupe (store schema " +
                                    schema + "; this build reads up to " + std::to_string(kStoreSchemaVersion) +
                                    "): read it with a newer troupe");
  }
  if (version < kStoreSchemaVersion && mode_ == OpenMode::kWriter) {
    // Schema 1 held only raw values; this build writes compressed ones, which schema 1
    // readers would take for damage. Stamping the new version makes them refuse the
    // store with a clear message instead. Everything already stored stays readable.
    rocksdb::WriteOptions wo;
    wo.sync = true;
    TROUPE_RETURN_IF_ERROR(from_rocks(
        db_->Put(wo, cf_[kMeta], kSchemaKey, std::to_string(kStoreSchemaVersion)),
        "upgrading replay store " + path_ + " from schema " + schema));
  }

  std::lock_guard lock(write_mu_);
  std::string counters;
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kCountersKey, &counters),
                                    "reading the counters of replay store " + path_));
  if (!decode_counters(counters, &counters_)) {
    return Status::corruption("replay store " + path_ + ": counters record is " + std::to_string(counters.size()) +
                              " bytes, expected 40");
  }
  TROUPE_RETURN_IF_ERROR(load_tasks_locked());

  if (mode_ == OpenMode::kWriter) {
    std::string retention = "max_rollouts=" + std::to_string(options_.max_rollouts) +
                            " max_bytes=" + std::to_string(options_.max_bytes) +
                            " max_version_age=" + std::to_string(options_.max_version_age) +
                            " reuse=" + std::to_string(options_.reuse);
    TROUPE_RETURN_IF_ERROR(from_rocks(db_->Put(rocksdb::WriteOptions(), cf_[kMeta], kRetentionKey, retention),
                                      "recording retention limits in " + path_));
  }
  return Status::ok();
}

ReplayStore::~ReplayStore() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_not_empty_.notify_all();
    queue_not_full_.notify_all();
    writer_.join();  // it drains the queue, then tells the syncer it is done
  }
  if (syncer_.joinable()) syncer_.join();  // it syncs and calls back everything written
  if (db_) {
    if (mode_ == OpenMode::kWriter) {
      // A clean close leaves nothing in the WAL, so the next open (or a secondary) replays nothing.
      db_->Flush(rocksdb::FlushOptions(), cf_).PermitUncheckedError();
    }
    for (auto* h : cf_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    for (auto* h : extra_cf_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

Status ReplayStore::load_tasks_locked() {
  // Distinct task names: one seek per task, skipping its rows.
  tasks_.clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kByTask]));
  for (it->SeekToFirst(); it->Valid();) {
    const rocksdb::Slice k = it->key();
    if (k.size() < 9) break;  // shorter than '\0' + id: not a row this build wrote
    std::string task(k.data(), k.size() - 9);
    tasks_.insert(task);
    it->Seek(task + '\1');
  }
  return from_rocks(it->status(), "listing the tasks of replay store " + path_);
}

Status ReplayStore::require_writer(const char* what) const {
  if (mode_ == OpenMode::kWriter) return Status::ok();
  return Status::invalid_argument(std::string(what) + ": replay store " + path_ + " is open read-only");
}

std::string ReplayStore::counters_value(const StoreCounters& c) const {
  std::string out;
  put_le(&out, c.count);
  put_le(&out, c.value_bytes);
  put_le(&out, c.next_id);
  put_le(&out, c.newest_version);
  put_le(&out, c.deleted);
  return out;
}

Result<ReplayStore::Prepared> ReplayStore::prepare(wire::Bytes bytes) const {
  auto root = wire::read<wire::ScoredRollout>(bytes);
  if (!root) return root.status().with_context("append to " + path_ + ": rollout rejected");
  const auto* task = (*root)->rollout()->task();
  if (task->size() == 0 || std::memchr(task->data(), '\0', task->size()) != nullptr) {
    return Status::invalid_argument("append to " + path_ + ": task name must be non-empty and contain no NUL byte");
  }
  if (bytes.size() > kMaxValueBytes) {
    return Status::invalid_argument("append to " + path_ + ": a rollout of " + std::to_string(bytes.size()) +
                                    " bytes exceeds the store's limit of " + std::to_string(kMaxValueBytes));
  }
  Prepared p;
  p.summary = RolloutSummary::from(**root, static_cast<uint32_t>(bytes.size()));
  p.summary_value = p.summary.encode();
  // Compressed here, on the appender's thread: the writer thread and the disk then
  // move a fifth to a quarter fewer bytes. The FlatBuffer is dropped once it has a compressed form.
  p.packed = compress_value(bytes.span());
  if (p.packed.empty()) p.bytes = std::move(bytes);
  return p;
}

std::vector<Result<uint64_t>> ReplayStore::commit_locked(std::vector<Prepared>& batch, bool sync) {
  // One buffer serves every batch: a fresh multi-megabyte one each time would be fresh
  // pages for the kernel to fault in and zero. Sized up front, so a large batch is not
  // copied again and again by doubling; a buffer grown past kBatchKeep is let go after.
  size_t reserve = 64;  // the batch header and the counters row
  for (const Prepared& p : batch) reserve += p.value().size() + p.summary_value.size() + 2 * p.summary.task.size() + 128;
  if (!batch_ || batch_->Data().capacity() < reserve) batch_ = std::make_unique<rocksdb::WriteBatch>(reserve);
  rocksdb::WriteBatch& wb = *batch_;
  wb.Clear();
  StoreCounters c = counters_;
  std::vector<uint64_t> ids;
  ids.reserve(batch.size());
  for (Prepared& p : batch) {
    const uint64_t id = c.next_id++;
    const std::string key = be64(id);
    const RolloutSummary& s = p.summary;
    wb.Put(cf_[kRollouts], key, p.value());
    wb.Put(cf_[kSummaries], key, p.summary_value);
    wb.Put(cf_[kByTask], task_key(s.task, id), rocksdb::Slice());
    wb.Put(cf_[kByVersion], pair_key(s.policy_version, id), rocksdb::Slice());
    wb.Put(cf_[kByGroup], pair_key(s.prompt_id, id), rocksdb::Slice());
    ++c.count;
    c.value_bytes += s.value_bytes;  // the FlatBuffer's size, compressed or not
    c.newest_version = std::max(c.newest_version, s.policy_version);
    ids.push_back(id);
  }
  wb.Put(cf_[kMeta], kCountersKey, counters_value(c));
  rocksdb::WriteOptions wo;
  wo.sync = sync;  // group commit: the syncer thread fsyncs the WAL after this write
  const Status s = from_rocks(db_->Write(wo, &wb), "appending " + std::to_string(batch.size()) +
                                                        " rollouts to " + path_);
  if (wb.Data().capacity() > kBatchKeep) batch_.reset();
  std::vector<Result<uint64_t>> results;
  results.reserve(batch.size());
  if (!s) {
    for (size_t i = 0; i < batch.size(); ++i) results.emplace_back(s);
    return results;
  }
  counters_ = c;
  if (sync) durable_next_id_.store(c.next_id);
  for (Prepared& p : batch) tasks_.insert(p.summary.task);
  for (uint64_t id : ids) results.emplace_back(id);

  // Retention runs on the commit path so the store never stays over its limits;
  // a failure here does not un-acknowledge the appends (enforce_retention reports it).
  const bool over_count = options_.max_rollouts > 0 && counters_.count > uint64_t(options_.max_rollouts);
  const bool over_bytes = options_.max_bytes > 0 && counters_.value_bytes > uint64_t(options_.max_bytes);
  bool over_age = false;
  if (options_.max_version_age > 0 && counters_.newest_version > uint64_t(options_.max_version_age)) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kByVersion]));
    it->SeekToFirst();
    over_age = it->Valid() && it->key().size() == 16 &&
               read_be64(it->key().data()) < counters_.newest_version - options_.max_version_age;
  }
  if (over_count || over_bytes || over_age) retention_locked().status().ignore();
  return results;
}

void ReplayStore::append_async(wire::Bytes bytes, AppendCallback done) {
  if (Status s = require_writer("append"); !s) return done(s);
  auto prepared = prepare(std::move(bytes));
  if (!prepared) return done(prepared.status());
  if (options_.durability == Durability::kSync) {
    std::vector<Prepared> one;
    one.push_back(std::move(*prepared));
    std::vector<Result<uint64_t>> results;
    {
      std::lock_guard lock(write_mu_);
      results = commit_locked(one, /*sync=*/true);
    }
    return done(std::move(results[0]));
  }
  bool wake = false;
  {
    std::unique_lock lock(queue_mu_);
    queue_not_full_.wait(lock, [&] { return queue_.size() < size_t(options_.group_commit_queue) || stopping_; });
    if (stopping_) {
      lock.unlock();
      return done(Status::unavailable("append to " + path_ + ": the store is closing"));
    }
    queue_.push_back(Pending{std::move(*prepared), std::move(done), std::chrono::steady_clock::now()});
    // Wake the writer only when it has something new to decide: the first rollout starts
    // the group_commit_ms clock, the threshold-th ends the wait. Other pushes need no wake-up.
    wake = queue_.size() == 1 || queue_.size() == size_t(options_.group_commit_rollouts);
  }
  if (wake) queue_not_empty_.notify_one();
}

Result<uint64_t> ReplayStore::append(wire::Bytes bytes) {
  std::promise<Result<uint64_t>> promise;
  auto future = promise.get_future();
  append_async(std::move(bytes), [&promise](Result<uint64_t> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void ReplayStore::writer_loop() {
  const size_t batch_max = size_t(options_.group_commit_rollouts);
  // Written but not yet synced: a few batches' worth, so the writer can write the next
  // batch (up to a whole queue) while the syncer syncs the last. These hold only their
  // callbacks (the values are in RocksDB by then), so the bound is on how far writes
  // run ahead of durability rather than on memory.
  const size_t in_flight_max = kUnsyncedQueues * size_t(options_.group_commit_queue);
  for (;;) {
    {
      // Bound what is written but not yet synced. While the writer waits here the queue
      // keeps filling, so the next batch (and the sync after it) covers more rollouts.
      std::unique_lock lock(sync_mu_);
      sync_room_.wait(lock, [&] { return unsynced_rollouts_ < in_flight_max; });
    }
    std::vector<Pending> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_not_empty_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;  // stopping, and everything queued has been written
      const auto deadline = queue_.front().queued_at + std::chrono::milliseconds(options_.group_commit_ms);
      queue_not_empty_.wait_until(lock, deadline, [&] { return queue_.size() >= batch_max || stopping_; });
      // Take everything queued (at most group_commit_queue): under load, rollouts that arrived
      // while the previous batch was written share this one, so batches grow with the load.
      while (!queue_.empty()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    queue_not_full_.notify_all();
    std::vector<Prepared> prepared;
    prepared.reserve(batch.size());
    for (Pending& p : batch) prepared.push_back(std::move(p.prepared));
    Written w;
    {
      std::lock_guard lock(write_mu_);
      w.results = commit_locked(prepared, /*sync=*/false);
      w.next_id = counters_.next_id;
    }
    prepared.clear();  // the values are in RocksDB now: free them before the sync
    w.done.reserve(batch.size());
    for (Pending& p : batch) w.done.push_back(std::move(p.done));
    {
      std::lock_guard lock(sync_mu_);
      unsynced_rollouts_ += w.done.size();
      unsynced_.push_back(std::move(w));
    }
    sync_wanted_.notify_one();
  }
  {
    std::lock_guard lock(sync_mu_);
    writer_done_ = true;
  }
  sync_wanted_.notify_one();
}

void ReplayStore::syncer_loop() {
  for (;;) {
    std::vector<Written> groups;
    {
      std::unique_lock lock(sync_mu_);
      sync_wanted_.wait(lock, [&] { return !unsynced_.empty() || writer_done_; });
      if (unsynced_.empty()) return;  // the writer is done and everything written is synced
      groups.swap(unsynced_);
    }
    // Every batch taken above was written before this call, so one SyncWAL makes all of
    // them durable (RocksDB syncs each live WAL file up to what has been written to it).
    const Status synced = from_rocks(db_->SyncWAL(), "syncing the write-ahead log of " + path_);
    size_t n = 0;
    uint64_t next_id = 0;
    for (const Written& g : groups) {
      n += g.done.size();
      next_id = std::max(next_id, g.next_id);
    }
    // Servable first, then acknowledged: once an appender hears its rollout is stored, a
    // learner can be served it (only durable rollouts are ever served either way).
    if (synced) durable_next_id_.store(std::max(durable_next_id_.load(), next_id));
    for (Written& g : groups) {
      for (size_t i = 0; i < g.done.size(); ++i) {
        Result<uint64_t> r = std::move(g.results[i]);
        if (!synced && r) r = synced;  // written but not known durable: not acknowledged
        g.done[i](std::move(r));
      }
    }
    {
      std::lock_guard lock(sync_mu_);
      unsynced_rollouts_ -= n;
    }
    sync_room_.notify_all();
  }
}

Result<StoredRollout> ReplayStore::read_value(uint64_t id) const {
  const std::string key = be64(id);
  rocksdb::PinnableSlice value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kRollouts], key, &value);
  if (s.IsNotFound()) return Status::not_found("no rollout with id " + std::to_string(id) + " in " + path_);
  if (!s.ok()) {
    note_corrupt();
    return from_rocks(s, "reading rollout " + std::to_string(id) + " (key " + hex(key) + ") from " + path_);
  }
  auto flatbuffer = decode_value(value.ToStringView());
  if (!flatbuffer) {
    note_corrupt();
    return Status::corruption("rollout " + std::to_string(id) + " (key " + hex(key) +
                              " in column family 'rollouts') of " + path_ + ": " + flatbuffer.status().message());
  }
  StoredRollout out;
  out.id = id;
  out.bytes = wire::Bytes(std::move(*flatbuffer));
  auto root = wire::read<wire::ScoredRollout>(out.bytes);
  if (!root) {
    note_corrupt();
    return Status::corruption("rollout " + std::to_string(id) + " (key " + hex(key) +
                              " in column family 'rollouts') of " + path_ + ": " + root.status().message());
  }
  out.root = *root;
  return out;
}

Result<StoredRollout> ReplayStore::get(uint64_t id) const { return read_value(id); }

ReplayStore::IdRange ReplayStore::window_ids(uint64_t min_version, uint64_t end) const {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> first(db_->NewIterator(ro, cf_[kSummaries]));
  first->SeekToFirst();
  if (!first->Valid() || first->key().size() != 8) return {};
  IdRange range{read_be64(first->key().data()), end};
  if (min_version == 0) return range;
  // Ids grow with time and versions mostly with ids, but a slow worker's rollout of an
  // older version can land after newer ones: the range starts at the smallest id of
  // any version in the window (by_version rows are (version, id), so one seek each).
  uint64_t lowest = UINT64_MAX;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kByVersion]));
  int versions = 0;
  for (it->Seek(be64(min_version)); it->Valid() && versions < kMaxWindowVersions; ++versions) {
    if (it->key().size() != 16) {
      it->Next();
      continue;
    }
    const uint64_t version = read_be64(it->key().data());
    lowest = std::min(lowest, read_be64(it->key().data() + 8));
    if (version == UINT64_MAX) break;
    it->Seek(be64(version + 1));
  }
  if (!it->status().ok() || versions >= kMaxWindowVersions) return range;  // cannot narrow: the whole store
  if (lowest == UINT64_MAX) return {};  // no version in the window
  range.begin = std::max(range.begin, lowest);
  return range;
}

Result<RolloutSummary> ReplayStore::summary(uint64_t id) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kSummaries], be64(id), &v);
  if (s.IsNotFound()) return Status::not_found("no rollout with id " + std::to_string(id) + " in " + path_);
  TROUPE_RETURN_IF_ERROR(from_rocks(s, "reading the summary of rollout " + std::to_string(id)));
  return RolloutSummary::decode(id, v);
}

Result<Usage> ReplayStore::usage(uint64_t id) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kUses], be64(id), &v);
  Usage u;
  if (s.IsNotFound()) return u;
  TROUPE_RETURN_IF_ERROR(from_rocks(s, "reading the usage of rollout " + std::to_string(id)));
  if (!decode_usage(v, &u)) {
    return Status::corruption("usage row of rollout " + std::to_string(id) + " is " + std::to_string(v.size()) +
                              " bytes, expected 12");
  }
  return u;
}

// Walks summaries in id order (or reverse), through the by_task index when a task
// is named. Undecodable summaries are recorded in `report` (when given) and skipped.
static Status walk_summaries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* summaries,
                             rocksdb::ColumnFamilyHandle* by_task, const ScanFilter& f,
                             const std::function<bool(const RolloutSummary&)>& visit, ScanReport* report,
                             const std::function<void()>& on_corrupt) {
  auto handle = [&](uint64_t id, std::string_view value) -> bool {
    if (report) ++report->scanned;
    auto s = RolloutSummary::decode(id, value);
    if (!s) {
      on_corrupt();
      if (report) report->add_corrupt({id, hex(be64(id)), s.status().message() + " (column family 'summaries')"});
      return true;
    }
    if (!f.matches(*s)) return true;
    return visit(*s);
  };
  rocksdb::ReadOptions ro;
  if (!f.task) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, summaries));
    if (f.newest_first) {
      it->SeekToLast();
    } else {
      it->Seek(be64(f.after_id + (f.after_id == UINT64_MAX ? 0 : 1)));
    }
    for (; it->Valid(); f.newest_first ? it->Prev() : it->Next()) {
      if (it->key().size() != 8) continue;
      const uint64_t id = read_be64(it->key().data());
      if (f.newest_first && id <= f.after_id) break;
      if (!handle(id, it->value().ToStringView())) break;
    }
    return from_rocks(it->status(), "scanning summaries");
  }
  const std::string prefix = *f.task + '\0';
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, by_task));
  if (f.newest_first) {
    it->SeekForPrev(*f.task + '\1');
  } else {
    it->Seek(prefix + be64(f.after_id + 1));
  }
  std::string value;
  for (; it->Valid() && it->key().starts_with(prefix); f.newest_first ? it->Prev() : it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    const uint64_t id = read_be64(it->key().data() + prefix.size());
    if (f.newest_first && id <= f.after_id) break;
    auto s = db->Get(ro, summaries, be64(id), &value);
    if (s.IsNotFound()) continue;  // deleted by retention between the index row and here
    if (!s.ok()) return from_rocks(s, "reading summary " + std::to_string(id));
    if (!handle(id, value)) break;
  }
  return from_rocks(it->status(), "scanning task " + *f.task);
}

Status ReplayStore::scan_summaries(const ScanFilter& filter,
                                   const std::function<bool(const RolloutSummary&)>& visit) const {
  uint64_t matched = 0;
  return walk_summaries(
      db_.get(), cf_[kSummaries], cf_[kByTask], filter,
      [&](const RolloutSummary& s) { return visit(s) && (filter.limit == 0 || ++matched < filter.limit); },
      nullptr, [this] { note_corrupt(); });
}

Status ReplayStore::scan(const ScanFilter& filter, const std::function<bool(const StoredRollout&)>& visit,
                         ScanReport* report) const {
  ScanReport local;
  ScanReport* rep = report ? report : &local;
  return walk_summaries(
      db_.get(), cf_[kSummaries], cf_[kByTask], filter,
      [&](const RolloutSummary& s) {
        auto r = read_value(s.id);
        if (r.status().code() == Status::Code::kNotFound) return true;  // removed by retention meanwhile
        if (!r) {
          rep->add_corrupt({s.id, hex(be64(s.id)), r.status().message()});
          return true;
        }
        const wire::Rollout& ro = *r->root->rollout();
        if (ro.rollout_id() != s.rollout_id || ro.task()->string_view() != s.task) {
          note_corrupt();
          rep->add_corrupt({s.id, hex(be64(s.id)), "rollout " + std::to_string(s.id) +
                                                       ": value disagrees with its summary (rollout_id or task)"});
          return true;
        }
        ++rep->matched;
        return visit(*r) && (filter.limit == 0 || rep->matched < filter.limit);
      },
      rep, [this] { note_corrupt(); });
}

Result<ScanReport> ReplayStore::verify() const {
  ScanReport report;
  TROUPE_RETURN_IF_ERROR(scan(ScanFilter{}, [](const StoredRollout&) { return true; }, &report));
  return report;
}

Result<SampleResult> ReplayStore::sample(const SampleRequest& req) {
  TROUPE_RETURN_IF_ERROR(require_writer("sample"));
  if (req.group_size < 0) return Status::invalid_argument("sample: group_size must be >= 0");
  const size_t unit_size = req.group_size > 0 ? size_t(req.group_size) : 1;
  const size_t max_units = req.max_rollouts / unit_size;
  SampleResult result;
  if (max_units == 0) return result;

  // Read before taking sample_mu_: tasks() takes write_mu_, and the lock order is write_mu_ then sample_mu_.
  const std::vector<std::string> all_tasks = req.balance_tasks ? tasks() : std::vector<std::string>{};
  std::lock_guard lock(sample_mu_);
  std::mt19937_64 rng(options_.seed + sample_calls_++);  // seeded per call: reproducible for a given history
  std::unordered_set<uint64_t> chosen;  // at most max_rollouts ids: bounded
  std::vector<std::vector<StoredRollout>> units;
  rocksdb::ReadOptions ro;

  // Ids at or above this were written but are not yet durable: never served.
  const uint64_t durable_end = durable_next_id_.load();
  auto available = [&](uint64_t id) -> std::optional<Usage> {
    if (id >= durable_end || chosen.count(id)) return std::nullopt;
    auto u = usage(id);
    if (!u || u->uses >= uint64_t(options_.reuse)) return std::nullopt;
    return *u;
  };
  // The rollouts of the unit led by `s`, or empty when it is not (yet) a complete unit.
  auto unit_ids = [&](const RolloutSummary& s) -> std::vector<uint64_t> {
    if (s.policy_version < req.min_version || !available(s.id)) return {};
    if (req.group_size == 0) return {s.id};
    if (s.group_index != 0) return {};  // a group is considered once, at its first member
    std::map<int32_t, uint64_t> by_index;  // group_index -> id; at most a group's worth of rows
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kByGroup]));
    const std::string prefix = be64(s.prompt_id);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (it->key().size() != 16) continue;
      const uint64_t id = read_be64(it->key().data() + 8);
      auto m = summary(id);
      if (!m || m->policy_version < req.min_version || m->task != s.task || !available(id)) continue;
      by_index.emplace(m->group_index, id);
      if (by_index.size() == unit_size) break;
    }
    if (by_index.size() < unit_size) return {};
    std::vector<uint64_t> ids;
    for (auto& [index, id] : by_index) ids.push_back(id);
    return ids;
  };
  // Reads and verifies a unit; false (and counted) when any member is corrupt.
  auto load = [&](const std::vector<uint64_t>& ids, std::vector<StoredRollout>* out) {
    for (uint64_t id : ids) {
      auto r = read_value(id);
      if (!r) {
        ++result.corrupt_skipped;
        return false;
      }
      out->push_back(std::move(*r));
    }
    return true;
  };
  auto take = [&](std::vector<StoredRollout> unit) {
    for (auto& r : unit) chosen.insert(r.id);
    units.push_back(std::move(unit));
  };

  // Picks up to `quota` units from one source (one task, or all).
  auto pick = [&](std::optional<std::string> task, size_t quota) -> Status {
    if (quota == 0) return Status::ok();
    ScanFilter f;
    f.task = std::move(task);
    f.newest_first = req.order == SampleOrder::kNewest;
    // FIFO/newest check the version per unit, so the FIFO floor sees every row.
    const bool track_floor = req.order == SampleOrder::kFifo && !f.task;
    if (track_floor) f.after_id = fifo_floor_ - 1;
    bool gap = false;
    size_t taken = 0;
    if (req.order != SampleOrder::kUniform) {
      return walk_summaries(db_.get(), cf_[kSummaries], cf_[kByTask], f, [&](const RolloutSummary& s) {
        auto ids = unit_ids(s);
        std::vector<StoredRollout> unit;
        if (!ids.empty() && load(ids, &unit)) {
          take(std::move(unit));
          ++taken;
        }
        if (track_floor && !gap) {
          auto u = usage(s.id);
          const uint64_t uses = (u ? u->uses : 0) + (chosen.count(s.id) ? 1 : 0);
          if (uses >= uint64_t(options_.reuse)) {
            fifo_floor_ = s.id + 1;
          } else {
            gap = true;
          }
        }
        return taken < quota;
      }, nullptr, [this] { note_corrupt(); });
    }
    // Uniform, first stage: draw ids at random from the range that can hold the window and
    // keep the units they lead. Each accepted draw is uniform over what is still eligible,
    // so the picks are a uniform sample without replacement; the cost follows the batch,
    // not the window, while the window is a fair share of the range.
    f.min_version = req.min_version;
    const IdRange range = window_ids(req.min_version, durable_end);
    if (range.end > range.begin) {
      const uint64_t span = range.end - range.begin;
      const uint64_t draws = kUniformDrawsPerUnit * quota * unit_size + kUniformDrawsExtra;
      for (uint64_t d = 0; d < draws && span > 0 && taken < quota; ++d) {
        const uint64_t id = range.begin + rng() % span;
        if (chosen.count(id)) continue;
        auto s = summary(id);
        if (!s || !f.matches(*s)) continue;  // deleted, outside the window, another task
        auto ids = unit_ids(*s);
        std::vector<StoredRollout> unit;
        if (!ids.empty() && load(ids, &unit)) {
          take(std::move(unit));
          ++taken;
        }
      }
    }
    if (taken == quota) return Status::ok();
    // Second stage (a sparse window, or too few eligible units left): reservoir sampling over
    // every remaining complete unit in the window, O(quota) memory, uniform over what is left.
    const size_t left = quota - taken;
    std::vector<std::vector<uint64_t>> reservoir;
    uint64_t seen = 0;
    TROUPE_RETURN_IF_ERROR(walk_summaries(db_.get(), cf_[kSummaries], cf_[kByTask], f, [&](const RolloutSummary& s) {
      auto ids = unit_ids(s);
      if (ids.empty()) return true;
      ++seen;
      if (reservoir.size() < left) {
        reservoir.push_back(std::move(ids));
      } else if (const uint64_t j = rng() % seen; j < left) {
        reservoir[j] = std::move(ids);
      }
      return true;
    }, nullptr, [this] { note_corrupt(); }));
    for (auto& ids : reservoir) {
      std::vector<StoredRollout> unit;
      if (load(ids, &unit)) take(std::move(unit));
    }
    return Status::ok();
  };

  if (!req.balance_tasks) {
    TROUPE_RETURN_IF_ERROR(pick(std::nullopt, max_units));
  } else {
    const std::vector<std::string>& all = all_tasks;
    const size_t n = all.size();
    // First pass: an even share per task (the first tasks get one extra when it does not divide).
    for (size_t i = 0; i < n; ++i) {
      TROUPE_RETURN_IF_ERROR(pick(all[i], max_units / n + (i < max_units % n ? 1 : 0)));
    }
    // Second pass: tasks with more available fill what short ones could not.
    for (size_t i = 0; i < n && units.size() < max_units; ++i) {
      TROUPE_RETURN_IF_ERROR(pick(all[i], max_units - units.size()));
    }
  }

  // Record the hand-out before returning it. No fsync of its own (it would cost a disk
  // round trip per learner batch): the WAL write survives the process being killed, and
  // the next group-commit sync or flush makes it durable against an OS crash too.
  rocksdb::WriteBatch wb;
  for (auto& unit : units) {
    for (auto& r : unit) {
      auto u = usage(r.id);
      Usage next = u ? *u : Usage{};
      ++next.uses;
      next.last_learner_version = req.learner_version;
      wb.Put(cf_[kUses], be64(r.id), encode_usage(next));
      result.rollouts.push_back(std::move(r));
    }
  }
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->Write(rocksdb::WriteOptions(), &wb), "recording sampled rollouts"));
  return result;
}

Result<RetentionReport> ReplayStore::enforce_retention() {
  TROUPE_RETURN_IF_ERROR(require_writer("enforce_retention"));
  std::lock_guard lock(write_mu_);
  return retention_locked();
}

Result<RetentionReport> ReplayStore::retention_locked() {
  std::lock_guard sample_lock(sample_mu_);  // lock order: write_mu_, then sample_mu_
  RetentionReport report;
  rocksdb::ReadOptions ro;
  for (;;) {
    std::vector<RolloutSummary> victims;
    uint64_t count = counters_.count, bytes = counters_.value_bytes;
    auto over = [&] {
      return (options_.max_rollouts > 0 && count > uint64_t(options_.max_rollouts)) ||
             (options_.max_bytes > 0 && bytes > uint64_t(options_.max_bytes));
    };
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kSummaries]));
      for (it->SeekToFirst(); it->Valid() && over() && victims.size() < kRetentionChunk; it->Next()) {
        if (it->key().size() != 8) continue;
        const uint64_t id = read_be64(it->key().data());
        auto s = RolloutSummary::decode(id, it->value().ToStringView());
        if (!s) {  // still deleted: what the indexes held for it is skipped by readers
          note_corrupt();
          s = RolloutSummary{};
          s->id = id;
        }
        --count;
        bytes -= std::min<uint64_t>(bytes, s->value_bytes);
        victims.push_back(std::move(*s));
      }
      TROUPE_RETURN_IF_ERROR(from_rocks(it->status(), "retention scan of " + path_));
    }
    if (victims.empty() && options_.max_version_age > 0 &&
        counters_.newest_version > uint64_t(options_.max_version_age)) {
      const uint64_t cutoff = counters_.newest_version - uint64_t(options_.max_version_age);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kByVersion]));
      for (it->SeekToFirst(); it->Valid() && victims.size() < kRetentionChunk; it->Next()) {
        if (it->key().size() != 16) continue;
        if (read_be64(it->key().data()) >= cutoff) break;
        const uint64_t id = read_be64(it->key().data() + 8);
        auto s = summary(id);
        if (!s) {
          s = RolloutSummary{};
          s->id = id;
          s->policy_version = read_be64(it->key().data());
        }
        victims.push_back(std::move(*s));
      }
      TROUPE_RETURN_IF_ERROR(from_rocks(it->status(), "retention scan of " + path_));
    }
    if (victims.empty()) break;
    TROUPE_RETURN_IF_ERROR(delete_ids_locked(victims, &report));
  }
  return report;
}

Status ReplayStore::delete_ids_locked(const std::vector<RolloutSummary>& victims, RetentionReport* report) {
  rocksdb::WriteBatch wb;
  StoreCounters c = counters_;
  for (const RolloutSummary& s : victims) {
    const std::string key = be64(s.id);
    wb.Delete(cf_[kRollouts], key);
    wb.Delete(cf_[kSummaries], key);
    wb.Delete(cf_[kUses], key);
    if (!s.task.empty()) wb.Delete(cf_[kByTask], task_key(s.task, s.id));
    wb.Delete(cf_[kByVersion], pair_key(s.policy_version, s.id));
    wb.Delete(cf_[kByGroup], pair_key(s.prompt_id, s.id));
    c.count -= std::min<uint64_t>(c.count, 1);
    c.value_bytes -= std::min<uint64_t>(c.value_bytes, s.value_bytes);
    ++c.deleted;
    report->freed_value_bytes += s.value_bytes;
  }
  wb.Put(cf_[kMeta], kCountersKey, counters_value(c));
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->Write(rocksdb::WriteOptions(), &wb),
                                    "deleting " + std::to_string(victims.size()) + " rollouts by retention"));
  counters_ = c;
  report->deleted += victims.size();
  return Status::ok();
}

Status ReplayStore::compact() {
  TROUPE_RETURN_IF_ERROR(require_writer("compact"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;  // drop tombstones too
  for (int i = 0; i < kNumCf; ++i) {
    TROUPE_RETURN_IF_ERROR(from_rocks(db_->CompactRange(co, cf_[i], nullptr, nullptr),
                                      std::string("compacting column family ") + kCfNames[i]));
  }
  return Status::ok();
}

Status ReplayStore::put_checkpoint(const CheckpointEntry& entry) {
  TROUPE_RETURN_IF_ERROR(require_writer("put_checkpoint"));
  std::lock_guard lock(checkpoint_mu_);  // read-modify-write of the index
  auto existing = checkpoints();  // a few rows: one per checkpoint directory
  if (!existing) return existing.status().with_context("recording checkpoint " + std::to_string(entry.version));
  rocksdb::WriteBatch wb;
  for (const CheckpointEntry& e : *existing) {
    if (e.path == entry.path && e.version != entry.version) wb.Delete(cf_[kCheckpoints], be64(e.version));
  }
  wb.Put(cf_[kCheckpoints], be64(entry.version), entry.encode());
  rocksdb::WriteOptions wo;
  wo.sync = true;  // a checkpoint row names files a restart will look for
  return from_rocks(db_->Write(wo, &wb), "recording checkpoint " + std::to_string(entry.version));
}

Result<std::vector<CheckpointEntry>> ReplayStore::checkpoints() const {
  std::vector<CheckpointEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCheckpoints]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) continue;
    auto e = CheckpointEntry::decode(read_be64(it->key().data()), it->value().ToStringView());
    if (!e) return e.status();
    out.push_back(std::move(*e));
  }
  TROUPE_RETURN_IF_ERROR(from_rocks(it->status(), "listing checkpoints of " + path_));
  return out;
}

Result<uint64_t> ReplayStore::largest_prompt_id() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kByGroup]));
  it->SeekToLast();  // keys are (prompt id, rollout id), big-endian
  uint64_t largest = 0;
  if (it->Valid() && it->key().size() == 16) largest = read_be64(it->key().data());
  TROUPE_RETURN_IF_ERROR(from_rocks(it->status(), "reading the prompt index of " + path_));
  return largest;
}

Status ReplayStore::catch_up() {
  if (mode_ != OpenMode::kSecondary) return Status::ok();
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->TryCatchUpWithPrimary(), "following the writer of " + path_));
  std::string counters;
  TROUPE_RETURN_IF_ERROR(from_rocks(db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kCountersKey, &counters),
                                    "reading the counters of " + path_));
  std::lock_guard lock(write_mu_);
  if (!decode_counters(counters, &counters_)) return Status::corruption("counters record of " + path_);
  return load_tasks_locked();
}

StoreCounters ReplayStore::counters() const {
  std::lock_guard lock(write_mu_);
  return counters_;
}

std::vector<std::string> ReplayStore::tasks() const {
  std::lock_guard lock(write_mu_);
  return {tasks_.begin(), tasks_.end()};
}

uint64_t ReplayStore::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    // A file RocksDB deletes mid-scan (compaction) reports an error and size -1: skip it.
    const uintmax_t size = it->file_size(ec);
    if (!ec) total += size;
    ec.clear();
  }
  return total;
}

std::string ReplayStore::recorded_retention() const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), cf_[kMeta], kRetentionKey, &v).ok()) return {};
  return v;
}

}  // namespace troupe::storage
