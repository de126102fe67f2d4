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

#include "cpu_compare.h"
#include "torchstress/device_sync.h"
#include "torchstress/seeded.h"

namespace torchstress {
namespace {

// Each thread's inputs come from its own seeded CPU generator (seeded.h), so they differ between
// threads (a result delivered to the wrong thread is caught) and are the same on every device.
constexpr uint64_t kSeed = kBaseSeed;

class MmWorkload : public Workload {
 public:
  MmWorkload(c10::Device d, int64_t n, const char* name, bool self)
      : Workload(d, {1e-5, 1e-5}, {1e-4, 1e-4}), n_(n), name_(name), self_(self) {}
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
                       {8, 16, 128}, {1e-4, 1e-4}, {1e-3, 1e-3}) {}

 protected:
  at::Tensor forward(torch::nn::TransformerEncoderLayer& m, const at::Tensor& x) override {
    return m->forward(x.transpose(0, 1)).transpose(0, 1);
  }
};


// A mismatch is NaN/Inf when the output has any (counted), else a wrong value by `diff`.
ErrorRecord classify_mismatch(const at::Tensor& output, double diff, double allowed) {
  ErrorRecord e;
  const int64_t nonfinite = (~at::isfinite(output)).sum().item<int64_t>();
  if (nonfinite > 0) {
    e.kind = ErrorKind::kNonFinite;
    e.message = fmt::format("{} of {} values are NaN or Inf", nonfinite, output.numel());
  } else {
    e.kind = ErrorKind::kWrongValue;
    e.max_abs_diff = diff;
    e.message = fmt::format("tolerance {:.3g}", allowed);
  }
  return e;
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
  ref_absmax_.clear();
  diff_scratch_.clear();
  tiled_.assign(static_cast<size_t>(threads), at::Tensor());
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
  ref_absmax_.assign(inputs_.size(), {});
  diff_scratch_.clear();
  for (size_t t = 0; t < inputs_.size(); ++t) {
    const int thread = static_cast<int>(t);
    for (int k = 0; k < static_cast<int>(inputs_[t].size()); ++k) {
      use_input(thread, k);
      at::Tensor ref = run_once(thread);
      sync_device(device_of(thread));
      references_[t].push_back(ref.detach().clone());
      ref_absmax_[t].push_back(ref.abs().max().item<double>());
    }
    use_input(thread, 0);
    diff_scratch_.push_back(at::empty_like(references_[t].front()));
  }
  // Cross-check the device against the CPU once (thread 0, input 0): a device that is wrong even
  // on one thread must not become the reference.
  if (!device_.is_cpu()) {
    at::Tensor cpu_out = run_on_cpu(make_inputs(0, 0));
    if (!cpu_out.defined()) return;  // the workload has no CPU twin (a device-only op)
    at::Tensor dev_out = references_[0][0].to(at::kCPU);
    const double diff = (dev_out - cpu_out).abs().max().item<double>();
    const double allowed = cpu_tolerance_.atol + cpu_tolerance_.rtol * cpu_out.abs().max().item<double>();
    if (!(diff <= allowed)) {
      throw std::runtime_error(
          fmt::format("{} on {} disagrees with the CPU before any threading: max abs diff {:.6g} > {:.6g}", name(),
                      device_.str(), diff, allowed));
    }
  }
}

std::optional<ErrorRecord> Workload::check(int thread, const at::Tensor& output, int input) const {
  const auto t = static_cast<size_t>(thread);
  const auto& ref = references_[t][static_cast<size_t>(input)];
  // One reduction and one host read per op: NaN makes the comparison false, then classify.
  const double allowed = tolerance_.atol + tolerance_.rtol * ref_absmax_[t][static_cast<size_t>(input)];
  if (output.sizes() != ref.sizes()) {
    ErrorRecord e;
    e.kind = ErrorKind::kWrongValue;
    e.max_abs_diff = std::numeric_limits<double>::infinity();
    e.message = "output shape differs from the reference";
    return e;
  }
  if (auto outside = count_outside_tolerance_cpu(output, ref, allowed)) {
    if (*outside == 0) return std::nullopt;  // else ATen below measures and classifies the mismatch
  }
  // Into this thread's own scratch (no allocation), then one reduction: the per-op cost the
  // harness adds over a bare loop's host read is a single elementwise kernel.
  // (An input whose output has another size, as nonzero's, gets a fresh buffer instead.)
  at::Tensor diff_buf = diff_scratch_[t];
  if (diff_buf.sizes() == output.sizes()) {
    at::sub_out(diff_buf, output, ref);
  } else {
    diff_buf = output - ref;
  }
  // Max |diff|, fastest per device (measured): on CPU abs_+max (5 us for 128x128, where the
  // inf-norm takes 45 us); on accelerators the inf-norm saves a kernel launch.
  const double diff = output.device().is_cpu()
                          ? diff_buf.abs_().max().item<double>()
                          : at::linalg_vector_norm(diff_buf, std::numeric_limits<double>::infinity()).item<double>();
  if (diff <= allowed) return std::nullopt;
  return classify_mismatch(output, diff, allowed);
}

at::Tensor Workload::tiled_references(int thread, int first_input, int64_t n) const {
  const auto& refs = references_[static_cast<size_t>(thread)];
  if (refs.size() == 1) {  // a broadcast view: no copy
    std::vector<int64_t> shape{n};
    shape.insert(shape.end(), refs[0].sizes().begin(), refs[0].sizes().end());
    return refs[0].unsqueeze(0).expand(shape);
  }
  // The references repeated in input order, long enough for any batch start: built once per thread.
  at::Tensor& tiled = tiled_[static_cast<size_t>(thread)];
  const auto cycle = static_cast<int64_t>(refs.size());
  if (!tiled.defined() || tiled.size(0) < n + cycle) {
    std::vector<at::Tensor> seq;
    for (int64_t k = 0; k < n + cycle; ++k) seq.push_back(refs[static_cast<size_t>(k % cycle)]);
    tiled = at::stack(seq);
  }
  return tiled.narrow(0, first_input % cycle, n);
}

std::vector<std::pair<size_t, ErrorRecord>> Workload::check_batch(int thread, int first_input,
                                                                  const std::vector<at::Tensor>& outputs) const {
  std::vector<std::pair<size_t, ErrorRecord>> wrong;
  const auto& refs = references_[static_cast<size_t>(thread)];
  const auto cycle = refs.size();
  auto input_of = [&](size_t k) { return static_cast<int>((static_cast<size_t>(first_input) + k) % cycle); };
  // One fused comparison needs one shape throughout: ops whose output size depends on the values
  // (nonzero, masked_select) give each input its own, and a wrong output may have another.
  bool fusable = !outputs.empty() && outputs.front().numel() > 0;
  for (const auto& ref : refs) fusable = fusable && ref.sizes() == outputs.front().sizes();
  for (size_t k = 0; k < outputs.size() && fusable; ++k) fusable = outputs[k].sizes() == outputs.front().sizes();
  if (!fusable) {  // one check per output
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (auto e = check(thread, outputs[k], input_of(k))) wrong.emplace_back(k, std::move(*e));
    }
    return wrong;
  }
  return check_stacked(thread, first_input, at::stack(outputs));
}

