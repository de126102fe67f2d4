// Upstream threading-bug regression repros that need only ATen (no torch/nn): MPS, CUDA (generic
// calls only; the CUDA-API ones live in cuda_regression_test.cpp) and CPU. Each TEST's first
// comment names the upstream issue or PR it pins and the symptom; tests/regression/README.md
// tabulates them. Shapes and counts follow upstream; counts scale with TORCHSTRESS_REGRESSION_SCALE.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <csignal>
#include <mutex>

#include "regression_helpers.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/mps_compat.h"
#include "torchstress/skip.h"
#include "torchstress/subprocess.h"

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

constexpr uint64_t kSeed = 1974;

c10::Device MpsDevice() { return c10::Device(c10::kMPS); }
// A CUDA run uses the device under test when it is a CUDA card (CTest may have allocated one).
c10::Device CudaDevice() { return device_under_test().is_cuda() ? device_under_test() : c10::Device("cuda:0"); }

// ---------------------------------------------------------------------------------------------
// Autograd (test_autograd.py TestMultithreadAutograd): y = (x + 3) * (x + 4) * 0.5, dy/dx = x + 3.5.

at::Tensor UpstreamGraph(const at::Tensor& x) { return (x + 3) * (x + 4) * 0.5; }

// Each thread builds its own graph from its own leaf every op and returns the leaf's gradient.
class SeparateGraphsWorkload : public ClosedFormWorkload {
 public:
  explicit SeparateGraphsWorkload(c10::Device d) : ClosedFormWorkload(d, {1e-6, 1e-6}, {1e-5, 1e-5}) {}
  const char* name() const override { return "backward"; }
  at::Tensor run_once(int thread) override { return GradOf(inputs(thread)[0]); }
  at::Tensor closed_form(int thread) override { return make_inputs(thread)[0] + 3.5; }

 protected:
  std::vector<at::Tensor> make_inputs(int thread) const override { return {SeededRandn({5, 5}, kSeed + thread)}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return GradOf(in[0]); }

 private:
  static at::Tensor GradOf(const at::Tensor& input) {
    c10::AutoGradMode grad_mode(true);  // the runner's workers run under NoGradGuard
    at::Tensor x = input.detach().requires_grad_(true);
    UpstreamGraph(x).sum().backward();
    return x.grad();
  }
};

// Every thread backpropagates into one shared leaf, whose .grad accumulates all of them. The
// leaf holds quarters (x = k/4), so every product and every accumulated sum is exact in float.
class SharedLeafWorkload : public Workload {
 public:
  explicit SharedLeafWorkload(c10::Device d)
      : Workload(d, {0.0, 0.0}, {1e-6, 1e-6}),
        leaf_cpu_(at::arange(25, at::kFloat).reshape({5, 5}).div(4)),
        leaf_(leaf_cpu_.to(d).detach().requires_grad_(true)) {}
  const char* name() const override { return "backward into shared leaf"; }
  at::Tensor run_once(int /*thread*/) override {
    c10::AutoGradMode grad_mode(true);
    at::Tensor y = UpstreamGraph(leaf_);
    y.sum().backward();
    backward_calls_.fetch_add(1);
    return y.detach();
  }
  long backward_calls() const { return backward_calls_.load(); }
  at::Tensor grad_on_cpu() const { return leaf_.grad().to(at::kCPU); }
  at::Tensor expected_grad() const { return (leaf_cpu_ + 3.5) * static_cast<double>(backward_calls()); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return UpstreamGraph(leaf_cpu_); }

 private:
  at::Tensor leaf_cpu_;
  at::Tensor leaf_;
  std::atomic<long> backward_calls_{0};
};

constexpr int kAutogradThreads = 10;  // test_autograd.py's num_threads

