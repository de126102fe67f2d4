// Self-tests of the pressure modes (issue 14): batched value checks still name every wrong
// output's thread and iteration, fresh inputs catch a stale output, sync `none` checks everything,
// and schedule noise is replayable from its seed.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/op_sweep.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/schedule_noise.h"
#include "torchstress/seeded.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(selftest);

// The batch path runs on the CPU here (as it does on accelerators), with `capture`.
RunSpec CpuSpec(int threads, long iterations, int check_batch, CheckCapture capture = CheckCapture::kCopy) {
  RunSpec spec;
  spec.threads = threads;
  spec.iterations = iterations;
  spec.check_batch = check_batch;
  spec.capture = capture;
  spec.cpu_checks_each_op = false;
  return spec;
}

class BatchedChecks : public ::testing::TestWithParam<CheckCapture> {};
INSTANTIATE_TEST_SUITE_P(Capture, BatchedChecks, ::testing::Values(CheckCapture::kCopy, CheckCapture::kKeep),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_P(BatchedChecks, NameTheThreadAndIterationOfEveryWrongOutputInAnyBatchPosition) {
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  // Iterations 0, 5 (mid-batch), 7 (a batch's last) and 9 (the partial batch at the end).
  for (long bad : {0L, 5L, 7L, 9L}) {
    RunSpec spec = CpuSpec(2, 10, 4, GetParam());
    spec.fault = {FaultKind::kWrong, 1, bad, ""};
    RunResult r = run_workload(*mm, spec);
    EXPECT_EQ(r.total_ops, 20);
    EXPECT_EQ(r.failed_ops, 1) << "iteration " << bad;
    EXPECT_THAT(r.errors, HasErrorOf(ErrorKind::kWrongValue,
                                     "wrong value in thread 1, iteration " + std::to_string(bad) + " (op mm on cpu)"));
  }
  RunSpec nan = CpuSpec(3, 9, 4, GetParam());
  nan.fault = {FaultKind::kNan, 2, 6, ""};
  EXPECT_THAT(run_workload(*mm, nan).errors, HasErrorOf(ErrorKind::kNonFinite, "in thread 2, iteration 6"));
}

TEST_P(BatchedChecks, EveryOutputIsCheckedWhetherBatchedEagerOrPipelined) {
  auto mm = make_workload("matmul128", c10::Device(c10::kCPU));
  for (SyncPolicy sync : {SyncPolicy::kStream, SyncPolicy::kNone}) {
    for (int batch : {1, 3, 64}) {
      RunSpec spec = CpuSpec(2, 7, batch, GetParam());
      spec.sync = sync;
      spec.fault = {FaultKind::kWrong, 0, 4, ""};
      RunResult r = run_workload(*mm, spec);
      EXPECT_EQ(r.failed_ops, 1) << "batch " << batch << ", sync " << to_string(sync);
      EXPECT_THAT(r.errors, HasErrorOf(ErrorKind::kWrongValue, "thread 0, iteration 4"));
    }
  }
}

TEST_P(BatchedChecks, OutputsWhoseSizeDependsOnTheValuesAreCheckedOneByOne) {
  // nonzero's output size differs per input: the batch cannot be stacked (regression: on the H100
  // every batch threw, and the sweep's nonzero and masked_select cases failed).
  SweepCase c;
  c.op = "aten::nonzero";
  c.args = Json::array({"mask"});
  c.shape = {64, 48};
  c.dtype = "float32";
  c.layout = "contiguous";
  auto w = make_sweep_workload(c, c10::Device(c10::kCPU));
  RunSpec spec = CpuSpec(2, 10, 4, GetParam());
  EXPECT_THAT(run_workload(*w, spec).errors, HasNoErrors());
  spec.fault = {FaultKind::kWrong, 1, 6, ""};
  EXPECT_THAT(run_workload(*w, spec).errors, HasErrorOf(ErrorKind::kWrongValue, "thread 1, iteration 6"));
}

// An op that answers every call with its first answer: a stale output (a cache keyed on too
// little, an output buffer never rewritten).
class StaleOutputWorkload : public Workload {
 public:
  StaleOutputWorkload() : Workload(c10::Device(c10::kCPU), {1e-5, 1e-5}, {1e-4, 1e-4}) {}
  const char* name() const override { return "stale"; }
  at::Tensor run_once(int thread) override {
    at::Tensor fresh = inputs(thread)[0] * 2;
    if (!stale_ || !references_done_) return fresh;
    at::Tensor& first = first_[static_cast<size_t>(thread)];
    if (!first.defined()) first = fresh;
    return first;
  }
  void go_stale(int threads) {
    first_.assign(static_cast<size_t>(threads), at::Tensor());
    stale_ = true;
    references_done_ = true;
  }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    return {seeded_randn({8, 8}, input_seed(thread, input))};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return in[0] * 2; }

 private:
  bool stale_ = false;
  bool references_done_ = false;
  std::vector<at::Tensor> first_;
};

