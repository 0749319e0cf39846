// Weight broadcast in one process (two transports): a version arrives whole and bit-identical; a
// damaged chunk or a dead upstream leaves the committed version untouched (the fence); a held
// version is never overwritten by buffer reuse; CRC-32C matches its published check value; an
// idle transport sleeps instead of spinning.
#include "wire/weight_broadcast.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "wire/crc32c.hpp"
#include "wire/shared_weights.hpp"

namespace troupe::wire {
namespace {

using std::chrono::milliseconds;

TEST(Crc32c, MatchesTheCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c({reinterpret_cast<const uint8_t*>(s), 9}), 0xE3069283u);  // RFC 3720 check value
  std::vector<uint8_t> big(100003);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  uint32_t whole = crc32c(big);
  uint32_t parts = crc32c_extend(crc32c({big.data(), 5001}), {big.data() + 5001, big.size() - 5001});
  EXPECT_EQ(whole, parts);
  // The same values bit by bit (the three-stream path covers 24 KiB blocks; 100003 has a tail).
  uint32_t slow = ~0u;
  for (uint8_t b : big) {
    slow ^= b;
    for (int k = 0; k < 8; ++k) slow = (slow & 1) ? (slow >> 1) ^ 0x82F63B78u : slow >> 1;
  }
  EXPECT_EQ(whole, ~slow);
  std::vector<uint8_t> copy(big.size());
  EXPECT_EQ(crc32c_copy(0, big, copy.data()), whole);
  EXPECT_EQ(copy, big);
  for (size_t split : {size_t{0}, size_t{1}, size_t{5001}, big.size()}) {
    EXPECT_EQ(crc32c_combine(crc32c({big.data(), split}), crc32c({big.data() + split, big.size() - split}),
                             big.size() - split),
              whole)
        << "split at " << split;
  }
}

// A receiving node: the transport's callbacks queue, the test thread feeds the WeightReceiver.
struct Node {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Envelope> inbox;
  std::vector<std::string> downs;
  std::unique_ptr<Transport> t;

  explicit Node(const std::string& name) {
    TransportOptions o;
    o.name = name;
    o.token = "tok";
    o.on_message = [this](Envelope&& e) {
      std::lock_guard lk(m);
      inbox.push_back(std::move(e));
      cv.notify_all();
    };
    o.on_peer_event = [this](const PeerEvent& e) {
      std::lock_guard lk(m);
      if (e.kind == PeerEvent::Kind::kDown) downs.push_back(e.peer);
      cv.notify_all();
    };
    auto r = Transport::start(o);
    if (r) t = std::move(*r);
  }
  // Feeds messages to `rx` until `done` holds or time runs out.
  bool pump(WeightReceiver& rx, const std::function<bool()>& done, milliseconds limit = milliseconds(20000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      std::unique_lock lk(m);
      if (!cv.wait_until(lk, deadline, [&] { return !inbox.empty() || !downs.empty(); })) return false;
      while (!downs.empty()) {
        std::string d = downs.back();
        downs.pop_back();
        lk.unlock();
        rx.on_peer_down(d);
        lk.lock();
      }
      if (inbox.empty()) continue;
      Envelope e = std::move(inbox.front());
      inbox.pop_front();
      lk.unlock();
      (void)rx.on_message(e);
    }
    return true;
  }
};

// The accepting side sees a peer up one handshake message after the connecting side does.
bool wait_up(Transport& t, const std::string& peer) {
  for (int i = 0; i < 500 && !t.is_up(peer); ++i) std::this_thread::sleep_for(milliseconds(10));
  return t.is_up(peer);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + seed);
  return v;
}

TensorInfoT whole(size_t n) {
  TensorInfoT t;
  t.name = "w";
  t.dtype = "u8";
  t.offset = 0;
  t.bytes = n;
  return t;
}

