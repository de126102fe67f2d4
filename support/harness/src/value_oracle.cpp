#include "torchstress/value_oracle.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace torchstress {
namespace {

// Visits every element of `t` in row-major order as f(flat_index, const T&), any strides, with
// the innermost dimension as a plain strided loop.
template <typename T, typename F>
void for_each_element(const at::Tensor& t, F&& f) {
  const T* base = static_cast<const T*>(t.data_ptr());
  const int64_t n = t.numel();
  if (n == 0) return;
  const int64_t dims = t.dim();
  if (dims == 0 || t.is_contiguous()) {
    for (int64_t i = 0; i < n; ++i) f(i, base[i]);
    return;
  }
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  const int64_t inner = sizes[dims - 1];
  const int64_t inner_stride = strides[dims - 1];
  std::vector<int64_t> index(static_cast<size_t>(dims), 0);
  for (int64_t flat = 0; flat < n; flat += inner) {
    int64_t offset = 0;
    for (int64_t d = 0; d + 1 < dims; ++d) offset += index[static_cast<size_t>(d)] * strides[d];
    for (int64_t j = 0; j < inner; ++j) f(flat + j, base[offset + j * inner_stride]);
    for (int64_t d = dims - 2; d >= 0; --d) {  // odometer over the outer dimensions
      if (++index[static_cast<size_t>(d)] < sizes[d]) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
}

// Integers and bool directly (int64 beyond 2^24 would round through float); 16-bit floats via float.
template <typename T>
double as_double(const T& v) {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<double>(v);
  } else {
    return static_cast<double>(static_cast<float>(v));
  }
}

// Records element i as outside its tolerance, or returns without a trace when it passes.
struct Tally {
  Comparison c;
  void element(int64_t i, double o, double r) {
    if (o == r || (std::isnan(o) && std::isnan(r))) return;  // equal values pass at any tolerance
    const double diff = std::fabs(o - r);
    if (diff <= c.tol.atol + c.tol.rtol * std::fabs(r)) return;  // NaN/Inf differences fail here
    const bool nonfinite = !std::isfinite(o) && std::isfinite(r);
    c.nonfinite += nonfinite ? 1 : 0;
    c.max_diff = std::max(c.max_diff, std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff);
    if (c.outside++ == 0) {
      c.first = i;
      c.first_out = o;
      c.first_ref = r;
    }
  }
};

// The reference is contiguous (host_copy() makes it so); the output may have any strides.
template <typename T>
Comparison compare_typed(const at::Tensor& out, const at::Tensor& ref, Comparison c) {
  Tally tally{std::move(c)};
  const T* r = static_cast<const T*>(ref.data_ptr());
  for_each_element<T>(out, [&](int64_t i, const T& o) {
    if (o == r[i]) return;  // exact for 64-bit integers too, before any widening
    tally.element(i, as_double(o), as_double(r[i]));
  });
  return tally.c;
}

// float32, both contiguous: one vectorised pass counts candidates; the exact pass runs only when
// one is found (it also forgives NaN-for-NaN, which the fast pass counts). int32 counts per chunk
// and, for an exact check, plain inequality vectorise best (measured: layernorm's 512 KiB output).
bool float32_all_within(const at::Tensor& out, const at::Tensor& ref, Tolerance tol) {
  const float* a = out.data_ptr<float>();
  const float* b = ref.data_ptr<float>();
  const int64_t n = out.numel();
  const auto atol = static_cast<float>(tol.atol);
  const auto rtol = static_cast<float>(tol.rtol);
  const bool exact = tol.exact();
  constexpr int64_t kChunk = int64_t{1} << 30;
  for (int64_t from = 0; from < n; from += kChunk) {
    const int64_t to = std::min(n, from + kChunk);
    int32_t outside = 0;
    // Compiled with -fopenmp-simd (no OpenMP runtime): NaN is unequal, and `!(d <= limit)` too.
    if (exact) {
#pragma omp simd reduction(+ : outside)
      for (int64_t i = from; i < to; ++i) outside += a[i] != b[i] ? 1 : 0;
    } else {
#pragma omp simd reduction(+ : outside)
      for (int64_t i = from; i < to; ++i) outside += !(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i])) ? 1 : 0;
    }
    if (outside != 0) return false;
  }
  return true;
}

