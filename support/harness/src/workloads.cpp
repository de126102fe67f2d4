// The only translation unit that includes torch/nn (slow to compile): tests reach modules through
// the Workload interface.
#include <c10/core/GradMode.h>
#include "torchstress/workloads.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/transformerlayer.h>
#include <torch/utils.h>

#include <limits>
#include <stdexcept>
#include <string_view>

#include "torchstress/device_sync.h"
#include "torchstress/log.h"
#include "torchstress/seeded.h"

namespace torchstress {
namespace {

// Each thread's inputs come from its own seeded CPU generator (seeded.h), so they differ between
// threads (a result delivered to the wrong thread is caught) and are the same on every device.
constexpr uint64_t kSeed = kBaseSeed;

class MmWorkload : public Workload {
 public:
  MmWorkload(c10::Device d, int64_t n, const char* name, bool self)
      : Workload(d, Tolerance{}, {1e-4, 1e-4}), n_(n), name_(name), self_(self) {}
  const char* name() const override { return name_; }
  at::Tensor run_once(int thread) override {
    const auto& in = inputs(thread);
    at::Tensor x = stage_input(in[0]);
    return self_ ? at::matmul(x, x) : at::mm(x, in[1]);
  }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    const uint64_t seed = input_seed(thread, input);
    if (self_) return {seeded_randn({n_, n_}, seed)};
    return {seeded_randn({n_, n_}, seed), seeded_randn({n_, n_}, seed + 1)};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    return self_ ? at::matmul(in[0], in[0]) : at::mm(in[0], in[1]);
  }

 private:
  int64_t n_;
  const char* name_;
  bool self_;
};

// A module shared by every thread (as a thread pool serving one model does), plus a CPU twin
// built from the same seed for the cross-check.
template <typename ModuleHolder>
class ModuleWorkload : public Workload {
 public:
  ModuleWorkload(c10::Device d, const char* name, std::function<ModuleHolder()> build, std::vector<int64_t> input_shape,
                 Tolerance same, Tolerance vs_cpu)
      : Workload(d, same, vs_cpu), name_(name), input_shape_(std::move(input_shape)) {
    torch::manual_seed(kSeed);
    cpu_module_ = build();
    torch::manual_seed(kSeed);
    module_ = build();
    cpu_module_->eval();
    module_->eval();
    module_->to(d);
  }
  const char* name() const override { return name_; }
  at::Tensor run_once(int thread) override {
    c10::NoGradGuard no_grad;
    return forward(module_, stage_input(inputs(thread)[0]));
  }

 protected:
  virtual at::Tensor forward(ModuleHolder& m, const at::Tensor& x) { return m->forward(x); }
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    return {seeded_randn(input_shape_, input_seed(thread, input))};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    c10::NoGradGuard no_grad;
    return forward(cpu_module_, in[0]);
  }

 private:
  const char* name_;
  std::vector<int64_t> input_shape_;
  ModuleHolder module_{nullptr};
  ModuleHolder cpu_module_{nullptr};
};

// LibTorch's TransformerEncoderLayer is sequence-first (S, N, E) and has no batch_first option
// before 2.x, so the batch-first input (N=8, S=16, E=128) is transposed explicitly both ways.
class TransformerWorkload : public ModuleWorkload<torch::nn::TransformerEncoderLayer> {
 public:
  explicit TransformerWorkload(c10::Device d)
      : ModuleWorkload(d, "transformer",
                       [] {
                         return torch::nn::TransformerEncoderLayer(
                             torch::nn::TransformerEncoderLayerOptions(128, 4).dim_feedforward(256).dropout(0.0));
                       },
                       {8, 16, 128}, Tolerance{}, {1e-3, 1e-3}) {}

 protected:
  at::Tensor forward(torch::nn::TransformerEncoderLayer& m, const at::Tensor& x) override {
    return m->forward(x.transpose(0, 1)).transpose(0, 1);
  }
};


// The error for a comparison that failed: non-finite when the output has NaN/Inf where the
// reference is finite, else a wrong value (a shape, dtype or undefined output too).
ErrorRecord error_of(const Comparison& c) {
  ErrorRecord e;
  if (c.problem.empty() && c.nonfinite > 0) {
    e.kind = ErrorKind::kNonFinite;
    e.message = fmt::format("{} of {} values are NaN or Inf where the reference is finite; {}", c.nonfinite, c.numel,
                            c.describe());
    return e;
  }
  e.kind = ErrorKind::kWrongValue;
  e.max_abs_diff = c.max_diff;
  e.message = c.describe();
  return e;
}

