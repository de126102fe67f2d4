#include "torchstress/mutation.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/accumulate.h>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <type_traits>
#include <vector>

#include "torchstress/op_sweep.h"
#include "torchstress/value_oracle.h"

namespace torchstress {
namespace {

// The next value above `v` of a 16-bit float, by its bits (toward +Inf).
template <typename Half16>
Half16 next_up16(Half16 v) {
  uint16_t bits = v.x;
  if (bits == 0x8000) return Half16(0x0001, Half16::from_bits());  // -0 -> smallest positive
  bits = (bits & 0x8000) ? static_cast<uint16_t>(bits - 1) : static_cast<uint16_t>(bits + 1);
  return Half16(bits, Half16::from_bits());
}

template <typename T>
T next_up(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::nextafter(v, std::numeric_limits<T>::infinity());
  } else {
    return next_up16(v);
  }
}

template <typename T>
double widened(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<double>(v);
  } else {
    return static_cast<double>(static_cast<float>(v));
  }
}

// The first value of T from r + margin up (float and double start one ulp above it) that lies
// outside `margin` of `r`.
template <typename T>
T first_outside(double r, double margin) {
  T x;
  if constexpr (std::is_floating_point_v<T>) {
    x = next_up(static_cast<T>(r + margin));
  } else {
    x = T(static_cast<float>(r + margin));
  }
  while (!(std::fabs(widened(x) - r) > margin)) x = next_up(x);
  return x;
}

// The least value of element i's dtype that lies outside its tolerance above `r` (one ulp where
// the check is exact), written into element i of the contiguous host tensor `t`.
void step_outside(at::Tensor& t, int64_t i, Tolerance tol) {
  const double r = t.view(-1)[i].item<double>();
  const double margin = tol.atol + tol.rtol * std::fabs(r);
  switch (t.scalar_type()) {
    case at::kFloat: t.data_ptr<float>()[i] = first_outside<float>(r, margin); return;
    case at::kDouble: t.data_ptr<double>()[i] = first_outside<double>(r, margin); return;
    case at::kHalf: t.data_ptr<c10::Half>()[i] = first_outside<c10::Half>(r, margin); return;
    case at::kBFloat16: t.data_ptr<c10::BFloat16>()[i] = first_outside<c10::BFloat16>(r, margin); return;
    case at::kBool: t.data_ptr<bool>()[i] = !t.data_ptr<bool>()[i]; return;
    default: t.view(-1)[i].fill_(std::floor(r + margin) + 1); return;  // integers
  }
}

// A position in [from, to) whose value is finite and, with `nonzero`, not zero; nullopt if none.
// `values` is the output read once as float64 (no item() per element).
std::optional<int64_t> pick(const double* values, int64_t from, int64_t to, std::mt19937_64& rng, bool nonzero) {
  if (to <= from) return std::nullopt;
  const int64_t start = from + static_cast<int64_t>(rng() % static_cast<uint64_t>(to - from));
  for (int64_t k = 0; k < to - from; ++k) {
    const int64_t i = from + (start - from + k) % (to - from);
    if (std::isfinite(values[i]) && (!nonzero || values[i] != 0.0)) return i;
  }
  return std::nullopt;
}

struct Subject {
  const Workload& w;
  at::Tensor good;                // thread 0, input 0's reference (host, contiguous)
  at::Tensor good_values;         // the same as contiguous float64, for pick()
  std::optional<PackedOutputs> packed;
  int64_t values_from = 0;        // where output values start (after a packed header)
  std::mt19937_64 rng;
};

// A mutated output, or nullopt with the reason it does not apply.
using Mutant = std::pair<std::optional<at::Tensor>, std::string>;
using Mutator = std::function<Mutant(Subject&)>;

// Where change_one() picks, and how its detail names the element ("output 1, element 3").
struct Range {
  int64_t from, to;
  const char* label = "";
  int64_t label_base = 0;
};

// A copy of the good output with one picked element of `r` changed by change(mutant, index).
template <typename Change>
Mutant change_one(Subject& s, Range r, bool nonzero, const char* none, Change change) {
  auto i = pick(s.good_values.data_ptr<double>(), r.from, r.to, s.rng, nonzero);
  if (!i) return {std::nullopt, none};
  at::Tensor m = s.good.clone();
  change(m, *i);
  return {m, fmt::format("{}element {}", r.label, *i - r.label_base)};
}

Range all_values(const Subject& s) { return {s.values_from, s.good.numel()}; }

Mutant one_step_outside(Subject& s) {
  return change_one(s, all_values(s), false, "no finite element",
                    [&s](at::Tensor& m, int64_t i) { step_outside(m, i, s.w.tolerance()); });
}

Mutant zeroed(Subject& s) {
  return change_one(s, all_values(s), true, "every element is zero",
                    [](at::Tensor& m, int64_t i) { m.view(-1)[i].fill_(0); });
}

Mutant one_nan(Subject& s) {
  if (!s.good.is_floating_point()) return {std::nullopt, "an integer or boolean output holds no NaN"};
  return change_one(s, all_values(s), false, "no finite element", [](at::Tensor& m, int64_t i) {
    m.view(-1)[i].fill_(std::numeric_limits<double>::quiet_NaN());
  });
}