// Inputs seeded by the input index alone: every thread computes the same outputs, so another
// thread's output would pass; prepare refuses the workload instead of running a test that cannot fail.
class SameInputsEveryThreadWorkload : public StaleOutputWorkload {
 protected:
  using StaleOutputWorkload::make_inputs;
  std::vector<at::Tensor> make_inputs(int /*thread*/, int input) const override {
    return {seeded_randn({8, 8}, input_seed(0, input))};
  }
};

TEST(CannotFail, InputsThatDifferOnlyByInputIndexAreRefusedAtPrepare) {
  SameInputsEveryThreadWorkload same;
  EXPECT_THROW(same.prepare(4, 3), CannotFailError);
  StaleOutputWorkload differs;
  EXPECT_NO_THROW(differs.prepare(4, 3));
}

TEST(FreshInputs, AStaleOutputFailsWithSeveralInputsPerThreadAndPassesWithOne) {
  for (int inputs : {1, 4}) {
    StaleOutputWorkload w;
    RunSpec spec = CpuSpec(2, 8, 8, CheckCapture::kKeep);
    spec.inputs_per_thread = inputs;
    w.prepare(spec.threads, inputs);
    w.go_stale(spec.threads);
    spec.keep_prepared = true;
    RunResult r = run_workload(w, spec);
    if (inputs == 1) {
      EXPECT_THAT(r.errors, HasNoErrors()) << "one input per thread cannot tell a stale output from a fresh one";
    } else {
      EXPECT_EQ(r.failed_ops, 2 * 6) << "iterations 1-3 and 5-7 of each thread reuse iteration 0's output";
      EXPECT_THAT(r.errors, HasErrorOf(ErrorKind::kWrongValue, "thread 1, iteration 3"));
    }
  }
}

NoiseSpec NoiseOf(double level, uint64_t seed) {
  NoiseSpec n;
  n.level = level;
  n.seed = seed;
  return n;
}

TEST(ScheduleNoise, TheSameSeedDrawsTheSamePausesAndOffDrawsNone) {
  auto draws = [](NoiseSpec spec, int thread) {
    ScheduleNoise noise(spec, thread, 8);
    std::vector<int> out;
    for (int i = 0; i < 2000; ++i) out.push_back(noise.next_pause_us());
    return out;
  };
  const NoiseSpec a = NoiseOf(0.2, 42);
  EXPECT_EQ(draws(a, 3), draws(a, 3)) << "a seed must replay its pauses";
  EXPECT_NE(draws(a, 3), draws(NoiseOf(0.2, 43), 3));
  EXPECT_NE(draws(a, 3), draws(a, 4)) << "threads draw differently";
  const auto off = draws(NoiseOf(0.0, 42), 3);
  EXPECT_EQ(std::count(off.begin(), off.end(), -1), static_cast<long>(off.size()));
  const auto on = draws(a, 3);
  const auto pauses = std::count_if(on.begin(), on.end(), [](int p) { return p >= 0; });
  EXPECT_GT(pauses, 300);
  EXPECT_LT(pauses, 500) << "about level x draws";
  const int delayed = delayed_thread(a, 8);
  const auto slow = draws(a, delayed);
  EXPECT_GT(*std::max_element(slow.begin(), slow.end()), 150) << "the delayed thread gets long pauses";
  EXPECT_LE(*std::max_element(on.begin(), on.end()), 50) << "other threads only short ones";
}

TEST(ScheduleNoise, ARunLogsItsSeedAndTheKnobReplaysIt) {
  {
    ScopedKnobs k([](Knobs& k) {
      k.noise = 0.1;
      k.noise_seed = 1234;
    });
    EXPECT_EQ(run_spec_from_knobs().noise.seed, 1234u);
    EXPECT_DOUBLE_EQ(run_spec_from_knobs().noise.level, 0.1);
  }
  ScopedKnobs k([](Knobs& k) { k.noise_seed = std::nullopt; });
  EXPECT_NE(run_spec_from_knobs().noise.seed, run_spec_from_knobs().noise.seed) << "a fresh seed per run";

  struct SeedSink : ResultsSink {
    std::mutex mu;
    std::map<std::string, std::string> text;
    void record(const std::string& key, const std::string& value) override {
      std::lock_guard<std::mutex> lock(mu);
      text[key] = value;
    }
  };
  auto sink = std::make_shared<SeedSink>();
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  RunSpec spec = CpuSpec(4, 20, 8);
  spec.noise = {0.5, 987654};
  spec.results = sink;
  RunResult r = run_workload(*mm, spec);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
  EXPECT_EQ(sink->text["noise_seed"], "987654");
}

}  // namespace
}  // namespace torchstress
