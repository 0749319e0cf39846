// device_weights.hpp in a build without CUDA: no devices, and a link cannot be opened.
#include "wire/device_weights.hpp"

namespace troupe::wire {

int visible_cuda_devices() { return 0; }

Result<std::unique_ptr<DeviceWeightLink>> open_nccl_weight_link(int device) {
  return Status::unavailable("NCCL weight link on CUDA device " + std::to_string(device) +
                             ": this build has no CUDA (configure with nvcc present, TROUPE_CUDA=AUTO or ON)");
}

}  // namespace troupe::wire
