// CUDA zoo ops: stream-ordering and shared-workspace bugs, each with its fixed twin. They keep the zoo's
// contract (zoo_common.h), and each is registered for the CUDA key only. They use the c10/ATen CUDA API
// that exists from LibTorch 1.13 to 2.11: current and pool streams, CUDAGuard, CUDAEvent, and
// Tensor::record_stream.
#include <map>
#include <mutex>
#include <string>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "zoo_common.h"

namespace torchstress_zoo {
namespace {

constexpr int kThreadsPerBlock = 256;
// Spin lengths in SM clock cycles: about 100 us and 10 us at 1.7-2 GHz. The spin holds a kernel
// resident long enough for a missing ordering to matter.
constexpr long long kSlowSpinCycles = 200000;
constexpr long long kShortSpinCycles = 20000;

__device__ void spin_for(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

// y = formula(x). The spin comes before the read of x, so a late read sees whatever x's memory holds by then.
__global__ void formula_kernel(const float* x, float* y, int64_t numel, int64_t cols, long long spin_cycles) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n >= numel) return;
  spin_for(spin_cycles);
  y[n] = formula_at(x[n], n, cols);
}

// The formula in two steps through a workspace: ws = x * w, then y = ws + 1 (after a spin).
__global__ void scale_kernel(const float* x, float* ws, int64_t numel, int64_t cols) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n < numel) ws[n] = scaled(x[n], weight(n / cols + n % cols));
}
__global__ void add_one_kernel(const float* ws, float* y, int64_t numel, long long spin_cycles) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n >= numel) return;
  spin_for(spin_cycles);
  y[n] = plus_one(ws[n]);
}

unsigned blocks_for(int64_t numel) { return static_cast<unsigned>((numel + kThreadsPerBlock - 1) / kThreadsPerBlock); }

void launch_formula(const at::Tensor& x, const at::Tensor& y, cudaStream_t stream, long long spin_cycles) {
  if (x.numel() == 0) return;
  formula_kernel<<<blocks_for(x.numel()), kThreadsPerBlock, 0, stream>>>(x.data_ptr<float>(), y.data_ptr<float>(),
                                                                         x.numel(), x.size(1), spin_cycles);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// ---- cuda_missing_record_stream ---------------------------------------------------------------------
// Mimics record_stream misuse (#23729). The caching allocator reuses a block only on the stream that
// allocated it, and it treats the block as free as soon as the tensor dies, unless record_stream names
// the other streams still using it. Here a temporary is made on the caller's stream. A slow kernel on
// a side stream reads it. The temporary dies before the caller's stream is made to wait for the side
// stream. Another allocation on the caller's stream can then take the block and overwrite it while the
// side kernel has yet to read it. The wait itself, the event back to the caller's stream, is correct:
// the missing record_stream is the only bug. A thread's own later work on its stream is ordered after
// that wait. So the block is overwritten only by another thread that shares the caller's stream (the
// default stream) and allocates in that gap.
template <bool kFixed>
at::Tensor cuda_missing_record_stream(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "cuda_missing_record_stream", c10::kCUDA);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::cuda::CUDAStream caller = at::cuda::getCurrentCUDAStream();
  const at::cuda::CUDAStream side = at::cuda::getStreamFromPool(false, x.device().index());
  at::Tensor y = at::empty_like(x);
  {
    const at::Tensor staged = x.clone();  // the temporary: allocated and written on the caller's stream
    at::cuda::CUDAEvent staged_ready;
    staged_ready.record(caller);
    staged_ready.block(side);
    launch_formula(staged, y, side, kSlowSpinCycles);
    if (kFixed) staged.record_stream(side);  // the fix: its block waits for the side stream's work
    // BUG without record_stream: when `staged` dies here, the block is free for the caller's stream.
  }
  at::cuda::CUDAEvent done;
  done.record(side);
  done.block(caller);
  return y;
}

// ---- cuda_wrong_stream_no_event ---------------------------------------------------------------------
// Mimics a stream captured by one thread and used by others with no event between them. An example is
// the cuBLAS handle whose stream was whichever thread set it last (#6962; PR #29233 gave each thread its
// own handle). A CUDA stream is current per thread (PR #9938), so a stream that another thread captured
// is not the caller's. The op keeps the current stream of its first caller on each device, and launches
// every later call there. It correctly makes that stream wait for the caller's inputs, but it never makes
// the caller's stream wait for y. A caller whose current stream is the captured one (the first caller,
// or any thread while they all share the default stream) is ordered correctly. Any other caller that
// syncs only its own stream (a host copy, item()) can read y before the kernel, queued behind the first
// caller's work, has written it. A device-wide synchronize hides the bug.
at::cuda::CUDAStream first_callers_stream(c10::DeviceIndex device) {
  static std::mutex mutex;
  static auto* streams = new std::map<c10::DeviceIndex, at::cuda::CUDAStream>;
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = streams->find(device);
  if (it == streams->end()) it = streams->emplace(device, at::cuda::getCurrentCUDAStream(device)).first;
  return it->second;
}