TEST(WeightBroadcast, VersionArrivesWholeAndSecondVersionReplacesIt) {
  Node src("src"), dst("dst");
  ASSERT_TRUE(src.t && dst.t);
  ASSERT_TRUE(dst.t->connect("127.0.0.1", src.t->port()));
  ASSERT_TRUE(wait_up(*src.t, "dst"));
  WeightReceiver rx(*dst.t);
  BroadcastOptions bo;
  bo.chunk_bytes = 100000;  // does not divide the size: the last chunk is short
  for (uint8_t v = 1; v <= 2; ++v) {
    auto data = pattern(1234567, v);
    ASSERT_TRUE(broadcast_weights(*src.t, {"dst"}, v, {whole(data.size())}, data, bo));
    ASSERT_TRUE(dst.pump(rx, [&] { return rx.committed().version == v; }));
    auto c = rx.committed();
    ASSERT_EQ(c.data->size(), data.size());
    EXPECT_EQ(0, std::memcmp(c.data->data(), data.data(), data.size()));
    ASSERT_EQ(c.tensors.size(), 1u);
  }
  EXPECT_EQ(rx.aborted(), 0u);
}

// Staging buffers are recycled (the version before last's), never while a reader holds them.
TEST(WeightBroadcast, HeldVersionsAreNeverOverwrittenAndReleasedBuffersAreReused) {
  Node src("src"), dst("dst");
  ASSERT_TRUE(src.t && dst.t);
  ASSERT_TRUE(dst.t->connect("127.0.0.1", src.t->port()));
  ASSERT_TRUE(wait_up(*src.t, "dst"));
  WeightReceiver rx(*dst.t);
  BroadcastOptions bo;
  bo.chunk_bytes = 65536;
  const uint8_t* v1_buffer = nullptr;
  CommittedWeights held;  // v2, kept by a reader across v3 and v4
  for (uint8_t v = 1; v <= 4; ++v) {
    auto data = pattern(300001, v);
    ASSERT_TRUE(broadcast_weights(*src.t, {"dst"}, v, {whole(data.size())}, data, bo));
    ASSERT_TRUE(dst.pump(rx, [&] { return rx.committed().version == v; }));
    auto c = rx.committed();
    EXPECT_EQ(0, std::memcmp(c.data->data(), data.data(), data.size())) << "v" << int(v);
    if (v == 1) v1_buffer = c.data->data();
    if (v == 2) held = c;
    if (v == 3) {
      EXPECT_EQ(c.data->data(), v1_buffer) << "v3 should be staged in v1's released buffer";
    }
  }
  auto v2 = pattern(300001, 2);
  EXPECT_EQ(held.version, 2u);
  EXPECT_EQ(0, std::memcmp(held.data->data(), v2.data(), v2.size())) << "a held version was overwritten";
}

// The source learns what each node committed only from its acknowledgements: a hop that cannot
// forward (here mid is not connected to end) leaves end without the version and without an ack,
// and a node sent again the version it holds acknowledges it again (its first ack may be lost).
TEST(WeightBroadcast, CommitsAreAcknowledgedToTheSourceAndSoIsARepeatedVersion) {
  Node src("src"), mid("mid"), end("end");
  ASSERT_TRUE(src.t && mid.t && end.t);
  ASSERT_TRUE(mid.t->connect("127.0.0.1", src.t->port()));
  ASSERT_TRUE(end.t->connect("127.0.0.1", src.t->port()));
  ASSERT_TRUE(wait_up(*src.t, "mid") && wait_up(*src.t, "end") && wait_up(*mid.t, "src"));
  WeightReceiver rx(*mid.t);
  auto acks_from = [&](const std::string& peer, uint64_t version) {  // src's inbox holds these
    std::lock_guard lk(src.m);
    size_t n = 0;
    for (const auto& e : src.inbox) {
      auto h = read<Heartbeat>(e.payload);
      if (e.dst == "weights/ack" && e.peer == peer && h && (*h)->policy_version() == version) ++n;
    }
    return n;
  };
  // The acks reach src's inbox, which does not wake mid's pump: pump in short slices.
  auto pump_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 400; ++i)
      if (mid.pump(rx, done, milliseconds(50))) return true;
    return false;
  };
  auto data = pattern(200000, 1);
  ASSERT_TRUE(broadcast_weights(*src.t, {"mid", "end"}, 1, {whole(data.size())}, data));
  ASSERT_TRUE(pump_until([&] { return acks_from("mid", 1) == 1; })) << "mid committed v1 and did not say so";
  EXPECT_EQ(rx.committed().version, 1u);
  {
    std::lock_guard lk(end.m);
    EXPECT_TRUE(end.inbox.empty()) << "end was never connected to mid and cannot have been sent anything";
  }
  // Sent v1 again: refused as not newer, acknowledged once more.
  ASSERT_TRUE(broadcast_weights(*src.t, {"mid"}, 1, {whole(data.size())}, data));
  EXPECT_TRUE(pump_until([&] { return acks_from("mid", 1) == 2; })) << "a repeated version was not acknowledged again";
  EXPECT_EQ(rx.committed().version, 1u);
  EXPECT_EQ(rx.aborted(), 0u);
}