void RunSeparateGraphs(const c10::Device& d) {
  SeparateGraphsWorkload w(d);
  RunSpec spec;
  spec.threads = kAutogradThreads;
  spec.iterations = scaled(100);
  RunResult r = RunAgainstClosedForm(w, spec, {1e-5, 1e-5});
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

void RunSharedLeaf(const c10::Device& d) {
  SharedLeafWorkload w(d);
  RunSpec spec;
  spec.threads = kAutogradThreads;
  spec.iterations = scaled(100);
  RunResult r = run_workload(w, spec);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
  // The runner's reference pass adds one backward per thread before the workers start.
  EXPECT_EQ(w.backward_calls(), r.total_ops + spec.threads);
  const at::Tensor got = w.grad_on_cpu();
  const at::Tensor want = w.expected_grad();
  EXPECT_TRUE(at::equal(got, want)) << "accumulated grad differs from " << w.backward_calls()
                                    << " * (x + 3.5): max abs diff " << (got - want).abs().max().item<double>();
}

TEST(CpuAutograd, SeparateGraphsPerThreadGiveExactGradients) {
  // Pins test_autograd.py TestMultithreadAutograd.test_simple_backward (multithreaded autograd
  // engine): 10 threads each backpropagate their own graph; a shared-engine race would hand a
  // thread a wrong or missing grad. Checks grad == x + 3.5 for every op.
  RunSeparateGraphs(c10::Device(c10::kCPU));
}

TEST(CpuAutograd, SharedLeafAccumulatesEveryThreadsGradientExactly) {
  // Pins test_autograd.py TestMultithreadAutograd.test_simple_backward_same_input: 10 threads
  // backpropagate into one leaf; an unlocked AccumulateGrad would lose updates. Checks
  // x.grad == calls * (x + 3.5) exactly.
  RunSharedLeaf(c10::Device(c10::kCPU));
}

TEST(MpsAutograd, SeparateGraphsPerThreadGiveExactGradients) {
  // Pins test_autograd.py test_simple_backward on MPS (section 5 row 17): per-thread graphs on the
  // one shared MPS stream; symptom would be wrong grads or a Metal assertion.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  RunSeparateGraphs(MpsDevice());
}

TEST(MpsAutograd, SharedLeafAccumulatesEveryThreadsGradientExactly) {
  // Pins test_autograd.py test_simple_backward_same_input on MPS: lost gradient updates.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  RunSharedLeaf(MpsDevice());
}

TEST(CudaAutograd, SeparateGraphsPerThreadGiveExactGradients) {
  // Pins test_autograd.py test_simple_backward on CUDA (per-device autograd worker threads).
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunSeparateGraphs(CudaDevice());
}

TEST(CudaAutograd, SharedLeafAccumulatesEveryThreadsGradientExactly) {
  // Pins test_autograd.py test_simple_backward_same_input on CUDA: lost gradient updates.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunSharedLeaf(CudaDevice());
}

// ---------------------------------------------------------------------------------------------
// CPU generator and intra-op thread pool.

// Every draw comes from one shared CPU generator. With `user_lock`, a worker takes the generator's
// mutex around CPUGeneratorImpl::random(), as upstream's cpu_generator_test does; without it,
// at::randn(..., gen) must take the lock itself. Each thread keeps its own draws.
class SharedGeneratorWorkload : public Workload {
 public:
  SharedGeneratorWorkload(bool user_lock, int threads)
      : Workload(c10::Device(c10::kCPU), {0.0, 0.0}, {0.0, 0.0}),
        user_lock_(user_lock),
        gen_(at::detail::createCPUGenerator(kSeed)),
        start_(gen_.clone()),
        draws_(static_cast<size_t>(threads)) {}
  const char* name() const override { return user_lock_ ? "locked random()" : "randn(16, gen)"; }
  at::Tensor run_once(int thread) override {
    at::Tensor d = Draw(gen_, user_lock_);
    draws_[static_cast<size_t>(thread)].push_back(d);
    return at::isfinite(d).all().to(at::kFloat);  // the replay below is the real check
  }

  // Replays every draw sequentially from a clone of the starting state: the threads' draws must
  // be exactly that multiset (none duplicated, none torn), and the states must end equal.
  std::vector<ErrorRecord> CheckAgainstSequentialReplay() const {
    std::vector<ErrorRecord> errors;
    std::vector<at::Tensor> got;
    for (const auto& per_thread : draws_) got.insert(got.end(), per_thread.begin(), per_thread.end());
    at::Generator replay = start_.clone();
    std::vector<at::Tensor> want;
    for (size_t i = 0; i < got.size(); ++i) want.push_back(Draw(replay, user_lock_));
    const at::Tensor g = SortRows(at::stack(got));
    const at::Tensor w = SortRows(at::stack(want));
    ErrorRecord e;
    e.kind = ErrorKind::kWrongValue;
    e.op = name();
    e.device = "cpu";
    if (!at::equal(g, w)) {
      e.max_abs_diff = (g - w).abs().max().item<double>();
      e.message = fmt::format("the {} concurrent draws are not the {} sequential ones", got.size(), want.size());
      errors.push_back(e);
    }
    if (!at::equal(gen_.get_state(), replay.get_state())) {
      e.max_abs_diff = 0.0;
      e.message = fmt::format("generator state differs from one advanced by exactly {} draws", got.size());
      errors.push_back(e);
    }
    return errors;
  }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return at::ones({}, at::kFloat); }

 private:
  static at::Tensor Draw(at::Generator& gen, bool user_lock) {
    if (!user_lock) return at::randn({16}, gen, at::TensorOptions().dtype(at::kFloat));
    uint32_t v = 0;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      v = gen.get<at::CPUGeneratorImpl>()->random();
    }
    return at::full({1}, static_cast<double>(v), at::TensorOptions().dtype(at::kDouble));
  }
  // Lexicographic row order (stable sorts from the last column to the first): first elements
  // alone tie often, since a float draw carries only 24 random bits.
  static at::Tensor SortRows(at::Tensor rows) {
    for (int64_t c = rows.size(1) - 1; c >= 0; --c) {
      rows = rows.index_select(
          0, std::get<1>(at::sort(rows.select(1, c), /*stable=*/true, /*dim=*/0, /*descending=*/false)));
    }
    return rows;
  }

  const bool user_lock_;
  at::Generator gen_;
  at::Generator start_;
  std::vector<std::vector<at::Tensor>> draws_;  // [thread]: touched only by that thread
};

