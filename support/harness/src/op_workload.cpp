// A workload that calls any operator registered with the dispatcher by its name, the way ATen's
// own ops are called: a fork's kernel, a user's TORCH_LIBRARY op (loaded with OP_LIBRARY), or the
// detection zoo's seeded bugs all run through the same runner, soak and isolated rounds as the
// seed's workloads, with nothing in the harness that knows which op it is.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "torchstress/seeded.h"
#include "torchstress/variety.h"
#include "torchstress/workloads.h"

namespace torchstress {
namespace {

// Splits "ns::op.overload" into the dispatcher's (name, overload); the overload may be empty.
std::pair<std::string, std::string> split_op_name(const std::string& qualified) {
  const auto dot = qualified.find('.', qualified.find("::") == std::string::npos ? 0 : qualified.find("::"));
  if (dot == std::string::npos) return {qualified, ""};
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

// The operator, or why it cannot be a workload: unregistered, or not (Tensor) -> Tensor.
std::optional<c10::OperatorHandle> find_callable(const std::string& qualified, std::string* problem) {
  const auto [name, overload] = split_op_name(qualified);
  if (name.find("::") == std::string::npos) {
    *problem = fmt::format("'{}' is no qualified operator name (expected <namespace>::<op>[.<overload>])", qualified);
    return std::nullopt;
  }
  auto op = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!op) {
    *problem = fmt::format("operator '{}' is not registered (load its library with TORCHSTRESS_OP_LIBRARY)", qualified);
    return std::nullopt;
  }
  const auto& schema = op->schema();
  const auto is_tensor = [](const c10::TypePtr& t) { return t->kind() == c10::TypeKind::TensorType; };
  if (schema.arguments().size() != 1 || schema.returns().size() != 1 || !is_tensor(schema.arguments()[0].type()) ||
      !is_tensor(schema.returns()[0].type())) {
    *problem = fmt::format("operator '{}' has schema {}; a workload op takes (Tensor) -> Tensor", qualified,
                           c10::toString(schema));
    return std::nullopt;
  }
  // An op that writes its input (Tensor(a!)) would change the thread's input under its reference.
  if (schema.is_mutable()) {
    *problem = fmt::format("operator '{}' has schema {}, which writes its input; a workload op takes (Tensor) -> "
                           "Tensor and leaves its input as it is (run in-place ops through the op sweep's catalogue)",
                           qualified, c10::toString(schema));
    return std::nullopt;
  }
  return *op;  // c10::optional before LibTorch 2.3, std::optional after
}

// The floating dtypes an op: workload's inputs may take, where the op accepts them (float32 first:
// thread 0's first input keeps it whenever accepted), with the sweep catalogue's names.
constexpr std::pair<c10::ScalarType, const char*> kCandidateDtypes[] = {
    {at::kFloat, "float32"}, {at::kDouble, "float64"}, {at::kBFloat16, "bfloat16"}, {at::kHalf, "float16"}};

// Thread t's inputs: seeded matrices, float32 unless varied. Fixed (variety off): [64, 64 + t], so threads differ
// in values and shape. Varied (the stress tests' default): each (thread, input) draws its shape
// from a pool of ragged shapes picked by the run's seed, so several threads share a shape and
// others do not: state keyed or sized by shape meets another shape concurrently, and a thread's
// calls change shape from one input to the next. Lifetime: on about half of the calls, drawn from
// the seed, the op reads a fresh copy of its input, freed right after, so the allocator hands the
// same addresses to other threads while they run. Dtype: each (thread, input) but thread 0's first
// (the CPU cross-check's, kept float32) draws one of the dtypes the op accepted when probed, so
// state keyed or sized by dtype (kernel tables, per-dtype caches) meets another dtype concurrently.
class OpWorkload : public Workload, public Varied {
 public:
  OpWorkload(const std::string& qualified, c10::OperatorHandle op, c10::Device d)
      : Workload(d, Tolerance{}, {1e-4, 1e-4}), name_(qualified), op_(std::move(op)) {}
  const char* name() const override { return name_.c_str(); }
  void vary(const VarietySpec& v) override { variety_ = v; }
  VarietySpec probed(const VarietySpec& v) override {
    VarietySpec out = v;
    out.dtypes.clear();
    for (const auto& candidate : kCandidateDtypes) {
      try {
        const at::Tensor y = call(seeded_randn({8, 8}, 1).to(candidate.first).to(device_of(0)));
        if (y.defined()) out.dtypes.push_back(candidate.first);
      } catch (const std::exception&) {  // not accepted: inputs of this dtype are not drawn
      }
    }
    return out;
  }
  at::Tensor run_once(int thread) override {
    at::Tensor x = inputs(thread)[0];
    if (variety_.on) {
      const auto t = static_cast<size_t>(thread);
      if (calls_.size() <= t) throw std::logic_error("op workload: run_once before prepare");
      if (varied_draw(variety_.seed, 7, t, static_cast<uint64_t>(calls_[t]++), 0, 1) == 1) {
        x = at::empty_strided(x.sizes(), x.strides(), x.options()).copy_(x);
      }
    }
    return call(stage_input(x));
  }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    if (!variety_.on) return {seeded_randn({64, 64 + thread}, input_seed(thread, input))};
    // Runs single-threaded (prepare): the per-thread call counters grow here.
    if (calls_.size() <= static_cast<size_t>(thread)) calls_.resize(static_cast<size_t>(thread) + 1, 0);
    // A pool of 12 shapes per run, rows 8..160 and columns 8..192 (at most 30,720 elements).
    const auto pick = static_cast<uint64_t>(varied_draw(variety_.seed, 1, static_cast<uint64_t>(thread),
                                                         static_cast<uint64_t>(input), 0, 11));
    const int64_t rows = varied_draw(variety_.seed, 2, pick, 0, 8, 160);
    const int64_t cols = varied_draw(variety_.seed, 3, pick, 0, 8, 192);
    return {seeded_randn({rows, cols}, input_seed(thread, input)).to(dtype_of(thread, input))};
  }
  c10::ScalarType dtype_of(int thread, int input) const {
    const auto& d = variety_.dtypes;
    if (d.empty()) return at::kFloat;
    if (thread == 0 && input == 0) return d.front();
    return d[static_cast<size_t>(varied_draw(variety_.seed, 4, static_cast<uint64_t>(thread),
                                             static_cast<uint64_t>(input), 0, static_cast<int64_t>(d.size()) - 1))];
  }
  // The CPU cross-check needs a CPU kernel; a device-only op is checked against itself only.
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    if (!op_.hasKernelForDispatchKey(c10::DispatchKey::CPU)) return {};
    return call(in[0]);
  }

