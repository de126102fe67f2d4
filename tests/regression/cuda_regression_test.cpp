// Upstream CUDA threading-bug regression repros that need the CUDA API (pool streams, stream
// guards, cuBLAS handles). Compiled only against a LibTorch with CUDA (TORCHSTRESS_HAVE_CUDA);
// the generic-ATen CUDA repros live in autograd_ and first_use_regression_test.cpp.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

#include "regression_helpers.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/skip.h"

// clearCublasWorkspaces() arrived in 2.0; getCUDABlasLtWorkspace() in the 2.6/2.7 line.
#define TORCHSTRESS_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace torchstress::regression {
namespace {

// test_cuda.py's *_multiple_threads_same_device: each thread takes its own pool stream and, under
// it, repeats `step` on its own result `iters` times from `start`, then waits for its stream. The
// answer is known in closed form; a library handle whose stream another thread re-set mid-call
// runs the op on the wrong stream, and the result is read before it is written.
class PoolStreamChainWorkload : public ClosedFormWorkload {
 public:
  using Step = std::function<at::Tensor(const at::Tensor& r)>;
  PoolStreamChainWorkload(c10::Device d, const char* name, std::function<at::Tensor()> start, Step step, long iters,
                          at::Tensor want_cpu)
      : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}),
        name_(name),
        start_(std::move(start)),
        step_(std::move(step)),
        iters_(iters),
        want_(std::move(want_cpu)) {}
  const char* name() const override { return name_; }
  at::Tensor run_once(int /*thread*/) override {
    c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool(false, device().index() < 0 ? 0 : device().index());
    at::Tensor r;
    {
      c10::cuda::CUDAStreamGuard guard(stream);
      r = start_();
      for (long i = 0; i < iters_; ++i) r = step_(r);
      r = r.sum().reshape({1});
    }
    stream.synchronize();
    return r;
  }
  at::Tensor closed_form(int /*thread*/) override { return want_; }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return want_; }

 private:
  const char* name_;
  std::function<at::Tensor()> start_;
  Step step_;
  long iters_;
  at::Tensor want_;
};

// Upstream creates fresh threads for each of 3 trials, lined up by a barrier: here each trial is a
// run of the runner (its start gate is the barrier).
void RunTrials(PoolStreamChainWorkload& w) {
  constexpr int kThreads = 2;
  constexpr int kTrials = 3;
  std::vector<ErrorRecord> errors;
  for (int trial = 0; trial < kTrials; ++trial) {
    RunSpec spec = ReproSpec(kThreads, 1);
    RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
    record_run(r, fmt::format("trial{}_", trial));
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
  }
  EXPECT_THAT(errors, HasNoErrors());
}

TEST(CudaCublas, TwoThreadsOnPoolStreamsKeepMatmulSumsExact) {
  // Pins pytorch/pytorch#6962 (fixed by PR #29233, a per-thread cuBLAS handle pool): cublasSetStream
  // on a shared handle was seen by other threads, so mm ran on the wrong stream and results were
  // wrong. Port of test_cublas_multiple_threads_same_device: 2 threads x 3 trials x 100 of
  // r = mm(r, ones(1024)); r /= 1024, checking sum(r) == 1024 * 1024.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  const c10::Device d = device_for(Backend::kCuda);
  constexpr int64_t kSize = 1024;
  const at::Tensor weight = at::ones({kSize, kSize}, at::TensorOptions().device(d));
  PoolStreamChainWorkload w(
      d, "mm(1024)/1024",
      [&] {
        return at::ones({kSize, kSize}, at::TensorOptions().device(d));
      },
      [&](const at::Tensor& r) { return at::mm(r, weight).div_(static_cast<double>(kSize)); }, scaled(100),
      at::full({1}, static_cast<double>(kSize * kSize), at::kFloat));
  RunTrials(w);
}

TEST(CudaCudnn, TwoThreadsOnPoolStreamsKeepConvSumsExact) {
  // Pins pytorch/pytorch PR #14861 (then #15080, #15668: per-thread cuDNN handle pool): a shared
  // cuDNN handle's stream was re-set by another thread. Port of test_cudnn_multiple_threads_same_device:
  // 2 threads x 3 trials x 1000 of r = conv2d(r, ones(1,1,2,2)) / 4 from ones(1,1,2048,2048);
  // each conv shrinks r by one, so sum(r) == (2048 - 1000)^2.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  const c10::Device d = device_for(Backend::kCuda);
  const at::Tensor weight = at::ones({1, 1, 2, 2}, at::TensorOptions().device(d));
  const long iters = std::min(scaled(1000), 2047L);
  const double side = static_cast<double>(2048 - iters);
  PoolStreamChainWorkload w(
      d, "conv2d(2x2)/4",
      [&] {
        return at::ones({1, 1, 2048, 2048}, at::TensorOptions().device(d));
      },
      [&](const at::Tensor& r) { return at::conv2d(r, weight).div_(4.0); }, iters,
      at::full({1}, side * side, at::kFloat));
  RunTrials(w);
}

