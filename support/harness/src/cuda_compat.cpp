// Compiled only when LibTorch has CUDA (see support/CMakeLists.txt).
#include "torchstress/cuda_compat.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <optional>

namespace torchstress {

int cuda_device_count() { return static_cast<int>(c10::cuda::device_count()); }

std::string cuda_device_name(int index) { return at::cuda::getDeviceProperties(index)->name; }

std::string cuda_driver_version() {
  int v = 0;
  const cudaError_t rc = cudaDriverGetVersion(&v);
  if (rc != cudaSuccess || v == 0) return std::string("none (") + cudaGetErrorString(rc) + ")";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

struct CudaPoolStreamScope::Impl {
  c10::cuda::CUDAStreamGuard guard;
};

CudaPoolStreamScope::CudaPoolStreamScope(const c10::Device& device)
    : impl_(new Impl{
          c10::cuda::CUDAStreamGuard(at::cuda::getStreamFromPool(false, device.index() < 0 ? 0 : device.index()))}) {}

CudaPoolStreamScope::~CudaPoolStreamScope() { delete impl_; }

void cuda_sync_current_stream(const c10::Device& device) {
  at::cuda::getCurrentCUDAStream(device.index() < 0 ? 0 : device.index()).synchronize();
}

void cuda_sync_device(const c10::Device& device) {
  c10::cuda::CUDAGuard guard(device.index() < 0 ? 0 : device.index());
  c10::cuda::device_synchronize();
}

}  // namespace torchstress
