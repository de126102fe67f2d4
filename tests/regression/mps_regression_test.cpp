// Upstream MPS threading-bug repros that run in-process: shared tensors, synchronize while encoding,
// layer_norm variants, dtype uploads, graph-cache and allocator churn. Bodies compile everywhere
// (Linux included, against LibTorch 2.1+'s torch/mps.h); MPS-only API is guarded by
// TORCHSTRESS_MPS_API / TORCHSTRESS_MPS_HOOKS, and each case skips loudly without MPS.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "regression_helpers.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/mps_compat.h"
#include "torchstress/skip.h"

#if TORCHSTRESS_MPS_API && defined(__has_include)
#if __has_include(<ATen/detail/MPSHooksInterface.h>)
#include <ATen/detail/MPSHooksInterface.h>
#define TORCHSTRESS_MPS_HOOKS 1  // emptyCache(), getCurrentAllocatedMemory(): 2.1+
#endif
#endif
#ifndef TORCHSTRESS_MPS_HOOKS
#define TORCHSTRESS_MPS_HOOKS 0
#endif

namespace torchstress::regression {
namespace {

// nonzero of one shared 256x256x3 tensor plus a host copy of it (the debugger printing it).
class NonzeroWorkload : public ClosedFormWorkload {
 public:
  explicit NonzeroWorkload(c10::Device d)
      : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}),
        cpu_(at::relu(seeded_randn({256, 256, 3}, kSeed) - 0.5)),
        shared_(cpu_.to(d)) {}
  const char* name() const override { return "nonzero + copy"; }
  at::Tensor run_once(int /*thread*/) override {
    return Summary(at::nonzero(shared_).to(at::kCPU), shared_.to(at::kCPU));
  }
  at::Tensor closed_form(int /*thread*/) override { return Summary(at::nonzero(cpu_), cpu_); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }

 private:
  static at::Tensor Summary(const at::Tensor& indices, const at::Tensor& copy) {
    return at::cat({indices.flatten().to(at::kDouble), copy.to(at::kDouble).sum().reshape({1})});
  }
  at::Tensor cpu_;
  at::Tensor shared_;
};

