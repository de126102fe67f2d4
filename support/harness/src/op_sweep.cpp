#include "torchstress/op_sweep.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "torchstress/seeded.h"

namespace torchstress {
namespace {

std::string entry_label(size_t i, const Json& e) {
  return fmt::format("entry {} ({})", i + 1, e.is_object() ? e.value("op", std::string("no op")) : e.dump());
}

// The dtypes a case can take, by catalogue name.
const std::vector<std::pair<std::string, at::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, at::ScalarType>> names{
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
      {"int64", at::kLong},    {"int32", at::kInt},      {"bool", at::kBool}};
  return names;
}

at::ScalarType scalar_type_of(const std::string& dtype) {
  std::string accepted;
  for (const auto& [name, type] : dtype_names()) {
    if (name == dtype) return type;
    accepted += (accepted.empty() ? "" : ", ") + name;
  }
  throw CatalogueError(fmt::format("dtype '{}' is not accepted; accepted: {}", dtype, accepted));
}

// "2x3x4" -> {2, 3, 4}
std::vector<int64_t> dims_of(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream in(text);
  for (std::string d; std::getline(in, d, 'x');) dims.push_back(std::stoll(d));
  return dims;
}

// Tokens of the case's own shape, dtype and layout.
bool is_case_shaped(const std::string& s) { return s == "x" || s == "y" || s == "z" || s == "xpos" || s == "xprob"; }

// An input tensor, made once per (thread, input) and uploaded before the workers start.
bool is_tensor_token(const Json& a) {
  if (!a.is_string()) return false;
  const auto s = a.get<std::string>();
  return is_case_shaped(s) || s == "mask" || s == "gidx" || s.rfind("t:", 0) == 0 || s.rfind("tpos:", 0) == 0 ||
         s.rfind("idx:", 0) == 0;
}
// An `out=` tensor, made empty per call on the device ("out" in the case's dtype, "out:DTYPE").
bool is_out_token(const Json& a) { return a.is_string() && a.get<std::string>().rfind("out", 0) == 0; }
// A random number generator: "gen" is the calling thread's own, seeded per call from its input;
// "gen:shared" is one for all threads, seeded per call (the race a control case must catch).
bool is_generator_token(const Json& a) { return a == "gen" || a == "gen:shared"; }

// Seeded values in `dtype`: floats as drawn, integers as round(8x), booleans as x > 0. `positive`
// keeps them away from zero (log, division); `probability` maps them into (0, 1).
at::Tensor values_in(const at::Tensor& drawn, at::ScalarType dtype, bool positive, bool probability) {
  if (dtype == at::kBool) return drawn > 0;
  if (at::isFloatingType(dtype)) {
    if (probability) return drawn.sigmoid().to(dtype);
    return (positive ? drawn.abs() + 0.5 : drawn).to(dtype);
  }
  const at::Tensor ints = (drawn * 8).round();
  return (positive ? ints.abs() + 1 : ints).to(dtype);
}

// The shape drawn for a case-shaped token: transposed draws the swapped shape (viewed back with
// .t() before upload; the upload keeps its strides); strided draws a last dimension twice as wide,
// viewed as every other element at each call (an upload would make a sliced view contiguous).
std::vector<int64_t> drawn_shape(const SweepCase& c) {
  std::vector<int64_t> s = c.shape;
  if (c.layout == "transposed" && s.size() == 2) std::swap(s[0], s[1]);
  if (c.layout == "strided" && !s.empty()) s.back() *= 2;
  return s;
}

at::Tensor case_shaped(const SweepCase& c, const std::string& s, uint64_t seed) {
  at::Tensor t = values_in(seeded_randn(drawn_shape(c), seed), scalar_type_of(c.dtype), s == "xpos", s == "xprob");
  return c.layout == "transposed" && c.shape.size() == 2 ? t.t() : t;
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
    if (is_case_shaped(s)) {
      out.push_back(case_shaped(c, s, k));
    } else if (s == "mask") {
      out.push_back(seeded_randn(c.shape, k) > 0);
    } else if (s == "gidx") {
      out.push_back(at::randint(c.shape.back(), c.shape, gen, at::TensorOptions().dtype(at::kLong)));
    } else if (s.rfind("idx:", 0) == 0) {
      const auto parts = dims_of(s.substr(4));  // idx:NxH
      out.push_back(at::randint(parts.at(1), {parts.at(0)}, gen, at::TensorOptions().dtype(at::kLong)));
    } else {
      const bool positive = s.rfind("tpos:", 0) == 0;
      out.push_back(values_in(seeded_randn(dims_of(s.substr(positive ? 5 : 2)), k), dtype, positive, false));
    }
  }
  return out;
}

