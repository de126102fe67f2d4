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
  return *op;  // c10::optional before LibTorch 2.3, std::optional after
}

// Thread t's inputs: seeded float32 [64, 64 + t] matrices, so threads differ in values and in
// shape (kernels that cache per shape see several shapes at once), and a thread's inputs in values.
class OpWorkload : public Workload {
 public:
  OpWorkload(const std::string& qualified, c10::OperatorHandle op, c10::Device d)
      : Workload(d, {1e-5, 1e-5}, {1e-4, 1e-4}), name_(qualified), op_(std::move(op)) {}
  const char* name() const override { return name_.c_str(); }
  at::Tensor run_once(int thread) override { return call(stage_input(inputs(thread)[0])); }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    return {seeded_randn({64, 64 + thread}, input_seed(thread, input))};
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
};

}  // namespace

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
