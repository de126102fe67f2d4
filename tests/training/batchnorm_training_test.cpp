// Train-mode BatchNorm per thread: each thread owns a BatchNorm1d and a BatchNorm2d and runs
// forward and backward passes in train() mode, which update the running statistics in place.
// Outputs, gradients and buffers must equal, bit for bit, a replay of that thread alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>

#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "training_helpers.h"

namespace torchstress::training {
namespace {

constexpr int64_t kFeatures = 8, kChannels = 4, kBatch = 16, kSide = 6;
constexpr int kPasses = 50;

struct BatchNorms {
  torch::nn::BatchNorm1d bn1d{kFeatures};
  torch::nn::BatchNorm2d bn2d{kChannels};
};

// Both modules with seeded affine parameters of their own (distinct per thread), train() on `d`.
BatchNorms SeededBatchNorms(int thread, const c10::Device& d) {
  BatchNorms m;
  c10::NoGradGuard no_grad;
  uint64_t seed = kBaseSeed + 800000 + 16 * static_cast<uint64_t>(thread);
  for (auto* module : {static_cast<torch::nn::Module*>(m.bn1d.get()), static_cast<torch::nn::Module*>(m.bn2d.get())}) {
    for (auto& p : module->parameters()) p.copy_(seeded_randn(p.sizes(), seed++).mul(0.5).add(1));
    module->to(d);
    module->train();
  }
  return m;
}

// A batch with a mean and spread that move from pass to pass, so the running statistics do too.
at::Tensor PassInput(at::IntArrayRef shape, int thread, int pass, const c10::Device& d) {
  return seeded_randn(shape, input_seed(thread, pass)).mul(1.0 + 0.1 * pass).add(0.2 * pass).to(d);
}

void AppendState(Trace& trace, const std::string& prefix, torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) Append(trace, prefix + p.key() + ".grad", p.value().grad());
  for (const auto& b : module.named_buffers()) Append(trace, prefix + b.key(), b.value());
}

// kPasses train-mode passes (forward, backward) of `thread`'s modules: every output, then the
// accumulated gradients and the buffers (running_mean, running_var, num_batches_tracked).
Trace BatchNormPasses(int thread, const c10::Device& d) {
  c10::AutoGradMode grad_mode(true);
  BatchNorms m = SeededBatchNorms(thread, d);
  Trace trace;
  for (int pass = 0; pass < kPasses; ++pass) {
    const at::Tensor y1 = m.bn1d->forward(PassInput({kBatch, kFeatures}, thread, pass, d));
    const at::Tensor y2 = m.bn2d->forward(PassInput({kBatch, kChannels, kSide, kSide}, thread, pass + kPasses, d));
    (y1.pow(2).sum() + y2.pow(2).mean()).backward();
    Append(trace, "pass " + std::to_string(pass) + " BatchNorm1d output", y1);
    Append(trace, "pass " + std::to_string(pass) + " BatchNorm2d output", y2);
  }
  AppendState(trace, "BatchNorm1d ", *m.bn1d);
  AppendState(trace, "BatchNorm2d ", *m.bn2d);
  return trace;
}

TEST_F(Training, TrainModeBatchNormPerThreadModulesMatchAlone) {
  // Pins per-thread modules in train() mode: BatchNorm updates running_mean/running_var and
  // num_batches_tracked in place every forward, a write a shared buffer or cache would race on.
  // THREADS threads run 50 forward+backward passes each through their own BatchNorm1d and 2d.
  // Checks every output, weight/bias grad and buffer against the thread's replay alone (bitwise on the CPU).
  const c10::Device d = device_under_test();
  RunResult r = ConcurrentTracesMatchAlone(TrainingSpec(), "train-mode BatchNorm passes", d,
                                           [&](int t) { return BatchNormPasses(t, d); });
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST_F(TrainingChecks, BatchNormReplayOfAnotherThreadIsReported) {
  // Threads' values differ, so a module or buffer mixed up between threads cannot pass: thread 1's
  // trace is reported against thread 0's everywhere except the pass count both share.
  const c10::Device d = device_under_test();
  const std::vector<ErrorRecord> errors = CompareTraces(0, "replay", BatchNormPasses(0, d), BatchNormPasses(1, d));
  EXPECT_THAT(errors, HasErrorOf(ErrorKind::kWrongValue, "BatchNorm2d running_var"));
  EXPECT_THAT(errors, HasErrorOf(ErrorKind::kWrongValue, "pass 9 BatchNorm1d output"));
  EXPECT_THAT(errors, ::testing::Not(HasErrorOf(ErrorKind::kWrongValue, "num_batches_tracked")));
  EXPECT_THAT(CompareTraces(0, "replay", BatchNormPasses(0, d), BatchNormPasses(0, d)), HasNoErrors());
}

}  // namespace
}  // namespace torchstress::training
