#include "torchstress/op_sweep.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>
#include <c10/util/accumulate.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <deque>
#include <random>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "torchstress/seeded.h"
#include "torchstress/variety.h"

namespace torchstress {
namespace {

// Per thread: the packed output's header on the device, uploaded once per distinct header (an
// upload per call would put a host-to-device copy between the ops under test).
class HeaderCache {
 public:
  const at::Tensor& on_device(const std::vector<double>& h, const c10::Device& device) {
    for (const auto& [key, tensor] : cached_) {
      if (key == h && tensor.device() == device) return tensor;
    }
    cached_.emplace_back(h, at::tensor(h, at::kDouble).to(device));
    return cached_.back().second;
  }

 private:
  std::vector<std::pair<std::vector<double>, at::Tensor>> cached_;
};

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

// A literal drawn per (thread, input) from its seed, so a factory's output differs between threads
// (a case whose threads all get one output cannot fail): {"int": [LO, HI]}, {"float": [LO, HI]},
// or an int list holding {"int": [LO, HI]} elements.
bool is_drawn_number(const Json& a) { return a.is_object() && (a.contains("int") || a.contains("float")); }
bool is_varying_token(const Json& a) {
  return is_drawn_number(a) || (a.is_array() && std::any_of(a.begin(), a.end(), is_drawn_number));
}
// [LO, HI] of a drawn number's `kind` ("int" or "float").
template <typename T>
std::pair<T, T> bounds_of(const Json& n, const char* kind) {
  const Json& b = n.at(kind);
  return {b.at(0).get<T>(), b.at(1).get<T>()};
}

c10::IValue draw_varying(const Json& a, std::mt19937_64& rng) {
  auto draw_int = [&rng](const Json& n) {
    if (!is_drawn_number(n)) return n.get<int64_t>();
    const auto [lo, hi] = bounds_of<int64_t>(n, "int");
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  if (a.is_array()) {
    std::vector<int64_t> list;
    list.reserve(a.size());
    for (const auto& n : a) list.push_back(draw_int(n));
    return list;
  }
  if (a.contains("int")) return draw_int(a);
  const auto [lo, hi] = bounds_of<double>(a, "float");
  return lo + (hi - lo) * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

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
    } else if (is_varying_token(a) || is_generator_token(a) || a.is_null()) {  // literals, generators: set per call
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
                                       "booleans, null, int lists, {{\"int\": [LO, HI]}}, {{\"float\": [LO, HI]}}, dtype, device, {{\"dtype\": ...}}, "
                                       "{{\"device\": ...}}, str:TEXT",
                                       c.op, a.dump()));
    }
  }
  return stack;
}

// Every tensor an op returns (a tensor, each of a tuple's, each of a list's), in order.
void collect_tensors(const c10::IValue& v, std::vector<at::Tensor>& out) {
  if (v.isTensor()) {
    out.push_back(v.toTensor());
  } else if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) collect_tensors(e, out);
  } else if (v.isTensorList()) {
    const c10::List<at::Tensor> list = v.toTensorList();
    for (size_t i = 0; i < list.size(); ++i) out.push_back(list.get(i));  // no copy of the list
  }
}

// The packed header of `outputs`, [count, rank, sizes..., rank, sizes...], into `header`.
void write_header(const std::vector<at::Tensor>& outputs, std::vector<double>& header) {
  header.assign(1, static_cast<double>(outputs.size()));
  for (const auto& o : outputs) {
    if (!o.defined()) throw std::runtime_error("the op returned an undefined tensor");
    header.push_back(static_cast<double>(o.dim()));
    for (int64_t d : o.sizes()) header.push_back(static_cast<double>(d));
  }
}