// The input that output k of a batch starting at `first_input` was made from.
int input_of(int first_input, size_t k, size_t cycle) {
  return static_cast<int>((static_cast<size_t>(first_input) + k) % cycle);
}

}  // namespace

void Workload::spread_over(std::vector<c10::Device> devices) {
  thread_devices_ = std::move(devices);
  if (!thread_devices_.empty()) device_ = thread_devices_.front();
}

void Workload::prepare(int threads, int inputs_per_thread) {
  prepare_inputs(threads, inputs_per_thread);
  compute_references();
}

void Workload::prepare_inputs(int threads, int inputs_per_thread) {
  inputs_.clear();
  references_.clear();
  current_input_.assign(static_cast<size_t>(threads), 0);
  for (int t = 0; t < threads; ++t) {
    std::vector<std::vector<at::Tensor>> per_input;
    for (int k = 0; k < (fresh_inputs() ? std::max(1, inputs_per_thread) : 1); ++k) {
      std::vector<at::Tensor> on_device;
      for (const auto& cpu : make_inputs(t, k)) on_device.push_back(cpu.to(device_of(t)));
      per_input.push_back(std::move(on_device));
    }
    inputs_.push_back(std::move(per_input));
  }
  for (const auto& d : thread_devices_.empty() ? std::vector<c10::Device>{device_} : thread_devices_) sync_device(d);
}

void Workload::compute_references() {
  c10::NoGradGuard no_grad;
  references_.assign(inputs_.size(), {});
  for (size_t t = 0; t < inputs_.size(); ++t) {
    const int thread = static_cast<int>(t);
    for (int k = 0; k < static_cast<int>(inputs_[t].size()); ++k) {
      use_input(thread, k);
      at::Tensor ref = run_once(thread);
      sync_device(device_of(thread));
      if (!ref.defined()) throw std::runtime_error(fmt::format("{}: the single-threaded call returned no tensor", name()));
      references_[t].push_back(host_copy(ref.detach()));
    }
    use_input(thread, 0);
  }
  refuse_if_cannot_fail();
  cross_check_with_cpu();
}

void Workload::cross_check_with_cpu() {
  // Against the CPU once (thread 0, input 0): a device that is wrong even on one thread must not
  // become the reference. Whole-tensor scale here: two backends' kernels legitimately differ.
  if (device_.is_cpu() || references_.empty()) return;
  at::Tensor cpu_out;
  try {
    cpu_out = run_on_cpu(make_inputs(0, 0));
  } catch (const std::exception& e) {
    // The device under test has the kernel (its references exist); only the CPU lacks it: the
    // case runs, without this cross-check, and says so.
    if (!is_missing_kernel(e)) throw;
    const std::string what = e.what();
    logger("workload")->warn("{}: CPU cross-check skipped, the CPU has no kernel: {}", name(),
                             what.substr(0, what.find('\n')));
    return;
  }
  if (!cpu_out.defined()) return;  // the workload has no CPU twin (a device-only op)
  const at::Tensor cpu_ref = comparable_with_cpu(host_copy(cpu_out));
  const Tolerance scaled{0.0, cpu_tolerance_.atol + cpu_tolerance_.rtol * host_absmax(cpu_ref)};
  const Comparison c = compare_on_host(comparable_with_cpu(references_[0][0]), cpu_ref, scaled);
  if (!c.ok()) {
    throw std::runtime_error(fmt::format("{} on {} disagrees with the CPU before any threading: {}", name(),
                                         device_.str(), c.describe()));
  }
}

void Workload::adopt_references(std::vector<std::vector<at::Tensor>> host_references) {
  if (host_references.size() != inputs_.size()) {
    throw std::runtime_error(fmt::format("{}: {} threads' references for {} threads' inputs", name(),
                                         host_references.size(), inputs_.size()));
  }
  references_ = std::move(host_references);
  refuse_if_cannot_fail();
}

void Workload::refuse_if_cannot_fail() const {
  if (references_.size() < 2) return;  // one thread: nothing to confuse it with
  if (!same_output_for_every_thread().empty()) return;  // by design; its test checks the invariant
  // Another thread's output is invisible when, input by input, every thread's reference is the same.
  const size_t inputs = references_.front().size();
  for (size_t i = 0; i < inputs; ++i) {
    const at::Tensor& first = references_.front()[i];
    for (const auto& per_thread : references_) {
      if (i < per_thread.size() && !compare_on_host(per_thread[i], first, Tolerance{}).ok()) return;
    }
  }
  throw CannotFailError(fmt::format("{} cannot fail: for each input all {} threads' references are the same tensor, "
                                    "so another thread's output would pass; accepted: inputs whose results differ "
                                    "per thread",
                                    name(), references_.size()));
}