TEST(WeightBroadcast, DamagedChunkLeavesTheCommittedVersion) {
  Node src("src"), dst("dst");
  ASSERT_TRUE(src.t && dst.t);
  ASSERT_TRUE(dst.t->connect("127.0.0.1", src.t->port()));
  ASSERT_TRUE(wait_up(*src.t, "dst"));
  WeightReceiver rx(*dst.t);
  auto v1 = pattern(300000, 1);
  ASSERT_TRUE(broadcast_weights(*src.t, {"dst"}, 1, {whole(v1.size())}, v1));
  ASSERT_TRUE(dst.pump(rx, [&] { return rx.committed().version == 1; }));
  // Version 2 by hand: a manifest, then a chunk whose checksum does not match its data.
  WeightManifestT m;
  m.version = 2;
  m.total_bytes = 1000;
  m.chunk_bytes = 1000;
  m.num_chunks = 1;
  ASSERT_TRUE(src.t->send("dst", kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(m)));
  WeightChunkT c;
  c.version = 2;
  c.data.assign(1000, 7);
  c.checksum = crc32c(c.data) ^ 1;
  ASSERT_TRUE(src.t->send("dst", kWeightsDst, kWeightsDst, MessageKind::kWeightChunk, pack(c)));
  ASSERT_TRUE(dst.pump(rx, [&] { return rx.aborted() == 1; }));
  EXPECT_EQ(rx.committed().version, 1u);
  EXPECT_EQ(0, std::memcmp(rx.committed().data->data(), v1.data(), v1.size()));
}

TEST(WeightBroadcast, DeadUpstreamAbortsTheStagedVersion) {
  Node dst("dst");
  auto src = std::make_unique<Node>("src");
  ASSERT_TRUE(src->t && dst.t);
  ASSERT_TRUE(dst.t->connect("127.0.0.1", src->t->port()));
  ASSERT_TRUE(wait_up(*src->t, "dst"));
  WeightReceiver rx(*dst.t);
  WeightManifestT m;  // announces 3 chunks, only the manifest is ever sent
  m.version = 1;
  m.total_bytes = 3000;
  m.chunk_bytes = 1000;
  m.num_chunks = 3;
  ASSERT_TRUE(src->t->send("dst", kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(m)));
  ASSERT_TRUE(dst.pump(rx, [&] { return rx.staging_version() == 1; }));
  src.reset();  // the upstream goes away mid-version
  ASSERT_TRUE(dst.pump(rx, [&] { return rx.aborted() == 1; }));
  EXPECT_EQ(rx.committed().version, 0u);
  EXPECT_EQ(rx.staging_version(), 0u);
}

// ---- same-host shared memory (wire/shared_weights.hpp) ------------------------------------------

struct SharedFixture {
  Node src{"src"};
  std::vector<std::unique_ptr<Node>> dst;
  std::vector<std::unique_ptr<WeightReceiver>> rx;
  explicit SharedFixture(int n) {
    for (int i = 0; i < n; ++i) {
      dst.push_back(std::make_unique<Node>("dst" + std::to_string(i)));
      if (!dst.back()->t || !src.t) continue;
      EXPECT_TRUE(dst.back()->t->connect("127.0.0.1", src.t->port()));
      EXPECT_TRUE(wait_up(*src.t, "dst" + std::to_string(i)));
      rx.push_back(std::make_unique<WeightReceiver>(*dst.back()->t));
    }
  }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (size_t i = 0; i < dst.size(); ++i) v.push_back("dst" + std::to_string(i));
    return v;
  }
  bool take(size_t i, uint64_t version) {
    return dst[i]->pump(*rx[i], [&] { return rx[i]->committed().version == version; });
  }
};

// Two slots, and a publish gives up after 200 ms when both are held.
SharedPublishOptions two_slots() {
  SharedPublishOptions o;
  o.slots = 2;
  o.slot_wait = milliseconds(200);
  return o;
}

