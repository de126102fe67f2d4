// Known bug C2: XNNPackLinearOpContext::run takes no lock, so two threads sharing one prepacked
// linear context corrupt each other (SIGSEGV in an xnn_f32_gemm ukernel, SIGABRT "free(): corrupted
// unsorted chunks", or an INTERNAL ASSERT). pytorch/pytorch#62165 (open; fix PR #183512 on main
// only). Every release that registers prepacked::linear_clamp_* is affected; from 2.13 the wheels
// are built without XNNPACK and the op is absent. The repro runs in a child process (it crashes).
// Negative control: the conv2d context, locked since PR #84602 (2022).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include "known_bug.h"
#include "torchstress/knobs.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/seeded.h"
#include "torchstress/workloads.h"

namespace torchstress::known_bugs {
namespace {

const KnownBug kSharedLinearContext{
    "pytorch/pytorch#62165 (open; fix PR #183512 on main, in no release)",
    every_version("every release that registers prepacked::linear_clamp_* (absent from 2.13 on)"),
    "two threads sharing one prepacked XNNPACK linear context corrupt each other (no lock in "
    "XNNPackLinearOpContext::run): SIGSEGV or SIGABRT"};
const KnownBug kSharedConvContext{
    "control: pytorch/pytorch PR #84602 (2022, conv context lock)",
    no_version("none: locked since PR #84602, before 1.13"),
    "two threads sharing one prepacked XNNPACK conv2d context, different input heights, stay exact"};

constexpr int kThreads = 2;  // the upstream report's two threads

// c10::optional on 1.13, std::optional from 2.x: the dispatcher's own type.
auto find_op(const char* name) { return c10::Dispatcher::singleton().findSchema({name, ""}); }

// "" when both ops of a prepacked pair are registered, else the loud skip's reason.
std::string missing_ops(const char* prepack, const char* run) {
  for (const char* op : {prepack, run}) {
    if (!find_op(op))
      return fmt::format("{} is not registered in LibTorch {} (built without XNNPACK: the 2.13+ wheels are)", op,
                         TORCH_VERSION);
  }
  return "";
}

// Every thread calls `run` on one shared context, each on its own input shape; each output must
// equal that thread's single-threaded reference bit for bit (the same context, the same kernel).
class SharedPrepackedContext : public Workload {
 public:
  SharedPrepackedContext(const char* run_op, c10::IValue context, std::function<std::vector<int64_t>(int)> shape,
                         std::function<at::Tensor(const at::Tensor&)> on_cpu)
      : Workload(c10::Device(c10::kCPU), {0.0, 0.0}, {1e-3, 1e-3}),
        run_(*find_op(run_op)),
        name_(std::string(run_op) + " (shared context)"),
        context_(std::move(context)),
        shape_(std::move(shape)),
        on_cpu_(std::move(on_cpu)) {}
  const char* name() const override { return name_.c_str(); }
  at::Tensor run_once(int thread) override {
    torch::jit::Stack stack{inputs(thread)[0], context_};
    run_.callBoxed(&stack);
    return stack.at(0).toTensor();
  }

 protected:
  std::vector<at::Tensor> make_inputs(int thread) const override {
    return {seeded_randn(shape_(thread), input_seed(thread, 0))};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return on_cpu_(in[0]); }

 private:
  c10::OperatorHandle run_;
  std::string name_;
  c10::IValue context_;
  std::function<std::vector<int64_t>(int)> shape_;
  std::function<at::Tensor(const at::Tensor&)> on_cpu_;
};

c10::IValue prepack(const char* op, torch::jit::Stack args) {
  find_op(op)->callBoxed(&args);
  return args.at(0);
}

// Two threads press the shared context for KNOWN_BUG_SECONDS; a wrong value or an exception is the
// bug caught here, a crash is caught by the parent (observe_in_child).
std::string press(Workload& w) {
  RunSpec spec = run_spec_from_knobs();
  spec.threads = kThreads;
  spec.iterations = 0;
  spec.duration = knobs().known_bug_seconds;
  spec.noise.level = 0.0;       // back to back: the race needs both threads inside run() at once
  spec.inputs_per_thread = 1;   // one shape per thread, as upstream
  const RunResult r = run_workload(w, spec);
  if (r.errors.empty()) return "";
  const std::string first = round_reason(r.errors, r.errors.size());
  return caught_reason(r.errors.front().kind == ErrorKind::kWrongValue ? "wrong value" : "exception", first);
}

std::string linear_round(int /*round*/) {
  const at::Tensor weight = seeded_randn({256, 512}, kBaseSeed);
  const at::Tensor bias = seeded_randn({256}, kBaseSeed + 1);
  c10::IValue ctx = prepack("prepacked::linear_clamp_prepack", {weight, bias, c10::IValue(), c10::IValue()});
  SharedPrepackedContext w(
      "prepacked::linear_clamp_run", ctx, [](int t) { return std::vector<int64_t>{64 + t, 512}; },
      [weight, bias](const at::Tensor& x) { return at::linear(x, weight, bias); });
  return press(w);
}

std::string conv_round(int /*round*/) {
  const at::Tensor weight = seeded_randn({8, 3, 3, 3}, kBaseSeed);
  const at::Tensor bias = seeded_randn({8}, kBaseSeed + 1);
  const std::vector<int64_t> one{1, 1};
  c10::IValue ctx = prepack("prepacked::conv2d_clamp_prepack",
                            {weight, bias, one, one, one, int64_t{1}, c10::IValue(), c10::IValue()});
  SharedPrepackedContext w(
      "prepacked::conv2d_clamp_run", ctx, [](int t) { return std::vector<int64_t>{1, 3, 32 + 4 * t, 32}; },
      [weight, bias](const at::Tensor& x) { return at::conv2d(x, weight, bias, 1, 1); });
  return press(w);
}

Observation observe_shared_context(const char* prepack_op, const char* run_op, const RoundBody& round) {
  if (const std::string why = missing_ops(prepack_op, run_op); !why.empty()) return Observation::absent(why);
  return observe_in_child(round, fmt::format("{} threads shared one context for {:.0f} s; every output was exact",
                                             kThreads, knobs().known_bug_seconds.count()));
}

TEST(XnnpackContext, SharedLinearContextFromTwoThreadsCrashes) {
  // Pins pytorch/pytorch#62165: 2 threads, one linear_clamp_prepack context (weight 256x512), inputs
  // 64x512 and 65x512. Crashed 21 of 21 runs on 2.11/2.12 and 3 of 3 on Debian 1.13.1 in 0.2-0.9 s.
  const Observation seen = observe_shared_context("prepacked::linear_clamp_prepack", "prepacked::linear_clamp_run",
                                                  linear_round);
  if (in_death_test_child()) return;
  TORCHSTRESS_EXPECT_KNOWN_BUG(kSharedLinearContext, seen);
}

TEST(XnnpackContext, SharedConv2dContextFromTwoThreadsStaysExact) {
  // Negative control of #62165: the conv context got its mutex in PR #84602; heights 32 and 36.
  const Observation seen = observe_shared_context("prepacked::conv2d_clamp_prepack", "prepacked::conv2d_clamp_run",
                                                  conv_round);
  if (in_death_test_child()) return;
  TORCHSTRESS_EXPECT_KNOWN_BUG(kSharedConvContext, seen);
}

}  // namespace
}  // namespace torchstress::known_bugs
