// Upstream first-use races, each round in a fresh process (isolated rounds): cold MPS shader and
// pipeline caches, MPS range factories, the first MPS op and the first CUDA touch from every thread
// at once. Generic ATen calls only, so every case compiles (and skips loudly) everywhere.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "regression_helpers.h"
#include "torchstress/device.h"
#include "torchstress/skip.h"

namespace torchstress::regression {
namespace {

// ---------------------------------------------------------------------------------------------
// MPS. Bodies compile everywhere; those that need MPS-only API are guarded by TORCHSTRESS_MPS_API.

struct UnaryOp {
  const char* name;
  at::Tensor (*fn)(const at::Tensor&);
};

// PR #167541's 15 ops, each its own Metal pipeline state.
const std::array<UnaryOp, 15>& FifteenUnaryOps() {
  static const std::array<UnaryOp, 15> ops = {{
      {"tanh", [](const at::Tensor& x) { return at::tanh(x); }},
      {"abs", [](const at::Tensor& x) { return at::abs(x); }},
      {"sin", [](const at::Tensor& x) { return at::sin(x); }},
      {"cos", [](const at::Tensor& x) { return at::cos(x); }},
      {"tan", [](const at::Tensor& x) { return at::tan(x); }},
      {"asin", [](const at::Tensor& x) { return at::asin(x); }},
      {"acos", [](const at::Tensor& x) { return at::acos(x); }},
      {"atan", [](const at::Tensor& x) { return at::atan(x); }},
      {"sqrt", [](const at::Tensor& x) { return at::sqrt(x); }},
      {"rsqrt", [](const at::Tensor& x) { return at::rsqrt(x); }},
      {"neg", [](const at::Tensor& x) { return at::neg(x); }},
      {"exp2", [](const at::Tensor& x) { return at::exp2(x); }},
      {"log10", [](const at::Tensor& x) { return at::log10(x); }},
      {"log2", [](const at::Tensor& x) { return at::log2(x); }},
      {"log", [](const at::Tensor& x) { return at::log(x); }},
  }};
  return ops;
}

// Runs in a fresh child: each of the 15 ops is cold, one per thread, all released together.
std::string ShaderCacheColdRound(int round) {
  const c10::Device mps = device_for(Backend::kMps);
  // Upstream reads at::empty({128}); defined values inside every op's domain make results checkable.
  const at::Tensor cpu_in = at::linspace(0.05, 0.95, 128, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor mps_in = cpu_in.to(mps);  // a copy: builds no unary pipeline
  const auto& ops = FifteenUnaryOps();
  const RunSpec spec = ReproSpec(static_cast<int>(ops.size()), 1, round);
  return RoundReason(run_once_released_together(spec, "unary op", mps, [&](int t, ErrorSink& sink) {
    const UnaryOp& op = ops[static_cast<size_t>(t)];
    const at::Tensor got = op.fn(mps_in).to(at::kCPU);
    const at::Tensor want = op.fn(cpu_in);
    const double diff = (got - want).abs().max().item<double>();
    if (!(diff <= 1e-5 + 1e-4 * want.abs().max().item<double>())) {
      sink.add(WrongValue(t, op.name, mps, diff, "differs from the CPU"));
    }
  }));
}

TEST(MpsShaderCache, FifteenColdUnaryOpsReleasedTogetherMatchCpuInFreshProcesses) {
  // Pins pytorch/pytorch PR #167541 ("Fix race conditions in MetalShaderLibrary"): unguarded
  // pipeline-state caches filled lazily by 15 threads at once gave SIGSEGV or "malloc: Double free"
  // within ~5 runs. Checks 20 fresh processes, each op close to the CPU.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  ExpectIsolatedRoundsPass(scaled(20), ShaderCacheColdRound);
}

// Op k of a thread: arange(0, 4096 + k), linspace(0, 1, 2048 + k) and eye(64 + k % 8), dtype
// f32/f16/bf16 by k % 3, summed in float as #197805's repro. Returns each check's excess over
// its allowance (zero when right), so a wrong op shows by how much.
class RangeFactoriesWorkload : public ClosedFormWorkload {
 public:
  RangeFactoriesWorkload(c10::Device d, int threads)
      : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}), next_(static_cast<size_t>(threads), 0) {}
  const char* name() const override { return "arange/linspace/eye"; }
  at::Tensor run_once(int thread) override {
    const long k = next_[static_cast<size_t>(thread)]++;
    static constexpr std::array<at::ScalarType, 3> kDtypes = {at::kFloat, at::kHalf, at::kBFloat16};
    const at::ScalarType dtype = kDtypes[static_cast<size_t>(k % 3)];
    const auto opts = at::TensorOptions().device(device()).dtype(dtype);
    const int64_t n = 4096 + k, m = 2048 + k, e = 64 + k % 8;
    const double arange_sum = at::arange(0, n, opts).to(at::kFloat).sum().item<double>();
    const double linspace_sum = at::linspace(0, 1, m, opts).to(at::kFloat).sum().item<double>();
    const double eye_sum = at::eye(e, opts).to(at::kFloat).sum().item<double>();
    // Integers rounded to the dtype, as the device must produce them; their float sum is exact.
    const double arange_want = at::arange(0, n, at::kDouble).to(dtype).to(at::kDouble).sum().item<double>();
    // sum_j j/(m-1) = m/2; each element may be off by one rounding of the dtype.
    const double eps = dtype == at::kFloat ? 1.2e-7 : (dtype == at::kHalf ? 9.8e-4 : 7.9e-3);
    return at::tensor({arange_sum - arange_want, std::max(0.0, std::abs(linspace_sum - m / 2.0) - m * eps),
                       eye_sum - static_cast<double>(e)},
                      at::kDouble);
  }
  at::Tensor closed_form(int /*thread*/) override { return at::zeros({3}, at::kDouble); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }

 private:
  std::vector<long> next_;  // [thread]: touched only by that thread (and by the main thread before/after)
};

std::string RangeFactoriesRound(int round) {
  RangeFactoriesWorkload w(device_for(Backend::kMps), 2);
  RunSpec spec = ReproSpec(2, scaled(60), round);
  return RoundReason(RunAgainstClosedForm(w, spec, {0.0, 0.0}).errors);
}

TEST(MpsRangeFactories, TwoThreadsArangeLinspaceEyeSumsMatchClosedFormInFreshProcesses) {
  // Pins pytorch/pytorch#197805 (fix PR #197836, #198039): arange/linspace/eye fetched the
  // command encoder outside the stream's queue; 2 threads x 60 iterations crashed 3 of 3 runs on
  // 2.14 (exit 134 "blitCommandEncoderCommon", SIGSEGV, "_status < MTLCommandBufferStatusCommitted"
  // or a hang). Checks 3 fresh processes; every sum equals its closed form.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  ExpectIsolatedRoundsPass(scaled(3), RangeFactoriesRound);
}

// Runs in a fresh child: the first MPS op of the process, from every thread at once.
std::string ColdStartRound(int round) {
  const c10::Device mps = device_for(Backend::kMps);
  const RunSpec spec = ReproSpec(static_cast<int>(knobs().threads), 1, round);
  return RoundReason(run_once_released_together(spec, "first op", mps, [&](int t, ErrorSink& sink) {
    const at::Tensor got = at::ones({64}, at::TensorOptions().device(mps)).add(t).to(at::kCPU);
    const double diff = (got - (1.0 + t)).abs().max().item<double>();
    if (diff != 0.0) sink.add(WrongValue(t, "ones + t", mps, diff, "first op of the process"));
  }));
}

TEST(MpsColdStart, FirstOpFromEveryThreadAtOnceIsCorrectInFreshProcesses) {
  // Pins aten/src/ATen/mps/MPSStream.mm: MPSStreamImpl::getInstance() creates the one stream
  // lazily with no lock, in every version checked; a cold start from 8 threads may build two
  // streams or use a half-built one (crash or lost work). Checks 50 fresh processes.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  ExpectIsolatedRoundsPass(scaled(50), ColdStartRound);
}

// ---------------------------------------------------------------------------------------------
// CUDA through generic ATen calls (no CUDA API): the rest is in cuda_regression_test.cpp.

// Runs in a fresh child: the first CUDA op of the process (lazy init), from every thread at once.
std::string CudaInitRound(int round) {
  const c10::Device cuda = device_for(Backend::kCuda);
  const RunSpec spec = ReproSpec(static_cast<int>(knobs().threads), 1, round);
  return RoundReason(run_once_released_together(spec, "first .cuda()", cuda, [&](int t, ErrorSink& sink) {
    const at::Tensor got = at::ones({1}, at::kFloat).to(cuda).add(t).to(at::kCPU);
    const double diff = std::abs(got.item<double>() - (1.0 + t));
    if (diff != 0.0) sink.add(WrongValue(t, "tensor(1).to(cuda) + t", cuda, diff, "first op of the process"));
  }));
}

TEST(CudaInit, FirstTouchFromEveryThreadAtOnceIsCorrectInFreshProcesses) {
  // Pins pytorch/pytorch#16559 (fixed by PR #25788, a lock around lazy init; see also PR #143238)
  // through test_cuda_multigpu.py test_cuda_init_race: threads that first touch CUDA together
  // raced in lazy initialisation. Checks 10 fresh processes, each thread's value correct.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  ExpectIsolatedRoundsPass(scaled(10), CudaInitRound);
}

}  // namespace
}  // namespace torchstress::regression