TEST(SharedWeights, EveryReceiverCommitsTheSameBytesAndNoChunkTravels) {
  SharedFixture f(3);
  ASSERT_EQ(f.rx.size(), 3u);
  SharedWeightPublisher pub(*f.src.t);
  for (uint64_t v = 1; v <= 4; ++v) {
    auto data = pattern((size_t{3} << 20) + 12345, static_cast<uint8_t>(v));
    TensorInfoT a = whole(1000), b = whole(data.size() - 1000);
    a.name = "a";
    b.name = "b";
    b.offset = 1000;
    ASSERT_TRUE(pub.publish(f.names(), v, {a, b}, data));
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(f.take(i, v)) << "dst" << i << " v" << v;
      auto w = f.rx[i]->committed();
      ASSERT_EQ(w.data->size(), data.size());
      EXPECT_EQ(0, std::memcmp(w.data->data(), data.data(), data.size())) << "dst" << i << " v" << v;
      ASSERT_EQ(w.tensors.size(), 2u);
      EXPECT_EQ(w.tensors[1].name, "b");
      EXPECT_EQ(w.tensors[1].offset, 1000u);
      EXPECT_EQ(f.rx[i]->chunks_received(), 0u);
    }
  }
  // Each receiver lets go of a version when it commits the next, and every version here was taken
  // before the next one left: the slot of the version before last is free again, so two suffice.
  EXPECT_EQ(pub.slots_allocated(), 2);
  EXPECT_EQ(pub.slots_held(), 1);  // the newest version, held by all three
}

TEST(SharedWeights, AHeldVersionIsNeverOverwrittenAndPublishWaitsThenNamesTheHolder) {
  SharedFixture f(1);
  ASSERT_EQ(f.rx.size(), 1u);
  SharedWeightPublisher pub(*f.src.t, two_slots());
  auto v1 = pattern(1 << 20, 1), v2 = pattern(1 << 20, 2), v3 = pattern(1 << 20, 3);
  ASSERT_TRUE(pub.publish(f.names(), 1, {whole(v1.size())}, v1));
  ASSERT_TRUE(f.take(0, 1));
  CommittedWeights held = f.rx[0]->committed();  // a reader that keeps v1
  ASSERT_TRUE(pub.publish(f.names(), 2, {whole(v2.size())}, v2));
  ASSERT_TRUE(f.take(0, 2));
  // v1's slot is still read through `held`, v2's is the receiver's: no slot is free.
  Status s = pub.publish(f.names(), 3, {whole(v3.size())}, v3);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("held by dst0"), std::string::npos) << s.message();
  EXPECT_EQ(0, std::memcmp(held.data->data(), v1.data(), v1.size())) << "a held version changed";
  held = {};  // the reader lets go: v1's slot carries v3
  ASSERT_TRUE(pub.publish(f.names(), 3, {whole(v3.size())}, v3));
  ASSERT_TRUE(f.take(0, 3));
  EXPECT_EQ(0, std::memcmp(f.rx[0]->committed().data->data(), v3.data(), v3.size()));
  EXPECT_EQ(pub.slots_allocated(), 2);
}

TEST(SharedWeights, AForgedChecksumIsRefusedAndTheSlotReleased) {
  SharedFixture f(1);
  ASSERT_EQ(f.rx.size(), 1u);
  SharedWeightPublisher pub(*f.src.t, two_slots());
  auto v1 = pattern(100000, 1), v2 = pattern(100000, 2);
  ASSERT_TRUE(pub.publish(f.names(), 1, {whole(v1.size())}, v1));
  ASSERT_TRUE(f.take(0, 1));
  ASSERT_TRUE(pub.publish(f.names(), 2, {whole(v2.size())}, v2));
  // Take v2's manifest off the wire and hand the receiver a copy whose checksum is off by one bit.
  Node& d = *f.dst[0];
  Envelope e;
  {
    std::unique_lock lk(d.m);
    ASSERT_TRUE(d.cv.wait_for(lk, milliseconds(20000), [&] { return !d.inbox.empty(); }));
    e = std::move(d.inbox.front());
    d.inbox.pop_front();
  }
  auto m = read<WeightManifest>(e.payload);
  ASSERT_TRUE(m);
  WeightManifestT forged;
  (*m)->UnPackTo(&forged);
  ASSERT_TRUE(forged.shared);
  forged.checksum ^= 1;
  Envelope bad = e;
  bad.payload = pack(forged);
  auto r = f.rx[0]->on_message(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("CRC-32C"), std::string::npos) << r.status().message();
  EXPECT_EQ(f.rx[0]->committed().version, 1u);
  EXPECT_EQ(0, std::memcmp(f.rx[0]->committed().data->data(), v1.data(), v1.size()));
  // Refusing released the slot: one slot is held (v1), so a third version still finds room.
  EXPECT_EQ(pub.slots_held(), 1);
  auto v3 = pattern(100000, 3);
  ASSERT_TRUE(pub.publish(f.names(), 3, {whole(v3.size())}, v3));
  ASSERT_TRUE(f.take(0, 3));
  EXPECT_EQ(0, std::memcmp(f.rx[0]->committed().data->data(), v3.data(), v3.size()));
}

