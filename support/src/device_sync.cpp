#include "torchstress/device_sync.h"

#include "torchstress/knobs.h"
#include "torchstress/mps_compat.h"

#if TORCHSTRESS_HAVE_CUDA
#include "torchstress/cuda_compat.h"
#endif

namespace torchstress {

WorkerStreamScope::WorkerStreamScope(const c10::Device& device) {
#if TORCHSTRESS_HAVE_CUDA
  if (device.is_cuda() && knobs().cuda_streams == StreamPolicy::kPerThread) {
    impl_ = std::make_shared<CudaPoolStreamScope>(device);
  }
#else
  (void)device;
#endif
}

WorkerStreamScope::~WorkerStreamScope() = default;

void sync_thread_work(const c10::Device& device) {
  if (device.is_cpu()) return;
#if TORCHSTRESS_HAVE_CUDA
  if (device.is_cuda()) {
    if (knobs().sync == SyncPolicy::kStream) {
      cuda_sync_current_stream(device);
    } else {
      cuda_sync_device(device);
    }
    return;
  }
#endif
  sync_device(device);
}

bool host_read_syncs_thread_work(const c10::Device& device) {
  return device.is_cuda() && knobs().sync == SyncPolicy::kStream;
}

void sync_device(const c10::Device& device) {
  if (device.is_cpu()) return;
#if TORCHSTRESS_HAVE_CUDA
  if (device.is_cuda()) {
    cuda_sync_device(device);
    return;
  }
#endif
#if TORCHSTRESS_MPS_API
  if (device.type() == c10::kMPS) {
    torch::mps::synchronize();
    return;
  }
#endif
}

}  // namespace torchstress
