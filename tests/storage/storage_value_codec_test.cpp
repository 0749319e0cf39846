// How rollout values are stored (storage/value_codec): compressible FlatBuffers
// come back byte-identical from their compressed form, values that do not pay are
// kept as they are, raw (schema 1) values still decode, and every way a compressed
// frame can be damaged is a corruption, never a crash or a wrong-sized buffer.
#include "storage/value_codec.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "storage/synthetic_rollouts.hpp"

namespace troupe::storage {
namespace {

std::string_view view(const std::string& s) { return s; }

TEST(StorageValueCodec, CompressibleRolloutsRoundTripSmaller) {
  for (size_t bytes : {1024u, 8192u, 32768u}) {
    SyntheticSpec spec;
    spec.response_bytes = bytes;
    const wire::Bytes fb = synthetic_rollout_bytes(spec);
    const std::string packed = compress_value(fb.span());
    ASSERT_FALSE(packed.empty()) << bytes;
    EXPECT_TRUE(is_compressed_value(packed));
    EXPECT_LT(packed.size(), fb.size() - fb.size() / 8) << bytes;
    auto back = decode_value(packed);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    ASSERT_EQ(back->size(), fb.size());
    EXPECT_EQ(std::memcmp(back->data(), fb.data(), fb.size()), 0);
  }
}

TEST(StorageValueCodec, SmallOrIncompressibleValuesAreKeptAsTheyAre) {
  std::vector<uint8_t> small(500, 'a');
  EXPECT_TRUE(compress_value(small).empty());  // below the threshold, however compressible
  std::mt19937 rng(7);
  std::vector<uint8_t> noise(16384);
  for (auto& b : noise) b = uint8_t(rng());
  EXPECT_TRUE(compress_value(noise).empty());  // would not save an eighth
  // A raw FlatBuffer (everything a schema-1 store holds) decodes to itself.
  const wire::Bytes fb = synthetic_rollout_bytes(SyntheticSpec{});
  const std::string raw(reinterpret_cast<const char*>(fb.data()), fb.size());
  EXPECT_FALSE(is_compressed_value(raw));
  auto same = decode_value(raw);
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(*same, std::vector<uint8_t>(fb.data(), fb.data() + fb.size()));
}

TEST(StorageValueCodec, DamagedFramesAreCorruption) {
  SyntheticSpec spec;
  spec.response_bytes = 8192;
  const wire::Bytes fb = synthetic_rollout_bytes(spec);
  const std::string good = compress_value(fb.span());
  ASSERT_FALSE(good.empty());
  auto expect_corrupt = [](const std::string& damaged, const char* what, const char* why) {
    auto r = decode_value(damaged);
    ASSERT_FALSE(r.is_ok()) << why;
    EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << why;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << why << ": " << r.status().message();
  };
  std::string huge = good;
  huge[4] = huge[5] = huge[6] = huge[7] = '\x7f';  // ~2 GiB claimed
  expect_corrupt(huge, "claims", "size beyond the limit");
  std::string zero = good;
  zero[4] = zero[5] = zero[6] = zero[7] = '\0';
  expect_corrupt(zero, "claims 0 bytes", "size zero");
  expect_corrupt(good.substr(0, good.size() / 2), "LZ4", "truncated block");
  std::string bigger = good;
  const uint32_t claimed = uint32_t(fb.size()) + 100;
  std::memcpy(bigger.data() + 4, &claimed, 4);
  expect_corrupt(bigger, "", "header larger than the block decodes to");
  expect_corrupt(std::string("\xffTZ1\x10\0\0\0", 8), "LZ4", "header only");
  std::string flipped = good;
  for (size_t i = 8; i < flipped.size(); i += 7) flipped[i] = char(~flipped[i]);
  auto r = decode_value(flipped);  // garbage: an error or a buffer of the claimed size, never more
  if (r) {
    EXPECT_EQ(r->size(), fb.size());
  }
  EXPECT_TRUE(decode_value(view("")).is_ok());  // an empty value is "raw" here; the verifier rejects it
}

}  // namespace
}  // namespace troupe::storage
