// Weight broadcast in one process (two transports): a version arrives whole and bit-identical; a
// damaged chunk or a dead upstream leaves the committed version untouched (the fence); a held
// version is never overwritten by buffer reuse; CRC-32C matches its published check value; an
// idle transport sleeps instead of spinning.
#include "wire/weight_broadcast.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <deque>
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
