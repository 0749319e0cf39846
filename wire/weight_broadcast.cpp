// Chained, pipelined, fenced weight broadcast behind wire/weight_broadcast.hpp.
#include "wire/weight_broadcast.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "wire/crc32c.hpp"

namespace troupe::wire {
namespace {

Bytes encode_chunk(uint64_t version, uint32_t index, uint64_t offset, std::span<const uint8_t> data, uint32_t crc) {
  // Room for the table and the alignment padding on top of the data.
  flatbuffers::FlatBufferBuilder fbb(data.size() + 128);
  fbb.ForceVectorAlignment(data.size(), sizeof(uint8_t), 16);
  auto vec = fbb.CreateVector(data.data(), data.size());
  auto root = CreateWeightChunk(fbb, kSchemaVersion, version, index, offset, crc, vec);
  return finish<WeightChunk>(fbb, root);
}

// The checksum of `num_chunks` consecutive chunks of `chunk_bytes` (the last one shorter) from
// their own checksums.
uint32_t join_crcs(const std::vector<uint32_t>& crcs, uint64_t chunk_bytes, uint64_t total_bytes) {
  uint32_t whole = 0;
  for (size_t i = 0; i < crcs.size(); ++i) {
    uint64_t len = std::min<uint64_t>(chunk_bytes, total_bytes - i * chunk_bytes);
    whole = i == 0 ? crcs[0] : crc32c_combine(whole, crcs[i], len);
  }
  return whole;
}

// Version `wm` names, whose bytes `data` holds whole.
CommittedWeights whole_version(const WeightManifest* wm, std::shared_ptr<const MappedBuffer> data) {
  CommittedWeights next;
  next.version = wm->version();
  next.data = std::move(data);
  if (wm->tensors()) {
    for (const auto* t : *wm->tensors()) {
      TensorInfoT info;
      t->UnPackTo(&info);
      next.tensors.push_back(std::move(info));
    }
  }
  return next;
}

}  // namespace

Status broadcast_weights(Transport& transport, const std::vector<std::string>& chain, uint64_t version,
                         const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data,
                         const BroadcastOptions& options) {
  TROUPE_RETURN_IF_ERROR(check_publish("broadcast_weights", chain.size(), version, tensors, data));
  if (options.chunk_bytes == 0 || options.chunk_bytes > (size_t{1} << 30)) {
    return Status::invalid_argument("broadcast_weights: chunk_bytes must be in 1 B .. 1 GiB");
  }
  size_t num_chunks = (data.size() + options.chunk_bytes - 1) / options.chunk_bytes;
  WeightManifestT m;
  m.version = version;
  for (const auto& t : tensors) m.tensors.push_back(std::make_unique<TensorInfoT>(t));
  m.total_bytes = data.size();
  m.chunk_bytes = static_cast<uint32_t>(options.chunk_bytes);
  m.num_chunks = static_cast<uint32_t>(num_chunks);
  // One read of the weights for every checksum: the whole set's is joined from the chunks'.
  std::vector<uint32_t> crcs(num_chunks);
  for (size_t i = 0; i < num_chunks; ++i) {
    size_t off = i * options.chunk_bytes;
    crcs[i] = crc32c(data.subspan(off, std::min(options.chunk_bytes, data.size() - off)));
  }
  m.checksum = num_chunks == 0 ? crc32c({}) : join_crcs(crcs, options.chunk_bytes, data.size());
  m.route.assign(chain.begin() + 1, chain.end());
  m.source = transport.name();
  const std::string& first = chain.front();
  TROUPE_RETURN_IF_ERROR(transport.send(first, kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(m),
                                        options.send_wait)
                             .with_context("sending the weight manifest v" + std::to_string(version) + " to " + first));
  for (size_t i = 0; i < num_chunks; ++i) {
    size_t off = i * options.chunk_bytes;
    size_t len = std::min(options.chunk_bytes, data.size() - off);
    Bytes chunk = encode_chunk(version, static_cast<uint32_t>(i), off, data.subspan(off, len), crcs[i]);
    TROUPE_RETURN_IF_ERROR(
        transport.send(first, kWeightsDst, kWeightsDst, MessageKind::kWeightChunk, std::move(chunk), options.send_wait)
            .with_context("sending weight chunk " + std::to_string(i) + " of v" + std::to_string(version)));
  }
  return Status::ok();
}

WeightReceiver::WeightReceiver(Transport& transport, std::chrono::milliseconds send_wait)
    : transport_(transport), send_wait_(send_wait) {}

Result<bool> WeightReceiver::on_message(const Envelope& e) {
  if (e.kind == MessageKind::kWeightManifest) return on_manifest(e);
  if (e.kind == MessageKind::kWeightChunk) return on_chunk(e);
  return Status::invalid_argument(std::string("weight receiver: unexpected ") + kind_name(e.kind) + " from " + e.peer);
}

void WeightReceiver::abort(const std::string& why) {
  if (staging_.version == 0) return;
  std::fprintf(stderr, "[troupe weights %s] dropping staged v%llu: %s\n", transport_.name().c_str(),
               static_cast<unsigned long long>(staging_.version), why.c_str());
  if (staging_.data && staging_.data.use_count() == 1) spare_ = std::move(*staging_.data);  // never shared
  staging_ = Staging{};
  count_abort();
}

void WeightReceiver::count_abort() {
  std::lock_guard lk(mu_);
  ++aborted_;
}

Result<std::shared_ptr<MappedBuffer>> WeightReceiver::staging_buffer(uint64_t bytes) {
  if (spare_.size() == bytes && bytes > 0) return std::make_shared<MappedBuffer>(std::move(spare_));
  auto buffer = MappedBuffer::allocate(bytes);
  if (!buffer) return buffer.status();
  return std::make_shared<MappedBuffer>(std::move(*buffer));
}

void WeightReceiver::set_device_link(DeviceWeightLink* link, std::chrono::milliseconds wait) {
  device_ = link;
  device_wait_ = wait;
}

void WeightReceiver::on_peer_down(const std::string& peer) {
  if (staging_.version != 0 && peer == staging_.upstream) abort("upstream " + peer + " went down");
  if (peer == staging_.next) staging_.next.clear();  // keep receiving; stop forwarding
}

Result<bool> WeightReceiver::on_manifest(const Envelope& e) {
  auto m = read<WeightManifest>(e.payload);
  if (!m) return m.status();
  const WeightManifest* wm = *m;
  if (wm->nccl() != nullptr) return on_device_manifest(e, wm);
  if (wm->shared() != nullptr) return on_shared_manifest(e, wm);
  uint64_t v = wm->version();
  TROUPE_RETURN_IF_ERROR(newer_than_committed(v, wm->source() ? wm->source()->str() : e.peer,
                                              "weight manifest v" + std::to_string(v) + " from " + e.peer));
  uint64_t chunk = wm->chunk_bytes();
  uint64_t total = wm->total_bytes();
  if (chunk == 0 || wm->num_chunks() != (total + chunk - 1) / chunk) {
    return Status::corruption("weight manifest v" + std::to_string(v) + ": num_chunks " +
                              std::to_string(wm->num_chunks()) + " does not cover " + std::to_string(total) +
                              " bytes in chunks of " + std::to_string(chunk));
  }
  if (staging_.version != 0) abort("overtaken by v" + std::to_string(v));
  staging_.version = v;
  staging_.upstream = e.peer;
  staging_.source = wm->source() ? wm->source()->str() : e.peer;
  staging_.manifest = std::make_unique<WeightManifestT>();
  wm->UnPackTo(staging_.manifest.get());
  auto buffer = staging_buffer(total);
  if (!buffer) return buffer.status().with_context("staging weights v" + std::to_string(v));
  staging_.data = std::move(*buffer);
  staging_.have.assign(wm->num_chunks(), false);
  staging_.crcs.assign(wm->num_chunks(), 0);
  if (!staging_.manifest->route.empty()) {
    // Forward first: the next hop starts as early as possible.
    WeightManifestT fwd = *staging_.manifest;
    staging_.next = fwd.route.front();
    fwd.route.erase(fwd.route.begin());
    Status s = transport_.send(staging_.next, kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(fwd),
                               send_wait_);
    if (!s) {
      std::fprintf(stderr, "[troupe weights %s] cannot forward v%llu to %s: %s\n", transport_.name().c_str(),
                   static_cast<unsigned long long>(v), staging_.next.c_str(), s.to_string().c_str());
      staging_.next.clear();
    }
  }
  if (total == 0) return on_chunk(e);  // nothing to wait for (on_chunk commits an empty set)
  return false;
}

Result<bool> WeightReceiver::on_chunk(const Envelope& e) {
  if (staging_.version == 0) return false;  // not staging: a leftover of an aborted version
  const WeightManifestT& m = *staging_.manifest;
  const uint64_t version = m.version;  // `m` dies with the staging on abort or commit
  if (e.kind == MessageKind::kWeightChunk) {
    auto c = read<WeightChunk>(e.payload);
    if (!c) return c.status();
    const WeightChunk* wc = *c;
    if (wc->version() != staging_.version) return false;  // an older, aborted version
    uint32_t i = wc->index();
    size_t len = wc->data() ? wc->data()->size() : 0;
    size_t expect_len = i + 1 < m.num_chunks ? m.chunk_bytes : m.total_bytes - uint64_t{i} * m.chunk_bytes;
    if (i >= m.num_chunks || wc->offset() != uint64_t{i} * m.chunk_bytes || len != expect_len) {
      abort("chunk " + std::to_string(i) + " does not fit the manifest");
      return Status::corruption("weight chunk " + std::to_string(i) + " from " + e.peer + " does not fit manifest v" +
                                std::to_string(version));
    }
    if (staging_.have[i]) return false;  // a duplicate
    if (!staging_.next.empty()) {
      Status s = transport_.send(staging_.next, kWeightsDst, kWeightsDst, MessageKind::kWeightChunk, e.payload,
                                 send_wait_);
      if (!s) staging_.next.clear();  // the rest of the chain is cut; we still take our copy
    }
    // Checked and moved into place in one pass; a damaged chunk drops the whole staging anyway.
    std::span<const uint8_t> bytes(wc->data()->data(), len);
    uint32_t crc = crc32c_copy(0, bytes, staging_.data->data() + wc->offset());
    if (crc != wc->checksum()) {
      abort("chunk " + std::to_string(i) + " fails its checksum");
      return Status::corruption("weight chunk " + std::to_string(i) + " of v" + std::to_string(version) + " from " +
                                e.peer + " fails its CRC-32C");
    }
    staging_.crcs[i] = crc;
    staging_.have[i] = true;
    ++staging_.received;
    std::lock_guard lk(mu_);
    ++chunks_received_;
  }
  if (staging_.received < m.num_chunks) return false;
  uint32_t whole = m.num_chunks == 0 ? crc32c({}) : join_crcs(staging_.crcs, m.chunk_bytes, m.total_bytes);
  if (whole != m.checksum) {
    abort("the whole set fails its checksum");
    return Status::corruption("weights v" + std::to_string(version) + " fail the manifest's CRC-32C");
  }
  // The fence: everything arrived and matched; switch in one step.
  CommittedWeights next;
  next.version = m.version;
  next.data = staging_.data;
  for (const auto& t : m.tensors) next.tensors.push_back(*t);
  std::string source = staging_.source;
  std::shared_ptr<MappedBuffer> buffer = std::move(staging_.data);
  staging_ = Staging{};
  switch_to(std::move(next), std::move(buffer), source);
  return true;
}

void WeightReceiver::switch_to(CommittedWeights next, std::shared_ptr<MappedBuffer> buffer, const std::string& source) {
  const uint64_t version = next.version;
  std::shared_ptr<MappedBuffer> released = std::move(committed_buffer_);
  committed_buffer_ = std::move(buffer);
  {
    std::lock_guard lk(mu_);
    committed_ = std::move(next);
  }
  // The version just replaced: when nobody else holds it (committed_ no longer hands it out, so the
  // count cannot grow again), its buffer carries the next version. A view of a shared segment is
  // not ours to write: dropping it releases the segment to its source.
  if (released && released.use_count() == 1 && released->owns_memory()) {
    std::atomic_thread_fence(std::memory_order_acquire);  // the last reader's release, before we write
    spare_ = std::move(*released);
  }
  released.reset();
  acknowledge(source, version);
}

Result<bool> WeightReceiver::on_shared_manifest(const Envelope& e, const WeightManifest* wm) {
  const SharedSegment* sh = wm->shared();
  const uint64_t v = wm->version();
  const uint64_t total = wm->total_bytes();
  const uint8_t bit = sh->holder_bit();
  const std::string source = wm->source() ? wm->source()->str() : e.peer;
  if (bit >= kMaxSharedReceivers || sh->fd() < 0) {
    return Status::corruption("shared weight manifest v" + std::to_string(v) + " from " + e.peer + ": holder bit " +
                              std::to_string(bit) + " or fd " + std::to_string(sh->fd()) + " is out of range");
  }
  std::shared_ptr<SharedMapping> mapping;
  for (const auto& m : mappings_) {
    if (m->same(sh->pid(), sh->fd(), sh->id()) && m->capacity() >= total) mapping = m;
  }
  if (!mapping) {
    auto opened = SharedMapping::open(sh->pid(), sh->fd(), sh->id(), total);
    if (!opened) return opened.status().with_context("weights v" + std::to_string(v) + " from " + e.peer);
    mapping = std::move(*opened);
    // Beyond the bound, forget segments nobody uses, the oldest first (a committed view keeps its
    // own mapping alive either way).
    for (auto it = mappings_.begin(); it != mappings_.end() && mappings_.size() >= kMaxMappings;) {
      it = it->use_count() == 1 ? mappings_.erase(it) : it + 1;
    }
    if (mappings_.size() < kMaxMappings) mappings_.push_back(mapping);
  }
  if (Status s = newer_than_committed(v, source, "weight manifest v" + std::to_string(v) + " from " + e.peer); !s) {
    mapping->release(bit);  // the source reserved the slot for us; we do not take it up
    return s;
  }
  if (staging_.version != 0) abort("overtaken by v" + std::to_string(v));
  if (crc32c({mapping->data(), total}) != wm->checksum()) {
    mapping->release(bit);
    count_abort();
    return Status::corruption("shared weights v" + std::to_string(v) + " from " + e.peer +
                              " fail the manifest's CRC-32C");
  }
  // The committed view holds the segment (and our bit in it) until its last reader lets go.
  std::shared_ptr<MappedBuffer> view(new MappedBuffer(MappedBuffer::borrow(mapping->data(), total)),
                                     [mapping, bit](MappedBuffer* p) {
                                       delete p;
                                       mapping->release(bit);
                                     });
  CommittedWeights next = whole_version(wm, view);  // before view is moved from
  switch_to(std::move(next), std::move(view), source);
  return true;
}

Result<bool> WeightReceiver::on_device_manifest(const Envelope& e, const WeightManifest* wm) {
  const NcclGroup* g = wm->nccl();
  const uint64_t v = wm->version();
  const uint64_t total = wm->total_bytes();
  const std::string source = wm->source() ? wm->source()->str() : e.peer;
  const std::string what = "weights v" + std::to_string(v) + " from " + e.peer + " by NCCL";
  if (device_ == nullptr) {
    return Status::unavailable(what + ": this node has no GPU link (placement.weight_broadcast: nccl needs a CUDA "
                               "build and a GPU on every worker node); the source will time out");
  }
  if (g->unique_id() == nullptr || g->nranks() < 2 || g->rank() < 1 || g->rank() >= g->nranks()) {
    return Status::corruption(what + ": rank " + std::to_string(g->rank()) + " of " + std::to_string(g->nranks()) +
                              " or its unique id is malformed");
  }
  const std::vector<uint8_t> id(g->unique_id()->begin(), g->unique_id()->end());
  const std::string group = " (communicator " + std::to_string(g->epoch()) + ")";
  if (std::find(left_ids_.begin(), left_ids_.end(), id) != left_ids_.end()) {
    // Its bootstrap is over and the others went on without us: joining again could only time out.
    return Status::unavailable(what + group + ": this node already left that communicator; waiting for a new one");
  }
  auto gave_up = [&] {
    left_ids_.push_back(id);
    if (left_ids_.size() > 8) left_ids_.pop_front();
    count_abort();
  };
  auto alive = [this, &source] { return transport_.is_up(source); };
  if (!device_->joined(id)) {
    Status s = device_->join(id, g->nranks(), g->rank(), alive, device_wait_);
    if (!s) {
      gave_up();
      return s.with_context(what + group);
    }
  }
  // Collective: take part even in a version held already, or the source and the other ranks wait.
  auto buffer = staging_buffer(total);
  if (!buffer) return buffer.status().with_context("staging " + what);
  std::shared_ptr<MappedBuffer> data = std::move(*buffer);
  auto keep_spare = [&] {
    if (data.use_count() == 1) spare_ = std::move(*data);
  };
  if (Status s = device_->receive(data->span(), alive, device_wait_); !s) {
    keep_spare();
    gave_up();
    return s.with_context(what + group);
  }
  if (Status s = newer_than_committed(v, source, what); !s) {
    keep_spare();
    return s;
  }
  if (crc32c(data->span()) != wm->checksum()) {
    keep_spare();
    count_abort();
    return Status::corruption(what + " fail the manifest's CRC-32C");
  }
  if (staging_.version != 0) abort("overtaken by v" + std::to_string(v));
  CommittedWeights next = whole_version(wm, data);  // before data is moved from
  switch_to(std::move(next), std::move(data), source);
  return true;
}

DeviceWeightPublisher::DeviceWeightPublisher(Transport& transport, DeviceWeightLink& link, DevicePublishOptions options)
    : transport_(transport), link_(link), options_(options) {}

void DeviceWeightPublisher::on_peer_down(const std::string& peer) {
  if (std::find(members_.begin(), members_.end(), peer) != members_.end()) fresh_ = true;
  acked_.erase(peer);
}

void DeviceWeightPublisher::on_ack(const std::string& peer, uint64_t version) {
  uint64_t& a = acked_[peer];
  a = std::max(a, version);
}

Status DeviceWeightPublisher::publish(const std::vector<std::string>& receivers, uint64_t version,
                                      const std::vector<TensorInfoT>& tensors, std::span<const uint8_t> data) {
  TROUPE_RETURN_IF_ERROR(check_publish("NCCL weight broadcast", receivers.size(), version, tensors, data));
  if (!fresh_ && last_version_ != 0) {
    for (const auto& m : members_) {
      auto it = acked_.find(m);
      if (it == acked_.end() || it->second < last_version_) fresh_ = true;  // it may have left
    }
  }
  if (fresh_ || receivers != members_) {
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) {
      return Status::unavailable("NCCL weight broadcast: waiting " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now).count()) +
                                 " ms before a new communicator after " + std::to_string(failures_) + " failure(s)");
    }
    link_.leave();
    auto id = link_.new_unique_id();
    if (!id) return id.status();
    id_ = std::move(*id);
    members_ = receivers;
    ++epoch_;
    fresh_ = false;
  }
  const int nranks = static_cast<int>(members_.size()) + 1;
  const std::string what = "weights v" + std::to_string(version) + " by NCCL to " + std::to_string(members_.size()) +
                           " receiver(s) (communicator " + std::to_string(epoch_) + ")";
  auto failed = [&](const Status& s) {
    fresh_ = true;
    link_.leave();
    ++failures_;
    auto backoff = options_.retry_first * (1LL << std::min(failures_ - 1, 16));
    retry_at_ = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(backoff, options_.retry_last);
    return s.with_context(what);
  };
  WeightManifestT m;
  m.version = version;
  for (const auto& t : tensors) m.tensors.push_back(std::make_unique<TensorInfoT>(t));
  m.total_bytes = data.size();
  m.checksum = crc32c(data);
  m.source = transport_.name();
  m.nccl = std::make_unique<NcclGroupT>();
  m.nccl->epoch = epoch_;
  m.nccl->unique_id = id_;
  m.nccl->nranks = nranks;
  for (size_t i = 0; i < members_.size(); ++i) {
    m.nccl->rank = static_cast<int>(i) + 1;
    Status s = transport_.send(members_[i], kWeightsDst, kWeightsDst, MessageKind::kWeightManifest, pack(m),
                               options_.send_wait);
    if (!s) return failed(s.with_context("sending the manifest to " + members_[i]));
  }
  auto alive = [this] {
    for (const auto& r : members_) {
      if (!transport_.is_up(r)) return false;
    }
    return true;
  };
  if (!link_.joined(id_)) {
    if (Status s = link_.join(id_, nranks, 0, alive, options_.join_wait); !s) return failed(s);
  }
  if (Status s = link_.send(data, alive, options_.broadcast_wait); !s) return failed(s);
  failures_ = 0;
  last_version_ = version;
  return Status::ok();
}