std::vector<std::pair<size_t, ErrorRecord>> Workload::check_stacked(int thread, int first_input,
                                                                    const at::Tensor& stacked) const {
  // Two kernels (sub, max) and one host read for the whole batch; the outputs are compared with
  // the references tiled in input order (a view, no copy).
  std::vector<std::pair<size_t, ErrorRecord>> wrong;
  const auto t = static_cast<size_t>(thread);
  const auto cycle = references_[t].size();
  const int64_t n = stacked.size(0);
  bool one_shape = stacked.numel() > 0;
  for (const auto& ref : references_[t]) one_shape = one_shape && ref.sizes() == stacked.sizes().slice(1);
  if (!one_shape) {
    for (int64_t k = 0; k < n; ++k) {  // a wrong shape: one check per output
      const int in = static_cast<int>((static_cast<size_t>(first_input) + static_cast<size_t>(k)) % cycle);
      if (auto e = check(thread, stacked[k], in)) wrong.emplace_back(static_cast<size_t>(k), std::move(*e));
    }
    return wrong;
  }
  at::Tensor diff = (stacked - tiled_references(thread, first_input, n)).reshape({n, -1});
  at::Tensor per_op = diff.device().is_cpu()
                          ? diff.abs_().amax(1)
                          : at::linalg_vector_norm(diff, std::numeric_limits<double>::infinity(), {1}, false,
                                                   c10::nullopt);
  const at::Tensor host = per_op.to(at::kCPU).to(at::kDouble);  // widened on the host: one kernel less
  const double* d = host.data_ptr<double>();
  for (int64_t k = 0; k < n; ++k) {
    const auto in = (static_cast<size_t>(first_input) + static_cast<size_t>(k)) % cycle;
    const double allowed = tolerance_.atol + tolerance_.rtol * ref_absmax_[t][in];
    if (!(d[k] <= allowed)) wrong.emplace_back(static_cast<size_t>(k), classify_mismatch(stacked[k], d[k], allowed));
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
        std::vector<int64_t>{16, 32, 256}, Tolerance{1e-5, 1e-5}, Tolerance{1e-4, 1e-4});
  }
  if (name == "transformer") return std::make_unique<TransformerWorkload>(device);
  if (name.rfind(kOpPrefix, 0) == 0) return make_op_workload(name.substr(std::string(kOpPrefix).size()), device);
  if (name == "linear_relu") {
    // The reference shape of the Python comparison: a 64x256 batch through Linear(256,256)+ReLU.
    return std::make_unique<ModuleWorkload<nn::Sequential>>(
        device, "linear_relu", [] { return nn::Sequential(nn::Linear(256, 256), nn::ReLU()); },
        std::vector<int64_t>{64, 256}, Tolerance{1e-4, 1e-5}, Tolerance{1e-3, 1e-3});
  }
  if (name == "mlp") {
    return std::make_unique<ModuleWorkload<nn::Sequential>>(
        device, "mlp",
        [] {
          return nn::Sequential(nn::Linear(512, 1024), nn::ReLU(), nn::Linear(1024, 1024), nn::ReLU(),
                                nn::Linear(1024, 512));
        },
        std::vector<int64_t>{batch, 512}, Tolerance{1e-4, 1e-5}, Tolerance{1e-3, 1e-3});
  }
  throw std::invalid_argument("unknown workload '" + name + "'; accepted: " + kWorkloadNames);
}

}  // namespace torchstress