Mutant another_threads(Subject& s) { return {s.w.references().at(1).at(0).clone(), "thread 1's output"}; }
Mutant stale(Subject& s) { return {s.w.references().at(0).at(1).clone(), "input 1's output for input 0"}; }
Mutant never_written(Subject& s) { return {at::zeros_like(s.good), "a zero-filled buffer"}; }
Mutant undefined(Subject&) { return {at::Tensor(), "no tensor"}; }

// {n-1, ..., 1, 0}: the order that reverses n dimensions.
std::vector<int64_t> reversed_dims(size_t n) {
  std::vector<int64_t> order(n);
  for (size_t d = 0; d < n; ++d) order[d] = static_cast<int64_t>(n - 1 - d);
  return order;
}

// Output k of the packed `m`, its values and header sizes reversed in order (a transposed result).
void reverse_packed_output(at::Tensor& m, const PackedOutputs& packed, size_t k) {
  const auto& shape = packed.shapes[k];
  at::Tensor values = m.narrow(0, packed.offsets[k], c10::multiply_integers(shape));
  values.copy_(values.clone().view(shape).permute(reversed_dims(shape.size())).contiguous().view(-1));
  double* sizes = m.data_ptr<double>() + packed.size_positions[k];
  for (size_t d = 0; d < shape.size(); ++d) sizes[d] = static_cast<double>(shape[shape.size() - 1 - d]);
}

// The first output of two or more dimensions, its dimensions reversed (a transposed result).
Mutant shape_permuted(Subject& s) {
  if (!s.packed) {
    if (s.good.dim() < 2) return {std::nullopt, "a 0-D or 1-D output has no other order"};
    return {s.good.permute(reversed_dims(static_cast<size_t>(s.good.dim()))).contiguous(), "dimensions reversed"};
  }
  for (size_t k = 0; k < s.packed->shapes.size(); ++k) {
    if (s.packed->shapes[k].size() < 2) continue;
    at::Tensor m = s.good.clone();
    reverse_packed_output(m, *s.packed, k);
    return {m, fmt::format("output {} dimensions reversed", k)};
  }
  return {std::nullopt, "no output of two or more dimensions"};
}

Mutant second_output(Subject& s) {
  if (!s.packed || s.packed->shapes.size() < 2) return {std::nullopt, "the op has one output"};
  const int64_t from = s.packed->offsets[1];
  const int64_t to = s.packed->shapes.size() > 2 ? s.packed->offsets[2] : s.good.numel();
  return change_one(s, {from, to, "output 1, ", from}, false, "the second output is empty",
                    [&s](at::Tensor& m, int64_t i) { step_outside(m, i, s.w.tolerance()); });
}

const std::vector<std::pair<const char*, Mutator>>& mutators() {
  static const std::vector<std::pair<const char*, Mutator>> all{
      {"one element one step outside its tolerance", one_step_outside},
      {"one element zeroed", zeroed},
      {"one NaN", one_nan},
      {"another thread's output", another_threads},
      {"the previous call's output (stale)", stale},
      {"an output never written", never_written},
      {"an undefined output", undefined},
      {"the shape permuted", shape_permuted},
      {"a second output (indices) corrupted", second_output}};
  return all;
}

// Whether both the single check and the batch check reject `m` as thread 0's input 0.
std::string verdict(const Workload& w, const at::Tensor& m, bool* caught) {
  const auto single = w.check(0, m, 0);
  const auto batch = w.check_batch(0, 0, {m});
  *caught = single.has_value() && !batch.empty();
  if (*caught) return single->message;
  return fmt::format("check {}, batch check {}", single ? "rejects" : "accepts", batch.empty() ? "accepts" : "rejects");
}

}  // namespace

std::vector<MutationOutcome> mutate_and_check(const Workload& w, uint64_t seed) {
  const at::Tensor good = host_copy(w.references().at(0).at(0));
  Subject s{w, good, good.to(at::kDouble).contiguous(), std::nullopt, 0, std::mt19937_64(seed)};
  if (w.packs_outputs()) {
    s.packed = packed_outputs_of(s.good);
    s.values_from = s.packed->offsets.empty() ? s.good.numel() : s.packed->offsets.front();
  }
  std::vector<MutationOutcome> out;
  for (const auto& [name, mutate] : mutators()) {
    MutationOutcome o{w.name(), name, MutationStatus::kNotApplicable, ""};
    auto [mutant, where] = mutate(s);
    if (mutant) {
      bool caught = false;
      const std::string said = verdict(w, *mutant, &caught);
      o.status = caught ? MutationStatus::kCaught : MutationStatus::kSurvived;
      o.detail = fmt::format("{}: {}", where, said);
    } else {
      o.detail = where;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string mutation_score_line(const std::vector<MutationOutcome>& outcomes) {
  long caught = 0, survived = 0, na = 0;
  for (const auto& o : outcomes) {
    caught += o.status == MutationStatus::kCaught ? 1 : 0;
    survived += o.status == MutationStatus::kSurvived ? 1 : 0;
    na += o.status == MutationStatus::kNotApplicable ? 1 : 0;
  }
  return fmt::format("mutation score: {}/{} ({} survivors; {} not applicable)", caught, caught + survived, survived, na);
}

}  // namespace torchstress