TEST(SharedWeights, ADownReceiverHoldsNothing) {
  SharedFixture f(2);
  ASSERT_EQ(f.rx.size(), 2u);
  SharedWeightPublisher pub(*f.src.t, two_slots());
  auto v1 = pattern(100000, 1);
  ASSERT_TRUE(pub.publish(f.names(), 1, {whole(v1.size())}, v1));
  ASSERT_TRUE(f.take(0, 1));
  ASSERT_TRUE(f.take(1, 1));
  // dst1 stops taking versions (as if hung): v2 is published to both, only dst0 takes it.
  ASSERT_TRUE(pub.publish(f.names(), 2, {whole(v1.size())}, v1));
  ASSERT_TRUE(f.take(0, 2));
  Status s = pub.publish({"dst0"}, 3, {whole(v1.size())}, v1);
  ASSERT_FALSE(s) << "both slots are dst1's: v3 must wait";
  EXPECT_NE(s.message().find("dst1"), std::string::npos) << s.message();
  // dst1's process dies: it releases nothing (its receiver, which still holds v1, is kept here), but
  // its transport goes and the publisher learns it is down: its slots are free.
  f.dst[1]->t.reset();
  for (int i = 0; i < 500 && f.src.t->is_up("dst1"); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_FALSE(f.src.t->is_up("dst1"));
  pub.on_peer_down("dst1");
  ASSERT_TRUE(pub.publish({"dst0"}, 3, {whole(v1.size())}, v1));
  ASSERT_TRUE(f.take(0, 3));
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// ---- The GPU path's protocol (DeviceWeightPublisher + WeightReceiver over a DeviceWeightLink) ----
// The NCCL link itself needs one GPU per rank and runs in WireMultiProcess.Nccl* where they exist.
// Here a link with the same collective semantics in host memory drives the protocol: every rank of
// a communicator must join and take part in each broadcast, and one rank leaving (abort) fails the
// communicator for all.
struct Fabric {
  std::mutex m;
  std::condition_variable cv;
  std::vector<uint8_t> id;  // the current communicator
  int nranks = 0, joined = 0, took = 0;
  bool aborted = false;
  uint64_t round = 0;  // broadcasts sent in this communicator
  std::vector<uint8_t> data;
  int next_id = 0;
};

class FabricLink final : public DeviceWeightLink {
 public:
  explicit FabricLink(Fabric& f) : f_(f) {}
  int device() const override { return 0; }
  Result<std::vector<uint8_t>> new_unique_id() override {
    std::lock_guard lk(f_.m);
    std::vector<uint8_t> id(128, 0);
    id[0] = static_cast<uint8_t>(++f_.next_id);
    return id;
  }
  bool joined(std::span<const uint8_t> id) const override {
    std::lock_guard lk(f_.m);
    return !mine_.empty() && std::equal(mine_.begin(), mine_.end(), id.begin(), id.end()) && f_.id == mine_ &&
           !f_.aborted;
  }
  Status join(std::span<const uint8_t> id, int nranks, int, const Alive& alive, milliseconds wait) override {
    leave();
    std::unique_lock lk(f_.m);
    if (!std::equal(f_.id.begin(), f_.id.end(), id.begin(), id.end())) {
      f_.id.assign(id.begin(), id.end());
      f_.nranks = nranks;
      f_.joined = 0;
      f_.aborted = false;
      f_.round = 0;
      f_.took = 0;
    }
    ++f_.joined;
    ++joins;
    mine_ = f_.id;
    round_ = 0;
    lk.unlock();
    return await([&] { return f_.joined >= f_.nranks; }, alive, wait, "join");
  }
  Status send(std::span<const uint8_t> data, const Alive& alive, milliseconds wait) override {
    {
      std::lock_guard lk(f_.m);
      if (f_.aborted || f_.id != mine_) return Status::unavailable("send: no communicator");
      f_.data.assign(data.begin(), data.end());
      f_.took = 0;
      ++f_.round;
      f_.cv.notify_all();
    }
    return await([&] { return f_.took >= f_.nranks - 1; }, alive, wait, "broadcast");
  }
  Status receive(std::span<uint8_t> out, const Alive& alive, milliseconds wait) override {
    TROUPE_RETURN_IF_ERROR(await([&] { return f_.round > round_; }, alive, wait, "broadcast"));
    std::lock_guard lk(f_.m);
    if (f_.data.size() != out.size()) return Status::corruption("receive: size differs");
    std::memcpy(out.data(), f_.data.data(), out.size());
    ++round_;
    ++f_.took;
    f_.cv.notify_all();
    return Status::ok();
  }
  void leave() override {
    std::lock_guard lk(f_.m);
    if (!mine_.empty() && f_.id == mine_) f_.aborted = true;
    mine_.clear();
    f_.cv.notify_all();
  }
  int joins = 0;

 private:
  Status await(const std::function<bool()>& done, const Alive& alive, milliseconds wait, const char* what) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    std::unique_lock lk(f_.m);
    while (!done()) {
      bool bad = f_.aborted || f_.id != mine_ || (alive && !alive()) || std::chrono::steady_clock::now() >= deadline;
      if (bad) {
        lk.unlock();
        leave();
        return Status::unavailable(std::string(what) + " failed");
      }
      f_.cv.wait_for(lk, milliseconds(5));
    }
    return Status::ok();
  }
  Fabric& f_;
  std::vector<uint8_t> mine_;
  uint64_t round_ = 0;
};

// Receivers on threads of their own (a broadcast waits for every rank), each with its link.
struct DeviceFixture : SharedFixture {
  Fabric fabric;
  FabricLink source_link{fabric};
  std::vector<std::unique_ptr<FabricLink>> links;
  explicit DeviceFixture(int n, milliseconds wait = milliseconds(2000)) : SharedFixture(n) {
    for (auto& r : rx) {
      links.push_back(std::make_unique<FabricLink>(fabric));
      r->set_device_link(links.back().get(), wait);
    }
  }
  // Receivers `who` take messages until each committed `version` (or `limit` passes).
  std::vector<bool> take_all(const std::vector<size_t>& who, uint64_t version, milliseconds limit = milliseconds(20000)) {
    std::vector<char> ok(who.size(), 0);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < who.size(); ++k) {
      threads.emplace_back([&, k] {
        size_t i = who[k];
        ok[k] = dst[i]->pump(*rx[i], [&] { return rx[i]->committed().version >= version; }, limit);
      });
    }
    for (auto& t : threads) t.join();
    return {ok.begin(), ok.end()};
  }
};

