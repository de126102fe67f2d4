// One nn::Linear shared by every thread: each thread backpropagates its own input through it, so
// the shared weight's and bias's .grad accumulate every thread's contribution. Quarters and halves
// make each product and every accumulated sum exact in float, so the check is equality.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <chrono>
#include <tuple>

#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "training_helpers.h"

namespace torchstress::training {
namespace {

constexpr int64_t kIn = 8, kOut = 6, kBatch = 8;
constexpr long kCallsPerThread = 500;
// x holds quarters in [-2, 2], dLoss/dy halves in [-1, 1]: one call adds eighths of magnitude at
// most 2 * kBatch = 16 to a grad entry, so every sum stays exact in float up to 2^24 / 8 / 16 calls.
constexpr long kExactCalls = (1L << 24) / 8 / 16;

// The shared layer: weight and bias are quarters.
torch::nn::Linear SharedQuarterLinear(const c10::Device& d) {
  torch::nn::Linear linear(kIn, kOut);
  c10::NoGradGuard no_grad;
  linear->weight.copy_(SeededQuarters({kOut, kIn}, kBaseSeed + 900000));
  linear->bias.copy_(SeededQuarters({kOut}, kBaseSeed + 900001));
  linear->to(d);
  return linear;
}

// A thread's input and the gradient it sends back into the layer's output (dLoss/dy), on the CPU.
struct ThreadData {
  at::Tensor x, upstream;
};

ThreadData DataOf(int thread) {
  return {SeededQuarters({kBatch, kIn}, input_seed(thread, 0)),
          seeded_randn({kBatch, kOut}, input_seed(thread, 0) + 1).mul(2).round().clamp(-2, 2).div(2)};
}

// y = x W^T + b in double on the CPU: exact, as is its float copy.
at::Tensor ExpectedOutput(const torch::nn::Linear& linear, const ThreadData& data) {
  const at::Tensor w = linear->weight.detach().to(at::kCPU).to(at::kDouble);
  const at::Tensor b = linear->bias.detach().to(at::kCPU).to(at::kDouble);
  return data.x.to(at::kDouble).mm(w.t()).add(b).to(at::kFloat);
}

// Every call's backward of sum(y * upstream) adds upstream^T x to weight.grad and sum(upstream) to
// bias.grad; these are the totals for `calls[t]` calls of each thread, in double (exact).
std::vector<ErrorRecord> CheckAccumulatedGrads(const torch::nn::Linear& linear, const std::vector<ThreadData>& data,
                                               const std::vector<long>& calls) {
  at::Tensor want_w = at::zeros({kOut, kIn}, at::kDouble), want_b = at::zeros({kOut}, at::kDouble);
  for (size_t t = 0; t < data.size(); ++t) {
    const at::Tensor up = data[t].upstream.to(at::kDouble);
    want_w.add_(up.t().mm(data[t].x.to(at::kDouble)), static_cast<double>(calls[t]));
    want_b.add_(up.sum(0), static_cast<double>(calls[t]));
  }
  std::vector<ErrorRecord> errors;
  for (const auto& [what, param, want] : {std::make_tuple("weight.grad", linear->weight, want_w),
                                          std::make_tuple("bias.grad", linear->bias, want_b)}) {
    const at::Tensor got = param.grad().defined() ? param.grad().to(at::kCPU).to(at::kDouble) : at::zeros_like(want);
    ExpectIdentical(errors, -1, std::string("accumulated ") + what, got, want);
  }
  return errors;
}

// kCallsPerThread backward calls through the shared layer, each forward output checked; counts calls.
void BackwardThroughShared(torch::nn::Linear& linear, int thread, const at::Tensor& x, const at::Tensor& upstream,
                           const at::Tensor& expected_y, long& calls, ErrorSink& sink) {
  c10::AutoGradMode grad_mode(true);
  for (long i = 0; i < kCallsPerThread; ++i) {
    at::Tensor y = linear->forward(x);
    (y * upstream).sum().backward();
    ++calls;
    std::vector<ErrorRecord> wrong;
    if (!ExpectIdentical(wrong, thread, "shared Linear forward", y.detach(), expected_y)) {
      wrong[0].iteration = i;
      sink.add(wrong[0]);
    }
  }
}

TEST_F(Training, SharedParameterGradientAccumulatesExactly) {
  // Pins test_autograd.py TestMultithreadAutograd.test_simple_backward_same_input in training
  // shape: THREADS threads, each with its own input, backpropagate 500 times through one shared
  // nn::Linear. An unlocked AccumulateGrad would lose or double a contribution. Checks every
  // forward output exactly, and weight.grad / bias.grad == the exact sum over every counted call.
  const c10::Device d = device_under_test();
  const RunSpec spec = TrainingSpec();
  ASSERT_LE(spec.threads * kCallsPerThread, kExactCalls) << "more calls than float sums hold exactly: lower THREADS";
  torch::nn::Linear linear = SharedQuarterLinear(d);
  std::vector<ThreadData> data;
  std::vector<at::Tensor> x, upstream, expected_y;  // on the device, made before the gate opens
  for (int t = 0; t < spec.threads; ++t) {
    data.push_back(DataOf(t));
    x.push_back(data.back().x.to(d));
    upstream.push_back(data.back().upstream.to(d));
    expected_y.push_back(ExpectedOutput(linear, data.back()).to(d));
  }
  std::vector<long> calls(static_cast<size_t>(spec.threads), 0);
  const auto start = std::chrono::steady_clock::now();
  std::vector<ErrorRecord> errors = run_once_released_together(spec, "backward into shared Linear", d,
                                                               [&](int t, ErrorSink& sink) {
    const auto i = static_cast<size_t>(t);
    WorkerStreamScope stream(d, spec.cuda_streams);
    BackwardThroughShared(linear, t, x[i], upstream[i], expected_y[i], calls[i], sink);
    sync_thread_work(d, spec.sync);
  });
  sync_device(d);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& e : CheckAccumulatedGrads(linear, data, calls)) errors.push_back(std::move(e));
  RunResult r = TrainingResult(spec, "backward into shared Linear", d, std::move(errors), wall);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
  EXPECT_THAT(calls, ::testing::Each(kCallsPerThread));
}

TEST_F(TrainingChecks, AccumulatedGradMissingOneCallIsReported) {
  // The grad check above must see one lost (or one extra) backward call.
  const c10::Device d = device_under_test();
  torch::nn::Linear linear = SharedQuarterLinear(d);
  const std::vector<ThreadData> data = {DataOf(0)};
  long calls = 0;
  ErrorSink sink;
  BackwardThroughShared(linear, 0, data[0].x.to(d), data[0].upstream.to(d), ExpectedOutput(linear, data[0]).to(d),
                        calls, sink);
  EXPECT_THAT(sink.errors(), HasNoErrors());
  EXPECT_THAT(CheckAccumulatedGrads(linear, data, {calls}), HasNoErrors());
  EXPECT_THAT(CheckAccumulatedGrads(linear, data, {calls + 1}), HasErrorOf(ErrorKind::kWrongValue, "weight.grad"));
  EXPECT_THAT(CheckAccumulatedGrads(linear, data, {calls - 1}), HasErrorOf(ErrorKind::kWrongValue, "bias.grad"));
}

}  // namespace
}  // namespace torchstress::training