 private:
  at::Tensor call(const at::Tensor& x) const { return op_.typed<at::Tensor(const at::Tensor&)>().call(x); }
  std::string name_;
  c10::OperatorHandle op_;
  VarietySpec variety_;
  mutable std::vector<long> calls_;  // [thread]: its calls so far, for the lifetime draws
};

}  // namespace

std::string dtype_list_text(const std::vector<c10::ScalarType>& dtypes) {
  if (dtypes.empty()) return "float32";
  std::string text;
  for (const auto d : dtypes) {
    for (const auto& [dtype, label] : kCandidateDtypes) {
      if (dtype == d) text += fmt::format("{}{}", text.empty() ? "" : ", ", label);
    }
  }
  return text;
}

std::unique_ptr<Workload> make_op_workload(const std::string& qualified, const c10::Device& device) {
  std::string problem;
  auto op = find_callable(qualified, &problem);
  if (!op) throw std::invalid_argument(problem);
  return std::make_unique<OpWorkload>(std::string(kOpPrefix) + qualified, *op, device);
}

std::string workload_name_problem(const std::string& name) {
  if (name.rfind(kOpPrefix, 0) == 0) {
    std::string problem;
    return find_callable(name.substr(std::string(kOpPrefix).size()), &problem) ? "" : problem;
  }
  for (const char* known : {"mm", "matmul128", "layernorm", "transformer", "linear_relu", "mlp"}) {
    if (name == known) return "";
  }
  return fmt::format("unknown workload '{}'", name);
}

}  // namespace torchstress