Status WeightReceiver::newer_than_committed(uint64_t version, const std::string& source, const std::string& what) {
  uint64_t committed_version = 0;
  {
    std::lock_guard lk(mu_);
    committed_version = committed_.version;
  }
  if (version > committed_version) return Status::ok();
  // A source sending again what this node holds did not see its acknowledgement: repeat it.
  if (version == committed_version) acknowledge(source, version);
  return Status::out_of_range(what + " is not newer than the committed v" + std::to_string(committed_version));
}

void WeightReceiver::acknowledge(const std::string& source, uint64_t version) {
  HeartbeatT ack;
  ack.node = transport_.name();
  ack.policy_version = version;
  if (transport_.is_up(source)) {
    transport_.send(source, "weights/ack", kWeightsDst, MessageKind::kHeartbeat, pack(ack), send_wait_).ignore();
  }
}

CommittedWeights WeightReceiver::committed() const {
  std::lock_guard lk(mu_);
  return committed_;
}
uint64_t WeightReceiver::staging_version() const { return staging_.version; }
uint64_t WeightReceiver::chunks_received() const {
  std::lock_guard lk(mu_);
  return chunks_received_;
}
uint64_t WeightReceiver::aborted() const {
  std::lock_guard lk(mu_);
  return aborted_;
}

}  // namespace troupe::wire