DevicePublishOptions quick_device() {
  DevicePublishOptions o;
  o.join_wait = milliseconds(4000);
  o.broadcast_wait = milliseconds(1000);
  o.retry_first = milliseconds(1);
  return o;
}

// Hands the publisher the acknowledgements that reached the source, until `n` of them arrived.
void feed_acks(Node& src, DeviceWeightPublisher& pub, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  size_t got = 0;
  std::unique_lock lk(src.m);
  while (got < n && src.cv.wait_until(lk, deadline, [&] { return !src.inbox.empty(); })) {
    Envelope e = std::move(src.inbox.front());
    src.inbox.pop_front();
    auto h = read<Heartbeat>(e.payload);
    if (!h || e.dst != "weights/ack") continue;
    pub.on_ack(e.peer, (*h)->policy_version());
    ++got;
  }
}

TEST(DeviceWeights, EveryReceiverCommitsEachVersionOverOneCommunicator) {
  DeviceFixture f(3);
  ASSERT_EQ(f.rx.size(), 3u);
  DeviceWeightPublisher pub(*f.src.t, f.source_link, quick_device());
  for (uint64_t v = 1; v <= 3; ++v) {
    auto data = pattern((size_t{1} << 20) + 77, static_cast<uint8_t>(v));
    Status published;
    std::thread source([&] { published = pub.publish(f.names(), v, {whole(data.size())}, data); });
    auto ok = f.take_all({0, 1, 2}, v);
    source.join();
    ASSERT_TRUE(published) << published.to_string();
    feed_acks(f.src, pub, 3);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(ok[i]) << "dst" << i << " v" << v;
      auto w = f.rx[i]->committed();
      ASSERT_EQ(w.version, v);
      ASSERT_EQ(w.data->size(), data.size());
      EXPECT_EQ(0, std::memcmp(w.data->data(), data.data(), data.size())) << "dst" << i << " v" << v;
      EXPECT_EQ(f.rx[i]->chunks_received(), 0u) << "the bytes come over the link, not as chunks";
    }
  }
  EXPECT_EQ(pub.epoch(), 1u) << "the communicator is kept while the receivers stay and confirm every version";
  for (auto& l : f.links) EXPECT_EQ(l->joins, 1);
  EXPECT_EQ(f.source_link.joins, 1);
  // v4's acknowledgements never reach the publisher: a member that did not confirm may have given
  // up on the communicator, so v5 goes over a new one (and still arrives whole).
  for (uint64_t v = 4; v <= 5; ++v) {
    auto data = pattern(4096, static_cast<uint8_t>(v));
    Status published;
    std::thread source([&] { published = pub.publish(f.names(), v, {whole(data.size())}, data); });
    auto ok = f.take_all({0, 1, 2}, v);
    source.join();
    ASSERT_TRUE(published) << published.to_string();
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(ok[i]) << "dst" << i << " v" << v;
      EXPECT_EQ(0, std::memcmp(f.rx[i]->committed().data->data(), data.data(), data.size()));
    }
  }
  EXPECT_EQ(pub.epoch(), 2u);
}

