#include "torchstress/device_sync.h"

#include "torchstress/mps_compat.h"

#if TORCHSTRESS_HAVE_CUDA
#include "torchstress/cuda_compat.h"
#endif

namespace torchstress {

const char* to_string(StreamPolicy p) { return p == StreamPolicy::kShared ? "shared" : "per-thread"; }
const char* to_string(CheckCapture c) { return c == CheckCapture::kCopy ? "copy" : "keep"; }

const char* to_string(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kStream:
      return "stream";
    case SyncPolicy::kDevice:
      return "device";
    case SyncPolicy::kNone:
      break;
  }
  return "none";
}

WorkerStreamScope::WorkerStreamScope(const c10::Device& device, StreamPolicy policy) {
#if TORCHSTRESS_HAVE_CUDA
  if (device.is_cuda() && policy == StreamPolicy::kPerThread) {
    impl_ = std::make_shared<CudaPoolStreamScope>(device);
  }
#else
  (void)device;
  (void)policy;
#endif
}

WorkerStreamScope::~WorkerStreamScope() = default;

void sync_thread_work(const c10::Device& device, SyncPolicy policy) {
  if (device.is_cpu() || policy == SyncPolicy::kNone) return;
#if TORCHSTRESS_HAVE_CUDA
  if (device.is_cuda()) {
    if (policy == SyncPolicy::kStream) {
      cuda_sync_current_stream(device);
    } else {
      cuda_sync_device(device);
    }
    return;
  }
#else
  (void)policy;
#endif
  sync_device(device);
}

bool host_read_syncs_thread_work(const c10::Device& device, SyncPolicy policy) {
  return device.is_cuda() && policy == SyncPolicy::kStream;
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