std::string shape_text(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// Why `out` and `ref` cannot be compared element by element, or "".
std::string comparable_problem(const at::Tensor& out, const at::Tensor& ref) {
  if (!out.defined()) return "the output is undefined (never written)";
  if (out.sizes() != ref.sizes()) {
    return fmt::format("output shape {} differs from the reference's {}", shape_text(out.sizes()),
                       shape_text(ref.sizes()));
  }
  if (out.scalar_type() != ref.scalar_type()) {
    return fmt::format("output dtype {} differs from the reference's {}", c10::toString(out.scalar_type()),
                       c10::toString(ref.scalar_type()));
  }
  return "";
}

}  // namespace

std::string Comparison::describe() const {
  if (!problem.empty()) return problem;
  return fmt::format("{} of {} elements outside rtol {:g} atol {:g} (first at {}: {:.9g} vs {:.9g}; max |diff| {:.6g})",
                     outside, numel, tol.rtol, tol.atol, first, first_out, first_ref, max_diff);
}

Comparison compare_on_host(const at::Tensor& out, const at::Tensor& ref, Tolerance tol) {
  Comparison c;
  c.numel = out.defined() ? out.numel() : 0;
  c.tol = tol;
  c.problem = comparable_problem(out, ref);
  if (!c.problem.empty()) {
    c.max_diff = std::numeric_limits<double>::infinity();
    return c;
  }
  const at::Tensor r = ref.is_contiguous() ? ref : host_copy(ref);
  switch (out.scalar_type()) {
    case at::kFloat:
      if (out.is_contiguous() && float32_all_within(out, r, tol)) return c;
      return compare_typed<float>(out, r, std::move(c));
    case at::kDouble: return compare_typed<double>(out, r, std::move(c));
    case at::kHalf: return compare_typed<c10::Half>(out, r, std::move(c));
    case at::kBFloat16: return compare_typed<c10::BFloat16>(out, r, std::move(c));
    case at::kLong: return compare_typed<int64_t>(out, r, std::move(c));
    case at::kInt: return compare_typed<int32_t>(out, r, std::move(c));
    case at::kShort: return compare_typed<int16_t>(out, r, std::move(c));
    case at::kChar: return compare_typed<int8_t>(out, r, std::move(c));
    case at::kByte: return compare_typed<uint8_t>(out, r, std::move(c));
    case at::kBool: return compare_typed<bool>(out, r, std::move(c));
    default:
      c.problem = fmt::format("dtype {} is not compared by the oracle; accepted: float64, float32, float16, bfloat16, "
                              "int64, int32, int16, int8, uint8, bool",
                              c10::toString(out.scalar_type()));
      c.max_diff = std::numeric_limits<double>::infinity();
      return c;
  }
}

at::Tensor to_host(const at::Tensor& t) { return !t.defined() || t.device().is_cpu() ? t : t.to(at::kCPU); }

at::Tensor to_host_staged(const at::Tensor& t) {
  if (!t.defined() || !t.is_cuda()) return to_host(t);
  thread_local at::Tensor pinned;  // grown, never shrunk: one buffer per checking thread
  const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
  if (!pinned.defined() || pinned.numel() < bytes) {
    pinned = at::empty({std::max<int64_t>(bytes, 1)}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  }
  at::Tensor host = at::from_blob(pinned.data_ptr(), t.sizes(), at::TensorOptions().dtype(t.dtype()));
  host.copy_(t);  // blocking: the bytes are on the host when it returns
  return host;
}

at::Tensor host_copy(const at::Tensor& t) {
  at::Tensor h = at::empty(t.sizes(), t.options().device(at::kCPU).memory_format(at::MemoryFormat::Contiguous));
  h.copy_(t);
  return h;
}

double host_absmax(const at::Tensor& ref) {
  double m = 0.0;
  const at::Tensor h = to_host(ref);
  AT_DISPATCH_ALL_TYPES_AND3(at::kHalf, at::kBFloat16, at::kBool, h.scalar_type(), "host_absmax", [&] {
    for_each_element<scalar_t>(h, [&](int64_t, const scalar_t& v) {
      const double a = std::fabs(as_double(v));
      if (a > m) m = a;  // NaN never raises the maximum
    });
  });
  return m;
}

}  // namespace torchstress