TEST(DeviceWeights, AReceiverThatDoesNotTakePartFailsTheVersionAndTheNextGoesWithoutIt) {
  DeviceFixture f(3, milliseconds(1500));
  ASSERT_EQ(f.rx.size(), 3u);
  DeviceWeightPublisher pub(*f.src.t, f.source_link, quick_device());
  auto v1 = pattern(300000, 1), v2 = pattern(300000, 2), v3 = pattern(300000, 3);
  Status published;
  std::thread first([&] { published = pub.publish(f.names(), 1, {whole(v1.size())}, v1); });
  auto ok = f.take_all({0, 1, 2}, 1);
  first.join();
  ASSERT_TRUE(published) << published.to_string();
  ASSERT_TRUE(ok[0] && ok[1] && ok[2]);
  feed_acks(f.src, pub, 3);
  // dst1 stops reading: v2's broadcast cannot finish and the source gives up. A rank may still
  // have received all of v2 before the failure (NCCL's chain reaches the ranks before a missing
  // one): it then holds v2 whole; every other holds v1 whole. Nobody holds anything in between.
  std::thread second([&] { published = pub.publish(f.names(), 2, {whole(v2.size())}, v2); });
  f.take_all({0, 2}, 2, milliseconds(2500));
  second.join();
  EXPECT_FALSE(published) << "a broadcast missing a rank must fail, not hang";
  EXPECT_NE(published.message().find("communicator 1"), std::string::npos) << published.message();
  for (size_t i : {0u, 2u}) {
    auto w = f.rx[i]->committed();
    ASSERT_TRUE(w.version == 1 || w.version == 2) << w.version;
    const auto& want = w.version == 1 ? v1 : v2;
    EXPECT_EQ(0, std::memcmp(w.data->data(), want.data(), want.size())) << "dst" << i << " holds v" << w.version;
  }
  EXPECT_EQ(f.rx[1]->committed().version, 1u);
  // Without dst1, after the back-off (1 ms here): a new communicator, and v3 arrives whole at the others.
  std::this_thread::sleep_for(milliseconds(20));
  std::thread third([&] { published = pub.publish({"dst0", "dst2"}, 3, {whole(v3.size())}, v3); });
  ok = f.take_all({0, 2}, 3);
  third.join();
  ASSERT_TRUE(published) << published.to_string();
  EXPECT_EQ(pub.epoch(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    size_t i = k == 0 ? 0 : 2;
    ASSERT_TRUE(ok[k]);
    EXPECT_EQ(f.rx[i]->committed().version, 3u);
    EXPECT_EQ(0, std::memcmp(f.rx[i]->committed().data->data(), v3.data(), v3.size()));
  }
}

TEST(DeviceWeights, ARepeatedVersionIsTakenPartInAndAcknowledgedNotCommittedTwice) {
  DeviceFixture f(1);
  ASSERT_EQ(f.rx.size(), 1u);
  DeviceWeightPublisher pub(*f.src.t, f.source_link, quick_device());
  auto v1 = pattern(4096, 1);
  for (int repeat = 0; repeat < 2; ++repeat) {
    Status published;
    std::thread source([&] { published = pub.publish(f.names(), 1, {whole(v1.size())}, v1); });
    // The repeat commits nothing new: pump until the source returned (it waits for this rank).
    std::atomic<bool> done{false};
    std::thread stop([&] {
      source.join();
      done = true;
    });
    f.dst[0]->pump(*f.rx[0], [&] { return done.load() && f.dst[0]->inbox.empty(); }, milliseconds(5000));
    stop.join();
    ASSERT_TRUE(published) << "repeat " << repeat << ": " << published.to_string();
    EXPECT_EQ(f.rx[0]->committed().version, 1u);
  }
  EXPECT_EQ(f.rx[0]->aborted(), 0u);
}

TEST(DeviceWeights, AReceiverWithoutALinkRefusesAndTheSourceGivesUp) {
  SharedFixture f(1);
  ASSERT_EQ(f.rx.size(), 1u);
  Fabric fabric;
  FabricLink link(fabric);
  DevicePublishOptions o = quick_device();
  o.join_wait = milliseconds(500);
  o.retry_first = milliseconds(60000);
  DeviceWeightPublisher pub(*f.src.t, link, o);
  auto v1 = pattern(4096, 1);
  Status published;
  std::thread source([&] { published = pub.publish(f.names(), 1, {whole(v1.size())}, v1); });
  auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  Result<bool> got = false;
  while (std::chrono::steady_clock::now() < deadline) {
    std::unique_lock lk(f.dst[0]->m);
    if (!f.dst[0]->cv.wait_for(lk, milliseconds(50), [&] { return !f.dst[0]->inbox.empty(); })) continue;
    Envelope e = std::move(f.dst[0]->inbox.front());
    f.dst[0]->inbox.pop_front();
    lk.unlock();
    got = f.rx[0]->on_message(e);
    break;
  }
  source.join();
  ASSERT_FALSE(got);
  EXPECT_NE(got.status().message().find("no GPU link"), std::string::npos) << got.status().message();
  EXPECT_FALSE(published);
  EXPECT_EQ(f.rx[0]->committed().version, 0u);
  // A new communicator only after the back-off (every unique id costs the source a bootstrap thread
  // until all ranks joined): an immediate retry is refused without minting one.
  const uint64_t epochs = pub.epoch();
  Status again = pub.publish(f.names(), 1, {whole(v1.size())}, v1);
  EXPECT_FALSE(again);
  EXPECT_NE(again.message().find("waiting"), std::string::npos) << again.message();
  EXPECT_EQ(pub.epoch(), epochs);
}

TEST(UcxTransportIdle, ProgressThreadsSleepWhenIdle) {
  Node a("a"), b("b");
  ASSERT_TRUE(a.t && b.t);
  ASSERT_TRUE(b.t->connect("127.0.0.1", a.t->port()));
  std::this_thread::sleep_for(milliseconds(200));  // let the handshake's busy-poll window pass
  double before = cpu_seconds();
  std::this_thread::sleep_for(milliseconds(1000));
  double used = cpu_seconds() - before;
  // Two spinning progress threads would use up to 2 s of CPU here; sleeping ones wake only on the
  // 100 ms idle timer. 0.2 s leaves room for noise and is still 10x below one spinning thread.
  EXPECT_LT(used, 0.2) << "idle transports used " << used << " s of CPU in 1 s";
}

}  // namespace
}  // namespace troupe::wire