TEST(MpsNonzero, ConcurrentNonzeroAndCopiesOfOneTensorMatchCpu) {
  // Pins pytorch/pytorch#100285 (fix PR #108996): nonzero's stream->synchronize() ran outside the
  // queue; a second thread touching the tensor aborted with "Completed handler provided after
  // commit call" or "commit an already committed command buffer". Checks indices equal the CPU's.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  NonzeroWorkload w(device_for(Backend::kMps));
  RunSpec spec = ReproSpec(4, scaled(100));
  RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

#if TORCHSTRESS_MPS_API
// Threads 0..n-2 encode mm(512) + add on their own inputs; the last thread loops
// torch::mps::synchronize(), which commits and waits on the one shared stream from outside its queue.
class SyncWhileEncodingWorkload : public ClosedFormWorkload {
 public:
  SyncWhileEncodingWorkload(c10::Device d, int threads)
      : ClosedFormWorkload(d, {1e-5, 1e-5}, {1e-4, 1e-4}),
        syncer_(threads - 1),
        one_(at::ones({1}, at::TensorOptions().device(d))) {}
  const char* name() const override { return "mm+add | synchronize"; }
  at::Tensor run_once(int thread) override {
    if (thread == syncer_) {
      torch::mps::synchronize();
      return one_;
    }
    const auto& in = inputs(thread);
    return at::mm(in[0], in[1]).add(in[2]);
  }
  at::Tensor closed_form(int thread) override {
    return thread == syncer_ ? at::ones({1}) : run_on_cpu(make_inputs(thread));
  }

 protected:
  std::vector<at::Tensor> make_inputs(int thread) const override {
    if (thread == syncer_) return {};
    const uint64_t s = kSeed + 3 * static_cast<uint64_t>(thread);
    return {seeded_randn({512, 512}, s), seeded_randn({512, 512}, s + 1), seeded_randn({512, 512}, s + 2)};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return at::mm(in[0], in[1]).add(in[2]); }

 private:
  int syncer_;
  at::Tensor one_;
};
#endif

TEST(MpsSynchronize, DeviceSyncInOneThreadWhileThreeEncodeKeepsResultsCorrect) {
  // Pins pytorch/pytorch PR #197836 / #198039 and dML patch 044 (synchronize() ended kernel
  // coalescing while another thread's dispatch block still used the encoder: use-after-free,
  // PAC failure) and CTranslate2 #2077. Checks 3 encoders' results vs the CPU while a 4th syncs.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
#if TORCHSTRESS_MPS_API
  SyncWhileEncodingWorkload w(device_for(Backend::kMps), 4);
  RunSpec spec = ReproSpec(4, scaled(200));
  spec.sync = SyncPolicy::kNone;  // only the sync thread synchronizes; the others read results back,
  spec.check_batch = 1;           // each op's as it completes
  RunResult r = RunAgainstClosedForm(w, spec, {1e-4, 1e-4});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
#else
  TORCHSTRESS_SKIP_BACKEND("mps", "needs torch::mps::synchronize (torch/mps.h, LibTorch 2.1+)");
#endif
}

// Thread t normalises rows of length kLengths[t % 4] (single-row and looped Metal kernels),
// in float on even threads and half on odd ones.
class LayerNormVariantsWorkload : public ClosedFormWorkload {
 public:
  explicit LayerNormVariantsWorkload(c10::Device d) : ClosedFormWorkload(d, {1e-3, 1e-3}, {1e-4, 1e-4}) {}
  const char* name() const override { return "layer_norm"; }
  at::Tensor run_once(int thread) override { return LayerNorm(inputs(thread)); }
  at::Tensor closed_form(int thread) override { return run_on_cpu(make_inputs(thread)); }

 protected:
  std::vector<at::Tensor> make_inputs(int thread) const override {
    static constexpr std::array<int64_t, 4> kLengths = {64, 1024, 4096, 8192};
    const int64_t n = kLengths[static_cast<size_t>(thread) % kLengths.size()];
    const at::ScalarType dtype = thread % 2 == 0 ? at::kFloat : at::kHalf;
    const uint64_t s = kSeed + 3 * static_cast<uint64_t>(thread);
    return {seeded_randn({4, n}, s).to(dtype), seeded_randn({n}, s + 1).to(dtype), seeded_randn({n}, s + 2).to(dtype)};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    return LayerNorm({in[0].to(at::kFloat), in[1].to(at::kFloat), in[2].to(at::kFloat)});
  }

 private:
  static at::Tensor LayerNorm(const std::vector<at::Tensor>& in) {
    return at::layer_norm(in[0], {in[0].size(-1)}, in[1], in[2], 1e-5);
  }
};

TEST(MpsLayerNorm, EachThreadADifferentRowLengthAndDtypeMatchesCpu) {
  // Pins dML's Normalization.mm finding (layer_norm pipeline state fetched outside the queue,
  // ~30% crashes at >= 4 threads on their build) and PR #167541 (cold pipeline states). Checks
  // 8 threads x 50, each row length and dtype on its own thread, vs the CPU in float.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  LayerNormVariantsWorkload w(device_for(Backend::kMps));
  RunSpec spec = ReproSpec(8, scaled(50));
  RunResult r = RunAgainstClosedForm(w, spec, {2e-2, 2e-2});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

// 25 bf16 "weights" on the CPU, as an async checkpoint load holds them; thread t converts those
// with index % threads == t to float on the device and reads them back.
class Bf16UploadWorkload : public ClosedFormWorkload {
 public:
  Bf16UploadWorkload(c10::Device d, int threads) : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}), threads_(threads) {
    static const std::array<std::vector<int64_t>, 5> kShapes = {{{1024, 256}, {256}, {64, 64, 3}, {4096}, {512, 512}}};
    for (int k = 0; k < kWeights; ++k) {
      weights_.push_back(seeded_randn(kShapes[static_cast<size_t>(k) % kShapes.size()], kSeed + k).to(at::kBFloat16));
    }
  }
  const char* name() const override { return "bf16 cpu -> float device -> cpu"; }
  at::Tensor run_once(int thread) override {
    std::vector<at::Tensor> parts;
    for (int k = thread; k < kWeights; k += threads_) {
      parts.push_back(weights_[static_cast<size_t>(k)].to(device(), at::kFloat).to(at::kCPU).flatten());
    }
    return at::cat(parts);
  }
  at::Tensor closed_form(int thread) override {
    std::vector<at::Tensor> parts;
    for (int k = thread; k < kWeights; k += threads_)
      parts.push_back(weights_[static_cast<size_t>(k)].to(at::kFloat).flatten());
    return at::cat(parts);
  }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }

 private:
  static constexpr int kWeights = 25;
  int threads_;
  std::vector<at::Tensor> weights_;
};

