// Known bug C1 and its CUDA twin: the autocast dtype is thread-local and was not part of
// at::ThreadLocalState, so work PyTorch moves to its own threads (at::launch, the autograd device
// threads) ran in the DEFAULT autocast dtype. pytorch/pytorch#125186 and #132715, fixed by PR
// #133938 (autocast_dtypes_ in ThreadLocalState.h) in 2.5.0: 2.4.1 and older are affected.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <future>
#include <memory>

#include "known_bug.h"
#include "torchstress/backends.h"
#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/results.h"
#include "torchstress/skip.h"

namespace torchstress::known_bugs {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TS_AUTOCAST_DEVICE_API 1  // set_autocast_dtype(device, dtype): 2.4+ (the per-device calls are deprecated)
#else
#define TS_AUTOCAST_DEVICE_API 0
#endif

const KnownBug kAutocastDtypeAcrossLaunch{
    "pytorch/pytorch#125186, #132715 (fix: PR #133938)",
    up_to("2.4.1", "<= 2.4.1 (fixed in 2.5.0)"),
    "the CPU autocast dtype is not carried into an at::launch task: it runs in the default (BFloat16)"};
const KnownBug kAutocastDtypeOnCaller{
    "control for pytorch/pytorch#125186", no_version("none: the calling thread's own autocast state"),
    "the thread that set the CPU autocast dtype sees it (and at::mm under autocast gives it)"};
const KnownBug kCudaAutocastBackward{
    "pytorch/pytorch#132715 (fix: PR #133938)", up_to("2.4.1", "<= 2.4.1 (fixed in 2.5.0)"),
    "under bf16 CUDA autocast, index_put then mean().backward() throws in the autograd device thread: "
    "'Unexpected floating ScalarType in at::autocast::prioritize'"};

void set_autocast(c10::DeviceType device, at::ScalarType dtype, bool enabled) {
#if TS_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == c10::kCPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  }
#endif
}
at::ScalarType autocast_dtype(c10::DeviceType device) {
#if TS_AUTOCAST_DEVICE_API
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}
bool autocast_enabled(c10::DeviceType device) {
#if TS_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

// Autocast on `device` with `dtype` for this thread, restored on exit. Throws where this LibTorch
// refuses the dtype (1.13 accepts only BFloat16 on the CPU).
class ScopedAutocast {
 public:
  ScopedAutocast(c10::DeviceType device, at::ScalarType dtype)
      : device_(device), saved_dtype_(autocast_dtype(device)), saved_enabled_(autocast_enabled(device)) {
    set_autocast(device, dtype, true);
  }
  ~ScopedAutocast() {
    set_autocast(device_, saved_dtype_, saved_enabled_);
    at::autocast::clear_cache();
  }
  ScopedAutocast(const ScopedAutocast&) = delete;
  ScopedAutocast& operator=(const ScopedAutocast&) = delete;

 private:
  c10::DeviceType device_;
  at::ScalarType saved_dtype_;
  bool saved_enabled_;
};

struct DtypesSeen {
  at::ScalarType autocast = at::ScalarType::Undefined;  // get_autocast_dtype(kCPU)
  at::ScalarType mm = at::ScalarType::Undefined;        // at::mm(float, float) under autocast
};
DtypesSeen dtypes_here() {
  const at::Tensor a = at::ones({4, 4}, at::kFloat);
  return {autocast_dtype(c10::kCPU), at::mm(a, a).scalar_type()};
}

// CPU autocast to Half on this thread, then what `where` sees: this thread, or an at::launch task.
Observation observe_cpu_autocast(bool in_launched_task) {
  std::unique_ptr<ScopedAutocast> half;
  try {
    half = std::make_unique<ScopedAutocast>(c10::kCPU, at::kHalf);
  } catch (const c10::Error& e) {
    return Observation::absent(fmt::format("LibTorch {} cannot set the CPU autocast dtype to Half ({}), so the "
                                           "bug cannot be shown through a dtype that differs from the default",
                                           TORCH_VERSION, e.what_without_backtrace()));
  }
  DtypesSeen seen;
  if (in_launched_task) {
    // Shared with the task, which may outlive a timed-out wait.
    auto promise = std::make_shared<std::promise<DtypesSeen>>();
    std::future<DtypesSeen> result = promise->get_future();
    at::launch([promise] {
      try {
        promise->set_value(dtypes_here());
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    if (result.wait_for(knobs().known_bug_seconds) != std::future_status::ready) {
      return Observation::broken(
          fmt::format("the at::launch task did not run within {:.0f} s", knobs().known_bug_seconds.count()));
    }
    try {
      seen = result.get();
    } catch (const std::exception& e) {
      return Observation::broken(fmt::format("the at::launch task threw: {}", e.what()));
    }
  } else {
    seen = dtypes_here();
  }
  const std::string where = in_launched_task ? "an at::launch task" : "the calling thread";
  const std::string text = fmt::format("the caller set the CPU autocast dtype to Half; {} saw {} and at::mm there gave {}",
                                       where, c10::toString(seen.autocast), c10::toString(seen.mm));
  if (seen.autocast != at::kHalf || seen.mm != at::kHalf) return Observation::caught("wrong dtype", text);
  return Observation::clean(text);
}

TEST(AutocastTls, LaunchedTaskSeesTheCallersCpuAutocastDtype) {
  // Pins pytorch/pytorch#125186 / #132715 (fix PR #133938, 2.5.0): on 2.4.1 and older the task
  // sees BFloat16 (the default) although its caller set Half. Deterministic, milliseconds.
  TORCHSTRESS_EXPECT_KNOWN_BUG(kAutocastDtypeAcrossLaunch, observe_cpu_autocast(/*in_launched_task=*/true));
}

TEST(AutocastTls, CallingThreadSeesItsOwnCpuAutocastDtype) {
  // Negative control of #125186: on the thread that set it, the dtype is right on every version.
  TORCHSTRESS_EXPECT_KNOWN_BUG(kAutocastDtypeOnCaller, observe_cpu_autocast(/*in_launched_task=*/false));
}

// #132715 verbatim: the backward of index_put runs in the autograd CUDA device thread, which on
// 2.4.1 and older does not see the bf16 autocast dtype.
Observation observe_cuda_index_put_backward() {
  ScopedAutocast bf16(c10::kCUDA, at::kBFloat16);
  const auto on_cuda = at::TensorOptions().device(device_for(Backend::kCuda));
  try {
    at::Tensor t = at::randn({3, 4, 5}, on_cuda.dtype(at::kBFloat16)).requires_grad_(true);
    at::Tensor index = at::randint(0, 3, {3, 4, 5}, on_cuda.dtype(at::kLong));
    at::Tensor val = at::randn({1}, on_cuda.dtype(at::kBFloat16));
#if TS_AUTOCAST_DEVICE_API
    c10::List<std::optional<at::Tensor>> indices;
#else
    c10::List<c10::optional<at::Tensor>> indices;
#endif
    indices.push_back(index);
    at::index_put(t, indices, val).mean().backward();
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("Unexpected floating ScalarType in at::autocast::prioritize") != std::string::npos)
      return Observation::caught("exception", what.substr(0, what.find('\n')));
    return Observation::broken("index_put/mean/backward threw something else: " + what.substr(0, what.find('\n')));
  }
  return Observation::clean("index_put then mean().backward() under bf16 CUDA autocast ran");
}

TEST(CudaAutocast, BackwardOfIndexPutUnderBf16AutocastRuns) {
  // Pins pytorch/pytorch#132715 (fix PR #133938, 2.5.0), the CUDA twin of the at::launch case.
  std::string why;
  if (!backend_available(Backend::kCuda, &why)) {
    judge(kCudaAutocastBackward, Observation::absent(why));
    TORCHSTRESS_SKIP_BACKEND("cuda", why);
  }
  TORCHSTRESS_EXPECT_KNOWN_BUG(kCudaAutocastBackward, observe_cuda_index_put_backward());
}

}  // namespace
}  // namespace torchstress::known_bugs
