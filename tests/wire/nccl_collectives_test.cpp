// NCCL collectives on a single-rank communicator: broadcast leaves the data as it was, all-reduce of
// one rank is the identity, and a bad unique id is rejected. Skips, saying why, without a GPU.
#include "wire/nccl_collectives.hpp"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

namespace troupe::wire {
namespace {

TEST(NcclCollectives, RejectsMalformedUniqueId) {
  auto c = NcclComm::create(std::vector<uint8_t>(3), 1, 0, 0);
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("unique id"), std::string::npos);
}

TEST(NcclCollectives, SingleRankBroadcastAndAllReduce) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible: the NCCL path is compiled but not run here";
  auto id = nccl_unique_id();
  ASSERT_TRUE(id) << id.status().to_string();
  auto comm = NcclComm::create(*id, 1, 0, 0);
  ASSERT_TRUE(comm) << comm.status().to_string();
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i) * 0.5f;
  float* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, host.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dev, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE((*comm)->broadcast(dev, host.size() * sizeof(float), 0, nullptr));
  ASSERT_TRUE((*comm)->all_reduce_sum(dev, host.size(), nullptr));
  ASSERT_TRUE((*comm)->synchronize(nullptr));
  std::vector<float> back(host.size());
  ASSERT_EQ(cudaMemcpy(back.data(), dev, back.size() * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(dev);
  EXPECT_EQ(back, host);  // one rank: both collectives are the identity, bit for bit
}

}  // namespace
}  // namespace troupe::wire
