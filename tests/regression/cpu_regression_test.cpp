// Upstream CPU threading-bug repros: the shared CPU generator, the intra-op thread pool, and the
// crash-signature table for CUDA library crash texts (checked through a child of this binary).
// Each TEST's first comment names what it pins; tests/regression/README.md tabulates them.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <mutex>

#include "regression_helpers.h"
#include "torchstress/intra_op_threads.h"
#include "torchstress/results.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/matchers.h"
#include "torchstress/subprocess.h"

namespace torchstress::regression {
namespace {

TORCHSTRESS_BINARY_SECTION(regression);  // every suite of this binary

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
  std::string same_output_for_every_thread() const override { return "a flag; the replay of every draw from the starting state is the check"; }
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
    ErrorRecord e = ErrorRecord::at(ErrorKind::kWrongValue, -1, -1, name(), "cpu", "");
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
  RunSpec spec = ReproSpec(threads, scaled(1000));
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
  // 4 threads: each brings a team of 4 intra-op threads, 16 on a small box is plenty.
  RunSpec spec = ReproSpec(4, scaled(3));
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

}  // namespace
}  // namespace torchstress::regression