// Every output in one float64 tensor the oracle compares element by element: the header (so a
// wrong shape fails), then each output's values (float16/bfloat16/float32 and integers up to
// 2^53 are exact in float64; booleans as 0/1). One allocation: each part is copied into its slice.
// On an accelerator the header comes from `cache` (uploaded once per distinct shape).
at::Tensor pack_outputs(const std::vector<at::Tensor>& outputs, HeaderCache* cache) {
  thread_local std::vector<double> header;  // reused: no allocation per call
  write_header(outputs, header);
  const auto header_size = static_cast<int64_t>(header.size());
  int64_t total = header_size;
  for (const auto& o : outputs) total += o.numel();
  const c10::Device device = outputs.empty() ? c10::Device(c10::kCPU) : outputs.front().device();
  at::Tensor packed = at::empty({total}, at::TensorOptions().dtype(at::kDouble).device(device));
  if (device.is_cpu()) {
    std::copy(header.begin(), header.end(), packed.data_ptr<double>());
  } else {
    packed.narrow(0, 0, header_size)
        .copy_(cache != nullptr ? cache->on_device(header, device) : at::tensor(header, at::kDouble).to(device));
  }
  int64_t at = header_size;
  for (const auto& o : outputs) {
    packed.narrow(0, at, o.numel()).view(o.sizes()).copy_(o);
    at += o.numel();
  }
  return packed;
}

