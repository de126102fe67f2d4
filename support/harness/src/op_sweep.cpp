#include "torchstress/op_sweep.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <fstream>
#include <sstream>

#include "torchstress/seeded.h"

namespace torchstress {
namespace {

std::string entry_label(size_t i, const Json& e) {
  return fmt::format("entry {} ({})", i + 1, e.is_object() ? e.value("op", std::string("no op")) : e.dump());
}

at::ScalarType scalar_type_of(const std::string& dtype) {
  if (dtype == "float32") return at::kFloat;
  if (dtype == "float64") return at::kDouble;
  throw CatalogueError(fmt::format("dtype '{}' is not accepted; accepted: float32, float64", dtype));
}

// "2x3x4" -> {2, 3, 4}
std::vector<int64_t> dims_of(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream in(text);
  for (std::string d; std::getline(in, d, 'x');) dims.push_back(std::stoll(d));
  return dims;
}

bool is_tensor_token(const Json& a) {
  if (!a.is_string()) return false;
  const auto s = a.get<std::string>();
  return s == "x" || s == "y" || s == "z" || s == "xpos" || s == "mask" || s == "gidx" || s.rfind("t:", 0) == 0 ||
         s.rfind("tpos:", 0) == 0 || s.rfind("idx:", 0) == 0;
}

// The CPU tensors of a case's tensor tokens, in argument order, from `seed`.
std::vector<at::Tensor> make_tensors(const SweepCase& c, uint64_t seed) {
  const auto dtype = scalar_type_of(c.dtype);
  std::vector<at::Tensor> out;
  for (const auto& a : c.args) {
    if (!is_tensor_token(a)) continue;
    const auto s = a.get<std::string>();
    const uint64_t k = seed + out.size();
    auto gen = at::detail::createCPUGenerator(k);
    if (s == "x" || s == "y" || s == "z" || s == "xpos") {
      const bool transposed = c.layout == "transposed" && c.shape.size() == 2;
      std::vector<int64_t> made = transposed ? std::vector<int64_t>{c.shape[1], c.shape[0]} : c.shape;
      at::Tensor t = seeded_randn(made, k).to(dtype);
      if (s == "xpos") t = t.abs() + 0.5;
      out.push_back(transposed ? t.t() : t);
    } else if (s == "mask") {
      out.push_back(seeded_randn(c.shape, k) > 0);
    } else if (s == "gidx") {
      out.push_back(at::randint(c.shape.back(), c.shape, gen, at::TensorOptions().dtype(at::kLong)));
    } else if (s.rfind("idx:", 0) == 0) {
      const auto parts = dims_of(s.substr(4));  // idx:NxH
      out.push_back(at::randint(parts.at(1), {parts.at(0)}, gen, at::TensorOptions().dtype(at::kLong)));
    } else {
      const bool positive = s.rfind("tpos:", 0) == 0;
      at::Tensor t = seeded_randn(dims_of(s.substr(positive ? 5 : 2)), k).to(dtype);
      out.push_back(positive ? t.abs() + 0.5 : t);
    }
  }
  return out;
}

// The boxed arguments: tensor tokens take `tensors` in order, the rest are literals.
std::vector<c10::IValue> make_stack(const SweepCase& c, const std::vector<at::Tensor>& tensors, const c10::Device& device) {
  std::vector<c10::IValue> stack;
  size_t next = 0;
  for (const auto& a : c.args) {
    if (is_tensor_token(a)) {
      stack.emplace_back(tensors.at(next++));
    } else if (a.is_null()) {
      stack.emplace_back();
    } else if (a.is_boolean()) {
      stack.emplace_back(a.get<bool>());
    } else if (a.is_number_integer()) {
      stack.emplace_back(a.get<int64_t>());
    } else if (a.is_number()) {
      stack.emplace_back(a.get<double>());
    } else if (a.is_array()) {
      stack.emplace_back(a.get<std::vector<int64_t>>());
    } else if (a == "dtype") {
      stack.emplace_back(scalar_type_of(c.dtype));
    } else if (a == "device") {
      stack.emplace_back(device);
    } else if (a.is_object() && a.contains("dtype")) {
      stack.emplace_back(scalar_type_of(a["dtype"].get<std::string>()));
    } else if (a.is_object() && a.contains("device")) {
      stack.emplace_back(c10::Device(a["device"].get<std::string>()));
    } else if (a.is_string() && a.get<std::string>().rfind("str:", 0) == 0) {
      stack.emplace_back(a.get<std::string>().substr(4));
    } else {
      throw CatalogueError(fmt::format("{}: argument {} is not accepted; accepted: x, y, z, xpos, mask, gidx, "
                                       "t:AxB, tpos:AxB, idx:NxH, numbers, booleans, null, int lists, dtype, "
                                       "device, {{\"dtype\": ...}}, {{\"device\": ...}}, str:TEXT",
                                       c.op, a.dump()));
    }
  }
  return stack;
}

// The first output as a tensor the check can subtract: integers and booleans as float64.
at::Tensor comparable(const c10::IValue& v) {
  at::Tensor t;
  if (v.isTensor()) t = v.toTensor();
  else if (v.isTuple()) t = v.toTupleRef().elements().at(0).toTensor();
  else if (v.isTensorList()) {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& p : v.toTensorList().vec()) parts.push_back(p.reshape(-1));
    t = at::cat(parts);
  } else {
    throw std::runtime_error("the op returned no tensor");
  }
  return t.is_floating_point() ? t : t.to(at::kDouble);
}

// Appends the schema's defaults for the arguments the entry leaves out (a boxed call takes them all).
void fill_defaults(const c10::FunctionSchema& schema, std::vector<c10::IValue>& stack) {
  const auto& params = schema.arguments();
  if (stack.size() > params.size()) {
    throw CatalogueError(fmt::format("{} arguments given, the schema {} takes {}", stack.size(), c10::toString(schema),
                                     params.size()));
  }
  for (size_t i = stack.size(); i < params.size(); ++i) {
    if (!params[i].default_value()) {
      throw CatalogueError(fmt::format("argument '{}' of {} has no default and is not given", params[i].name(),
                                       c10::toString(schema)));
    }
    stack.push_back(*params[i].default_value());
  }
}

c10::OperatorHandle find_op(const SweepCase& c) {
  auto op = c10::Dispatcher::singleton().findSchema({c.op, c.overload});
  if (!op) throw CatalogueError(fmt::format("{}{}{}: not registered", c.op, c.overload.empty() ? "" : ".", c.overload));
  return *op;
}

// A case's boxed arguments for one device, built once: literals and schema defaults in place,
// tensor slots filled per call (the JSON is not read again in the loop).
struct StackTemplate {
  std::vector<c10::IValue> values;
  std::vector<size_t> tensor_slots;
};

StackTemplate make_template(const SweepCase& c, const c10::OperatorHandle& op, const c10::Device& device) {
  StackTemplate t;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (is_tensor_token(c.args[i])) t.tensor_slots.push_back(i);
  }
  t.values = make_stack(c, std::vector<at::Tensor>(t.tensor_slots.size()), device);
  fill_defaults(op.schema(), t.values);
  return t;
}