template <bool kFixed>
at::Tensor cuda_wrong_stream_no_event(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "cuda_wrong_stream_no_event", c10::kCUDA);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::cuda::CUDAStream caller = at::cuda::getCurrentCUDAStream();
  const at::cuda::CUDAStream captured = first_callers_stream(x.device().index());
  // y starts as zeros on the caller's stream, as an accumulating kernel's output does. So an early read
  // sees zeros, not a stale earlier result that happens to be right.
  at::Tensor y = at::zeros_like(x);
  at::cuda::CUDAEvent inputs_ready;  // the captured stream waits for x and y correctly
  inputs_ready.record(caller);
  inputs_ready.block(captured);
  launch_formula(x, y, captured, kShortSpinCycles);
  if (kFixed) {  // the fix: the caller's stream waits for the captured stream before anyone reads y
    at::cuda::CUDAEvent done;
    done.record(captured);
    done.block(caller);
  }  // BUG without it: y is handed back while its kernel may still be queued on another thread's stream
  return y;
}

// ---- cuda_shared_workspace --------------------------------------------------------------------------
// Mimics one device workspace that every stream shares with no ordering. Examples: the shared cuBLAS
// handle and workspace (#6962 and PR #29233; the workspace maps of PR #167248 and #180283). Kernel A
// writes the workspace from x. Kernel B reads it into y. Two threads interleave these kernels: on
// different streams they overlap on the GPU, and on one shared stream they are launched in interleaved
// order. Either way B reads the other thread's A. The fix holds a mutex across both launches, and each
// user's stream waits for an event that the previous user recorded after its B, so the workspace is
// free before it is written again.
struct Workspace {
  std::mutex mutex;
  at::Tensor buffer;             // kMaxElements floats on its device, allocated once and never freed
  at::cuda::CUDAEvent released;  // recorded on the last user's stream after its B
};

// Workspaces are made once per device and never destroyed, so nothing is freed during static destruction.
Workspace& workspace_for(const at::Tensor& x) {
  static std::mutex creation;
  static auto* workspaces = new std::map<c10::DeviceIndex, Workspace*>;
  const std::lock_guard<std::mutex> lock(creation);
  Workspace*& ws = (*workspaces)[x.device().index()];
  if (ws == nullptr) {
    ws = new Workspace;
    ws->buffer = at::empty({kMaxElements}, x.options());
  }
  return *ws;
}

void launch_through_workspace(const at::Tensor& x, const at::Tensor& y, float* ws, cudaStream_t stream) {
  if (x.numel() == 0) return;
  scale_kernel<<<blocks_for(x.numel()), kThreadsPerBlock, 0, stream>>>(x.data_ptr<float>(), ws, x.numel(), x.size(1));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  add_one_kernel<<<blocks_for(x.numel()), kThreadsPerBlock, 0, stream>>>(ws, y.data_ptr<float>(), x.numel(),
                                                                         kShortSpinCycles);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <bool kFixed>
at::Tensor cuda_shared_workspace(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "cuda_shared_workspace", c10::kCUDA);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::cuda::CUDAStream caller = at::cuda::getCurrentCUDAStream();
  Workspace& ws = workspace_for(x);
  at::Tensor y = at::empty_like(x);
  if (!kFixed) {  // BUG: no lock, no ordering between users of the workspace
    launch_through_workspace(x, y, ws.buffer.data_ptr<float>(), caller);
    return y;
  }
  const std::lock_guard<std::mutex> lock(ws.mutex);
  ws.released.block(caller);  // a no-op until the first record
  launch_through_workspace(x, y, ws.buffer.data_ptr<float>(), caller);
  ws.released.record(caller);
  return y;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(torchstress_zoo, m) {
  for (const char* name : {"cuda_missing_record_stream", "cuda_wrong_stream_no_event", "cuda_shared_workspace"}) {
    m.def((std::string(name) + "(Tensor x) -> Tensor").c_str());
    m.def((std::string(name) + "_fixed(Tensor x) -> Tensor").c_str());
  }
}

TORCH_LIBRARY_IMPL(torchstress_zoo, CUDA, m) {
  m.impl("cuda_missing_record_stream", &cuda_missing_record_stream<false>);
  m.impl("cuda_missing_record_stream_fixed", &cuda_missing_record_stream<true>);
  m.impl("cuda_wrong_stream_no_event", &cuda_wrong_stream_no_event<false>);
  m.impl("cuda_wrong_stream_no_event_fixed", &cuda_wrong_stream_no_event<true>);
  m.impl("cuda_shared_workspace", &cuda_shared_workspace<false>);
  m.impl("cuda_shared_workspace_fixed", &cuda_shared_workspace<true>);
}

}  // namespace torchstress_zoo