// The leading part of a host packed output: its header and the first output's values.
at::Tensor header_and_first_output(const at::Tensor& packed) {
  const double* h = packed.data_ptr<double>();
  const auto count = static_cast<int64_t>(h[0]);
  int64_t at = 1, first_numel = 1;
  for (int64_t i = 0; i < count; ++i) {
    const auto rank = static_cast<int64_t>(h[at]);
    for (int64_t d = 0; d < rank && i == 0; ++d) first_numel *= static_cast<int64_t>(h[at + 1 + d]);
    at += 1 + rank;
  }
  return packed.narrow(0, 0, std::min(packed.numel(), at + (count > 0 ? first_numel : 0)));
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
  std::vector<size_t> varying;  // literals drawn per (thread, input)
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
    } else if (is_varying_token(a)) {
      t.varying.push_back(i);
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

class SweepWorkload : public Workload, public Varied {
 public:
  SweepWorkload(SweepCase c, c10::Device d)
      : Workload(d, c.same_device_on(d), c.vs_cpu),
        case_(std::move(c)),
        name_(case_.name()),
        op_(find_op(case_)),
        on_device_(make_template(case_, op_, d)),
        on_cpu_(make_template(case_, op_, c10::Device(c10::kCPU))),
        shared_generator_(std::find(case_.args.begin(), case_.args.end(), Json("gen:shared")) != case_.args.end()) {}
  const char* name() const override { return name_.c_str(); }
  bool packs_outputs() const override { return true; }
  // The header and the first output only, when the entry says why (vs_cpu_values_only).
  at::Tensor comparable_with_cpu(const at::Tensor& host_output) const override {
    return case_.vs_cpu_values_only.empty() ? host_output : header_and_first_output(host_output);
  }
  // Shape variety: the case's first dimension scaled per (thread, input) by one of the scales the
  // op accepts with the case's other arguments (each tried once, single-threaded, on the CPU).
  void vary(const VarietySpec& v) override {
    variety_ = v;
    row_scales_ = {1.0};
    if (!v.on || case_.shape.empty()) return;
    for (double scale : {0.5, 1.5, 2.0}) {
      try {
        const SweepCase scaled = scaled_case(scale);
        call(make_tensors(scaled, kBaseSeed), on_cpu_, c10::Device(c10::kCPU), std::nullopt, nullptr, nullptr);
        row_scales_.push_back(scale);
      } catch (const std::exception&) {  // this scale does not fit the case's other arguments
      }
    }
  }
  bool vary_calls_op() const override { return true; }
  at::Tensor run_once(int thread) override {
    std::optional<at::Generator> gen;
    if (!on_device_.generators.empty()) {  // seeded from the input, so a reference exists for it
      gen = generators_.at(shared_generator_ ? 0 : static_cast<size_t>(thread));
      gen->set_current_seed(input_seed(thread, current_input(thread)));
    }
    return call(inputs(thread), on_device_, device(), gen,
                device().is_cpu() ? nullptr : &header_caches_.at(static_cast<size_t>(thread)),
                literals_of(thread, current_input(thread)));
  }

 protected:
  bool fresh_inputs() const override { return true; }
  std::vector<at::Tensor> make_inputs(int thread) const override { return make_inputs(thread, 0); }
  std::vector<at::Tensor> make_inputs(int thread, int input) const override {
    // Runs single-threaded in prepare(), before any worker: each thread's generator and header
    // cache are made here.
    while (header_caches_.size() <= static_cast<size_t>(thread)) header_caches_.emplace_back();
    draw_literals(thread, input);
    while (!on_device_.generators.empty() && generators_.size() <= static_cast<size_t>(thread)) {
      generators_.push_back(fork_generator(device()));
    }
    if (!variety_.on || row_scales_.size() < 2) return make_tensors(case_, input_seed(thread, input) * 31);
    const auto k = varied_draw(variety_.seed, 11, static_cast<uint64_t>(thread), static_cast<uint64_t>(input), 0,
                               static_cast<int64_t>(row_scales_.size()) - 1);
    return make_tensors(scaled_case(row_scales_[static_cast<size_t>(k)]), input_seed(thread, input) * 31);
  }
  SweepCase scaled_case(double scale) const {
    SweepCase c = case_;
    c.shape[0] = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(c.shape[0]) * scale));
    return c;
  }
  // A random op has no CPU twin: the CPU's generators draw other numbers than the device's.
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override {
    if (!on_device_.generators.empty()) return at::Tensor();
    return call(in, on_cpu_, c10::Device(c10::kCPU), std::nullopt, nullptr, literals_of(0, 0));
  }

 private:
  at::Tensor call(const std::vector<at::Tensor>& tensors, const StackTemplate& t, const c10::Device& device,
                  const std::optional<at::Generator>& gen, HeaderCache* header_cache,
                  const std::vector<c10::IValue>* literals) const {
    std::vector<c10::IValue> stack = t.values;
    std::vector<c10::IValue> probe;
    if (literals == nullptr && !t.varying.empty()) {  // a call outside prepare() (the variety probe)
      std::mt19937_64 seed0(0);
      probe = draws(seed0);
      literals = &probe;
    }
    for (size_t k = 0; k < t.varying.size(); ++k) stack[t.varying[k]] = literals->at(k);
    for (size_t k = 0; k < t.inputs.size(); ++k) {
      at::Tensor in = tensors.at(k);
      if (t.inputs[k].strided) in = in.slice(-1, 0, in.size(-1), 2);
      stack[t.inputs[k].position] = t.inputs[k].cloned ? copy_keeping_strides(in) : in;
    }
    // Held here until the outputs are read: a boxed out= op returning several tensors returns
    // references to its out arguments, which the call pops from the stack.
    std::vector<at::Tensor> written;  // in-place targets and out= tensors: outputs too
    for (const auto& slot : t.inputs) {
      if (slot.cloned) written.push_back(stack[slot.position].toTensor());
    }
    for (const auto& o : t.outs) {
      written.push_back(at::empty({0}, at::TensorOptions().dtype(o.dtype).device(device)));
      stack[o.position] = written.back();
    }
    for (size_t g : t.generators) stack[g] = gen ? c10::IValue(*gen) : c10::IValue();
    op_.callBoxed(&stack);
    return pack_outputs(outputs_of(stack, written), header_cache);
  }
  // What the op returned, then each written argument it did not return (compared too).
  static std::vector<at::Tensor> outputs_of(const std::vector<c10::IValue>& stack,
                                            const std::vector<at::Tensor>& written) {
    std::vector<at::Tensor> outputs;
    for (const auto& v : stack) collect_tensors(v, outputs);
    if (outputs.empty()) throw std::runtime_error("the op returned no tensor");
    for (const auto& w : written) {
      if (std::none_of(outputs.begin(), outputs.end(), [&w](const at::Tensor& o) { return o.is_same(w); })) {
        outputs.push_back(w);
      }
    }
    return outputs;
  }
  SweepCase case_;
  VarietySpec variety_;
  std::vector<double> row_scales_{1.0};
  std::string name_;
  c10::OperatorHandle op_;
  StackTemplate on_device_;
  StackTemplate on_cpu_;
  bool shared_generator_;
  mutable std::vector<at::Generator> generators_;  // [thread]; grown in make_inputs() only
  mutable std::deque<HeaderCache> header_caches_;  // [thread]; grown in make_inputs() only
  mutable std::vector<std::vector<std::vector<c10::IValue>>> literals_;  // [thread][input][slot]; likewise

  // The drawn literals of (thread, input), from its seed; made in make_inputs() only.
  void draw_literals(int thread, int input) const {
    if (on_device_.varying.empty()) return;
    if (literals_.size() <= static_cast<size_t>(thread)) literals_.resize(static_cast<size_t>(thread) + 1);
    auto& inputs = literals_[static_cast<size_t>(thread)];
    if (inputs.size() <= static_cast<size_t>(input)) inputs.resize(static_cast<size_t>(input) + 1);
    std::mt19937_64 rng(input_seed(thread, input) * 31 + 5);
    inputs[static_cast<size_t>(input)] = draws(rng);
  }
  // One draw of each varying literal, in argument order.
  std::vector<c10::IValue> draws(std::mt19937_64& rng) const {
    std::vector<c10::IValue> slots;
    slots.reserve(on_device_.varying.size());
    for (size_t position : on_device_.varying) slots.push_back(draw_varying(case_.args[position], rng));
    return slots;
  }
  const std::vector<c10::IValue>* literals_of(int thread, int input) const {
    if (on_device_.varying.empty()) return nullptr;
    return &literals_.at(static_cast<size_t>(thread)).at(static_cast<size_t>(input));
  }
};

