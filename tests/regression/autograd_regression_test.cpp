// Upstream multithreaded-autograd repros (test_autograd.py TestMultithreadAutograd) on each
// backend: CPU always, MPS and CUDA through generic ATen calls (skipped loudly where absent). Each
// TEST's first comment names what it pins; tests/regression/README.md tabulates them.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "regression_helpers.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/skip.h"

namespace torchstress::regression {
namespace {

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
  std::vector<at::Tensor> make_inputs(int thread) const override { return {seeded_randn({5, 5}, kSeed + thread)}; }
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
  std::string same_output_for_every_thread() const override { return "one leaf shared by every thread; the accumulated gradient is the check"; }
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
  RunSpec spec = ReproSpec(kAutogradThreads, scaled(100));
  RunResult r = RunAgainstClosedForm(w, spec, {1e-5, 1e-5});
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

void RunSharedLeaf(const c10::Device& d) {
  SharedLeafWorkload w(d);
  RunSpec spec = ReproSpec(kAutogradThreads, scaled(100));
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
  RunSeparateGraphs(device_for(Backend::kMps));
}

TEST(MpsAutograd, SharedLeafAccumulatesEveryThreadsGradientExactly) {
  // Pins test_autograd.py test_simple_backward_same_input on MPS: lost gradient updates.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  RunSharedLeaf(device_for(Backend::kMps));
}

TEST(CudaAutograd, SeparateGraphsPerThreadGiveExactGradients) {
  // Pins test_autograd.py test_simple_backward on CUDA (per-device autograd worker threads).
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunSeparateGraphs(device_for(Backend::kCuda));
}

TEST(CudaAutograd, SharedLeafAccumulatesEveryThreadsGradientExactly) {
  // Pins test_autograd.py test_simple_backward_same_input on CUDA: lost gradient updates.
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunSharedLeaf(device_for(Backend::kCuda));
}

}  // namespace
}  // namespace torchstress::regression