TEST(CudaCusparse, TwoThreadsOnPoolStreamsKeepSparseMatmulSumsExact) {
  // Pins pytorch/pytorch#29352 (cuSPARSE handle shared across threads). Port of
  // test_cusparse_multiple_threads_same_device: 2 threads x 3 trials x 500 of
  // r = sparse_ones(1024).mm(r); r /= 1024, checking sum(r) == 1024 * 1024.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  const c10::Device d = device_for(Backend::kCuda);
  constexpr int64_t kSize = 1024;
  const auto opts = at::TensorOptions().device(d);
  const at::Tensor a = at::arange(kSize, opts.dtype(at::kLong));
  const at::Tensor indices = at::cartesian_prod({a, a}).t();
  const std::vector<int64_t> size = {kSize, kSize};
  const at::Tensor weight = at::sparse_coo_tensor(indices, at::ones({kSize * kSize}, opts.dtype(at::kFloat)), size);
  PoolStreamChainWorkload w(
      d, "sparse mm(1024)/1024",
      [&] {
        return at::ones({kSize, kSize}, opts.dtype(at::kFloat));
      },
      [&](const at::Tensor& r) { return weight.mm(r).div_(static_cast<double>(kSize)); }, scaled(500),
      at::full({1}, static_cast<double>(kSize * kSize), at::kFloat));
  RunTrials(w);
}

// 15 threads fetch the current cuBLAS handle (and, 2.7+, the cuBLASLt workspace); 5 threads
// clear the workspaces. Each op returns 1 when what it fetched is non-null.
class BlasHandleGetAndClearWorkload : public Workload {
 public:
  static constexpr int kAccessors = 15;
  static constexpr int kClearers = 5;
  explicit BlasHandleGetAndClearWorkload(c10::Device d) : Workload(d, {0.0, 0.0}, {0.0, 0.0}) {}
  const char* name() const override { return "getCurrentCUDABlasHandle | clearCublasWorkspaces"; }
  std::string same_output_for_every_thread() const override { return "a flag: 1 when the call raised no error"; }
  at::Tensor run_once(int thread) override {
    c10::cuda::CUDAGuard device_guard(device().index() < 0 ? 0 : device().index());
    bool ok = true;
    if (thread < kAccessors) {
      ok = at::cuda::getCurrentCUDABlasHandle() != nullptr;
#if TORCHSTRESS_TORCH_AT_LEAST(2, 7)
      ok = ok && at::cuda::getCUDABlasLtWorkspace() != nullptr;
#endif
    } else {
#if TORCHSTRESS_TORCH_AT_LEAST(2, 0)
      at::cuda::clearCublasWorkspaces();
#endif
    }
    return at::full({1}, ok ? 1.0 : 0.0, at::kFloat);
  }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return at::ones({1}, at::kFloat); }
};

TEST(CudaBlasHandlePool, ConcurrentGetAndClearWorkspacesRaiseNoErrors) {
  // Pins pytorch/pytorch PR #167248 (relanded as #167722, #167928; #180283): the handle pool's
  // static workspace maps were unguarded, and getting handles while clearing workspaces crashed.
  // Port of CUDABlasHandlePoolTest.ConcurrentGetAndClearWorkspaces: 15 getter + 5 clearing threads
  // x 50 (upstream's getters loop for 100 ms instead); no exception, every handle non-null.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  // The Lt workspace comes from the caching allocator, which initializes lazily with the first
  // CUDA tensor (as upstream's test binary has done before its threads start); without it 2.11
  // asserts "Allocator not initialized for device".
  at::empty({1}, at::TensorOptions().device(device_for(Backend::kCuda)));
  BlasHandleGetAndClearWorkload w(device_for(Backend::kCuda));
  RunSpec spec =
      ReproSpec(BlasHandleGetAndClearWorkload::kAccessors + BlasHandleGetAndClearWorkload::kClearers, scaled(50));
  RunResult r = run_workload(w, spec);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

// Each op takes a pool stream, makes it this thread's current stream, checks it reads back as
// current (after a yield, so the other threads' sets land in between), then restores the previous
// one. Returns 1 when it read back its own stream.
class CurrentStreamWorkload : public Workload {
 public:
  explicit CurrentStreamWorkload(c10::Device d) : Workload(d, {0.0, 0.0}, {0.0, 0.0}) {}
  const char* name() const override { return "getStreamFromPool + setCurrentCUDAStream"; }
  std::string same_output_for_every_thread() const override { return "a flag: 1 when the thread saw its own stream"; }
  at::Tensor run_once(int /*thread*/) override {
    const c10::DeviceIndex index = device().index() < 0 ? 0 : device().index();
    const c10::cuda::CUDAStream previous = c10::cuda::getCurrentCUDAStream(index);
    const c10::cuda::CUDAStream mine = c10::cuda::getStreamFromPool(false, index);
    c10::cuda::setCurrentCUDAStream(mine);
    std::this_thread::yield();
    const bool own = c10::cuda::getCurrentCUDAStream(index) == mine;
    c10::cuda::setCurrentCUDAStream(previous);
    return at::full({1}, own ? 1.0 : 0.0, at::kFloat);
  }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return at::ones({1}, at::kFloat); }
};

TEST(CudaStreams, CurrentStreamSetInAThreadStaysThatThreadsOwn) {
  // Pins aten/src/ATen/test/cuda_stream_test.cpp MultithreadGetAndSetTest (stream pool, PR #9938):
  // the current CUDA stream is thread-local; a set in one thread must neither show in another nor
  // in the main thread. Checks 8 threads x 200 set/read-back cycles and the main thread's stream.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  const c10::Device d = device_for(Backend::kCuda);
  const c10::DeviceIndex index = d.index() < 0 ? 0 : d.index();
  const c10::cuda::CUDAStream main_before = c10::cuda::getCurrentCUDAStream(index);
  CurrentStreamWorkload w(d);
  RunSpec spec = ReproSpec(static_cast<int>(knobs().threads), scaled(200));
  RunResult r = run_workload(w, spec);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
  EXPECT_TRUE(c10::cuda::getCurrentCUDAStream(index) == main_before) << "the main thread's current stream changed";
  EXPECT_TRUE(main_before == c10::cuda::getDefaultCUDAStream(index))
      << "the main thread should still be on the default stream";
}

}  // namespace
}  // namespace torchstress::regression