Tolerance tolerance_of(const Json& e, const std::string& dtype, const char* key, Tolerance fallback) {
  if (!e.contains(key) || !e[key].contains(dtype)) return fallback;
  const auto& v = e[key][dtype];
  return {v.at(0).get<double>(), v.at(1).get<double>()};
}

// [rtol, atol] per element: against the same device's single-threaded result exact for every
// dtype (the same kernel on the same device; an entry's "tol" loosens it, with its reason and a
// tolerance measured from single-threaded replays, docs/sweep.md); against the CPU, scaled by the
// reference's largest magnitude (two backends' kernels legitimately differ).
std::pair<Tolerance, Tolerance> default_tolerances(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return {{}, {1e-9, 1e-9}};
    case at::kFloat: return {{}, {1e-3, 1e-3}};
    case at::kHalf: return {{}, {1e-2, 1e-2}};
    case at::kBFloat16: return {{}, {5e-2, 5e-2}};
    default: return {{}, {}};
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
  // Loosening the exact same-device check needs its reason beside it (and the measure behind it
  // in docs/sweep.md): a tolerance nobody can explain hides wrong values.
  if (e.contains("tol") && (!e.contains("tol_reason") || !e["tol_reason"].is_string() ||
                            e["tol_reason"].get<std::string>().empty())) {
    throw CatalogueError("\"tol\" loosens the exact same-device check and needs \"tol_reason\"; accepted: "
                         "\"tol_reason\": \"why a single-threaded replay differs, and the measured spread\"");
  }
  c.same_device = tolerance_of(e, dtype, "tol", same_device);
  c.tol_devices = e.value("tol_devices", std::vector<std::string>{});
  c.vs_cpu_values_only = e.value("vs_cpu_values_only", std::string());
  c.vs_cpu = tolerance_of(e, dtype, "tol_vs_cpu", vs_cpu);
  c.since = e.value("since", std::string());
  c.label = e.value("name", std::string());
  if (layout != "contiguous" && layout != "transposed" && layout != "strided") {
    throw CatalogueError(fmt::format("layout '{}' is not accepted; accepted: contiguous, transposed, strided", layout));
  }
  // The case name is a gtest and ctest name: gtest aborts before main on any other character.
  const std::string name = c.name();
  const auto bad = std::find_if(name.begin(), name.end(), [](char ch) {
    return !(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
  });
  if (bad != name.end()) {
    throw CatalogueError(fmt::format("case name '{}' has the character '{}', which GoogleTest refuses; accepted: "
                                     "letters, digits and '_' (in \"name\", or the op and overload)",
                                     name, *bad));
  }
  return c;
}

// "2", "2.1" or "2.1.0": the lowest LibTorch version an entry needs.
bool is_version(const std::string& v) {
  if (v.empty() || v.size() > 16) return false;
  int parts = 1;
  bool digit_before = false;
  for (char ch : v) {
    if (ch == '.') {
      if (!digit_before) return false;
      ++parts;
      digit_before = false;
    } else if (std::isdigit(static_cast<unsigned char>(ch))) {
      digit_before = true;
    } else {
      return false;
    }
  }
  return digit_before && parts <= 3;
}

// Every key an entry may have (tests/sweep/README.md): any other is a typo that would be ignored.
constexpr const char* kEntryKeys[] = {"op",         "args",       "name",        "shape",
                                      "dtypes",     "layouts",    "tol",         "tol_reason",
                                      "tol_devices", "tol_vs_cpu", "vs_cpu_values_only", "since"};

void check_entry(const Json& e) {
  if (!e.is_object() || !e.contains("op") || !e["op"].is_string() || !e.contains("args") || !e["args"].is_array()) {
    throw CatalogueError("needs \"op\" (\"ns::name[.overload]\") and \"args\" (a list)");
  }
  std::string accepted;
  for (const char* k : kEntryKeys) accepted += (accepted.empty() ? "" : ", ") + std::string(k);
  for (const auto& [key, value] : e.items()) {
    if (std::find(std::begin(kEntryKeys), std::end(kEntryKeys), key) == std::end(kEntryKeys)) {
      throw CatalogueError(fmt::format("key '{}' is not accepted; accepted: {}", key, accepted));
    }
  }
  if (e.contains("vs_cpu_values_only") &&
      (!e["vs_cpu_values_only"].is_string() || e["vs_cpu_values_only"].get<std::string>().empty())) {
    throw CatalogueError(fmt::format("\"vs_cpu_values_only\" is {}; accepted: the reason the CPU cross-check may "
                                     "compare only the first output (e.g. ties ordered differently per backend)",
                                     e["vs_cpu_values_only"].dump()));
  }
  for (const char* list : {"dtypes", "layouts", "tol_devices"}) {
    if (!e.contains(list)) continue;
    const Json& v = e[list];
    if (!v.is_array() || v.empty() || !std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_string(); })) {
      throw CatalogueError(fmt::format("\"{}\" is {}; accepted: a non-empty list of names (leave the key out for {})",
                                       list, v.dump(), std::string(list) == "dtypes"    ? "float32"
                                                       : std::string(list) == "layouts" ? "contiguous"
                                                                                        : "every device"));
    }
  }
  if (e.contains("since") &&
      (!e["since"].is_string() || !is_version(e["since"].get<std::string>()))) {
    throw CatalogueError(fmt::format("\"since\" is {}, not a version; accepted: a LibTorch version as a string, "
                                     "\"MAJOR[.MINOR[.PATCH]]\" (e.g. \"2.1\")",
                                     e["since"].dump()));
  }
}

}  // namespace

