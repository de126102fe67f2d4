// Per-thread training: each thread owns a small MLP, its data and its optimizer (SGD with momentum,
// then Adam) and takes optimizer steps while the other threads do the same. Every loss and every
// final parameter must equal, bit for bit, a replay of that thread's steps alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <memory>

#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/results.h"
#include "training_helpers.h"

TORCHSTRESS_BINARY_SECTION(stress);  // every suite of this binary

namespace torchstress::training {
namespace {

constexpr int64_t kIn = 16, kHidden = 32, kOut = 4, kBatch = 16;
constexpr int kSteps = 100;  // enough steps for momentum and Adam's moments to matter

enum class OptimizerKind { kSgdMomentum, kAdam };

const char* OptimizerName(OptimizerKind kind) {
  return kind == OptimizerKind::kSgdMomentum ? "SGD(momentum) steps" : "Adam steps";
}

// Linear-ReLU-Linear with seeded parameters of its own (distinct per thread), on `d`.
torch::nn::Sequential SeededMlp(int thread, const c10::Device& d) {
  namespace nn = torch::nn;
  nn::Sequential model(nn::Linear(kIn, kHidden), nn::ReLU(), nn::Linear(kHidden, kOut));
  c10::NoGradGuard no_grad;
  uint64_t seed = kBaseSeed + 500000 + 16 * static_cast<uint64_t>(thread);
  for (auto& p : model->parameters()) p.copy_(seeded_randn(p.sizes(), seed++).mul(0.3));
  model->to(d);
  return model;
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(OptimizerKind kind, const std::vector<at::Tensor>& params) {
  if (kind == OptimizerKind::kSgdMomentum) {
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(0.05).momentum(0.9));
  }
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(0.01));
}

// kSteps optimizer steps of `thread`'s model on its own mini-batches: every loss, then every parameter.
Trace TrainSteps(int thread, OptimizerKind kind, const c10::Device& d) {
  c10::AutoGradMode grad_mode(true);
  torch::nn::Sequential model = SeededMlp(thread, d);
  auto optimizer = MakeOptimizer(kind, model->parameters());
  Trace trace;
  for (int step = 0; step < kSteps; ++step) {
    const at::Tensor x = seeded_randn({kBatch, kIn}, input_seed(thread, step)).to(d);
    const at::Tensor y = seeded_randn({kBatch, kOut}, input_seed(thread, step) + 1).to(d);
    optimizer->zero_grad();
    at::Tensor loss = at::mse_loss(model->forward(x), y);
    loss.backward();
    optimizer->step();
    Append(trace, "step " + std::to_string(step) + " loss", loss);
  }
  for (const auto& p : model->named_parameters()) Append(trace, "parameter " + p.key(), p.value());
  return trace;
}

TEST_F(Training, PerThreadModelsTakeOptimizerStepsExactlyAsAlone) {
  // Pins the engine and optimizers under concurrent training (test_autograd.py
  // TestMultithreadAutograd, threads each training their own model): THREADS threads take 100 SGD
  // (momentum) steps, then 100 Adam steps, each on its own model. A race in the autograd engine, in
  // AccumulateGrad or in an optimizer's state would change a loss or a parameter. Checks every
  // step's loss and every final parameter against the thread's replay alone (bitwise on the CPU).
  const c10::Device d = device_under_test();
  const RunSpec spec = TrainingSpec();
  for (OptimizerKind kind : {OptimizerKind::kSgdMomentum, OptimizerKind::kAdam}) {
    RunResult r = ConcurrentTracesMatchAlone(spec, OptimizerName(kind), d,
                                             [&](int t) { return TrainSteps(t, kind, d); });
    record_run(r, kind == OptimizerKind::kSgdMomentum ? "sgd_" : "adam_");
    EXPECT_THAT(r.errors, HasNoErrors()) << OptimizerName(kind);
  }
}

// A copy of `trace` whose last value has its first element moved by the least the comparison must
// see: one float ulp on the CPU, just over the replay allowance on an accelerator.
Trace WithOneValueSlightlyOff(const Trace& trace) {
  Trace perturbed;
  for (const auto& [what, value] : trace) Append(perturbed, what, value);
  at::Tensor first = perturbed.back().second.view(-1).narrow(0, 0, 1);
  const Tolerance tol = AllowedReplayDifference(trace.back().second);
  if (tol.exact()) {
    first.copy_(at::nextafter(first, first + 1));
  } else {
    first.add_(2 * (tol.atol + tol.rtol * first.abs().item<double>()));
  }
  return perturbed;
}

TEST_F(TrainingChecks, ReplayWithOneParameterSlightlyOffIsReported) {
  // The comparison the test above relies on must see one parameter slightly off (and only there).
  const c10::Device d = device_under_test();
  const Trace alone = TrainSteps(0, OptimizerKind::kSgdMomentum, d);
  const std::vector<ErrorRecord> errors = CompareTraces(0, "replay", alone, WithOneValueSlightlyOff(alone));
  ASSERT_EQ(errors.size(), 1u) << format_grouped(errors);
  EXPECT_THAT(errors, HasErrorOf(ErrorKind::kWrongValue, "parameter 2.bias"));
  EXPECT_GT(errors[0].max_abs_diff, 0.0);
  EXPECT_THAT(CompareTraces(0, "replay", alone, TrainSteps(0, OptimizerKind::kSgdMomentum, d)), HasNoErrors());
}

}  // namespace
}  // namespace torchstress::training