void RunSharedGenerator(bool user_lock) {
  const int threads = static_cast<int>(knobs().threads);
  SharedGeneratorWorkload w(user_lock, threads);
  RunSpec spec;
  spec.threads = threads;
  spec.iterations = scaled(1000);
  RunResult r = run_workload(w, spec);
  record_run(r);
  std::vector<ErrorRecord> errors = r.errors;
  for (auto& e : w.CheckAgainstSequentialReplay()) errors.push_back(std::move(e));
  EXPECT_THAT(errors, HasNoErrors());
}

TEST(CpuGenerator, LockedRandomFromManyThreadsAdvancesStateByExactlyTheDrawCount) {
  // Pins pytorch/pytorch#3794 and #4777 (RNG segfaults from threads, fixed by PR #4041) through
  // cpu_generator_test's TestMultithreadingGetEngineOperator: threads lock gen.mutex() and call
  // random(). Checks the draws are exactly the first N of the sequence and the state advanced N.
  RunSharedGenerator(/*user_lock=*/true);
}

TEST(CpuGenerator, RandnOnASharedGeneratorLocksItSelfAndLosesNoDraw) {
  // Pins pytorch/pytorch#3794 / #34052 (unsynchronised use of one CPU generator from threads):
  // at::randn(..., gen) from many threads with no user lock must still serialise on the
  // generator. Checks the draws equal a sequential replay and the final state matches.
  RunSharedGenerator(/*user_lock=*/false);
}

// Sets LibTorch's intra-op thread count for one scope and restores it (process-wide state).
class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ScopedIntraOpThreads() { at::set_num_threads(saved_); }
  ScopedIntraOpThreads(const ScopedIntraOpThreads&) = delete;
  ScopedIntraOpThreads& operator=(const ScopedIntraOpThreads&) = delete;

 private:
  int saved_;
};

constexpr int kIntraOpThreads = 4;  // thread_init_test's set_num_threads(4)

// Each op: at::init_num_threads() in this (new) thread, then the thread count it sees and a
// parallel sum of a million ones.
class NumThreadsSeenWorkload : public ClosedFormWorkload {
 public:
  NumThreadsSeenWorkload() : ClosedFormWorkload(c10::Device(c10::kCPU), {0.0, 0.0}, {0.0, 0.0}) {}
  const char* name() const override { return "init_num_threads + sum"; }
  at::Tensor run_once(int /*thread*/) override {
    at::init_num_threads();
    const double seen = at::get_num_threads();
    const double sum = at::ones({1000 * 1000}, at::kFloat).sum().item<double>();
    return at::tensor({seen, sum}, at::kDouble);
  }
  at::Tensor closed_form(int /*thread*/) override { return at::tensor({double{kIntraOpThreads}, 1e6}, at::kDouble); }

 protected:
  std::vector<at::Tensor> make_inputs(int /*thread*/) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& /*in*/) override { return closed_form(0); }
};

