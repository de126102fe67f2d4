#include "torchstress/fault.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <thread>

#include "torchstress/crash_signatures.h"

namespace torchstress {
namespace {

bool targets(const FaultSpec& f, int thread, long iteration) { return f.thread == thread && f.iteration == iteration; }

}  // namespace

void inject_before_op(const FaultSpec& f, int thread, long iteration) {
  if (f.kind == FaultKind::kNone || !targets(f, thread, iteration)) return;
  switch (f.kind) {
    case FaultKind::kThrow:
      TORCH_CHECK(false, "injected fault (TORCHSTRESS_INJECT=throw) in thread ", thread, ", iteration ", iteration);
    case FaultKind::kSegv:
      std::fflush(nullptr);
      std::raise(SIGSEGV);
      break;
    case FaultKind::kAbort:
      std::fflush(nullptr);
      std::abort();
    case FaultKind::kCrashSignature:
      std::fprintf(stderr, "%s\n", recorded_crash_sample(f.signature).c_str());
      std::fflush(nullptr);
      std::abort();
    case FaultKind::kHang:
      // Blocks like a lost dispatch_sync or a never-signalled event: only the watchdog ends it.
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    default:
      break;
  }
}

at::Tensor inject_after_op(const FaultSpec& f, int thread, long iteration, at::Tensor output) {
  if ((f.kind != FaultKind::kWrong && f.kind != FaultKind::kNan) || !targets(f, thread, iteration)) return output;
  at::Tensor perturbed = output.clone(at::MemoryFormat::Contiguous);  // any output's strides (nonzero's are not)
  auto flat = perturbed.view(-1);
  if (f.kind == FaultKind::kWrong) {
    flat[0].add_(1.0);
  } else {
    flat[0].fill_(std::numeric_limits<double>::quiet_NaN());
  }
  return perturbed;
}

at::Tensor RaceStaging::stage(const at::Tensor& input) {
  if (!armed_) return input;
  // One scratch per shape, shared by every thread and written without a lock: another thread's
  // copy lands between this thread's write and its read, so the op sees foreign data.
  at::Tensor scratch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string k = input.device().str();
    for (auto d : input.sizes())
      k.append("x").append(std::to_string(d));  // appends: gcc 12 -Wrestrict misfires on "x" + str
    auto it = scratch_by_shape_.find(k);
    if (it == scratch_by_shape_.end()) it = scratch_by_shape_.emplace(k, at::empty_like(input)).first;
    scratch = it->second;
  }
  scratch.copy_(input);
  std::this_thread::yield();
  return scratch.clone();
}

}  // namespace torchstress
