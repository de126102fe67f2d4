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

// The least value of element i's dtype that lies outside its tolerance above `r` (one ulp where
// the check is exact), written into element i of the contiguous host tensor `t`.
void step_outside(at::Tensor& t, int64_t i, Tolerance tol) {
  const double r = t.view(-1)[i].item<double>();
  const double margin = tol.atol + tol.rtol * std::fabs(r);
  switch (t.scalar_type()) {
    case at::kFloat: {
      float x = std::nextafter(static_cast<float>(r + margin), std::numeric_limits<float>::infinity());
      while (!(std::fabs(static_cast<double>(x) - r) > margin)) x = std::nextafter(x, std::numeric_limits<float>::infinity());
      t.data_ptr<float>()[i] = x;
      return;
    }
    case at::kDouble: {
      double x = std::nextafter(r + margin, std::numeric_limits<double>::infinity());
      while (!(std::fabs(x - r) > margin)) x = std::nextafter(x, std::numeric_limits<double>::infinity());
      t.data_ptr<double>()[i] = x;
      return;
    }
    case at::kHalf: {
      c10::Half x(static_cast<float>(r + margin));
      while (!(std::fabs(static_cast<double>(static_cast<float>(x)) - r) > margin)) x = next_up16(x);
      t.data_ptr<c10::Half>()[i] = x;
      return;
    }
    case at::kBFloat16: {
      c10::BFloat16 x(static_cast<float>(r + margin));
      while (!(std::fabs(static_cast<double>(static_cast<float>(x)) - r) > margin)) x = next_up16(x);
      t.data_ptr<c10::BFloat16>()[i] = x;
      return;
    }
    case at::kBool: t.data_ptr<bool>()[i] = !t.data_ptr<bool>()[i]; return;
    default: t.view(-1)[i].fill_(std::floor(r + margin) + 1); return;  // integers
  }
}

// A position in [from, to) whose value is finite and, with `nonzero`, not zero; nullopt if none.
std::optional<int64_t> pick(const at::Tensor& flat, int64_t from, int64_t to, std::mt19937_64& rng, bool nonzero) {
  if (to <= from) return std::nullopt;
  const int64_t start = from + static_cast<int64_t>(rng() % static_cast<uint64_t>(to - from));
  for (int64_t k = 0; k < to - from; ++k) {
    const int64_t i = from + (start - from + k) % (to - from);
    const double v = flat[i].item<double>();
    if (std::isfinite(v) && (!nonzero || v != 0.0)) return i;
  }
  return std::nullopt;
}

struct Subject {
  const Workload& w;
  at::Tensor good;                // thread 0, input 0's reference (host, contiguous)
  std::optional<PackedOutputs> packed;
  int64_t values_from = 0;        // where output values start (after a packed header)
  std::mt19937_64 rng;
};

// A mutated output, or nullopt with the reason it does not apply.
using Mutant = std::pair<std::optional<at::Tensor>, std::string>;
using Mutator = std::function<Mutant(Subject&)>;

Mutant one_step_outside(Subject& s) {
  at::Tensor m = s.good.clone();
  auto i = pick(m.view(-1), s.values_from, m.numel(), s.rng, false);
  if (!i) return {std::nullopt, "no finite element"};
  step_outside(m, *i, s.w.tolerance());
  return {m, fmt::format("element {}", *i)};
}

Mutant zeroed(Subject& s) {
  at::Tensor m = s.good.clone();
  auto i = pick(m.view(-1), s.values_from, m.numel(), s.rng, true);
  if (!i) return {std::nullopt, "every element is zero"};
  m.view(-1)[*i].fill_(0);
  return {m, fmt::format("element {}", *i)};
}

Mutant one_nan(Subject& s) {
  if (!s.good.is_floating_point()) return {std::nullopt, "an integer or boolean output holds no NaN"};
  at::Tensor m = s.good.clone();
  auto i = pick(m.view(-1), s.values_from, m.numel(), s.rng, false);
  if (!i) return {std::nullopt, "no finite element"};
  m.view(-1)[*i].fill_(std::numeric_limits<double>::quiet_NaN());
  return {m, fmt::format("element {}", *i)};
}

Mutant another_threads(Subject& s) { return {s.w.references().at(1).at(0).clone(), "thread 1's output"}; }
Mutant stale(Subject& s) { return {s.w.references().at(0).at(1).clone(), "input 1's output for input 0"}; }
Mutant never_written(Subject& s) { return {at::zeros_like(s.good), "a zero-filled buffer"}; }
Mutant undefined(Subject&) { return {at::Tensor(), "no tensor"}; }

// The first output of two or more dimensions, its dimensions reversed (a transposed result).
Mutant shape_permuted(Subject& s) {
  if (!s.packed) {
    if (s.good.dim() < 2) return {std::nullopt, "a 0-D or 1-D output has no other order"};
    std::vector<int64_t> order;
    for (int64_t d = s.good.dim() - 1; d >= 0; --d) order.push_back(d);
    return {s.good.permute(order).contiguous(), "dimensions reversed"};
  }
  at::Tensor m = s.good.clone();
  double* p = m.data_ptr<double>();
  for (size_t k = 0; k < s.packed->shapes.size(); ++k) {
    const auto& shape = s.packed->shapes[k];
    if (shape.size() < 2) continue;
    std::vector<int64_t> order;
    for (auto d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) order.push_back(d);
    const int64_t n = c10::multiply_integers(shape);
    at::Tensor values = m.narrow(0, s.packed->offsets[k], n);
    values.copy_(values.clone().view(shape).permute(order).contiguous().view(-1));
    for (size_t d = 0; d < shape.size(); ++d) p[s.packed->size_positions[k] + static_cast<int64_t>(d)] = static_cast<double>(shape[shape.size() - 1 - d]);
    return {m, fmt::format("output {} dimensions reversed", k)};
  }
  return {std::nullopt, "no output of two or more dimensions"};
}

Mutant second_output(Subject& s) {
  if (!s.packed || s.packed->shapes.size() < 2) return {std::nullopt, "the op has one output"};
  at::Tensor m = s.good.clone();
  const int64_t from = s.packed->offsets[1];
  const int64_t to = s.packed->shapes.size() > 2 ? s.packed->offsets[2] : m.numel();
  auto i = pick(m.view(-1), from, to, s.rng, false);
  if (!i) return {std::nullopt, "the second output is empty"};
  step_outside(m, *i, s.w.tolerance());
  return {m, fmt::format("output 1, element {}", *i - from)};
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
  Subject s{w, host_copy(w.references().at(0).at(0)), std::nullopt, 0, std::mt19937_64(seed)};
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