TEST(CpuThreadPool, NumThreadsSetInMainIsSeenByEveryNewThreadAfterInit) {
  // Pins aten/src/ATen/test/thread_init_test.cpp (intra-op pool settings across threads): after
  // set_num_threads(4), a new std::thread calling at::init_num_threads() must see 4 and compute
  // correct parallel sums. Symptom: a thread silently running with the default thread count.
  ScopedIntraOpThreads four(kIntraOpThreads);
  NumThreadsSeenWorkload w;
  RunSpec spec;
  spec.threads = 4;  // each brings a team of 4 intra-op threads: 16 on a small box is plenty
  spec.iterations = scaled(3);
  RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST(CrashReport, CudaLibraryCrashTextInAChildNamesItsUpstreamIssue) {
  // Pins the crash-signature table for the CUDA library handles: pytorch/pytorch#6962 (cuBLAS
  // handle shared across threads) and PR #14861 (cuDNN). A child of this binary crashes with the
  // recorded stderr text (TORCHSTRESS_INJECT=crashsig:<name>) and the text must map to the issue.
  // The isolated-round path is covered by FaultInjection.KnownCrashTextInARoundNamesTheUpstreamIssue.
  const std::vector<std::pair<std::string, std::string>> cases = {{"cublas-handle", "pytorch/pytorch#6962"},
                                                                  {"cudnn-handle", "pytorch/pytorch PR #14861"}};
  for (const auto& [signature, upstream] : cases) {
    ChildResult c =
        run_child({self_executable(), "--gtest_filter=CpuAutograd.SeparateGraphsPerThreadGiveExactGradients"},
                  {{"TORCHSTRESS_INJECT", "crashsig:" + signature + "@0:0"}, {"TORCHSTRESS_INJECT_ROUND", ""}},
                  knobs().round_timeout);
    EXPECT_TRUE(c.signaled && c.signal == SIGABRT) << signature << ": " << c.describe() << "\n" << c.output;
    EXPECT_THAT(describe_crash_match(c.output), ::testing::HasSubstr(upstream)) << c.output;
  }
}

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
std::string ShaderCacheColdRound(int /*round*/) {
  const c10::Device mps = MpsDevice();
  // Upstream reads at::empty({128}); defined values inside every op's domain make results checkable.
  const at::Tensor cpu_in = at::linspace(0.05, 0.95, 128, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor mps_in = cpu_in.to(mps);  // a copy: builds no unary pipeline
  const auto& ops = FifteenUnaryOps();
  return RoundReason(
      run_once_released_together(static_cast<int>(ops.size()), "unary op", mps, [&](int t, ErrorSink& sink) {
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

std::string RangeFactoriesRound(int /*round*/) {
  RangeFactoriesWorkload w(MpsDevice(), 2);
  RunSpec spec;
  spec.threads = 2;
  spec.iterations = scaled(60);
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

// nonzero of one shared 256x256x3 tensor plus a host copy of it (the debugger printing it).
class NonzeroWorkload : public ClosedFormWorkload {
 public:
  explicit NonzeroWorkload(c10::Device d)
      : ClosedFormWorkload(d, {0.0, 0.0}, {0.0, 0.0}),
        cpu_(at::relu(SeededRandn({256, 256, 3}, kSeed) - 0.5)),
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
  NonzeroWorkload w(MpsDevice());
  RunSpec spec;
  spec.threads = 4;
  spec.iterations = scaled(100);
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
    return {SeededRandn({512, 512}, s), SeededRandn({512, 512}, s + 1), SeededRandn({512, 512}, s + 2)};
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
  SyncWhileEncodingWorkload w(MpsDevice(), 4);
  RunSpec spec;
  spec.threads = 4;
  spec.iterations = scaled(200);
  spec.sync_each_op = false;  // only the sync thread synchronizes; the others read results back
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
    return {SeededRandn({4, n}, s).to(dtype), SeededRandn({n}, s + 1).to(dtype), SeededRandn({n}, s + 2).to(dtype)};
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
  LayerNormVariantsWorkload w(MpsDevice());
  RunSpec spec;
  spec.threads = 8;
  spec.iterations = scaled(50);
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
      weights_.push_back(SeededRandn(kShapes[static_cast<size_t>(k) % kShapes.size()], kSeed + k).to(at::kBFloat16));
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
  Bf16UploadWorkload w(MpsDevice(), 4);
  RunSpec spec;
  spec.threads = 4;
  spec.iterations = scaled(25);
  RunResult r = RunAgainstClosedForm(w, spec, {0.0, 0.0});
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

// Runs in a fresh child: the first MPS op of the process, from every thread at once.
std::string ColdStartRound(int /*round*/) {
  const c10::Device mps = MpsDevice();
  return RoundReason(
      run_once_released_together(static_cast<int>(knobs().threads), "first op", mps, [&](int t, ErrorSink& sink) {
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
  GraphCacheChurnWorkload w(MpsDevice(), 5);
  RunSpec spec;
  spec.threads = 5;
  spec.iterations = scaled(200);
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
    AllocatorChurnWorkload w(MpsDevice(), 8);
    RunSpec spec;
    spec.threads = 8;
    spec.iterations = scaled(500);
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

// ---------------------------------------------------------------------------------------------
// CUDA through generic ATen calls (no CUDA API): the rest is in cuda_regression_test.cpp.

// Runs in a fresh child: the first CUDA op of the process (lazy init), from every thread at once.
std::string CudaInitRound(int /*round*/) {
  const c10::Device cuda = CudaDevice();
  return RoundReason(
      run_once_released_together(static_cast<int>(knobs().threads), "first .cuda()", cuda, [&](int t, ErrorSink& sink) {
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
