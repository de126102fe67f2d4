// Upstream threading-bug regression repros that run torch::nn modules (kept apart from
// the other regression files because torch/nn headers are slow to compile): one module shared by many
// threads, or one module per thread, each output held to the sequential CPU result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/transformerlayer.h>

#include <functional>
#include <memory>

#include "regression_helpers.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/skip.h"

namespace torchstress::regression {
namespace {

// A module built once on the CPU and cloned to the device: shared by every thread (owners == 1)
// or one clone per thread (owners == threads). Thread t feeds its own seeded input.
template <typename Holder>
class ModuleForwardWorkload : public ClosedFormWorkload {
 public:
  ModuleForwardWorkload(c10::Device d, const char* name, Holder cpu_module, std::vector<int64_t> input_shape,
                        int owners, Tolerance same, Tolerance vs_cpu)
      : ClosedFormWorkload(d, same, vs_cpu), name_(name), cpu_(std::move(cpu_module)), shape_(std::move(input_shape)) {
    cpu_->eval();
    for (int i = 0; i < owners; ++i) {
      Holder m(std::dynamic_pointer_cast<typename Holder::ContainedType>(cpu_->clone(d)));
      m->eval();
      modules_.push_back(m);
    }
  }
  const char* name() const override { return name_; }
  at::Tensor run_once(int thread) override {
    c10::NoGradGuard no_grad;
    return Forward(modules_.size() == 1 ? modules_[0] : modules_[static_cast<size_t>(thread)], inputs(thread)[0]);
  }
  at::Tensor closed_form(int thread) override { return run_on_cpu(make_inputs(thread)); }

 protected:
  virtual at::Tensor Forward(Holder& m, const at::Tensor& x) { return m->forward(x); }
  std::vector<at::Tensor> make_inputs(int thread) const override { return {seeded_randn(shape_, kSeed + thread)}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    c10::NoGradGuard no_grad;
    return Forward(cpu_, in[0]);
  }

 private:
  const char* name_;
  Holder cpu_;
  std::vector<int64_t> shape_;
  std::vector<Holder> modules_;
};

// LibTorch's TransformerEncoderLayer is sequence-first (S, N, E); the repro's input is batch-first.
class TransformerLayerWorkload : public ModuleForwardWorkload<torch::nn::TransformerEncoderLayer> {
 public:
  using ModuleForwardWorkload::ModuleForwardWorkload;

