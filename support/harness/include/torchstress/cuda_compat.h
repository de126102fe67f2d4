// CUDA helpers compiled only against a LibTorch with CUDA (TORCHSTRESS_HAVE_CUDA=1). Kept out of
// the other headers so the CPU-only build never needs libc10_cuda.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace torchstress {

int cuda_device_count();
std::string cuda_device_name(int index);
// "13.0" from cudaDriverGetVersion, or "none (<why>)" when no driver answers.
std::string cuda_driver_version();

// Makes `this thread` use a stream from the pool on `device` until destroyed (per-thread policy).
class CudaPoolStreamScope {
 public:
  explicit CudaPoolStreamScope(const c10::Device& device);
  ~CudaPoolStreamScope();
  CudaPoolStreamScope(const CudaPoolStreamScope&) = delete;
  CudaPoolStreamScope& operator=(const CudaPoolStreamScope&) = delete;

 private:
  struct Impl;
  Impl* impl_;
};

// Waits for the current stream of this thread on `device`.
void cuda_sync_current_stream(const c10::Device& device);
// Waits for every stream on `device`.
void cuda_sync_device(const c10::Device& device);

}  // namespace torchstress