class SweepWorkload : public Workload {
 public:
  SweepWorkload(SweepCase c, c10::Device d)
      : Workload(d, c.same_device, c.vs_cpu),
        case_(std::move(c)),
        name_(case_.name()),
        op_(find_op(case_)),
        on_device_(make_template(case_, op_, d)),
        on_cpu_(make_template(case_, op_, c10::Device(c10::kCPU))) {}
  const char* name() const override { return name_.c_str(); }
  at::Tensor run_once(int thread) override { return call(inputs(thread), on_device_); }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    return make_tensors(case_, input_seed(thread, input) * 31);
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return call(in, on_cpu_); }

 private:
  at::Tensor call(const std::vector<at::Tensor>& tensors, const StackTemplate& t) const {
    std::vector<c10::IValue> stack = t.values;
    for (size_t k = 0; k < t.tensor_slots.size(); ++k) stack[t.tensor_slots[k]] = tensors.at(k);
    op_.callBoxed(&stack);
    return comparable(stack.at(0));
  }
  SweepCase case_;
  std::string name_;
  c10::OperatorHandle op_;
  StackTemplate on_device_;
  StackTemplate on_cpu_;
};

Tolerance tolerance_of(const Json& e, const std::string& dtype, const char* key, Tolerance fallback) {
  if (!e.contains(key) || !e[key].contains(dtype)) return fallback;
  const auto& v = e[key][dtype];
  return {v.at(0).get<double>(), v.at(1).get<double>()};
}

