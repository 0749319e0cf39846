// RawStore: a replay store's RocksDB opened directly, every column family by name,
// for tests that do what troupe never does itself -- damage values, write what an
// older or newer troupe would have written -- and look at the bytes as stored.
// Not thread-safe; close it (destroy it) before opening the store with troupe.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace troupe::testing {

class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok()) << path;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
    for (auto& n : names) cfds.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfds, &handles_, &db).ok()) << path;
    db_.reset(db);
    for (size_t i = 0; i < handles_.size(); ++i) cf_[names[i]] = handles_[i];
  }
  ~RawStore() {
    for (auto* h : handles_) EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
  }
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  std::string get(const std::string& cf, const std::string& key) {
    std::string v;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), cf_.at(cf), key, &v).ok()) << cf;
    return v;
  }
  void put(const std::string& cf, const std::string& key, const std::string& value) {
    EXPECT_TRUE(db_->Put(rocksdb::WriteOptions(), cf_.at(cf), key, value).ok()) << cf;
  }
  // The key of rollout `id` in rollouts/summaries/uses (big-endian u64).
  static std::string id_key(uint64_t id) {
    std::string key(8, '\0');
    for (int b = 0; b < 8; ++b) key[7 - b] = char((id >> (8 * b)) & 0xff);
    return key;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf_;
};

}  // namespace troupe::testing