TEST(MpsDtypeUpload, FourThreadsConvertingBf16CpuTensorsToFloatOnMpsRoundTripExactly) {
  // Pins huggingface/transformers#48029 (fixes #48196, #48410) on stock torch 2.13: 4 loader
  // threads converting bf16 weights to float on MPS crashed with SIGSEGV in _materialize_copy or
  // hung at 0/25 weights, in 100% of runs. Checks every value round-trips bit-exactly.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  Bf16UploadWorkload w(device_for(Backend::kMps), 4);
  RunSpec spec = ReproSpec(4, scaled(25));
  RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

#if TORCHSTRESS_MPS_HOOKS
// Workers use a new shape every op (softmax and matmul build a new MPSGraph each); the last thread
// empties the caches. Returns the residuals |rowsum(softmax) - 1| and |ones @ ones - k|.
class GraphCacheChurnWorkload : public ClosedFormWorkload {
 public:
  GraphCacheChurnWorkload(c10::Device d, int threads)
      : ClosedFormWorkload(d, {1e-5, 0.0}, {1e-5, 0.0}),
        cleaner_(threads - 1),
        next_(static_cast<size_t>(threads), 0) {}
  const char* name() const override { return "softmax+matmul new shape | emptyCache"; }
  at::Tensor run_once(int thread) override {
    if (thread == cleaner_) {
      at::detail::getMPSHooks().emptyCache();
      return at::zeros({2}, at::kDouble);
    }
    const long i = next_[static_cast<size_t>(thread)]++;
    const int64_t n = 32 + (i * 7 + thread * 131) % 224;
    const auto opts = at::TensorOptions().device(device()).dtype(at::kFloat);
    const at::Tensor x = at::arange(n * n, opts).reshape({n, n}).div(static_cast<double>(n * n));
    const double softmax_residual = (at::softmax(x, 1).sum(1) - 1).abs().max().item<double>();
    const double mm_residual =
        (at::mm(at::ones({n, n + 1}, opts), at::ones({n + 1, n}, opts)) - (n + 1)).abs().max().item<double>();
    return at::tensor({softmax_residual, mm_residual}, at::kDouble);
  }
  at::Tensor closed_form(int /*thread*/) override { return at::zeros({2}, at::kDouble); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }

 private:
  int cleaner_;
  std::vector<long> next_;  // [thread]
};
#endif

TEST(MpsGraphCache, EmptyCacheInOneThreadWhileFourBuildNewGraphsKeepsResultsCorrect) {
  // Pins pytorch/pytorch PR #181485 (empty_cache now also clears MPSGraphCache, on the cache's
  // serial queue; before it, driver memory grew 9 MB -> 13.7 GB over 315 shapes). Checks
  // 4 workers x 200 new shapes while a 5th loops emptyCache(): no crash, every result exact.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
#if TORCHSTRESS_MPS_HOOKS
  GraphCacheChurnWorkload w(device_for(Backend::kMps), 5);
  RunSpec spec = ReproSpec(5, scaled(200));
  RunResult r = RunAgainstClosedForm(w, spec, {1e-5, 0.0});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
#else
  TORCHSTRESS_SKIP_BACKEND("mps", "needs at::detail::getMPSHooks().emptyCache() (ATen/detail/MPSHooksInterface.h, LibTorch 2.1+)");
#endif
}

// Op k of a thread: a fresh tensor of 256 << ((5k + 3t) % 17) floats (1 KB .. 64 MB) filled with
// ones and summed; returns |sum - numel| (exact up to 2^24 elements).
class AllocatorChurnWorkload : public ClosedFormWorkload {
 public:
  AllocatorChurnWorkload(c10::Device d, int threads)
      : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}), next_(static_cast<size_t>(threads), 0) {}
  const char* name() const override { return "alloc+fill+sum+free"; }
  at::Tensor run_once(int thread) override {
    const long k = next_[static_cast<size_t>(thread)]++;
    const int64_t numel = int64_t{256} << ((5 * k + 3 * thread) % 17);
    const double sum =
        at::full({numel}, 1.0, at::TensorOptions().device(device()).dtype(at::kFloat)).sum().item<double>();
    return at::full({1}, std::abs(sum - static_cast<double>(numel)), at::kDouble);
  }
  at::Tensor closed_form(int /*thread*/) override { return at::zeros({1}, at::kDouble); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }

 private:
  std::vector<long> next_;  // [thread]
};

TEST(MpsAllocator, RandomSizedAllocFillSumFreeFromEightThreadsIsExactAndReturnsMemory) {
  // Pins aten/src/ATen/mps/MPSAllocator.mm (m_mutex around malloc/free) and PR #190375 (buffers
  // reused only on their stream): a race corrupts the free lists (wrong sums, crash) or leaks.
  // Checks 8 threads x 500 sizes from 1 KB to 64 MB, and (2.1+) allocated memory back to start.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
#if TORCHSTRESS_MPS_HOOKS
  torch::mps::synchronize();
  const size_t before = at::detail::getMPSHooks().getCurrentAllocatedMemory();
#endif
  std::vector<ErrorRecord> errors;
  {
    AllocatorChurnWorkload w(device_for(Backend::kMps), 8);
    RunSpec spec = ReproSpec(8, scaled(500));
    RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
    record_run(r);
    errors = r.errors;
  }
  EXPECT_THAT(errors, HasNoErrors());
#if TORCHSTRESS_MPS_HOOKS
  torch::mps::synchronize();
  const size_t after = at::detail::getMPSHooks().getCurrentAllocatedMemory();
  constexpr size_t kSlack = size_t{1} << 20;  // allocator rounding of small bookkeeping buffers
  EXPECT_LE(after, before + kSlack) << "allocated MPS memory grew from " << before << " to " << after << " bytes";
#endif
}

}  // namespace
}  // namespace torchstress::regression