 protected:
  at::Tensor Forward(torch::nn::TransformerEncoderLayer& m, const at::Tensor& x) override {
    return m->forward(x.transpose(0, 1)).transpose(0, 1);
  }
};

// Conv2d(16, 16, k4, s2, p1) + BatchNorm2d(16), as #16828 and #19029, with non-trivial running
// statistics so eval-mode BatchNorm really transforms.
torch::nn::Sequential ConvBatchNorm() {
  namespace nn = torch::nn;
  nn::Sequential m(nn::Conv2d(nn::Conv2dOptions(16, 16, 4).stride(2).padding(1)), nn::BatchNorm2d(16));
  c10::NoGradGuard no_grad;
  for (auto& b : m->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().copy_(seeded_randn({16}, kSeed + 100));
    if (b.key().find("running_var") != std::string::npos) b.value().copy_(seeded_randn({16}, kSeed + 101).abs() + 0.5);
  }
  return m;
}

// #16828's input is 1x16x1024x1024; the same batch, channels and kernel on a 32x32 image keep
// 8 threads x 1000 forwards within seconds on a small CPU box.
const std::vector<int64_t> kConvInput = {1, 16, 32, 32};

template <typename W>
void RunModule(W& w, int threads, long iterations, Tolerance closed_form_tol) {
  RunSpec spec = ReproSpec(threads, iterations);
  RunResult r = RunAgainstClosedForm(w, spec, closed_form_tol);
  record_run(r, fmt::format("t{}_", threads));
  EXPECT_EQ(r.total_ops, threads * iterations) << threads << " threads";
  EXPECT_THAT(r.errors, HasNoErrors()) << threads << " threads";
}

TEST(CpuSharedModule, ConvBatchNormEvalForwardFromEightThreadsMatchesSequential) {
  // Pins pytorch/pytorch#16828: conv2d from a thread pool under no_grad segfaulted after ~1,198 of
  // 10,000 calls (1.0.x), on a shared Conv2d(16,16,4,2,1). Checks 8 threads x 1000 forwards of one
  // eval Conv2d+BatchNorm, each equal to the sequential result.
  ModuleForwardWorkload<torch::nn::Sequential> w(c10::Device(c10::kCPU), "conv+bn shared", ConvBatchNorm(), kConvInput,
                                                 1, {1e-5, 1e-5}, {1e-5, 1e-5});
  RunModule(w, static_cast<int>(knobs().threads), scaled(1000), {1e-5, 1e-5});
}

TEST(CpuPerThreadModule, ConvBatchNormOwnedByEachThreadMatchesSequential) {
  // Pins pytorch/pytorch#19029 (open): each C++ thread owned its own Conv2d+BatchNorm module and it
  // still segfaulted. Checks 8 threads x 1000 forwards, one module clone per thread.
  const int threads = static_cast<int>(knobs().threads);
  ModuleForwardWorkload<torch::nn::Sequential> w(c10::Device(c10::kCPU), "conv+bn per thread", ConvBatchNorm(),
                                                 kConvInput, threads, {1e-5, 1e-5}, {1e-5, 1e-5});
  RunModule(w, threads, scaled(1000), {1e-5, 1e-5});
}

TEST(MpsSharedLinear, NoGradForwardFromTwoFourAndEightThreadsMatchesSequential) {
  // Pins dML GITHUB_ISSUE_DRAFT.md (stock 2.9.x: nn.Linear(100,10) on MPS from 4 pool workers
  // failed with "commit an already committed command buffer") and their Linear.mm no-graph path
  // crash at >= 3 threads. Checks Linear(512,1024) and Linear(100,10), batch 32, contiguous inputs,
  // 2/4/8 threads x 50, each output equal to the sequential one and close to the CPU.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  namespace nn = torch::nn;
  for (int threads : {2, 4, 8}) {
    ModuleForwardWorkload<nn::Linear> big(c10::Device(c10::kMPS), "linear 512->1024", nn::Linear(512, 1024), {32, 512},
                                          1, {1e-5, 1e-5}, {1e-4, 1e-4});
    RunModule(big, threads, scaled(50), {1e-4, 1e-4});
    ModuleForwardWorkload<nn::Linear> small(c10::Device(c10::kMPS), "linear 100->10", nn::Linear(100, 10), {32, 100}, 1,
                                            {1e-5, 1e-5}, {1e-4, 1e-4});
    RunModule(small, threads, scaled(50), {1e-4, 1e-4});
  }
}

TEST(MpsTransformerEncoderLayer, SharedEvalLayerGivesEveryThreadItsSequentialOutput) {
  // Pins dML repro_transformer_block_race.py / minimal_mps_contiguous_race.py: a shared
  // TransformerEncoderLayer gave wrong outputs in ~10-15 of 30 iterations at 8 threads (silent
  // corruption, no crash). Checks d_model 256, nhead 4, eval, input [4,128,256], 2/4/8 threads x 30,
  // every output within 1e-4 of the sequential one.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  namespace nn = torch::nn;
  for (int threads : {2, 4, 8}) {
    TransformerLayerWorkload w(c10::Device(c10::kMPS), "transformer layer 256/4",
                               nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(256, 4).dropout(0.0)),
                               {4, 128, 256}, 1, {1e-4, 1e-4}, {1e-3, 1e-3});
    RunModule(w, threads, scaled(30), {1e-3, 1e-3});
  }
}

}  // namespace
}  // namespace torchstress::regression