// The dtype of an `out=` token: "out" takes the case's.
at::ScalarType out_dtype(const SweepCase& c, const Json& token) {
  const auto s = token.get<std::string>();
  if (s == "out") return scalar_type_of(c.dtype);
  if (s.rfind("out:", 0) != 0) throw CatalogueError(fmt::format("argument '{}' is not accepted; accepted: out, out:DTYPE", s));
  return scalar_type_of(s.substr(4));
}

// The boxed arguments: tensor tokens take `tensors` in order, the rest are literals.
std::vector<c10::IValue> make_stack(const SweepCase& c, const std::vector<at::Tensor>& tensors, const c10::Device& device) {
  std::vector<c10::IValue> stack;
  size_t next = 0;
  for (const auto& a : c.args) {
    if (is_tensor_token(a)) {
      stack.emplace_back(tensors.at(next++));
    } else if (is_out_token(a)) {
      out_dtype(c, a);  // throws for a dtype the sweep does not make
      stack.emplace_back(at::Tensor());  // made per call
    } else if (is_generator_token(a) || a.is_null()) {  // a generator is set per call
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
                                       "xprob, t:AxB, tpos:AxB, idx:NxH, out, out:DTYPE, gen, gen:shared, numbers, "
                                       "booleans, null, int lists, dtype, device, {{\"dtype\": ...}}, "
                                       "{{\"device\": ...}}, str:TEXT",
                                       c.op, a.dump()));
    }
  }
  return stack;
}

// The first output as a tensor the check can subtract: float16/bfloat16 as float32 (exact),
// integers and booleans as float64.
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
  if (!t.defined()) throw std::runtime_error("the op returned an undefined tensor");
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) return t.to(at::kFloat);  // exact
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

// True when the op writes argument `position` (an in-place op's self, an out= tensor).
bool writes(const c10::FunctionSchema& schema, size_t position) {
  const auto* alias = schema.arguments().at(position).alias_info();
  return alias != nullptr && alias->isWrite();
}

// A case's boxed arguments for one device, built once: literals and schema defaults in place;
// per call only the tensor, out= and generator slots are filled (the JSON is not read in the loop).
struct InputSlot {
  size_t position;
  bool strided;  // viewed as every other element of its last dimension at each call
  bool cloned;   // the op writes it: each call gets its own copy, so the input stays as made
};
struct OutSlot {
  size_t position;
  at::ScalarType dtype;
};
struct StackTemplate {
  std::vector<c10::IValue> values;
  std::vector<InputSlot> inputs;
  std::vector<OutSlot> outs;
  std::vector<size_t> generators;
};

StackTemplate make_template(const SweepCase& c, const c10::OperatorHandle& op, const c10::Device& device) {
  StackTemplate t;
  for (size_t i = 0; i < c.args.size(); ++i) {
    const Json& a = c.args[i];
    if (is_tensor_token(a)) {
      t.inputs.push_back({i, c.layout == "strided" && is_case_shaped(a.get<std::string>()), false});
    } else if (is_out_token(a)) {
      t.outs.push_back({i, out_dtype(c, a)});
    } else if (is_generator_token(a)) {
      t.generators.push_back(i);
    }
  }
  t.values = make_stack(c, std::vector<at::Tensor>(t.inputs.size()), device);
  fill_defaults(op.schema(), t.values);
  for (auto& slot : t.inputs) slot.cloned = writes(op.schema(), slot.position);
  return t;
}

// A copy with the same sizes and strides (clone() would make a sliced view contiguous).
at::Tensor copy_keeping_strides(const at::Tensor& t) {
  return at::empty_strided(t.sizes(), t.strides(), t.options()).copy_(t);
}