Tolerance SweepCase::same_device_on(c10::Device d) const {
  if (tol_devices.empty()) return same_device;
  const std::string type = c10::DeviceTypeName(d.type(), /*lower_case=*/true);
  return std::find(tol_devices.begin(), tol_devices.end(), type) != tol_devices.end() ? same_device : Tolerance{};
}

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
      check_entry(e);
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
  // load_op_catalogue accepts only "MAJOR[.MINOR[.PATCH]]"; a case built by hand is read the
  // same way, never thrown on (std::stoi threw past every check before).
  int major = 0, minor = 0;
  if (std::sscanf(c.since.c_str(), "%d.%d", &major, &minor) < 1) return false;
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

PackedOutputs packed_outputs_of(const at::Tensor& packed) {
  const at::Tensor h = packed.contiguous();
  const double* p = h.data_ptr<double>();
  PackedOutputs layout;
  const auto count = static_cast<int64_t>(p[0]);
  int64_t at = 1;
  for (int64_t k = 0; k < count; ++k) {
    const auto rank = static_cast<int64_t>(p[at++]);
    layout.size_positions.push_back(at);
    std::vector<int64_t> sizes;
    for (int64_t d = 0; d < rank; ++d) sizes.push_back(static_cast<int64_t>(p[at++]));
    layout.shapes.push_back(std::move(sizes));
  }
  for (const auto& s : layout.shapes) {
    layout.offsets.push_back(at);
    at += c10::multiply_integers(s);
  }
  return layout;
}

std::unique_ptr<Workload> make_sweep_workload(const SweepCase& c, const c10::Device& device) {
  return std::make_unique<SweepWorkload>(c, device);
}

}  // namespace torchstress