SweepCase case_of(const Json& e, const std::string& dtype, const std::string& layout) {
  SweepCase c;
  const auto qualified = e.at("op").get<std::string>();
  const auto dot = qualified.find('.', qualified.find("::"));
  c.op = qualified.substr(0, dot);
  c.overload = dot == std::string::npos ? "" : qualified.substr(dot + 1);
  c.args = e.at("args");
  c.shape = e.value("shape", std::vector<int64_t>{64, 48});
  c.dtype = dtype;
  c.layout = layout;
  const bool f64 = dtype == "float64";
  c.same_device = tolerance_of(e, dtype, "tol", f64 ? Tolerance{1e-12, 1e-12} : Tolerance{1e-5, 1e-5});
  c.vs_cpu = tolerance_of(e, dtype, "tol_vs_cpu", f64 ? Tolerance{1e-9, 1e-9} : Tolerance{1e-3, 1e-3});
  c.since = e.value("since", std::string());
  c.label = e.value("name", std::string());
  scalar_type_of(dtype);  // throws for a dtype the sweep does not make
  if (layout != "contiguous" && layout != "transposed") {
    throw CatalogueError(fmt::format("layout '{}' is not accepted; accepted: contiguous, transposed", layout));
  }
  return c;
}

}  // namespace

std::string SweepCase::name() const {
  const std::string base =
      !label.empty() ? label : op.substr(op.find("::") + 2) + (overload.empty() ? "" : "_" + overload);
  return fmt::format("{}_{}_{}", base, dtype, layout);
}

std::vector<SweepCase> load_op_catalogue(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CatalogueError(fmt::format("op catalogue '{}' cannot be read; accepted: a readable JSON file", path));
  Json all;
  try {
    all = Json::parse(in);
  } catch (const std::exception& e) {
    throw CatalogueError(fmt::format("op catalogue '{}' is not JSON: {}", path, e.what()));
  }
  if (!all.is_array()) throw CatalogueError(fmt::format("op catalogue '{}' is not a JSON array of entries", path));
  std::vector<SweepCase> cases;
  for (size_t i = 0; i < all.size(); ++i) {
    const Json& e = all[i];
    try {
      if (!e.is_object() || !e.contains("op") || !e.contains("args") || !e["args"].is_array()) {
        throw CatalogueError("needs \"op\" (\"ns::name[.overload]\") and \"args\" (a list)");
      }
      for (const auto& dtype : e.value("dtypes", std::vector<std::string>{"float32"})) {
        for (const auto& layout : e.value("layouts", std::vector<std::string>{"contiguous"})) {
          cases.push_back(case_of(e, dtype, layout));
        }
      }
    } catch (const std::exception& ex) {
      throw CatalogueError(fmt::format("op catalogue '{}', {}: {}", path, entry_label(i, e), ex.what()));
    }
  }
  return cases;
}

bool too_old_for(const SweepCase& c) {
  if (c.since.empty()) return false;
  const auto dot = c.since.find('.');
  const int major = std::stoi(c.since.substr(0, dot));
  const int minor = dot == std::string::npos ? 0 : std::stoi(c.since.substr(dot + 1));
  return TORCH_VERSION_MAJOR < major || (TORCH_VERSION_MAJOR == major && TORCH_VERSION_MINOR < minor);
}

std::string sweep_case_problem(const SweepCase& c) {
  if (too_old_for(c)) return "";
  try {
    auto op = find_op(c);
    auto stack = make_stack(c, make_tensors(c, kBaseSeed), c10::Device(c10::kCPU));
    fill_defaults(op.schema(), stack);  // argument types are the op's to check, at its first call
    return "";
  } catch (const std::exception& e) {
    std::string line = e.what();
    line = line.substr(0, line.find('\n'));
    return fmt::format("{} ({}): {}", c.name(), c.op, line);
  }
}

std::unique_ptr<Workload> make_sweep_workload(const SweepCase& c, const c10::Device& device) {
  return std::make_unique<SweepWorkload>(c, device);
}

}  // namespace torchstress