class SweepWorkload : public Workload {
 public:
  SweepWorkload(SweepCase c, c10::Device d)
      : Workload(d, c.same_device, c.vs_cpu),
        case_(std::move(c)),
        name_(case_.name()),
        op_(find_op(case_)),
        on_device_(make_template(case_, op_, d)),
        on_cpu_(make_template(case_, op_, c10::Device(c10::kCPU))),
        shared_generator_(std::find(case_.args.begin(), case_.args.end(), Json("gen:shared")) != case_.args.end()) {}
  const char* name() const override { return name_.c_str(); }
  at::Tensor run_once(int thread) override {
    std::optional<at::Generator> gen;
    if (!on_device_.generators.empty()) {  // seeded from the input, so a reference exists for it
      gen = generators_.at(shared_generator_ ? 0 : static_cast<size_t>(thread));
      gen->set_current_seed(input_seed(thread, current_input(thread)));
    }
    return call(inputs(thread), on_device_, device(), gen);
  }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    // Runs single-threaded in prepare(), before any worker: each thread's generator is forked here.
    while (!on_device_.generators.empty() && generators_.size() <= static_cast<size_t>(thread)) {
      generators_.push_back(fork_generator(device()));
    }
    return make_tensors(case_, input_seed(thread, input) * 31);
  }
  // A random op has no CPU twin: the CPU's generators draw other numbers than the device's.
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    if (!on_device_.generators.empty()) return at::Tensor();
    return call(in, on_cpu_, c10::Device(c10::kCPU), std::nullopt);
  }

 private:
  at::Tensor call(const std::vector<at::Tensor>& tensors, const StackTemplate& t, const c10::Device& device,
                  const std::optional<at::Generator>& gen) const {
    std::vector<c10::IValue> stack = t.values;
    for (size_t k = 0; k < t.inputs.size(); ++k) {
      at::Tensor in = tensors.at(k);
      if (t.inputs[k].strided) in = in.slice(-1, 0, in.size(-1), 2);
      stack[t.inputs[k].position] = t.inputs[k].cloned ? copy_keeping_strides(in) : in;
    }
    // Held here until the outputs are read: a boxed out= op returning several tensors returns
    // references to its out arguments, which the call pops from the stack.
    std::vector<at::Tensor> outs;
    for (const auto& o : t.outs) {
      outs.push_back(at::empty({0}, at::TensorOptions().dtype(o.dtype).device(device)));
      stack[o.position] = outs.back();
    }
    for (size_t g : t.generators) stack[g] = gen ? c10::IValue(*gen) : c10::IValue();
    op_.callBoxed(&stack);
    return comparable(stack.at(0));
  }
  SweepCase case_;
  std::string name_;
  c10::OperatorHandle op_;
  StackTemplate on_device_;
  StackTemplate on_cpu_;
  bool shared_generator_;
  mutable std::vector<at::Generator> generators_;  // [thread]; grown in make_inputs() only
};

Tolerance tolerance_of(const Json& e, const std::string& dtype, const char* key, Tolerance fallback) {
  if (!e.contains(key) || !e[key].contains(dtype)) return fallback;
  const auto& v = e[key][dtype];
  return {v.at(0).get<double>(), v.at(1).get<double>()};
}

// [rtol, atol] against the same device's single-threaded result, and against the CPU, per dtype:
// a threaded result should match its own device's almost exactly; integers and booleans exactly.
std::pair<Tolerance, Tolerance> default_tolerances(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return {{1e-12, 1e-12}, {1e-9, 1e-9}};
    case at::kFloat: return {{1e-5, 1e-5}, {1e-3, 1e-3}};
    case at::kHalf: return {{1e-3, 1e-3}, {1e-2, 1e-2}};
    case at::kBFloat16: return {{1e-2, 1e-2}, {5e-2, 5e-2}};
    default: return {{0, 0}, {0, 0}};
  }
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
  const auto [same_device, vs_cpu] = default_tolerances(scalar_type_of(dtype));
  c.same_device = tolerance_of(e, dtype, "tol", same_device);
  c.vs_cpu = tolerance_of(e, dtype, "tol_vs_cpu", vs_cpu);
  c.since = e.value("since", std::string());
  c.label = e.value("name", std::string());
  if (layout != "contiguous" && layout != "transposed" && layout != "strided") {
    throw CatalogueError(fmt::format("layout '{}' is not accepted; accepted: contiguous, transposed, strided", layout));
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