bool is_missing_kernel(const std::exception& e) {
  return std::string_view(e.what()).find("not implemented for") != std::string_view::npos;
}

std::optional<ErrorRecord> Workload::check(int thread, const at::Tensor& output, int input) const {
  const auto& ref = references_[static_cast<size_t>(thread)][static_cast<size_t>(input)];
  const Comparison c = compare_on_host(to_host_staged(output), ref, tolerance_);
  if (c.ok()) return std::nullopt;
  return error_of(c);
}

std::vector<std::pair<size_t, ErrorRecord>> Workload::check_batch(int thread, int first_input,
                                                                  const std::vector<at::Tensor>& outputs) const {
  std::vector<std::pair<size_t, ErrorRecord>> wrong;
  // On an accelerator one download for the batch when the outputs share a shape and dtype (ops
  // whose output size depends on the values, nonzero's, give each input its own).
  bool one_download = !outputs.empty() && outputs.front().defined() && !outputs.front().device().is_cpu();
  for (const auto& o : outputs) {
    one_download = one_download && o.defined() && o.sizes() == outputs.front().sizes() &&
                   o.scalar_type() == outputs.front().scalar_type() && o.device() == outputs.front().device();
  }
  if (one_download) return check_stacked(thread, first_input, at::stack(outputs));
  const auto cycle = references_[static_cast<size_t>(thread)].size();
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (auto e = check(thread, outputs[k], input_of(first_input, k, cycle))) wrong.emplace_back(k, std::move(*e));
  }
  return wrong;
}

std::vector<std::pair<size_t, ErrorRecord>> Workload::check_stacked(int thread, int first_input,
                                                                    const at::Tensor& stacked) const {
  // One download for the whole batch, then each output against its input's reference on the host.
  std::vector<std::pair<size_t, ErrorRecord>> wrong;
  const at::Tensor host = to_host_staged(stacked);
  const auto cycle = references_[static_cast<size_t>(thread)].size();
  for (size_t k = 0; k < static_cast<size_t>(host.size(0)); ++k) {
    const at::Tensor output = host.select(0, static_cast<int64_t>(k));
    if (auto e = check(thread, output, input_of(first_input, k, cycle))) wrong.emplace_back(k, std::move(*e));
  }
  return wrong;
}

std::unique_ptr<Workload> make_workload(const std::string& name, const c10::Device& device, int batch) {
  namespace nn = torch::nn;
  if (name == "mm") return std::make_unique<MmWorkload>(device, 64, "mm", false);
  if (name == "matmul128") return std::make_unique<MmWorkload>(device, 128, "matmul128", true);
  if (name == "layernorm") {
    return std::make_unique<ModuleWorkload<nn::LayerNorm>>(
        device, "layernorm", [] { return nn::LayerNorm(nn::LayerNormOptions({256})); },
        std::vector<int64_t>{16, 32, 256}, Tolerance{}, Tolerance{1e-4, 1e-4});
  }
  if (name == "transformer") return std::make_unique<TransformerWorkload>(device);
  if (name.rfind(kOpPrefix, 0) == 0) return make_op_workload(name.substr(std::string(kOpPrefix).size()), device);
  if (name == "linear_relu") {
    // The reference shape of the Python comparison: a 64x256 batch through Linear(256,256)+ReLU.
    return std::make_unique<ModuleWorkload<nn::Sequential>>(
        device, "linear_relu", [] { return nn::Sequential(nn::Linear(256, 256), nn::ReLU()); },
        std::vector<int64_t>{64, 256}, Tolerance{}, Tolerance{1e-3, 1e-3});
  }
  if (name == "mlp") {
    return std::make_unique<ModuleWorkload<nn::Sequential>>(
        device, "mlp",
        [] {
          return nn::Sequential(nn::Linear(512, 1024), nn::ReLU(), nn::Linear(1024, 1024), nn::ReLU(),
                                nn::Linear(1024, 512));
        },
        std::vector<int64_t>{batch, 512}, Tolerance{}, Tolerance{1e-3, 1e-3});
  }
  throw std::invalid_argument("unknown workload '" + name + "'; accepted: " + kWorkloadNames);
}

}  // namespace torchstress
